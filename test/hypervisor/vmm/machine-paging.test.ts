/**
 * The bare machine's paging tests (test/hypervisor/mmu.test.ts) as guest images, run in native,
 * trap and hw. mmu.test.ts builds its page tables from the host and drives a bare CPU; here the
 * guest kernel builds the same tables (identity map of 1 MiB, VA 0x400000 through its own table
 * to frame A holding 111, frame B holding 222), takes its faults through its own vector table and
 * prints what it saw in hex: the fault log (cause, error code, address), r2 and r3, and the entry
 * for VA with the accessed and dirty bits the walk set. Each must be the same in every mode.
 *
 * One test of mmu.test.ts has no counterpart: the stale TLB entry a guest keeps without INVLPG,
 * which shadow paging need not keep (paging.test.ts, "coherence", pins that difference).
 */
import { describe, expect, it } from 'vitest';
import { PF_FETCH, PF_PRESENT, PF_RSVD, PF_USER, PF_WRITE, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { asm, expectSameInEveryMode, monitor } from './harness.ts';

const PD = 0x11000;
const PT0 = 0x10000;
const PT1 = 0x12000;
const FRAME_A = 0x30000;
const FRAME_B = 0x31000;

/**
 * A kernel that maps VA with `vaFlags`, turns paging on, runs `body` (r9 = VA, r2/r3 free) and
 * prints its faults, then r2, r3 and the entry for VA, as hex words. The #GP/#PF
 * handler logs and skips the instruction, or ends the run on a fetch fault (there is nothing to
 * skip to); SYSCALL ends it too.
 */
function guest(body: string, vaFlags = PTE_P | PTE_W | PTE_U): string {
  return `
    li sp, 0x7f000
    la r14, vec
    mtcr vbar, r14
    la r13, h
    stw r13, [r14+52]
    stw r13, [r14+56]
    la r13, fin
    stw r13, [r14+0x200]
    li r1, 0x8000
    mtcr ksp, r1
    li r1, ${PD}
    li r2, ${PT0 | PTE_P | PTE_W | PTE_U}
    stw r2, [r1]
    li r2, ${PT1 | PTE_P | PTE_W | PTE_U}
    stw r2, [r1+4]
    li r1, ${PT0}
    li r2, ${PTE_P | PTE_W | PTE_U}
    li r3, 256
    li r4, 0x1000
    li r0, 0
  k: stw r2, [r1]
    addi r1, r1, 4
    add r2, r2, r4
    addi r3, r3, -1
    bne r3, r0, k
    li r1, ${PT1}
    li r2, ${FRAME_A | vaFlags}
    stw r2, [r1]
    li r1, ${FRAME_A}
    li r2, 111
    stw r2, [r1]
    li r1, ${FRAME_B}
    li r2, 222
    stw r2, [r1]
    li r2, 0
    li r3, 0
    li r1, ${PD}
    mtcr ptbr, r1
    li r1, 1
    mtcr ctrl, r1
    lui r9, 0x40
    ${body}
  fin: mov r1, r2
    call word
    mov r1, r3
    call word
    li r1, ${PT1}
    ldw r1, [r1]
    call word
    out 0xf4, r0
  h: push r1
    push r2
    mfcr r1, cause
    call word
    mfcr r1, errcode
    call word
    mfcr r1, faultaddr
    call word
    pop r2
    pop r1
    mfcr r13, errcode
    andi r13, r13, ${PF_FETCH}
    bne r13, r0, fin
    ldw r13, [sp]
    addi r13, r13, 4
    stw r13, [sp]
    iret
  word: li r12, 8
  w1: shri r11, r1, 28
    addi r11, r11, '0'
    li r10, '9'
    bge r10, r11, w2
    addi r11, r11, 39
  w2: out 0x3f8, r11
    shli r1, r1, 4
    addi r12, r12, -1
    bne r12, r0, w1
    li r11, ' '
    out 0x3f8, r11
    ret
    .align 4
  vec: .space 1024`;
}

/** The words a guest() printed: its faults as [cause, err, addr] triples, then r2, r3, the PTE. */
function printed(text: string): { faults: number[][]; r2: number; r3: number; pte: number } {
  const w = text.trim().split(' ').map((h) => parseInt(h, 16));
  const tail = w.slice(-3);
  const f = w.slice(0, -3);
  return { faults: Array.from({ length: f.length / 3 }, (_, i) => f.slice(3 * i, 3 * i + 3)), r2: tail[0]!, r3: tail[1]!, pte: tail[2]! };
}

function run(body: string, vaFlags?: number): ReturnType<typeof printed> {
  const r = expectSameInEveryMode(asm(guest(body, vaFlags)), { memoryBytes: 1 << 20, maxInstructions: 1_000_000 });
  expect(r.native!.stop).toBe('shutdown');
  return printed(r.native!.console);
}

// The guest changes the entry for VA from frame A to frame B through the identity map.
const REMAP = `li r4, ${PT1}\nli r5, ${FRAME_B | PTE_P | PTE_W | PTE_U}\nstw r5, [r4]`;

describe("the machine's paging tests, as images, in native, trap and hw", () => {
  it('translates through a two-level table and sets accessed and dirty bits', () => {
    const o = run(`ldw r2, [r9]\nli r3, 5\nstw r3, [r9+4]\nldw r3, [r9+4]`);
    expect([o.faults, o.r2, o.r3]).toEqual([[], 111, 5]);
    expect(o.pte & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('a page fault delivers the faulting address and error code', () => {
    const o = run(`lui r4, 0x80\nldw r3, [r4+0x124]`);
    expect(o.faults).toEqual([[14, 0, 0x800124]]);
  });

  it('a write to a read-only page faults with present|write, and the read before it works', () => {
    const o = run(`ldw r2, [r9]\nstw r2, [r9]`, PTE_P | PTE_U);
    expect(o.r2).toBe(111);
    expect(o.faults).toEqual([[14, PF_PRESENT | PF_WRITE, 0x400000]]);
    expect(o.pte & (PTE_A | PTE_D)).toBe(PTE_A);
  });

  it('a write to a read-only page faults even at privilege 0 after a read filled the TLB', () => {
    const o = run(`ldw r2, [r9]\nldw r2, [r9]\nstw r2, [r9+8]`, PTE_P);
    expect(o.faults).toEqual([[14, PF_PRESENT | PF_WRITE, 0x400008]]);
  });

  it('a user access to a supervisor page faults with present|user', () => {
    // IRET to a user task at privilege 3 that reads VA, then returns to the kernel by SYSCALL.
    const o = run(`li r1, 0x9000\npush r1\nli r1, 0x30\npush r1\nla r1, user\npush r1\niret\nuser: ldw r2, [r9]\nsyscall`, PTE_P | PTE_W);
    expect(o.faults).toEqual([[14, PF_PRESENT | PF_USER, 0x400000]]);
    expect(o.r2).toBe(0);
  });

  it('a frame beyond physical memory faults with the reserved bit', () => {
    const o = run(`li r4, ${PT1}\nli32 r5, ${0x7fff0000 | PTE_P | PTE_W}\nstw r5, [r4]\ninvlpg r9\nldw r2, [r9]`);
    expect(o.faults).toHaveLength(1);
    expect(o.faults[0]![1]! & PF_RSVD).toBe(PF_RSVD);
  });

  it('INVLPG drops the stale translation', () => {
    const o = run(`ldw r2, [r9]\n${REMAP}\ninvlpg r9\nldw r3, [r9]`);
    expect([o.r2, o.r3]).toEqual([111, 222]);
  });

  it('a page-table-base write flushes the TLB', () => {
    const o = run(`ldw r2, [r9]\n${REMAP}\nli r1, ${PD}\nmtcr ptbr, r1\nldw r3, [r9]`);
    expect([o.r2, o.r3]).toEqual([111, 222]);
  });

  it("a hidden fault between the guest's page fault and its handler's reads leaves faultaddr alone", () => {
    // The handler's first act is a store to a page nothing has touched yet (a shadow fill under
    // trap, an EPT violation under hw); the fault log it prints after must still be the guest's.
    const body = `la r1, h2
      stw r1, [r14+56]
      lui r4, 0x80
      ldw r3, [r4+0x40]
      jmp fin
  h2: li r13, 0x5b000
      stw r13, [r13]
      jmp h`;
    expect(run(body).faults).toEqual([[14, 0, 0x800040]]);
    const { m, exits } = monitor('trap', asm(guest(body)), { memoryBytes: 1 << 20 });
    m.run(1_000_000);
    expect(exits.filter((e) => e.reason === 'shadow-fill' && e.qual.addr === '0x5b000')).toHaveLength(1);
  });

  it('instruction fetch from an unmapped page faults with the fetch bit', () => {
    const o = run(`lui r4, 0x80\njr r4`);
    expect(o.faults).toEqual([[14, PF_FETCH, 0x800000]]);
  });
});
