/**
 * Dead code: drop pure instructions whose results are never used (liveness over the CFG, a few
 * rounds, since a removed use may leave its operands dead), and the unused results of calls.
 * Folding, value numbering and strength reduction leave such instructions behind.
 */
import { liveness } from './cfg.ts';
import { type Instr, type IrFunction, instrDef, instrUses, isPure, termUses } from './ir.ts';

export function eliminateDeadCode(fn: IrFunction): void {
  for (let round = 0; round < 4; round++) {
    const { liveOut } = liveness(fn);
    let removed = false;
    for (const b of fn.blocks) {
      const live = new Set(liveOut.get(b.id));
      for (const v of termUses(b.term)) live.add(v);
      const kept: Instr[] = [];
      for (let k = b.instrs.length - 1; k >= 0; k--) {
        const i = b.instrs[k]!;
        const d = instrDef(i);
        if (d !== null && !live.has(d)) {
          if (isPure(i)) {
            removed = true;
            continue;
          }
          if (i.k === 'call' || i.k === 'callr' || i.k === 'trap') i.dst = null;
        }
        if (d !== null) live.delete(d);
        for (const u of instrUses(i)) live.add(u);
        kept.push(i);
      }
      b.instrs = kept.reverse();
    }
    if (!removed) return;
  }
}
