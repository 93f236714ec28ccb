/**
 * Exit qualifications of instruction exits, for traces and tests: what VT-x reports in its exit
 * qualification field (port, size and direction of an I/O access; control register, direction
 * and value of a CR access; the address of an INVLPG), plus the result the guest got.
 * Built only when someone is tracing.
 */
import { CR_NAMES, Op, Vector, vectorName } from '../../abi/isa.ts';
import type { GuestFault, Vcpu } from './vcpu.ts';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * The qualification of the exit of `insn`, given `a` and `d`, the values of its ra and rd fields'
 * registers before it ran, and the virtual CPU after.
 */
export function instructionQual(insn: number, a: number, d: number, v: Vcpu): Record<string, number | string> {
  const op = insn & 0xff;
  const rd = (insn >>> 8) & 15;
  const imm = insn >>> 16;
  switch (op) {
    case Op.in:
    case Op.inr:
      return { port: hex(op === Op.in ? imm : a & 0xffff), width: 4, dir: 'in', value: hex(v.regs[rd]!) };
    case Op.out:
    case Op.outr:
      return { port: hex(op === Op.out ? imm : a & 0xffff), width: 4, dir: 'out', value: hex(d) };
    case Op.mfcr:
      return { cr: CR_NAMES[imm] ?? `cr${imm}`, dir: 'read', value: hex(v.regs[rd]!) };
    case Op.mtcr:
      return { cr: CR_NAMES[imm] ?? `cr${imm}`, dir: 'write', value: hex(d) };
    case Op.invlpg:
      return { addr: hex(d) };
    case Op.iret:
    case Op.sysret:
      return { to: hex(v.pc), cpl: v.cpl, if: v.iflag ? 1 : 0 };
    case Op.cli:
    case Op.sti:
    case Op.popf:
      return { if: v.iflag ? 1 : 0 };
    case Op.pushf:
      return { value: hex(v.flags()) };
    case Op.hypercall:
      return { nr: v.regs[0]! };
    default:
      return {};
  }
}

/** `qual` of an instruction that faulted instead: the fault delivered, and its address for a #PF or #AC. */
export function faultQual(qual: Record<string, number | string>, f: GuestFault): Record<string, number | string> {
  const out: Record<string, number | string> = { ...qual, fault: vectorName(f.vector) };
  if (f.vector === Vector.PageFault || f.vector === Vector.AlignmentCheck) {
    out.addr = hex(f.addr);
    out.err = f.err;
  }
  return out;
}
