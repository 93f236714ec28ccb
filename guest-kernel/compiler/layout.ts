/**
 * The function's last shaping before register allocation and emission: live ranges split at the
 * entry block's branch (so that shrink-wrapping can leave one arm without a prologue), and blocks
 * ordered so that control falls through where it can.
 */
import { blockMap, dominates, dominators, liveness, predecessors } from './cfg.ts';
import { type Block, type BlockId, type Instr, type IrFunction, type VReg, instrDef, isCallLike, mapInstrUses, mapTermUses, successors } from './ir.ts';

/**
 * Live-range splitting at the first branch: when an arm of the entry block's branch is a region
 * of its own (only the entry leads into it, nothing leads out but returns) and makes calls, the
 * values it inherits get new registers there (`v' = v` at its start). A parameter used across the
 * calls of one arm then needs a callee-saved register only in that arm, so the other arm (fib's
 * `n < 2` case) runs with no prologue at all (see shrink-wrapping in emit.ts).
 */
export function splitAtEntryBranch(fn: IrFunction): void {
  const entry = fn.blocks[0]!;
  if (entry.term.k !== 'br') return;
  const preds = predecessors(fn);
  const idom = dominators(fn);
  const { liveIn } = liveness(fn);
  for (const armId of successors(entry.term)) {
    if (armId === entry.id || preds.get(armId)?.length !== 1) continue;
    const region = new Set(fn.blocks.filter((b) => dominates(idom, armId, b.id)).map((b) => b.id));
    const blocks = fn.blocks.filter((b) => region.has(b.id));
    if (!blocks.every((b) => successors(b.term).every((s) => region.has(s)))) continue;
    if (!blocks.some((b) => b.instrs.some(isCallLike))) continue;
    const rename = new Map<VReg, VReg>();
    for (const v of liveIn.get(armId) ?? []) rename.set(v, fn.nextVreg++);
    if (rename.size === 0) continue;
    const r = (v: VReg): VReg => rename.get(v) ?? v;
    for (const b of blocks) {
      for (const i of b.instrs) {
        mapInstrUses(i, r);
        const d = instrDef(i);
        if (d !== null && rename.has(d)) (i as { dst: VReg }).dst = rename.get(d)!;
      }
      mapTermUses(b.term, r);
    }
    const arm = blocks.find((b) => b.id === armId)!;
    arm.instrs.unshift(...[...rename].map(([from, to]): Instr => ({ k: 'mov', dst: to, src: from, loc: arm.instrs[0]?.loc ?? arm.term.loc })));
  }
}

/**
 * Order blocks so that control falls through where it can: after a block, place the target of
 * its jump, or the taken side of its branch if not yet placed (else the other side), so that a
 * branch needs no extra `jmp`.
 */
export function layoutBlocks(fn: IrFunction): void {
  const byId = blockMap(fn);
  const placed = new Set<BlockId>();
  const order: Block[] = [];
  for (const start of fn.blocks) {
    let b: Block | undefined = start;
    while (b && !placed.has(b.id)) {
      placed.add(b.id);
      order.push(b);
      const t: Block['term'] = b.term;
      const prefer: BlockId[] = t.k === 'jmp' ? [t.target] : t.k === 'br' ? [t.t, t.f] : [];
      const next: BlockId | undefined = prefer.find((id: BlockId) => !placed.has(id));
      b = next === undefined ? undefined : byId.get(next);
    }
  }
  fn.blocks = order;
}
