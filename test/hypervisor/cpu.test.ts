import { describe, expect, it } from 'vitest';
import { Cr, FLAG_IF, OPCODES, PAGE_MASK, REG_SP, Vector } from '../../abi/isa.ts';
import { HOT_CONSTANTS, Stop } from '../../hypervisor/machine/cpu.ts';
import { TLB_MASK } from '../../hypervisor/machine/mmu.ts';
import { asm, enterUser, exec, regsAfter } from './harness.ts';

const u = (n: number): number => n >>> 0;

/**
 * One entry per mnemonic of the ISA table: a test of its effect on registers, memory or flags,
 * and of the exception it must raise where it has one. The coverage test below fails when an
 * opcode is added to abi/isa.ts without a semantic test here.
 */
const SEMANTICS: Record<string, () => void> = {
  nop: () => expect(exec('nop\nnop\nbrk').m.cpu.icount).toBe(3),
  add: () => expect(regsAfter('li r1, 0x7fff\nlui r2, 0x7fff\nori r2, r2, 0xffff\nadd r3, r2, r1\nbrk')[3]).toBe((0x7fffffff + 0x7fff) | 0),
  sub: () => expect(regsAfter('li r1, 5\nli r2, 7\nsub r3, r1, r2\nbrk')[3]).toBe(-2),
  mul: () => expect(regsAfter('lui r1, 0x1234\nori r1, r1, 0x5678\nli r2, 1000\nmul r3, r1, r2\nbrk')[3]).toBe(Math.imul(0x12345678, 1000)),
  div: () => {
    const r = regsAfter('li r1, -7\nli r2, 2\ndiv r3, r1, r2\nlui r4, 0x8000\nli r5, -1\ndiv r6, r4, r5\nbrk');
    expect(r[3]).toBe(-3); // truncates toward zero
    expect(r[6]).toBe(-0x80000000); // INT_MIN / -1 wraps, as (a / b) | 0
    expect(exec('li r1, 1\nli r2, 0\ndiv r3, r1, r2\nbrk').vector).toBe(Vector.DivideError);
  },
  divu: () => {
    expect(u(regsAfter('li r1, -2\nli r2, 2\ndivu r3, r1, r2\nbrk')[3]!)).toBe(0x7fffffff);
    expect(exec('li r1, 1\nli r2, 0\ndivu r3, r1, r2\nbrk').vector).toBe(Vector.DivideError);
  },
  rem: () => {
    expect(regsAfter('li r1, -7\nli r2, 2\nrem r3, r1, r2\nbrk')[3]).toBe(-1);
    expect(exec('li r1, 1\nli r2, 0\nrem r3, r1, r2\nbrk').vector).toBe(Vector.DivideError);
  },
  remu: () => {
    expect(regsAfter('li r1, -1\nli r2, 10\nremu r3, r1, r2\nbrk')[3]).toBe(0xffffffff % 10);
    expect(exec('li r1, 1\nli r2, 0\nremu r3, r1, r2\nbrk').vector).toBe(Vector.DivideError);
  },
  and: () => expect(regsAfter('li r1, 0x0ff0\nli r2, 0x00ff\nand r3, r1, r2\nbrk')[3]).toBe(0xf0),
  or: () => expect(regsAfter('li r1, 0x0f00\nli r2, 0x00f0\nor r3, r1, r2\nbrk')[3]).toBe(0xff0),
  xor: () => expect(regsAfter('li r1, 0x0ff0\nli r2, 0x00ff\nxor r3, r1, r2\nbrk')[3]).toBe(0xf0f),
  shl: () => expect(regsAfter('li r1, 3\nli r2, 33\nshl r3, r1, r2\nbrk')[3]).toBe(6), // count & 31
  shr: () => expect(regsAfter('li r1, -16\nli r2, 2\nshr r3, r1, r2\nbrk')[3]).toBe(0x3ffffffc),
  sar: () => expect(regsAfter('li r1, -16\nli r2, 2\nsar r3, r1, r2\nbrk')[3]).toBe(-4),
  slt: () => {
    const r = regsAfter('li r1, -1\nli r2, 1\nslt r3, r1, r2\nslt r4, r2, r1\nbrk');
    expect([r[3], r[4]]).toEqual([1, 0]);
  },
  sltu: () => {
    const r = regsAfter('li r1, -1\nli r2, 1\nsltu r3, r1, r2\nsltu r4, r2, r1\nbrk');
    expect([r[3], r[4]]).toEqual([0, 1]);
  },
  seq: () => {
    const r = regsAfter('li r1, 4\nli r2, 4\nli r5, 5\nseq r3, r1, r2\nseq r4, r1, r5\nbrk');
    expect([r[3], r[4]]).toEqual([1, 0]);
  },
  sne: () => {
    const r = regsAfter('li r1, 4\nli r2, 4\nli r5, 5\nsne r3, r1, r2\nsne r4, r1, r5\nbrk');
    expect([r[3], r[4]]).toEqual([0, 1]);
  },
  // The checked ones at their boundaries: test/hypervisor/trapping-arith.test.ts.
  addo: () => {
    expect(regsAfter('li r1, -5\nli r2, 3\naddo r3, r1, r2\nbrk')[3]).toBe(-2);
    expect(exec('li32 r1, 0x7fffffff\nli r2, 1\naddo r3, r1, r2\nbrk').vector).toBe(Vector.Overflow);
  },
  subo: () => {
    expect(regsAfter('li r1, -5\nli r2, 3\nsubo r3, r1, r2\nbrk')[3]).toBe(-8);
    expect(exec('lui r1, 0x8000\nli r2, 1\nsubo r3, r1, r2\nbrk').vector).toBe(Vector.Overflow);
  },
  mulo: () => {
    expect(regsAfter('li r1, -5\nli r2, 3\nmulo r3, r1, r2\nbrk')[3]).toBe(-15);
    expect(exec('lui r1, 0x8000\nli r2, -1\nmulo r3, r1, r2\nbrk').vector).toBe(Vector.Overflow);
  },
  mulh: () => {
    const r = regsAfter('lui r1, 0x8000\nmov r2, r1\nmulh r3, r1, r2\nli r4, -1\nli r5, 1\nmulh r6, r4, r5\nbrk');
    expect([r[3], r[6]]).toEqual([0x40000000, -1]); // (-2^31)^2 = 2^62; -1 * 1 = -1 (high word all ones)
  },
  chk: () => {
    expect(exec('li r1, 9\nli r2, 10\nchk r1, r2\nbrk').vector).toBe(Vector.Breakpoint);
    expect(exec('li r1, -1\nli r2, 10\nchk r1, r2\nbrk').vector).toBe(Vector.BoundRange);
  },
  chki: () => {
    expect(exec('li r1, 9\nchki r1, 10\nbrk').vector).toBe(Vector.Breakpoint);
    expect(exec('li r1, 10\nchki r1, 10\nbrk').vector).toBe(Vector.BoundRange);
  },
  addio: () => {
    expect(regsAfter('li r1, 10\naddio r2, r1, -11\nbrk')[2]).toBe(-1);
    expect(exec('li32 r1, 0x7fffffff\naddio r2, r1, 1\nbrk').vector).toBe(Vector.Overflow);
  },
  addi: () => expect(regsAfter('li r1, 10\naddi r2, r1, -11\nbrk')[2]).toBe(-1),
  muli: () => expect(regsAfter('li r1, 7\nmuli r2, r1, -3\nbrk')[2]).toBe(-21),
  andi: () => expect(regsAfter('li r1, -1\nandi r2, r1, 0xff00\nbrk')[2]).toBe(0xff00), // zero-extended
  ori: () => expect(regsAfter('lui r1, 0x1234\nori r2, r1, 0xabcd\nbrk')[2]).toBe(0x1234abcd),
  xori: () => expect(regsAfter('li r1, 0x0ff0\nxori r2, r1, 0xffff\nbrk')[2]).toBe(0xf00f),
  shli: () => expect(regsAfter('li r1, 1\nshli r2, r1, 31\nbrk')[2]).toBe(-0x80000000),
  shri: () => expect(regsAfter('li r1, -1\nshri r2, r1, 28\nbrk')[2]).toBe(15),
  sari: () => expect(regsAfter('li r1, -256\nsari r2, r1, 4\nbrk')[2]).toBe(-16),
  slti: () => {
    const r = regsAfter('li r1, -5\nslti r2, r1, -4\nslti r3, r1, -5\nbrk');
    expect([r[2], r[3]]).toEqual([1, 0]);
  },
  sltiu: () => {
    const r = regsAfter('li r1, 5\nsltiu r2, r1, -1\nli r4, -1\nsltiu r3, r4, 5\nbrk'); // -1 as unsigned is huge
    expect([r[2], r[3]]).toEqual([1, 0]);
  },
  mov: () => expect(regsAfter('li r1, -42\nmov r7, r1\nbrk')[7]).toBe(-42),
  li: () => expect(regsAfter('li r1, -32768\nbrk')[1]).toBe(-32768),
  lui: () => expect(u(regsAfter('lui r1, 0xdead\nbrk')[1]!)).toBe(0xdead0000),
  not: () => expect(regsAfter('li r1, 0\nnot r2, r1\nbrk')[2]).toBe(-1),
  neg: () => {
    const r = regsAfter('li r1, 5\nneg r2, r1\nlui r3, 0x8000\nneg r4, r3\nbrk');
    expect([r[2], r[4]]).toEqual([-5, -0x80000000]);
  },
  ldw: () => {
    const o = exec('la r1, d\nldw r2, [r1+4]\nbrk\n.align 4\nd: .word 1, 0xcafef00d');
    expect(u(o.m.cpu.regs[2]!)).toBe(0xcafef00d);
    expect(exec('la r1, d\nldw r2, [r1+2]\nbrk\n.align 4\nd: .word 1, 2').vector).toBe(Vector.AlignmentCheck);
  },
  ldh: () => {
    expect(regsAfter('la r1, d\nldh r2, [r1+2]\nbrk\n.align 4\nd: .half 1, 0x8001')[2]).toBe(-32767);
    expect(exec('la r1, d\nldh r2, [r1+1]\nbrk\n.align 4\nd: .word 0').vector).toBe(Vector.AlignmentCheck);
  },
  ldhu: () => {
    expect(regsAfter('la r1, d\nldhu r2, [r1+2]\nbrk\n.align 4\nd: .half 1, 0x8001')[2]).toBe(0x8001);
    expect(exec('la r1, d\nldhu r2, [r1+3]\nbrk\n.align 4\nd: .word 0').vector).toBe(Vector.AlignmentCheck);
  },
  ldb: () => expect(regsAfter('la r1, d\nldb r2, [r1+1]\nbrk\nd: .byte 1, 0xff')[2]).toBe(-1),
  ldbu: () => expect(regsAfter('la r1, d\nldbu r2, [r1+1]\nbrk\nd: .byte 1, 0xff')[2]).toBe(255),
  stw: () => {
    const o = exec('la r1, d\nli r2, -2\nstw r2, [r1+4]\nbrk\n.align 4\nd: .word 0, 0, 0');
    expect(Array.from(o.m.mem.i32.subarray(o.m.cpu.regs[1]! >>> 2, (o.m.cpu.regs[1]! >>> 2) + 3))).toEqual([0, -2, 0]);
    expect(exec('la r1, d\nstw r2, [r1+1]\nbrk\n.align 4\nd: .word 0').vector).toBe(Vector.AlignmentCheck);
  },
  sth: () => {
    const o = exec('la r1, d\nli r2, -1\nsth r2, [r1+2]\nbrk\n.align 4\nd: .word 0');
    expect(u(o.m.mem.i32[o.m.cpu.regs[1]! >>> 2]!)).toBe(0xffff0000);
    expect(exec('la r1, d\nsth r2, [r1+1]\nbrk\n.align 4\nd: .word 0').vector).toBe(Vector.AlignmentCheck);
  },
  stb: () => {
    const o = exec('la r1, d\nli r2, 0x1ab\nstb r2, [r1+3]\nbrk\n.align 4\nd: .word 0');
    expect(u(o.m.mem.i32[o.m.cpu.regs[1]! >>> 2]!)).toBe(0xab000000);
  },
  push: () => {
    const o = exec('li r1, 77\npush r1\nbrk');
    const sp = o.m.cpu.regs[15]!;
    expect(sp).toBe((1 << 20) - 4);
    expect(o.m.mem.i32[sp >>> 2]).toBe(77);
    // A misaligned stack faults, and sp is left as it was.
    const bad = exec('li r15, 0x2002\npush r1\nbrk');
    expect([bad.vector, bad.m.cpu.regs[15]]).toEqual([Vector.AlignmentCheck, 0x2002]);
  },
  pop: () => {
    const r = regsAfter('li r1, 77\npush r1\npop r2\nbrk');
    expect([r[2], r[15]]).toEqual([77, 1 << 20]);
    const bad = exec('li r15, 0x2002\npop r1\nbrk');
    expect([bad.vector, bad.m.cpu.regs[15]]).toEqual([Vector.AlignmentCheck, 0x2002]);
  },
  beq: () => expect(regsAfter('li r1, 1\nli r2, 1\nli r3, 0\nbeq r1, r2, t\nli r3, 9\nt: brk')[3]).toBe(0),
  bne: () => expect(regsAfter('li r1, 1\nli r2, 1\nli r3, 0\nbne r1, r2, t\nli r3, 9\nt: brk')[3]).toBe(9),
  blt: () => expect(regsAfter('li r1, -1\nli r2, 1\nli r3, 0\nblt r1, r2, t\nli r3, 9\nt: brk')[3]).toBe(0),
  bge: () => expect(regsAfter('li r1, -1\nli r2, 1\nli r3, 0\nbge r1, r2, t\nli r3, 9\nt: brk')[3]).toBe(9),
  bltu: () => expect(regsAfter('li r1, -1\nli r2, 1\nli r3, 0\nbltu r1, r2, t\nli r3, 9\nt: brk')[3]).toBe(9),
  bgeu: () => expect(regsAfter('li r1, -1\nli r2, 1\nli r3, 0\nbgeu r1, r2, t\nli r3, 9\nt: brk')[3]).toBe(0),
  jmp: () => expect(regsAfter('li r3, 0\njmp t\nli r3, 9\nt: brk')[3]).toBe(0),
  call: () => {
    const o = exec('call f\nbrk\nf: li r3, 5\nbrk');
    expect(o.m.cpu.regs[3]).toBe(5);
    expect(o.m.mem.i32[o.m.cpu.regs[15]! >>> 2]).toBe(0x1004); // return address pushed
  },
  jr: () => {
    expect(regsAfter('la r1, t\nli r3, 0\njr r1\nli r3, 9\nt: brk')[3]).toBe(0);
    expect(exec('la r1, t\naddi r1, r1, 2\njr r1\nt: brk').vector).toBe(Vector.GeneralProtection); // misaligned target
  },
  callr: () => {
    const o = exec('la r1, f\ncallr r1\nli r4, 1\nbrk\nf: li r3, 5\nret');
    expect([o.m.cpu.regs[3], o.m.cpu.regs[4]]).toEqual([5, 1]);
  },
  ret: () => expect(regsAfter('call f\nli r4, 1\nbrk\nf: li r3, 5\nret')[4]).toBe(1),
  syscall: () => {
    // Delivered through vector 0x80 with a trap frame; the handler is a brk.
    const o = exec('la r1, table\nmtcr vbar, r1\nla r2, handler\nstw r2, [r1+0x200]\nsyscall\nhandler: brk\n.align 4\ntable: .space 1024', {
      cpl3: false,
    });
    const cpu = o.m.cpu;
    expect(o.vector).toBe(Vector.Breakpoint);
    expect(cpu.vectorCounts[Vector.Syscall]).toBe(1);
    expect(cpu.cr[Cr.Cause]).toBe(Vector.Syscall);
    expect(cpu.mem.i32[cpu.regs[15]! >>> 2]).toBe(0x101c); // resume after the syscall (at 0x1018)
  },
  brk: () => {
    const o = exec('nop\nbrk\nnop');
    expect(o.vector).toBe(Vector.Breakpoint);
    expect(o.m.cpu.exit.pc).toBe(0x1008); // a trap: resumes after the instruction
  },
  hypercall: () => {
    const o = exec('hypercall\nbrk');
    expect(o.vector).toBe(Vector.InvalidOpcode); // the bare machine has no hypervisor
    expect(o.m.cpu.exit.pc).toBe(0x1000);
  },
  pushf: () => {
    expect(exec('pushf\nbrk').m.mem.i32[((1 << 20) - 4) >>> 2]).toBe(0); // privilege 0, IF clear
    expect(exec('pushf\nbrk', { cpl3: true }).m.mem.i32[((1 << 20) - 4) >>> 2]).toBe(3 << 4); // reveals CPL 3
  },
  popf: () => {
    const set = exec(`li r1, ${FLAG_IF}\npush r1\npopf\nbrk`);
    expect([set.m.cpu.iflag, set.m.cpu.regs[15]]).toEqual([true, 1 << 20]); // IF set, the word popped
    // Clearing works too, and the CPL field of the popped word is ignored (only IRET changes it).
    expect([exec(`sti\nli r1, ${3 << 4}\npush r1\npopf\nbrk`).m.cpu.iflag, exec(`li r1, ${3 << 4}\npush r1\npopf\nbrk`).m.cpu.cpl]).toEqual([false, 0]);
  },
  in: () => expect(u(regsAfter('in r1, 0x3fd\nbrk')[1]!)).toBe(0x20), // UART: transmitter empty
  out: () => expect(new TextDecoder().decode(exec("li r1, 'A'\nout 0x3f8, r1\nbrk").m.uart.output())).toBe('A'),
  inr: () => expect(regsAfter('li r2, 0x3fd\ninr r1, r2\nbrk')[1]).toBe(0x20),
  outr: () => expect(new TextDecoder().decode(exec("li r2, 0x3f8\nli r1, 'B'\noutr r2, r1\nbrk").m.uart.output())).toBe('B'),
  mfcr: () => {
    expect(regsAfter('nop\nnop\nmfcr r1, time\nbrk')[1]).toBe(2);
    expect(regsAfter('li r1, 0x2000\nmtcr vbar, r1\nmfcr r2, vbar\nbrk')[2]).toBe(0x2000);
    expect(regsAfter('li r1, 0x3000\nmtcr dfsp, r1\nmfcr r2, dfsp\nbrk')[2]).toBe(0x3000);
    expect(exec('mfcr r1, 10\nbrk').vector).toBe(Vector.GeneralProtection); // no such control register
  },
  mtcr: () => {
    expect(regsAfter('li r1, 0x1234\nmtcr scratch, r1\nmfcr r2, scratch\nbrk')[2]).toBe(0x1234);
    expect(exec('li r1, 1\nmtcr time, r1\nbrk').vector).toBe(Vector.GeneralProtection); // read-only
    expect(exec('li r1, 0x123\nmtcr ptbr, r1\nbrk').vector).toBe(Vector.GeneralProtection); // not page-aligned
    expect(exec('li r1, 2\nmtcr ctrl, r1\nbrk').vector).toBe(Vector.GeneralProtection); // reserved bit
    expect(exec('li r1, 1\nmtcr 10, r1\nbrk').vector).toBe(Vector.GeneralProtection); // no such register
  },
  cli: () => expect(exec(`sti\ncli\nbrk`).m.cpu.iflag).toBe(false),
  sti: () => expect(exec(`sti\nbrk`).m.cpu.iflag).toBe(true),
  hlt: () => {
    const o = exec('hlt\nbrk');
    expect(o.stop).toBe(Stop.Halt);
    expect(o.m.cpu.pc).toBe(0x1004);
  },
  iret: () => {
    // Build a frame by hand: pc = t, FLAGS = IF | CPL 3, sp = 0x8000; iret must load all three.
    const o = exec(`la r1, t\nli r2, 0x8000\npush r2\nli r2, ${FLAG_IF | (3 << 4)}\npush r2\npush r1\niret\nt: brk`);
    expect(o.vector).toBe(Vector.Breakpoint);
    expect([o.m.cpu.cpl, o.m.cpu.iflag, o.m.cpu.regs[15]]).toEqual([3, true, 0x8000]);
  },
  sysret: () => {
    // The frame says CPL 0, but sysret always returns to privilege 3.
    const o = exec(`la r1, t\nli r2, 0x8000\npush r2\nli r2, 0\npush r2\npush r1\nsysret\nt: brk`);
    expect([o.vector, o.m.cpu.cpl]).toEqual([Vector.Breakpoint, 3]);
  },
  invlpg: () => {
    // Covered with paging in mmu.test.ts; here: it is a legal instruction at privilege 0.
    expect(exec('li r1, 0\ninvlpg r1\nbrk').vector).toBe(Vector.Breakpoint);
  },
};

describe('instruction semantics', () => {
  it("uses the ISA's and the MMU's values for the literals copied into the hot loop", () => {
    expect(HOT_CONSTANTS).toEqual({ OFFSET_MASK: PAGE_MASK, SP: REG_SP, TLB_INDEX_MASK: TLB_MASK });
  });

  it('has a semantic test for every opcode in the ISA table', () => {
    expect(OPCODES.map((o) => o.mnemonic).filter((m) => !(m in SEMANTICS))).toEqual([]);
  });
  for (const [mnemonic, test] of Object.entries(SEMANTICS)) it(mnemonic, test);

  it('raises invalid opcode for opcode 0 and for unassigned opcodes', () => {
    expect(exec('start: .word 0').vector).toBe(Vector.InvalidOpcode);
    expect(exec('start: .word 0xff').vector).toBe(Vector.InvalidOpcode);
  });

  it('does not retire a faulting instruction and resumes at it', () => {
    const o = exec('nop\nli r1, 0\nldw r2, [r1+1]');
    expect(o.vector).toBe(Vector.AlignmentCheck);
    expect(o.m.cpu.exit.pc).toBe(0x1008);
    expect(o.m.cpu.icount).toBe(2);
  });

  it('counts virtual time in retired instructions, exactly', () => {
    const o = exec('li r1, 0\nli r2, 100\nl: addi r1, r1, 1\nbne r1, r2, l\nbrk');
    expect(o.m.cpu.icount).toBe(2 + 200 + 1);
  });
});

describe('privilege', () => {
  const privileged = OPCODES.filter((o) => o.cls === 'privileged');
  const sample: Record<string, string> = {
    in: 'in r1, 0x3f8',
    out: 'out 0x3f8, r1',
    inr: 'inr r1, r2',
    outr: 'outr r2, r1',
    mfcr: 'mfcr r1, ptbr',
    mtcr: 'mtcr vbar, r1',
  };
  for (const o of privileged) {
    it(`${o.mnemonic} at privilege 3 raises general protection and has no effect`, () => {
      const out = exec(`li r1, 0x41\nli r2, 0x3f8\n${sample[o.mnemonic] ?? `${o.mnemonic}${o.form === 'r' ? ' r1' : ''}`}\nbrk`, { cpl3: true });
      expect(out.vector).toBe(Vector.GeneralProtection);
      expect(out.m.cpu.exit.pc).toBe(0x1008);
      expect(out.m.uart.output().length).toBe(0);
      expect(out.m.cpu.iflag).toBe(false);
      expect(out.m.cpu.cr[Cr.Vbar]).toBe(0);
    });
  }

  it('popf at privilege 3 silently ignores IF: no trap, different behaviour (Popek-Goldberg)', () => {
    const src = `li r1, ${FLAG_IF}\npush r1\npopf\nbrk`;
    const kernel = exec(src);
    const user = exec(src, { cpl3: true });
    // Both reach the closing brk: nothing trapped...
    expect(kernel.vector).toBe(Vector.Breakpoint);
    expect(user.vector).toBe(Vector.Breakpoint);
    // ...yet the same instruction did something different.
    expect(kernel.m.cpu.iflag).toBe(true);
    expect(user.m.cpu.iflag).toBe(false);
  });

  it('cli at privilege 3 leaves an enabled IF enabled', () => {
    // The loop above starts with IF clear, where a cli that ran would not show.
    const o = exec('cli\nbrk', { cpl3: true, setup: (m) => void (m.cpu.iflag = true) });
    expect([o.vector, o.m.cpu.iflag]).toEqual([Vector.GeneralProtection, true]);
  });

  it('a privileged instruction traps at privilege 3 even when the CPU intercepts nothing', () => {
    // Delivered through the guest's own vector table: the kernel's #GP handler runs at privilege 0.
    const src = `${enterUser(Vector.GeneralProtection, 'gp')}
    user:
      hlt
    gp:
      mfcr r5, cause
      brk
      .align 4
    table: .space 1024`;
    const o = exec(src, { setup: (m) => void (m.cpu.interceptVectors = 1 << Vector.Breakpoint) });
    expect(o.vector).toBe(Vector.Breakpoint);
    expect([o.m.cpu.cpl, o.m.cpu.regs[5]]).toEqual([0, Vector.GeneralProtection]);
    // The frame on the kernel stack: the faulting hlt, FLAGS with CPL 3, the user's sp.
    const frame = Array.from(o.m.mem.i32.subarray((0x8000 - 12) >>> 2, 0x8000 >>> 2));
    expect(frame).toEqual([asm(src).symbols!.user, 3 << 4, 0x7000]);
    expect(o.m.cpu.vectorCounts[Vector.GeneralProtection]).toBe(1);
  });

  it('pushf at privilege 3 reads privileged state without trapping', () => {
    const o = exec('pushf\npop r1\nbrk', { cpl3: true });
    expect(o.vector).toBe(Vector.Breakpoint);
    expect((o.m.cpu.regs[1]! >> 4) & 3).toBe(3);
  });
});

describe('system calls', () => {
  it('SYSCALL from privilege 3 enters the kernel on the ksp stack, and SYSRET returns to the caller', () => {
    const src = `${enterUser(Vector.Syscall, 'kernel', FLAG_IF | (3 << 4))}   ; to privilege 3, IF set, sp 0x7000
    user:
      li r1, 20
      syscall
    after:
      addi r1, r1, 1            ; back at privilege 3 with the kernel's result in r1
      brk
    kernel:
      pushf
      pop r6                    ; FLAGS inside the kernel: privilege 0, IF clear
      mov r7, sp                ; the kernel stack, below the trap frame
      addi r1, r1, 100
      sysret
      .align 4
    table: .space 1024`;
    const o = exec(src);
    const cpu = o.m.cpu;
    expect(o.vector).toBe(Vector.Breakpoint);
    expect(cpu.regs[1]).toBe(121);
    expect([cpu.regs[6], cpu.regs[7]]).toEqual([0, 0x8000 - 12]);
    expect([cpu.cpl, cpu.iflag, cpu.regs[15]]).toEqual([3, true, 0x7000]);
    expect(cpu.vectorCounts[Vector.Syscall]).toBe(1);
    // The trap frame SYSCALL pushed: the resume address, the user's FLAGS, the user's sp.
    const frame = Array.from(o.m.mem.i32.subarray((0x8000 - 12) >>> 2, 0x8000 >>> 2));
    expect(frame).toEqual([asm(src).symbols!.after, FLAG_IF | (3 << 4), 0x7000]);
  });

  it('IRET refuses a frame whose privilege is neither 0 nor 3', () => {
    const o = exec(`la r1, t\nli r2, 0x8000\npush r2\nli r2, ${1 << 4}\npush r2\npush r1\niret\nt: brk`);
    expect([o.vector, o.m.cpu.cpl]).toEqual([Vector.GeneralProtection, 0]);
  });
});
