/**
 * The frame an interrupt handler receives (see `interruptEntry` in intrinsics.d.ts): the address
 * of the registers the entry stub saved, r0 lowest, with the CPU's trap frame (native) or the
 * hypervisor's bounce frame (pv, abi/hypercall-numbers.ts BF_*) just above them. The offsets
 * differ by target; `TARGET_PV` is a compile-time constant, so each folds to one number.
 *
 *   native: frame+4n = rn (n = 0..14), +60 pc, +64 FLAGS, +68 sp
 *   pv:     frame+4n = rn (n = 0..14), +60 vector, +64 error code, +68 fault address,
 *           +72 pc, +76 flags, +80 sp
 */
import { BF_ERRCODE, BF_FAULTADDR, BF_FLAGS, BF_PC, BF_SP, BF_VECTOR } from '../../abi/hypercall-numbers.ts';

/** Bytes of saved registers below the CPU's (or hypervisor's) frame. */
export const SAVED_REGS_BYTES = 60;

export const FRAME_PC = TARGET_PV ? SAVED_REGS_BYTES + BF_PC : SAVED_REGS_BYTES;
export const FRAME_FLAGS = TARGET_PV ? SAVED_REGS_BYTES + BF_FLAGS : SAVED_REGS_BYTES + 4;
export const FRAME_SP = TARGET_PV ? SAVED_REGS_BYTES + BF_SP : SAVED_REGS_BYTES + 8;
/** pv only: the vector, error code and fault address the hypervisor reports in the bounce frame. */
export const FRAME_VECTOR = SAVED_REGS_BYTES + BF_VECTOR;
export const FRAME_ERRCODE = SAVED_REGS_BYTES + BF_ERRCODE;
export const FRAME_FAULTADDR = SAVED_REGS_BYTES + BF_FAULTADDR;

/** Saved register `n` (0..14) of the interrupted code. */
export function savedReg(frame: number, n: number): number {
  return load32(frame + 4 * n);
}

/** Change saved register `n`: the interrupted code sees the new value when it resumes. */
export function setSavedReg(frame: number, n: number, value: number): void {
  store32(frame + 4 * n, value);
}
