/**
 * The guest kernel as a whole (guest-kernel/kernel/, built by hypervisor/kernel-build.ts): its
 * user programs run at privilege 3 in native, trap and hw (the native build, unmodified) and pv
 * (the pv build), with byte-identical console transcripts and disks.
 *
 * - usertests: 40 named tests as user programs (system-call arguments, files, many tasks, sleep,
 *   kill, page mapping, tasks that fault), all passing in every mode;
 * - a task that faults is named with its fault and ended, and the kernel and the suite go on;
 * - the pv kernel holds no privileged or sensitive instruction, the native kernel no hypercall;
 * - a scripted shell session (`--input`) gives the expected transcript in every mode, and its files
 *   persist on the disk to the next boot;
 * - `-- PROGRAM ARGS` runs one program and powers off with its exit status.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ClassCode } from '../../abi/isa.ts';
import type { GuestImage } from '../../abi/image.ts';
import { buildKernel, withCmdline, type KernelTarget } from '../../hypervisor/kernel-build.ts';
import { runImage, type RunResult } from '../../hypervisor/run.ts';
import { instructionClasses, MODES } from './helpers.ts';

const MAX = 400_000_000;
const DISK_BYTES = 2 * 1024 * 1024;
const images = {} as Record<KernelTarget, GuestImage>;

beforeAll(async () => {
  for (const t of ['native', 'pv'] as const) images[t] = (await buildKernel(t)).image;
}, 600_000);

type Mode = (typeof MODES)[number];

function boot(m: Mode, cmdline: string, opts: { input?: string; disk?: Uint8Array } = {}): { r: RunResult; disk: Uint8Array } {
  const disk = opts.disk ?? new Uint8Array(DISK_BYTES);
  const input = opts.input === undefined ? undefined : new TextEncoder().encode(opts.input);
  const r = runImage(withCmdline(images[m.target], cmdline), { mode: m.mode, disk, maxInstructions: MAX, ...(input ? { input } : {}) });
  return { r, disk };
}

describe('usertests', () => {
  const runs = new Map<string, { r: RunResult; disk: Uint8Array }>();
  const run = (m: Mode): { r: RunResult; disk: Uint8Array } => {
    if (!runs.has(m.mode)) runs.set(m.mode, boot(m, 'usertests'));
    return runs.get(m.mode)!;
  };

  it.each(MODES)('pass in $mode: at least 20 named tests, none failed, exit status 0', (m) => {
    const { r } = run(m);
    const names = [...r.console.matchAll(/^test (\S+): (ok|FAILED.*)$/gm)];
    expect(names.length).toBeGreaterThanOrEqual(20);
    expect(names.filter((n) => n[2] !== 'ok').map((n) => n[0])).toEqual([]);
    expect(r.console).toContain('ALL TESTS PASSED');
    expect({ stop: r.stop, exitCode: r.exitCode }).toEqual({ stop: 'shutdown', exitCode: 0 });
  });

  it('give a byte-identical transcript and disk in every mode', () => {
    const base = run(MODES[0]!);
    for (const m of MODES.slice(1)) {
      const other = run(m);
      expect({ mode: m.mode, console: other.r.console }).toEqual({ mode: m.mode, console: base.r.console });
      expect({ mode: m.mode, same: Buffer.compare(Buffer.from(other.disk), Buffer.from(base.disk)) === 0 }).toEqual({ mode: m.mode, same: true });
    }
  });

  it('cover bad system-call arguments: kernel and unmapped pointers, huge lengths, unknown numbers, bad descriptors', () => {
    const c = run(MODES[0]!).r.console;
    for (const t of ['syscall-numbers', 'kernel-pointers', 'unmapped-pointers', 'readonly-pointer', 'huge-lengths', 'bad-descriptors', 'long-names']) {
      expect(c).toContain(`test ${t}: ok`);
    }
  });

  it('name a task that faults and its fault, end it, and go on', () => {
    for (const m of MODES) {
      const c = run(m).r.console;
      // An unmapped page, a privileged instruction, a division by zero, a kernel address.
      expect(c).toMatch(/^pid \d+ \(faultpage\): page-fault at pc 0x4[0-9a-f]{7} \(address 0x50800000\)$/m);
      expect(c).toMatch(/^pid \d+ \(faultpriv\): general-protection at pc 0x4[0-9a-f]{7}$/m);
      expect(c).toMatch(/^pid \d+ \(faultdiv\): divide-error at pc 0x4[0-9a-f]{7}$/m);
      expect(c).toMatch(/^pid \d+ \(faultkern\): page-fault at pc 0x4[0-9a-f]{7} \(address 0x00001000\)$/m);
      // The program's own reporter (SYS_TRAP) names the source line, then the suite goes on.
      expect(c).toMatch(/^guest-kernel\/kernel\/user\/faultdiv\.ts:\d+:\d+: division by zero in '100 \/ d'$/m);
      expect(c.indexOf('ALL TESTS PASSED')).toBeGreaterThan(c.lastIndexOf('(faultkern)'));
    }
  });
});

describe('the kernel images', () => {
  it('pv holds no privileged or sensitive instruction; native no hypercall', () => {
    const pv = instructionClasses(images.pv);
    expect(pv.get(ClassCode.Privileged) ?? []).toEqual([]);
    expect(pv.get(ClassCode.Sensitive) ?? []).toEqual([]);
    expect((pv.get(ClassCode.Hypercall) ?? []).length).toBeGreaterThan(0);
    const native = instructionClasses(images.native);
    expect(native.get(ClassCode.Hypercall) ?? []).toEqual([]);
    expect((native.get(ClassCode.Privileged) ?? []).length).toBeGreaterThan(0);
  });
});

const SESSION = 'echo hello, disk > greeting\ncat greeting\nls\nrm nosuch\nnosuch\nexitwith 3\nexit 5\n';
const EXPECTED = [
  '$ echo hello, disk > greeting',
  '$ cat greeting',
  'hello, disk',
  '$ ls',
  'greeting        12',
  '$ rm nosuch',
  'rm: nosuch: no such file',
  '[pid 6 exit 1]',
  '$ nosuch',
  'sh: nosuch: no such program',
  '$ exitwith 3',
  '[pid 7 exit 3]',
  '$ exit 5',
  '',
].join('\n');

describe('the shell', () => {
  it.each(MODES)('a scripted session gives the expected transcript in $mode, and its file persists to the next boot', (m) => {
    const first = boot(m, '', { input: SESSION });
    expect({ stop: first.r.stop, exitCode: first.r.exitCode }).toEqual({ stop: 'shutdown', exitCode: 5 });
    const session = first.r.console.slice(first.r.console.indexOf('$ '));
    expect(session).toBe(EXPECTED);
    expect(first.r.console).toMatch(/^tsvisor kernel: \d+ programs: .*\bsh\b.*\n/);
    const second = boot(m, 'cat greeting', { disk: first.disk });
    expect({ console: second.r.console, exitCode: second.r.exitCode }).toEqual({ console: 'hello, disk\n', exitCode: 0 });
  });
});

describe('crash consistency, through the whole kernel', () => {
  // crashwork rewrites cw0..cw3 round by round (open O_TRUNC, one write, close: atomic by the
  // store's promise); stopped anywhere, the next boot's check must pass and crashcheck must find
  // every file wholly one version, the versions a prefix of the writes.
  it.each([MODES[0]!, MODES[3]!])('$mode: stopped at 50 instruction counts, the next boot mounts and every file is old or new', (m) => {
    const full = boot(m, 'crashwork 3');
    expect({ console: full.r.console, exitCode: full.r.exitCode }).toEqual({ console: 'crashwork: 3 rounds\n', exitCode: 0 });
    const states: string[] = [];
    for (let k = 1; k <= 50; k++) {
      const disk = new Uint8Array(DISK_BYTES);
      const stopAt = Math.floor((full.r.instructions * k) / 51);
      const cut = runImage(withCmdline(images[m.target], 'crashwork 3'), { mode: m.mode, disk, maxInstructions: stopAt });
      expect(cut.stop).toBe('limit');
      const check = boot(m, 'crashcheck', { disk });
      expect({ stopAt, console: check.r.console.replace(/^versions.*\n/m, ''), exitCode: check.r.exitCode }).toEqual({ stopAt, console: 'crashcheck: ok\n', exitCode: 0 });
      states.push(/^versions (.*)$/m.exec(check.r.console)![1]!);
    }
    // The stops are spread over the run: the state moves from nothing written to the last round.
    expect(states[0]).toMatch(/^[01] [01] [01] [01]$/);
    expect(states.at(-1)).toMatch(/^3 3 [23] [23]$/);
    expect(new Set(states).size).toBeGreaterThanOrEqual(8);
  });
});

describe('-- PROGRAM ARGS', () => {
  it('runs one program with its arguments and powers off with its exit status', () => {
    const m = MODES[0]!;
    const hello = boot(m, 'hello one two');
    expect(hello.r.console).toContain('hello, world');
    expect(hello.r.console).toContain('one');
    expect(boot(m, 'exitwith 42').r.exitCode).toBe(42);
    const missing = boot(m, 'nosuchprogram x');
    expect({ console: missing.r.console.trim(), exitCode: missing.r.exitCode }).toEqual({ console: "kernel: no program 'nosuchprogram'", exitCode: 127 });
  });
});
