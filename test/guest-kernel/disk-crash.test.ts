/**
 * Crash consistency of the file store on the REAL block device (ATA PIO on native, virtio-blk on
 * pv), through the kernel's file layer: a workload (kernel/fs/tests/disk-crash-workload.ts:
 * files rewritten with open(O_TRUNC) + one write, a file unlinked and created again; the list of
 * its operations is disk-crash-ops.ts) is stopped at 50 instruction counts spread over its run
 * (runImage's maxInstructions: the machine stops between two instructions, wherever that falls —
 * inside a sector transfer, between the log's writes, inside a format), then the disk is booted
 * with a checker (disk-crash-check.ts): the boot-time check passes every time, every file is
 * wholly one of its versions, and the files together are the state after a prefix of the
 * operations — a prefix that never shrinks as the stop comes later.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Mode } from '../../hypervisor/run.ts';
import { runImage } from '../../hypervisor/run.ts';
import { compileFile, ROOT } from './helpers.ts';

const DIR = path.join(ROOT, 'guest-kernel/kernel/fs/tests');
const SECTORS = 1024;
const POINTS = 50;
/** Operations of the workload (disk-crash-ops.ts: 4 items set up, 6 rounds of 6). */
const NOPS = 44;

describe.each([
  { mode: 'native' as Mode, target: 'native' as const },
  { mode: 'pv' as Mode, target: 'pv' as const },
])('crash consistency on the block device ($mode)', ({ mode, target }) => {
  it(`a workload stopped at ${POINTS} points boots with the check passed, every file old or new, a prefix of the operations`, () => {
    const workload = compileFile(path.join(DIR, 'disk-crash-workload.ts'), target).image;
    const checker = compileFile(path.join(DIR, 'disk-crash-check.ts'), target).image;
    const full = runImage(workload, { mode, maxInstructions: 1_000_000_000, disk: new Uint8Array(SECTORS * 512) });
    expect({ stop: full.stop, exitCode: full.exitCode, console: full.console }).toEqual({ stop: 'shutdown', exitCode: 0, console: `workload done ${NOPS}\n` });
    const total = full.instructions + full.idleInstructions;

    const prefixes: number[] = [];
    for (let i = 1; i <= POINTS; i++) {
      const at = Math.floor((total * i) / (POINTS + 1));
      const disk = new Uint8Array(SECTORS * 512);
      const cut = runImage(workload, { mode, maxInstructions: at, disk });
      expect({ at, stop: cut.stop }).toEqual({ at, stop: 'limit' });
      const r = runImage(checker, { mode, maxInstructions: 200_000_000, disk });
      expect({ at, stop: r.stop, exitCode: r.exitCode, fail: r.console.includes('FAIL') || r.console.includes('refused') }).toEqual({
        at,
        stop: 'shutdown',
        exitCode: 0,
        fail: false,
      });
      prefixes.push(Number(/^prefix (\d+)$/m.exec(r.console)?.[1]));
    }
    // Later stops never show fewer operations, and the stops cover the run.
    for (let i = 1; i < prefixes.length; i++) expect({ i, p: prefixes[i]! >= prefixes[i - 1]! }).toEqual({ i, p: true });
    expect(new Set(prefixes).size).toBeGreaterThanOrEqual(25);
    expect(prefixes[prefixes.length - 1]).toBeGreaterThanOrEqual(NOPS - 2);
  }, 120_000);
});
