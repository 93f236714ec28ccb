/**
 * Isolation: no guest-physical address and no guest page-table entry lets a guest reach the
 * monitor's memory (shadow tables, the nested table) or anything outside its own RAM. Guests try:
 * physical addresses past their RAM, page-table entries naming frames past it (or anywhere at
 * all, in the property test), a page-table base past it, and writes to their own page tables.
 * Each attempt must end as on the bare machine with the same amount of memory (a #GP, a #PF with
 * the reserved bit, a triple fault), the monitor's structures must still hold their invariants,
 * and guest-physical 0 must be the guest's own page, not machine 0 (where the monitor lives).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PF_PRESENT, PF_RSVD, PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { gpa } from '../../../hypervisor/machine/addr.ts';
import { NativeMachine } from '../../../hypervisor/machine/native.ts';
import { asm, expectSameInEveryMode, monitor, VMM_MODES } from './harness.ts';

const MEM = 1 << 20;

/**
 * A kernel with a #GP/#PF handler that logs (cause, errcode, faultaddr) to the console as hex
 * words and skips the faulting instruction. `body` runs with paging off; r9..r12 are free.
 */
function logged(body: string): string {
  return `
    li sp, 0x7f000
    la r14, vec
    mtcr vbar, r14
    la r13, h
    stw r13, [r14+52]
    stw r13, [r14+56]
    ${body}
    li r1, 0
    out 0xf4, r1
  h: push r1
    push r2
    mfcr r1, cause
    call word
    mfcr r1, errcode
    call word
    mfcr r1, faultaddr
    call word
    ldw r1, [sp+8]
    addi r1, r1, 4
    stw r1, [sp+8]
    pop r2
    pop r1
    iret
  word: li r2, 4
  w1: out 0x3f8, r1
    shri r1, r1, 8
    addi r2, r2, -1
    bne r2, r0, w1
    ret
    .align 4
  vec: .space 1024`;
}

/** Identity-map the first 1 MiB at 0x10000 (directory 0x11000), VA 0x400000 through table 0x12000. */
const TABLES = `
    li r1, 0x11000
    li r2, ${0x10000 | PTE_P | PTE_W | PTE_U}
    stw r2, [r1]
    li r2, ${0x12000 | PTE_P | PTE_W | PTE_U}
    stw r2, [r1+4]
    li r1, 0x10000
    li r2, ${PTE_P | PTE_W | PTE_U}
    li r3, 256
    li r4, 0x1000
    li r5, 0
  k: stw r2, [r1]
    addi r1, r1, 4
    add r2, r2, r4
    addi r3, r3, -1
    bne r3, r5, k
    li r0, 0`;
const PAGING_ON = `li r1, 0x11000\nmtcr ptbr, r1\nli r1, 1\nmtcr ctrl, r1\nlui r9, 0x40`;

/**
 * Run in every mode (same console, exit, counts) and check the monitors' invariants after; and
 * that the guest's RAM ends byte for byte as on the bare machine: a store that a translation sent
 * anywhere else (the monitor's area, another frame) would be missing from it, or extra.
 */
function attempt(src: string): string {
  const image = asm(src);
  const r = expectSameInEveryMode(image, { memoryBytes: MEM, maxInstructions: 2_000_000 });
  const bare = new NativeMachine({ memoryBytes: MEM });
  bare.load(image);
  bare.run(2_000_000);
  for (const mode of VMM_MODES) {
    const { m } = monitor(mode, image, { memoryBytes: MEM });
    m.run(2_000_000);
    expect(m.audit(), mode).toEqual([]);
    expect(Buffer.from(m.vm.read(gpa(0), MEM)!).equals(Buffer.from(bare.mem.u8)), `${mode}: guest RAM differs from the bare machine's`).toBe(true);
  }
  return r.native!.console;
}

/** The (cause, errcode, faultaddr) triples a logged() guest printed. */
function faults(consoleText: string): number[][] {
  const b = new TextEncoder().encode(consoleText);
  const words = Array.from({ length: b.length >> 2 }, (_, i) => (b[4 * i]! | (b[4 * i + 1]! << 8) | (b[4 * i + 2]! << 16) | (b[4 * i + 3]! << 24)) >>> 0);
  return Array.from({ length: words.length / 3 }, (_, i) => words.slice(3 * i, 3 * i + 3));
}

describe('isolation', () => {
  it('guest-physical addresses past RAM are a #GP, reads and writes alike', () => {
    const out = attempt(logged(`
      lui r9, ${MEM >>> 16}
      ldw r10, [r9]
      stw r10, [r9+8]
      li r9, -4
      ldw r10, [r9]
      lui r9, 0x4000
      stw r10, [r9]`));
    expect(faults(out).map((f) => f[0])).toEqual([13, 13, 13, 13]);
  });

  it('page-table entries naming frames past RAM are a #PF with the reserved bit', () => {
    const out = attempt(logged(`${TABLES}
      li r1, 0x12000
      lui r2, ${MEM >>> 16}
      ori r2, r2, ${PTE_P | PTE_W}
      stw r2, [r1]                ; VA -> the first frame past RAM
      lui r2, 0x3ff0
      ori r2, r2, ${PTE_P | PTE_W}
      stw r2, [r1+4]              ; VA+4K -> near the top of a 1 GiB machine
      li r1, 0x11000
      lui r2, 0x80
      ori r2, r2, ${PTE_P | PTE_W}
      stw r2, [r1+8]              ; directory entry 2 -> a "table" past RAM
      ${PAGING_ON}
      ldw r10, [r9]
      stw r10, [r9+0x1000]
      lui r11, 0x80
      ldw r10, [r11]`));
    const f = faults(out);
    expect(f.map((x) => x[0])).toEqual([14, 14, 14]);
    expect(f.every((x) => (x[1]! & (PF_RSVD | PF_PRESENT)) === (PF_RSVD | PF_PRESENT))).toBe(true);
  });

  it('a page-table base past RAM leaves the guest nothing: a triple fault, as on the bare machine', () => {
    const image = asm(`li r1, 0x80000\nmtcr vbar, r1\nlui r1, 0x100\nmtcr ptbr, r1\nli r1, 1\nmtcr ctrl, r1\nnop`);
    const r = expectSameInEveryMode(image, { memoryBytes: MEM, maxInstructions: 10_000 });
    expect(r.native!.stop).toBe('triple-fault');
  });

  it('a vector table or kernel stack past RAM cannot deliver anything: a triple fault, as on the bare machine', () => {
    for (const setup of [`lui r1, ${MEM >>> 16}\nmtcr vbar, r1`, `li r1, 0x7000\nmtcr vbar, r1\nlui sp, ${(MEM + 0x10000) >>> 16}`]) {
      const image = asm(`${setup}\nli r1, 0\ndiv r2, r1, r1\nout 0xf4, r0`);
      const r = expectSameInEveryMode(image, { memoryBytes: MEM, maxInstructions: 10_000 });
      expect(r.native!.stop).toBe('triple-fault');
    }
  });

  it('guest-physical 0 is the guest\'s own page, not machine 0 where the monitor keeps its tables', () => {
    const out = attempt(logged(`
      li r1, 0x5a5a
      li r2, 0
      stw r1, [r2]                ; paging off: guest-physical 0
      ${TABLES}
      li r1, 0x12000
      li r2, ${PTE_P | PTE_W}
      stw r2, [r1]                ; VA -> guest frame 0
      ${PAGING_ON}
      ldw r10, [r9]
      ldw r11, [r9+4]
      li r1, 0x3f8
      outr r1, r10
      outr r1, r11`));
    expect(out.charCodeAt(0)).toBe(0x5a);
    expect(out.charCodeAt(1)).toBe(0);
  });

  it('a guest that maps its own page table and writes entries through it still reaches only its RAM', () => {
    const out = attempt(logged(`${TABLES}
      li r1, 0x12000
      li r2, ${0x12000 | PTE_P | PTE_W}
      stw r2, [r1]                ; VA -> the table that maps VA (a recursive mapping)
      ${PAGING_ON}
      lui r2, 0x7000
      ori r2, r2, ${PTE_P | PTE_W}
      stw r2, [r9+4]              ; through VA: VA+4K -> 0x70000000
      li r2, ${0x30000 | PTE_P | PTE_W}
      stw r2, [r9+8]              ; through VA: VA+8K -> guest frame 0x30000
      li r3, 0x77
      stw r3, [r9+0x2000]
      ldw r10, [r9+0x1000]        ; #PF, reserved bit
      stw r3, [r9+0x1000]         ; #PF, reserved bit
      li r1, 0x30000
      ldw r11, [r9+0x2000]
      li r1, 0x3f8
      outr r1, r11`));
    const f = faults(out.slice(0, 24));
    expect(f.map((x) => x[0])).toEqual([14, 14]);
    expect(out.charCodeAt(24)).toBe(0x77);
  });

  it('any page-table entries a guest writes: same result as the bare machine, monitor invariants intact (property)', () => {
    // Each case: a directory entry for VA's region and four table entries, any 32-bit values, then
    // reads and writes through VA. The handler logs each fault and skips the instruction.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }), fc.boolean(), (pde, ptes, realTable) => {
        const setPde = realTable ? `li r2, ${(0x12000 | (pde & 0xfff)) | 0}` : `li32 r2, ${pde | 0}`;
        const setPtes = ptes.map((v, i) => `li32 r2, ${v | 0}\nstw r2, [r1+${4 * i}]`).join('\n');
        attempt(logged(`${TABLES}
          li r1, 0x11000
          ${setPde}
          stw r2, [r1+4]
          li r1, 0x12000
          ${setPtes}
          ${PAGING_ON}
          ldw r10, [r9]
          ldw r11, [r9+0x1ffc]
          li r12, 0x3c
          stw r12, [r9+0x2ff0]
          ldw r12, [r9+0x3008]
          li r1, 0x3f8
          outr r1, r10
          outr r1, r11
          outr r1, r12`));
      }),
      { numRuns: 40, seed: 6 },
    );
  });
});
