/**
 * The instruction emulator: the privileged and sensitive instructions, executed by the monitor
 * against a Vcpu (vcpu.ts) with the architecture's semantics, as KVM's x86 emulator does for the
 * instructions that exit. One implementation serves `trap` (after a #GP) and `hw` (after an
 * instruction exit); it must agree with the interpreter's `system()` in machine/cpu.ts, and the
 * parity tests run the same images both ways to hold it to that.
 *
 * The instruction retires before its effects, as in the CPU's slow path, so a device sees the
 * virtual time after it (a timer read) and CR Time reads the time before it. A fault undoes the
 * retirement: the guest gets the exception at the instruction, which does not retire.
 */
import { Cr, CR_COUNT, CTRL_PG, FLAG_CPL_MASK, FLAG_CPL_SHIFT, FLAG_IF, PAGE_MASK, REG_SP, Vector } from '../../abi/isa.ts';
import { ACCESS_READ, ACCESS_WRITE } from '../machine/mmu.ts';
import type { Vcpu } from './vcpu.ts';

export const enum Emulated {
  /** Done: the guest resumes at vcpu.pc. */
  Done = 0,
  /** HLT: idle until the next interrupt, then resume at vcpu.pc. */
  Halt = 1,
  /** The instruction faulted: deliver vcpu.fault to the guest at vcpu.pc (the instruction). */
  Fault = 2,
}

/**
 * Emulate `insn`, the instruction at vcpu.pc. (No closures here: the exit path runs millions of
 * times, and tsx's keep-names helper makes every closure creation cost a property definition.)
 */
export function emulate(v: Vcpu, insn: number): Emulated {
  const ipc = v.pc;
  const before = v.icount;
  const regs = v.regs;
  const rd = (insn >>> 8) & 15;
  const ra = (insn >>> 12) & 15;
  const imm = insn >>> 16;
  v.icount = before + 1;
  v.pc = (ipc + 4) | 0;

  switch (insn & 0xff) {
    case 0x70: // in
      regs[rd] = v.portIn(imm, ipc) | 0;
      return Emulated.Done;
    case 0x71: // out
      v.portOut(imm, regs[rd]!, ipc);
      return Emulated.Done;
    case 0x72: // inr
      regs[rd] = v.portIn(regs[ra]! & 0xffff, ipc) | 0;
      return Emulated.Done;
    case 0x73: // outr
      v.portOut(regs[ra]! & 0xffff, regs[rd]!, ipc);
      return Emulated.Done;
    case 0x74: // mfcr: Time is the virtual time before this instruction
      if (imm >= CR_COUNT) return fail(v, ipc, before, Vector.GeneralProtection);
      regs[rd] = imm === Cr.Time ? before : v.readCr(imm);
      return Emulated.Done;
    case 0x75: {
      // mtcr
      const value = regs[rd]!;
      if (imm >= CR_COUNT || imm === Cr.Time) return fail(v, ipc, before, Vector.GeneralProtection);
      if (imm === Cr.Ctrl && value & ~CTRL_PG) return fail(v, ipc, before, Vector.GeneralProtection);
      if (imm === Cr.Ptbr && value & PAGE_MASK) return fail(v, ipc, before, Vector.GeneralProtection);
      v.writeCr(imm, value);
      return Emulated.Done;
    }
    case 0x76: // cli
      v.iflag = false;
      return Emulated.Done;
    case 0x77: // sti
      v.iflag = true;
      return Emulated.Done;
    case 0x78: // hlt
      return Emulated.Halt;
    case 0x79: // iret
    case 0x7a: {
      // sysret: as iret, but always to privilege 3
      const sp = regs[REG_SP]!;
      const a0 = word(v, sp, ACCESS_READ);
      if (a0 < 0) return undo(v, ipc, before);
      const a1 = word(v, (sp + 4) | 0, ACCESS_READ);
      if (a1 < 0) return undo(v, ipc, before);
      const a2 = word(v, (sp + 8) | 0, ACCESS_READ);
      if (a2 < 0) return undo(v, ipc, before);
      const i32 = v.i32;
      const flags = i32[a1 >>> 2]!;
      const cpl = (insn & 0xff) === 0x7a ? 3 : (flags & FLAG_CPL_MASK) >>> FLAG_CPL_SHIFT;
      if (cpl !== 0 && cpl !== 3) return fail(v, ipc, before, Vector.GeneralProtection);
      v.pc = i32[a0 >>> 2]!;
      regs[REG_SP] = i32[a2 >>> 2]!;
      v.iflag = (flags & FLAG_IF) !== 0;
      v.setCpl(cpl);
      return Emulated.Done;
    }
    case 0x7b: // invlpg
      v.flushPage(regs[rd]!);
      return Emulated.Done;
    case 0x63: {
      // pushf
      const sp = (regs[REG_SP]! - 4) | 0;
      const a = word(v, sp, ACCESS_WRITE);
      if (a < 0) return undo(v, ipc, before);
      v.write32(a, v.flags());
      regs[REG_SP] = sp;
      return Emulated.Done;
    }
    case 0x64: {
      // popf: at privilege 3 the IF bit is ignored, as the architecture says
      const sp = regs[REG_SP]!;
      const a = word(v, sp, ACCESS_READ);
      if (a < 0) return undo(v, ipc, before);
      regs[REG_SP] = (sp + 4) | 0;
      if (v.cpl === 0) v.iflag = (v.i32[a >>> 2]! & FLAG_IF) !== 0;
      return Emulated.Done;
    }
    case 0x62: // hypercall: a native guest's; the bare machine answers #UD and so do we
      return fail(v, ipc, before, Vector.InvalidOpcode);
  }
  throw new Error(`vmm: no emulation for opcode 0x${(insn & 0xff).toString(16)} (host bug: it should not exit)`);
}

/** The instruction faults with `vector`: it does not retire, the guest gets the fault at it. */
function fail(v: Vcpu, ipc: number, before: number, vector: number): Emulated {
  v.fault.vector = vector;
  v.fault.err = 0;
  v.fault.addr = 0;
  return undo(v, ipc, before);
}

/** Take back the retirement (the fault is already in v.fault). */
function undo(v: Vcpu, ipc: number, before: number): Emulated {
  v.icount = before;
  v.pc = ipc;
  return Emulated.Fault;
}

/** Machine address of the aligned word at `va`, or -1 with the fault set (as the CPU's rd/wr). */
function word(v: Vcpu, va: number, access: number): number {
  if (va & 3) {
    v.fault.vector = Vector.AlignmentCheck;
    v.fault.err = 0;
    v.fault.addr = va;
    return -1;
  }
  return v.translate(va, access);
}
