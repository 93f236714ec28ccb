import { describe, expect, it } from 'vitest';
import { BLK_CMD_FLUSH, BLK_CMD_WRITE, BLK_SECTOR_BYTES, BLK_STATUS_DRQ, BLK_STATUS_ERROR, BLK_STATUS_READY } from '../../abi/platform.ts';
import { runImage } from '../../hypervisor/run.ts';
import type { MachineOptions } from '../../hypervisor/machine/native.ts';
import { asm, boot } from './harness.ts';

/**
 * The native platform's devices as a guest sees them, through ports, on the whole board (CPU,
 * interrupt controller, timer, vector table), not as objects poked from the test.
 */

/** A vector table whose timer entry is `isr`; other vectors shut down with 0xdead. */
const VECTORS = `
      la r1, table
      mtcr vbar, r1
      la r2, isr
      stw r2, [r1+128]          ; vector 32: irq0, the timer
`;
const TABLE = `
      .align 4
table: .space 1024
`;

/** Run on a native machine and return it with the word at each named label. */
function runWords(src: string, labels: string[], limit = 1_000_000, opts: MachineOptions = {}): { words: Record<string, number>; stop: string; exitCode: number | null } {
  const symbols = asm(src).symbols!;
  const m = boot(src, opts);
  const r = m.run(limit);
  const words = Object.fromEntries(labels.map((l) => [l, m.mem.i32[symbols[l]! >>> 2]!]));
  return { words, stop: r.stop, exitCode: r.exitCode };
}

describe('timer', () => {
  it('raises its line every N instructions of virtual time, exactly', () => {
    // The ISR records virtual time at its first instruction; the main loop spins (no HLT, so no
    // idle time) until three ticks have arrived.
    const src = `
      ${VECTORS}
      li r1, 0xfe
      out 0x21, r1              ; unmask line 0
      sti
      li r1, 100
      out 0x40, r1              ; a tick every 100 instructions from now
      mfcr r8, time             ; instructions retired up to and including the out
      la r9, started
      stw r8, [r9]
      la r9, count
      li r3, 3
    spin:
      ldw r2, [r9]
      blt r2, r3, spin
      out 0xf4, r2
    isr:
      mfcr r5, time
      la r6, count
      ldw r7, [r6]
      la r4, at
      shli r7, r7, 2
      add r4, r4, r7
      stw r5, [r4]
      shri r7, r7, 2
      addi r7, r7, 1
      stw r7, [r6]
      out 0x20, r7              ; EOI
      iret
      .align 4
    started: .word 0
    count: .word 0
    at: .word 0, 0, 0
    ${TABLE}`;
    const symbols = asm(src).symbols!;
    const m = boot(src);
    const r = m.run(1_000_000);
    expect(r).toEqual({ stop: 'shutdown', exitCode: 3 });
    const started = m.mem.i32[symbols.started! >>> 2]!;
    const at = Array.from(m.mem.i32.subarray(symbols.at! >>> 2, (symbols.at! >>> 2) + 3));
    expect(at).toEqual([started + 100, started + 200, started + 300]);
    expect(m.report().events).toEqual({ irq0: 3 });
  });

  it('stops when its period is set to zero, and reports the time to the next tick', () => {
    const src = `
      li r1, 500
      out 0x40, r1
      nop
      nop
      in r2, 0x41               ; 500 - 3: the out, two nops, then this in
      li r1, 0
      out 0x40, r1
      in r3, 0x41               ; stopped: 0
      in r4, 0x40               ; the period: 0
      la r9, result
      stw r2, [r9]
      stw r3, [r9+4]
      stw r4, [r9+8]
      sti
      hlt                       ; nothing can wake it
      .align 4
    result: .word -1, -1, -1`;
    const symbols = asm(src).symbols!;
    const m = boot(src);
    const r = m.run(100_000);
    expect(r.stop).toBe('halted');
    expect(r.message).toMatch(/no interrupt source armed/);
    expect(Array.from(m.mem.i32.subarray(symbols.result! >>> 2, (symbols.result! >>> 2) + 3))).toEqual([497, 0, 0]);
  });
});

describe('interrupt controller', () => {
  it('holds a masked line pending and delivers it as soon as it is unmasked', () => {
    const src = `
      ${VECTORS}
      sti                       ; IF set, but every line is masked at reset
      li r1, 50
      out 0x40, r1
      li r3, 200
    spin:
      addi r3, r3, -1
      li r4, 0
      bne r3, r4, spin
      in r5, 0x22               ; pending: line 0
      la r9, pending
      stw r5, [r9]
      la r9, count
      ldw r6, [r9]
      la r9, before
      stw r6, [r9]              ; no interrupt so far
      li r1, 0xfe
      out 0x21, r1              ; unmask: delivered now
      la r9, count
      ldw r6, [r9]
      la r9, after
      stw r6, [r9]
      li r1, 0
      out 0x40, r1
      out 0xf4, r1
    isr:
      la r6, count
      ldw r7, [r6]
      addi r7, r7, 1
      stw r7, [r6]
      out 0x20, r7
      iret
      .align 4
    pending: .word 0
    before: .word -1
    after: .word -1
    count: .word 0
    ${TABLE}`;
    const r = runWords(src, ['pending', 'before', 'after']);
    expect(r.stop).toBe('shutdown');
    expect(r.words).toEqual({ pending: 1, before: 0, after: 1 });
  });

  it('delivers nothing more until the in-service line gets its EOI', () => {
    // The ISR does not acknowledge; ticks keep coming but stay pending behind the line in service.
    const src = `
      ${VECTORS}
      li r1, 0xfe
      out 0x21, r1
      sti
      li r1, 50
      out 0x40, r1
      li r3, 1000
    spin:
      addi r3, r3, -1
      li r4, 0
      bne r3, r4, spin
      la r9, count
      ldw r6, [r9]
      la r9, withoutEoi
      stw r6, [r9]
      in r5, 0x23               ; the line in service
      la r9, inService
      stw r5, [r9]
      out 0x20, r5              ; EOI: the pending tick is delivered at once
      la r9, count
      ldw r6, [r9]
      la r9, withEoi
      stw r6, [r9]
      li r1, 0
      out 0x40, r1
      out 0xf4, r1
    isr:
      la r6, count
      ldw r7, [r6]
      addi r7, r7, 1
      stw r7, [r6]
      iret
      .align 4
    withoutEoi: .word -1
    inService: .word -2
    withEoi: .word -1
    count: .word 0
    ${TABLE}`;
    const r = runWords(src, ['withoutEoi', 'inService', 'withEoi']);
    expect(r.stop).toBe('shutdown');
    expect(r.words).toEqual({ withoutEoi: 1, inService: 0, withEoi: 2 });
  });
});

describe('power port', () => {
  const SRC = 'li32 r1, 0xdeadbeef\nout 0xf4, r1\nli r1, 7\nout 0xf4, r1\nl: jmp l';

  it('ends the run with the full 32-bit code of the first write', () => {
    const r = runImage(asm(SRC), { mode: 'native', maxInstructions: 10_000 });
    expect([r.stop, r.exitCode]).toEqual(['shutdown', 0xdeadbeef]);
    expect(r.instructions).toBe(3); // li32 is two words; nothing runs after the write
  });
});

describe('block device', () => {
  it('reads several sectors one word per IN, with DRQ set until the last word', () => {
    const src = `
      li r1, 2
      out 0x1f3, r1             ; from sector 2
      out 0x1f2, r1             ; two sectors
      li r1, 0x20
      out 0x1f7, r1             ; read
      in r1, 0x1f7
      la r9, statusDuring
      stw r1, [r9]
      la r2, buf
      li r3, 256
    l:
      in r4, 0x1f0
      stw r4, [r2]
      addi r2, r2, 4
      addi r3, r3, -1
      li r5, 0
      bne r3, r5, l
      in r1, 0x1f7
      la r9, statusAfter
      stw r1, [r9]
      in r1, 0x1f0              ; no transfer open: an error, all ones
      la r9, stray
      stw r1, [r9]
      in r1, 0x1f7
      la r9, statusStray
      stw r1, [r9]
      out 0xf4, r5
      .align 4
    statusDuring: .word 0
    statusAfter: .word 0
    stray: .word 0
    statusStray: .word 0
    buf: .space 1024`;
    const disk = new Uint8Array(8 * BLK_SECTOR_BYTES);
    for (let i = 0; i < disk.length; i++) disk[i] = (i * 7 + (i >>> 9)) & 0xff;
    const symbols = asm(src).symbols!;
    const m = boot(src, { disk });
    expect(m.run(100_000).stop).toBe('shutdown');
    const word = (l: string): number => m.mem.i32[symbols[l]! >>> 2]!;
    expect(word('statusDuring')).toBe(BLK_STATUS_READY | BLK_STATUS_DRQ);
    expect(word('statusAfter')).toBe(BLK_STATUS_READY);
    expect(word('stray')).toBe(-1);
    expect(word('statusStray')).toBe(BLK_STATUS_READY | BLK_STATUS_ERROR);
    expect(m.mem.u8.subarray(symbols.buf!, symbols.buf! + 2 * BLK_SECTOR_BYTES)).toEqual(disk.subarray(2 * BLK_SECTOR_BYTES, 4 * BLK_SECTOR_BYTES));
    expect(m.report().disk).toEqual({ sectorsRead: 2, sectorsWritten: 0, errors: 1 });
  });
});

describe('block device flush', () => {
  // Write one sector, FLUSH, FLUSH again with nothing written, then record the status.
  const src = `
      li r1, 1
      out 0x1f3, r1             ; sector 1
      out 0x1f2, r1             ; one sector
      li r1, ${BLK_CMD_WRITE}
      out 0x1f7, r1
      li r3, 128
      li r5, 0
    l:
      out 0x1f0, r3             ; the word written is the count down
      addi r3, r3, -1
      bne r3, r5, l
      li r1, ${BLK_CMD_FLUSH}
      out 0x1f7, r1
      out 0x1f7, r1             ; a second flush, nothing written since
      in r1, 0x1f7
      la r9, status
      stw r1, [r9]
      out 0xf4, r5
      .align 4
    status: .word 0`;

  it('hands the host the disk on FLUSH, once per batch of writes', () => {
    const saved: number[] = [];
    const disk = new Uint8Array(4 * BLK_SECTOR_BYTES);
    const r = runWords(src, ['status'], 100_000, {
      disk,
      onFlush: (d) => void saved.push(new DataView(d.buffer, d.byteOffset).getInt32(BLK_SECTOR_BYTES, true)),
    });
    expect(r.stop).toBe('shutdown');
    expect(saved).toEqual([128]); // the first word of sector 1, as saved; the second flush had nothing new
    expect(r.words.status).toBe(BLK_STATUS_READY);
  });

  it('sets the error bit when the host cannot save the disk, and goes on', () => {
    const r = runWords(src, ['status'], 100_000, {
      disk: new Uint8Array(4 * BLK_SECTOR_BYTES),
      onFlush: () => {
        throw new Error('disk full');
      },
    });
    expect(r.stop).toBe('shutdown');
    expect(r.words.status! & BLK_STATUS_ERROR).toBe(BLK_STATUS_ERROR);
  });
});

describe('UART', () => {
  it('hands the guest its input one byte per IN, -1 when none is left, with RX ready in the status', () => {
    // Echo the input bytes, bracketed, then report the data and status ports with the input gone.
    const src = `
      li r1, '['
      out 0x3f8, r1
    next:
      in r2, 0x3fd
      andi r2, r2, 1
      li r3, 0
      beq r2, r3, done
      in r4, 0x3f8
      out 0x3f8, r4
      jmp next
    done:
      li r1, ']'
      out 0x3f8, r1
      in r4, 0x3f8              ; nothing left: -1
      in r5, 0x3fd              ; transmitter empty, no input
      shli r5, r5, 8
      andi r4, r4, 0xff
      or r5, r5, r4
      out 0xf4, r5`;
    const r = runImage(asm(src), { mode: 'native', input: new TextEncoder().encode('héllo') });
    expect(r.console).toBe('[héllo]');
    expect(r.exitCode).toBe((0x20 << 8) | 0xff);
  });
});
