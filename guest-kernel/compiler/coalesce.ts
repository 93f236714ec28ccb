/**
 * Temporaries into locals: lowering computes `x = a + b` into a temporary and copies it to the
 * local; this pass computes it straight into the local when nothing in between touches it, so the
 * assignment is one instruction and the copy goes.
 */
import { type IrFunction, type VReg, instrDef, instrUses } from './ir.ts';
import { defCounts, useCounts } from './reg-counts.ts';

/**
 * `t = a + b; ...; x = t` with t used only there becomes `x = a + b; ...` when nothing in between
 * touches x. This is how `x = a + b` on a local ends up as one instruction.
 */
export function coalesceTemps(fn: IrFunction): void {
  const uses = useCounts(fn);
  const defs = defCounts(fn);
  for (const b of fn.blocks) {
    for (let i = 0; i < b.instrs.length; i++) {
      const mv = b.instrs[i]!;
      if (mv.k !== 'mov' || uses.get(mv.src) !== 1 || defs.get(mv.src) !== 1 || fn.params.includes(mv.src)) continue;
      for (let j = i - 1; j >= 0; j--) {
        const p = b.instrs[j]!;
        if (instrDef(p) === mv.src) {
          if (p.k === 'call' || p.k === 'callr' || p.k === 'trap') p.dst = mv.dst;
          else (p as { dst: VReg }).dst = mv.dst;
          b.instrs.splice(i, 1);
          i--;
          break;
        }
        if (instrDef(p) === mv.dst || instrUses(p).includes(mv.dst)) break;
      }
    }
  }
}
