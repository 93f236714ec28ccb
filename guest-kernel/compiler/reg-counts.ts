/**
 * How many times each virtual register is read and assigned in a function. A pass that moves an
 * assignment (out of a loop) or merges two (a temporary into its local) may do so only for a
 * register assigned once, or read once.
 */
import { type IrFunction, type VReg, instrDef, instrUses, termUses } from './ir.ts';

export function useCounts(fn: IrFunction): Map<VReg, number> {
  const n = new Map<VReg, number>();
  const add = (v: VReg): void => {
    n.set(v, (n.get(v) ?? 0) + 1);
  };
  for (const b of fn.blocks) {
    for (const i of b.instrs) instrUses(i).forEach(add);
    termUses(b.term).forEach(add);
  }
  return n;
}

export function defCounts(fn: IrFunction): Map<VReg, number> {
  const n = new Map<VReg, number>();
  for (const p of fn.params) n.set(p, 1);
  for (const b of fn.blocks) {
    for (const i of b.instrs) {
      const d = instrDef(i);
      if (d !== null) n.set(d, (n.get(d) ?? 0) + 1);
    }
  }
  return n;
}
