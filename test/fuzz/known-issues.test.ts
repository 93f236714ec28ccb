/**
 * Regression tests for the ways a guest or a user could break "the host goes on" that were
 * known while the fuzz suite was written (issue 10), each written for the fixed behaviour:
 * - a guest printing without end grew a host array without end (the report keeps a bounded
 *   tail: hypervisor/limits.ts CONSOLE_KEEP_BYTES, 1 MiB);
 * - a pv guest calling ever-new unknown hypercall numbers added a counter key per number (a
 *   fixed table plus an 'other' bucket);
 * - a --disk file was rewritten whole through a temporary file and a rename (it is a raw
 *   image used in place: inode, mode, hard links and a symlink stay).
 * The fuzz properties keep their cases small, so these bounds are checked here with guests that
 * go well past them.
 */
import { chmodSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeImage } from '../../abi/image.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import { main } from '../../hypervisor/cli.ts';
import { runImage, type RunResult } from '../../hypervisor/run.ts';
import { asm } from './pv-props.ts';

/** More than the report keeps (1 MiB), less than would hurt if it were kept whole. */
const FLOOD = 3 * 1024 * 1024;
/** What a report of a flooding guest may weigh: its kept console and its counters. */
const REPORT_BOUND = 2 * 1024 * 1024;

/** The flooding guest finished, and neither its console nor its whole report outgrew the bound. */
function expectBoundedReport(r: RunResult): void {
  expect(r.stop).toBe('shutdown');
  expect(r.console.length).toBeLessThanOrEqual(REPORT_BOUND);
  expect(JSON.stringify(r).length).toBeLessThanOrEqual(REPORT_BOUND);
}

describe('known issues: bounded host memory for a hostile guest', () => {
  it('a native guest printing 3 MiB to the UART gets a report of bounded size', () => {
    const src = `li32 r2, ${FLOOD}\nli r1, 'x'\nl: out 0x3f8, r1\naddi r2, r2, -1\nli r3, 0\nbne r2, r3, l\nli r1, 0\nout 0xf4, r1\n`;
    const r = runImage(asm(src, 'native'), { mode: 'native', maxInstructions: 6 * FLOOD });
    expectBoundedReport(r);
  }, 60_000);

  it('a pv guest printing 3 MiB with console_io gets a report of bounded size', () => {
    const src = `.target pv
      li32 r6, ${FLOOD / N.CONSOLEIO_MAX}
    l: li r0, ${N.HC_CONSOLE_IO}
      li r1, ${N.CONSOLEIO_WRITE}
      la r2, buf
      li r3, ${N.CONSOLEIO_MAX}
      hypercall
      addi r6, r6, -1
      li r7, 0
      bne r6, r7, l
      li r0, ${N.HC_SCHED_OP}
      li r1, ${N.SCHEDOP_SHUTDOWN}
      li r2, 0
      hypercall
    .org 0x10000, rw
    buf: .space ${N.CONSOLEIO_MAX}, 0x79`;
    const r = runImage(asm(src, 'pv'), { mode: 'pv', maxInstructions: 100_000 });
    expectBoundedReport(r);
  }, 60_000);

  it('a pv guest calling 5,000 different unknown hypercall numbers adds a bounded number of counters', () => {
    const src = `.target pv
      li32 r6, 5000
      li32 r8, 0x1000
    l: mov r0, r8
      hypercall
      addi r8, r8, 1
      addi r6, r6, -1
      li r7, 0
      bne r6, r7, l
      li r0, ${N.HC_SCHED_OP}
      li r1, ${N.SCHEDOP_SHUTDOWN}
      li r2, 0
      hypercall`;
    const r = runImage(asm(src, 'pv'), { mode: 'pv', maxInstructions: 100_000 });
    expect(r.stop).toBe('shutdown');
    expect(Object.values(r.hypercalls ?? {}).reduce((a, b) => a + b, 0)).toBe(5001); // every call still counted
    expect(Object.keys(r.hypercalls ?? {}).length).toBeLessThanOrEqual(40);
    expect(JSON.stringify(r).length).toBeLessThanOrEqual(8 * 1024);
  });
});

describe('known issues: a --disk file is used in place', () => {
  it('keeps its inode, mode, hard links and the symlink naming it when the guest writes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tsvisor-fuzz-disk-'));
    try {
      const img = path.join(dir, 'w.img');
      // Writes sector 1 through the ATA data port (0x41 bytes), then powers off with 0.
      writeFileSync(img, encodeImage(asm(`li r1, 1\nout 0x1f3, r1\nout 0x1f2, r1\nli r1, 0x30\nout 0x1f7, r1\nli r2, 0x41414141\nli r3, 128\nw: out 0x1f0, r2\naddi r3, r3, -1\nli r4, 0\nbne r3, r4, w\nout 0xf4, r4\n`, 'native')));
      const disk = path.join(dir, 'disk.bin');
      writeFileSync(disk, new Uint8Array(8 * 512));
      chmodSync(disk, 0o640);
      linkSync(disk, path.join(dir, 'hard.bin'));
      symlinkSync(disk, path.join(dir, 'link.bin'));
      const ino = statSync(disk).ino;
      const err: string[] = [];
      const code = await main(['run', img, '--disk', path.join(dir, 'link.bin'), '--max-instructions', '100000'], { out: () => {}, err: (s) => void err.push(s) });
      expect([code, err.join('')]).toEqual([0, '']);
      expect(lstatSync(path.join(dir, 'link.bin')).isSymbolicLink()).toBe(true);
      expect(statSync(disk).ino).toBe(ino);
      expect(statSync(disk).mode & 0o777).toBe(0o640);
      const bytes = readFileSync(path.join(dir, 'hard.bin'));
      expect(bytes.subarray(512, 1024).every((b) => b === 0x41)).toBe(true);
      expect(bytes.subarray(0, 512).every((b) => b === 0)).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['disk.bin', 'hard.bin', 'link.bin', 'w.img']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
