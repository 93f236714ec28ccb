/**
 * The task core (guest-kernel/kernel/proc/): one guest (proc/tests/tasks-check.ts) gives the same
 * transcript in native, trap, hw (native build) and pv (pv build): tasks taking turns over
 * sleep/wakeup and over yield beside a task that never gives up the CPU (they finish only because
 * the tick preempts it), a producer/consumer pair, wait collecting exit statuses, kill of a
 * sleeping task and of the spinner, sleepTicks, and the counters. The `sched:` line (ticks and
 * switches, which depend on where the ticks fell) is compared between the modes of one build
 * only: the two builds spend different instruction counts on the same work.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClassCode } from '../../abi/isa.ts';
import type { GuestImage } from '../../abi/image.ts';
import { runImage, type RunResult } from '../../hypervisor/run.ts';
import type { BootTarget as Target } from '../../guest-kernel/compiler/types.ts';
import { compileFile, compileSource, instructionClasses, MODES, ROOT } from './helpers.ts';

const CHECK = path.join(ROOT, 'guest-kernel/kernel/proc/tests/tasks-check.ts');
const MAX = 50_000_000;
const SCHED = /^sched: ticks\/switches (\d+) (\d+)$/m;

const images: Record<Target, GuestImage> = {
  native: compileFile(CHECK, 'native').image,
  pv: compileFile(CHECK, 'pv').image,
};
const runs = new Map<string, RunResult>(MODES.map(({ mode, target }) => [mode, runImage(images[target], { mode, maxInstructions: MAX })]));

function lines(r: RunResult): string[] {
  return r.console.split('\n');
}

describe('kernel tasks', () => {
  it.each(MODES.map((m) => m.mode))('%s: boots, every check passes, shuts down with 0', (mode) => {
    const r = runs.get(mode)!;
    expect({ stop: r.stop, exitCode: r.exitCode, failed: /^failed (\d+)$/m.exec(r.console)?.[1] }).toEqual({ stop: 'shutdown', exitCode: 0, failed: '0' });
  });

  it('gives the same transcript in every mode, and the same sched counts within a build', () => {
    const base = runs.get('native')!.console;
    for (const { mode, target } of MODES) {
      const c = runs.get(mode)!.console;
      expect({ mode, c: c.replace(SCHED, 'sched: -') }).toEqual({ mode, c: base.replace(SCHED, 'sched: -') });
      if (target === 'native') expect({ mode, sched: SCHED.exec(c)?.[0] }).toEqual({ mode, sched: SCHED.exec(base)?.[0] });
    }
  });

  it('tasks take turns over sleep/wakeup while a spinning task is preempted', () => {
    const l = lines(runs.get('native')!);
    const takers = l.filter((x) => x.startsWith('taker '));
    expect(takers).toEqual([0, 1, 2].flatMap((round) => [3, 4, 5].map((pid) => `taker pid/round ${pid} ${round}`)));
    expect(l).toContain('spawned spinner 2');
    expect(l).toContain('spinner ran 1');
    expect(l).toContain('preempted and switched 1');
    const [, ticks, switches] = SCHED.exec(runs.get('native')!.console)!;
    expect(Number(ticks)).toBeGreaterThan(3);
    expect(Number(switches)).toBeGreaterThan(Number(ticks));
  });

  it('yield alternates two tasks', () => {
    const y = lines(runs.get('pv')!).filter((x) => x.startsWith('yielder '));
    expect(y).toEqual([0, 1, 2].flatMap((round) => [0, 1].map((k) => `yielder k/round ${k} ${round}`)));
  });

  it('producer/consumer delivers every item in order; wait collects the exit statuses', () => {
    for (const mode of ['native', 'pv']) {
      const l = lines(runs.get(mode)!);
      expect(l.filter((x) => x.startsWith('consumer got '))).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((v) => `consumer got ${v}`));
      expect(l).toEqual(expect.arrayContaining(['exit status pid/status 3 10', 'exit status pid/status 4 11', 'exit status pid/status 5 12']));
      expect(l).toEqual(expect.arrayContaining(['exit status pid/status 8 8', 'exit status pid/status 9 36']));
      expect(l).toContain('wait with no children -1');
    }
  });

  it('kill ends a sleeping task and a spinning one with status -1', () => {
    for (const mode of ['native', 'trap', 'hw', 'pv']) {
      const l = lines(runs.get(mode)!);
      expect(l).toEqual(
        expect.arrayContaining([
          'sleeper state before kill 3',
          'kill sleeper 0',
          'wait sleeper pid/status 10 -1',
          'kill spinner 0',
          'wait spinner pid/status 2 -1',
          'kill of no such task -1',
          'slept at least 3 ticks 1',
          'spawns 9',
          'exits 9',
          'kills 2',
        ]),
      );
    }
  });

  it('each build holds its own arm only: no privileged or sensitive instruction in pv, no hypercall in native', () => {
    const classes = (image: GuestImage): Set<number> => new Set(instructionClasses(image).keys());
    const pv = classes(images.pv);
    expect([pv.has(ClassCode.Privileged), pv.has(ClassCode.Sensitive)]).toEqual([false, false]);
    expect(classes(images.native).has(ClassCode.Hypercall)).toBe(false);
  });

  it('without the tick, the spinner keeps the CPU and the others never finish (the preemption is what the test sees)', () => {
    // The same kind of program with the timer armed so far out that no tick comes in the run.
    const src = `
import { conPrint, platformInit } from '../../kernel/platform/platform.ts';
import { procInit, spawn, wait } from '../../kernel/proc/proc.ts';
const st = new Int32Array(1);
let spins = 0;
function spinner(arg: number): void { for (;;) spins = (spins + 1) | 0; }
function quick(arg: number): void { conPrint('quick ran\\n'); }
export function main(): number {
  platformInit();
  procInit(TICKS);
  spawn(spinner, 0);
  spawn(quick, 0);
  wait(st);
  conPrint('done\\n');
  return 0;
}`;
    const withTick = runImage(compileSource(src.replace('TICKS', '4000')).image, { mode: 'native', maxInstructions: 2_000_000 });
    expect({ stop: withTick.stop, console: withTick.console }).toEqual({ stop: 'shutdown', console: 'quick ran\ndone\n' });
    const noTick = runImage(compileSource(src.replace('TICKS', '100000000')).image, { mode: 'native', maxInstructions: 2_000_000 });
    expect(noTick.stop).not.toBe('shutdown');
    expect(noTick.console).toBe('');
  });
});
