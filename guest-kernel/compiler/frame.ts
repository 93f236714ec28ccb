/**
 * A function's stack frame, as emit.ts lays it out once registers are allocated. From sp after
 * the prologue, upwards:
 *
 *   sp + 0                      outgoing arguments 7..n of the calls this function makes, one
 *                               word each (the area is as large as its largest call needs)
 *   sp + slots                  spill slots, one word each
 *   sp + arrays                 local typed arrays (local-arrays.ts), each a length word and its
 *                               elements, 4-aligned
 *   sp + bytes                  the callee-saved registers the prologue pushed
 *   ... + 4 * saved             the return address (pushed by `call`)
 *   ... + 4 = incoming          incoming arguments 7..n: the caller's outgoing area
 *
 * sp does not move in the body (calls leave it where it was), so every place is a fixed offset
 * from sp, and a call's arguments beyond the sixth are stored straight into the outgoing area:
 * there is no push and no pop around a call (MIPS's and RISC-V's convention, without a frame
 * pointer). The small, frequently used places (outgoing arguments, spill slots) sit at small
 * offsets; the arrays, which can be large, above them. A frame larger than a page is made a page
 * at a time, each touched (emit.ts, the prologue), so an overflow faults in the guard page.
 */
import type { IrFunction } from './ir.ts';
import type { Allocation } from './regalloc.ts';

/** Arguments passed in registers (r0..r5); the others travel on the stack. */
export const REGISTER_ARGS = 6;

export interface FrameLayout {
  /** Offset of spill slot 0 (= the size of the outgoing-argument area). */
  readonly slots: number;
  /** Offset of the local-array area. */
  readonly arrays: number;
  /** Bytes the prologue reserves below the saved registers. */
  readonly bytes: number;
  /** Offset of incoming argument 7 (the first on the stack). */
  readonly incoming: number;
  /** Whether the frame must be set up at the entry (no shrink-wrapping). */
  readonly atEntry: boolean;
}

export function frameLayout(fn: IrFunction, alloc: Allocation): FrameLayout {
  let outgoing = 0;
  for (const b of fn.blocks) {
    for (const i of b.instrs) if (i.k === 'call' && i.args.length > REGISTER_ARGS) outgoing = Math.max(outgoing, (i.args.length - REGISTER_ARGS) * 4);
  }
  const arrayBytes = fn.localArrayBytes ?? 0;
  const slots = outgoing;
  const arrays = slots + alloc.slotCount * 4;
  const bytes = arrays + arrayBytes;
  const incoming = bytes + alloc.calleeSaved.length * 4 + 4;
  return { slots, arrays, bytes, incoming, atEntry: outgoing > 0 || arrayBytes > 0 || fn.params.length > REGISTER_ARGS };
}

/** The sp offset of stack argument `k` (0-based over all arguments, k >= REGISTER_ARGS) in a call. */
export function outgoingOffset(k: number): number {
  return (k - REGISTER_ARGS) * 4;
}
