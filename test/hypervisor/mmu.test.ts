import { describe, expect, it } from 'vitest';
import { Cr, encode, Op, OPCODES, PF_PRESENT, PF_RSVD, PF_USER, PF_WRITE, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W, Vector } from '../../abi/isa.ts';
import type { NativeMachine } from '../../hypervisor/machine/native.ts';
import { enterUser, exec } from './harness.ts';

const PD = 0x10000;
const PT0 = 0x11000; // maps 0x000000..0x3fffff
const PT1 = 0x12000; // maps 0x400000..0x7fffff
const FRAME_A = 0x30000;
const FRAME_B = 0x31000;
const VA = 0x400000;

/** Identity-map the first 1 MiB (user, writable) and give 0x400000 a table of its own. */
function pageTables(m: NativeMachine, vaFlags = PTE_P | PTE_W | PTE_U): void {
  const i32 = m.mem.i32;
  i32[PD >>> 2] = PT0 | PTE_P | PTE_W | PTE_U;
  i32[(PD >>> 2) + 1] = PT1 | PTE_P | PTE_W | PTE_U;
  for (let p = 0; p < 256; p++) i32[(PT0 >>> 2) + p] = (p << 12) | PTE_P | PTE_W | PTE_U;
  i32[PT1 >>> 2] = FRAME_A | vaFlags;
  i32[FRAME_A >>> 2] = 111;
  i32[FRAME_B >>> 2] = 222;
  m.cpu.regs[15] = 0x20000;
}

const PAGING_ON = `li r1, ${PD}\nmtcr ptbr, r1\nli r1, 1\nmtcr ctrl, r1\nlui r9, 0x40\n`; // r9 = VA

describe('paging', () => {
  it('translates through a two-level table and sets accessed and dirty bits', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\nli r3, 5\nstw r3, [r9+4]\nbrk`, { setup: (m) => pageTables(m) });
    expect(o.vector).toBe(Vector.Breakpoint);
    expect(o.m.cpu.regs[2]).toBe(111);
    expect(o.m.mem.i32[(FRAME_A >>> 2) + 1]).toBe(5);
    const pte = o.m.mem.i32[PT1 >>> 2]!;
    expect(pte & (PTE_A | PTE_D)).toBe(PTE_A | PTE_D);
  });

  it('a page fault delivers the faulting address and error code', () => {
    const o = exec(`${PAGING_ON}lui r2, 0x80\nldw r3, [r2+0x124]\nbrk`, { setup: (m) => pageTables(m) });
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.err).toBe(0); // not present, read, supervisor
    expect(o.m.cpu.cr[Cr.FaultAddr]).toBe(0x800124);
  });

  it('a page fault reaches the guest handler with the address in CR faultaddr', () => {
    const src = `
      la r1, table
      mtcr vbar, r1
      la r2, handler
      stw r2, [r1+56]          ; vector 14 * 4
      ${PAGING_ON}
      li r2, 0x77
      stw r2, [r9+0x10]        ; present and writable: no fault
      lui r2, 0x80
      ldw r3, [r2+8]           ; unmapped: page fault
      brk
    handler:
      mfcr r5, faultaddr
      mfcr r6, errcode
      mfcr r7, cause
      brk
      .align 4
    table: .space 1024`;
    const o = exec(src, {
      setup: (m) => {
        pageTables(m);
        m.cpu.interceptVectors = ~(1 << Vector.PageFault); // deliver #PF to the guest
      },
    });
    expect(o.vector).toBe(Vector.Breakpoint);
    const r = o.m.cpu.regs;
    expect([r[5], r[6], r[7]]).toEqual([0x800008, 0, Vector.PageFault]);
  });

  // Every instruction that touches data memory, read from the ISA table: each must fault on an
  // unmapped page with the right access bit, and leave its destination register alone.
  const STACK_OPS: Record<string, { src: string; write: boolean }> = {
    push: { src: 'push r1', write: true },
    pop: { src: 'pop r3', write: false },
    call: { src: 'call t', write: true },
    callr: { src: 'la r2, t\ncallr r2', write: true },
    ret: { src: 'ret', write: false },
  };
  for (const o of OPCODES.filter((x) => x.form === 'mem' || x.mnemonic in STACK_OPS)) {
    it(`${o.mnemonic} on an unmapped page raises #PF with the address and the access kind`, () => {
      const write = o.form === 'mem' ? o.mnemonic.startsWith('st') : STACK_OPS[o.mnemonic]!.write;
      // Data at 0x800010; for the stack instructions sp points into the unmapped page (or just above it).
      const body = o.form === 'mem' ? `lui r2, 0x80\nli r3, 77\n${o.mnemonic} r3, [r2+16]` : `lui r15, 0x80\n${write ? 'addi r15, r15, 20' : 'addi r15, r15, 16'}\nli r3, 77\n${STACK_OPS[o.mnemonic]!.src}`;
      const out = exec(`${PAGING_ON}${body}\nt: brk`, { setup: (m) => pageTables(m) });
      expect(out.vector).toBe(Vector.PageFault);
      expect(out.err).toBe(write ? PF_WRITE : 0);
      expect(out.m.cpu.cr[Cr.FaultAddr]).toBe(0x800010);
      expect(out.m.cpu.regs[3]).toBe(77);
    });
  }

  it('a write to a read-only page faults with present|write, and the read before it works', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\nstw r2, [r9]\nbrk`, { setup: (m) => pageTables(m, PTE_P | PTE_U) });
    expect(o.m.cpu.regs[2]).toBe(111);
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.err).toBe(PF_PRESENT | PF_WRITE);
    expect(o.m.cpu.cr[Cr.FaultAddr]).toBe(VA);
  });

  it('a write to a read-only page faults even at privilege 0 after a read filled the TLB', () => {
    // The read fills only the read side of the TLB, so the write still checks W.
    const o = exec(`${PAGING_ON}ldw r2, [r9]\nldw r2, [r9]\nstw r2, [r9+8]\nbrk`, { setup: (m) => pageTables(m, PTE_P) });
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.err).toBe(PF_PRESENT | PF_WRITE);
  });

  it('a user access to a supervisor page faults with present|user', () => {
    const o = exec(`ldw r2, [r9]\nbrk`, {
      cpl3: true,
      setup: (m) => {
        pageTables(m, PTE_P | PTE_W);
        m.cpu.regs[9] = VA;
        m.cpu.mmu.ptbr = PD;
        m.cpu.mmu.paging = true;
      },
    });
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.err).toBe(PF_PRESENT | PF_USER);
  });

  it('a frame beyond physical memory faults with the reserved bit', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\nbrk`, {
      setup: (m) => {
        pageTables(m);
        m.mem.i32[PT1 >>> 2] = 0x7fff0000 | PTE_P | PTE_W;
      },
    });
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.err & PF_RSVD).toBe(PF_RSVD);
  });

  // The guest changes the PTE for VA from frame A to frame B through the identity map.
  const REMAP = `li r4, ${PT1}\nli r5, ${FRAME_B | PTE_P | PTE_W | PTE_U}\nstw r5, [r4]\n`;

  it('keeps using a stale translation until the guest invalidates it (the TLB is real)', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\n${REMAP}ldw r3, [r9]\nbrk`, { setup: (m) => pageTables(m) });
    expect([o.m.cpu.regs[2], o.m.cpu.regs[3]]).toEqual([111, 111]);
  });

  it('INVLPG drops the stale translation', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\n${REMAP}invlpg r9\nldw r3, [r9]\nbrk`, { setup: (m) => pageTables(m) });
    expect([o.m.cpu.regs[2], o.m.cpu.regs[3]]).toEqual([111, 222]);
  });

  it('INVLPG drops the stale translation for writes too', () => {
    // Two stores: the first walks, sets D and fills the write side of the TLB; after the remap,
    // a store that still hit that entry would land in frame A.
    const o = exec(`${PAGING_ON}li r2, 1\nstw r2, [r9]\n${REMAP}invlpg r9\nli r2, 2\nstw r2, [r9]\nbrk`, { setup: (m) => pageTables(m) });
    expect(o.vector).toBe(Vector.Breakpoint);
    expect([o.m.mem.i32[FRAME_A >>> 2], o.m.mem.i32[FRAME_B >>> 2]]).toEqual([1, 2]);
  });

  it('INVLPG at privilege 0 also drops the translation privilege 3 cached', () => {
    // The user reads VA (filling the privilege-3 TLB set), a syscall enters the kernel, which
    // remaps VA and invalidates it; back in user mode the read must see the new frame.
    const src = `
      ${PAGING_ON}${enterUser(Vector.Syscall, 'kernel')}
    user:
      ldw r2, [r9]
      syscall
      ldw r3, [r9]
      brk
    kernel:
      ${REMAP}
      invlpg r9
      sysret
      .align 4
    table: .space 1024`;
    const o = exec(src, { setup: (m) => pageTables(m) });
    expect(o.vector).toBe(Vector.Breakpoint);
    expect([o.m.cpu.cpl, o.m.cpu.regs[2], o.m.cpu.regs[3]]).toEqual([3, 111, 222]);
  });

  it('turning paging off and on again flushes the TLB', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\nli r1, 0\nmtcr ctrl, r1\n${REMAP}li r1, 1\nmtcr ctrl, r1\nldw r3, [r9]\nbrk`, { setup: (m) => pageTables(m) });
    expect([o.m.cpu.regs[2], o.m.cpu.regs[3]]).toEqual([111, 222]);
  });

  it('a page-table-base write flushes the TLB', () => {
    const o = exec(`${PAGING_ON}ldw r2, [r9]\n${REMAP}li r1, ${PD}\nmtcr ptbr, r1\nldw r3, [r9]\nbrk`, { setup: (m) => pageTables(m) });
    expect([o.m.cpu.regs[2], o.m.cpu.regs[3]]).toEqual([111, 222]);
  });

  it('instruction fetch goes through the TLB too: stale code until INVLPG', () => {
    // VA holds `li r3, N; ret` with N = 1 in frame A and 2 in frame B. Call it, remap it to B
    // behind the TLB's back, call it again (still A's code), invalidate, call it a third time.
    const code = (n: number): number[] => [encode({ opcode: Op.li!, rd: 3, ra: 0, rb: 0, imm: n }) as number, encode({ opcode: Op.ret!, rd: 0, ra: 0, rb: 0, imm: 0 }) as number];
    const src = `${PAGING_ON}callr r9\nmov r6, r3\n${REMAP}callr r9\nmov r7, r3\ninvlpg r9\ncallr r9\nmov r8, r3\nbrk`;
    const o = exec(src, {
      setup: (m) => {
        pageTables(m);
        m.mem.i32.set(code(1), FRAME_A >>> 2);
        m.mem.i32.set(code(2), FRAME_B >>> 2);
      },
    });
    expect(o.vector).toBe(Vector.Breakpoint);
    expect([o.m.cpu.regs[6], o.m.cpu.regs[7], o.m.cpu.regs[8]]).toEqual([1, 1, 2]);
  });

  it('instruction fetch from an unmapped page faults with the fetch bit', () => {
    const o = exec(`${PAGING_ON}lui r2, 0x80\njr r2`, { setup: (m) => pageTables(m) });
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.err).toBe(1 << 4);
    expect(o.m.cpu.exit.pc).toBe(0x800000);
  });
});
