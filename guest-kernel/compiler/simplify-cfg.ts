/**
 * CFG simplification: drop unreachable blocks, thread jumps through empty blocks, merge a block
 * into its only predecessor when that one only jumps to it, and turn a branch to the same place
 * either way into a jump. Lowering leaves many such blocks behind, and the passes after it
 * (value numbering per block, loop detection, layout) see longer blocks and fewer edges.
 */
import { blockMap, predecessors, reversePostorder } from './cfg.ts';
import { type BlockId, type IrFunction, mapSuccessors, successors } from './ir.ts';

export function removeUnreachable(fn: IrFunction): void {
  const reachable = new Set(reversePostorder(fn));
  fn.blocks = fn.blocks.filter((b) => reachable.has(b.id));
}

export function simplifyCfg(fn: IrFunction): void {
  for (let changed = true; changed; ) {
    changed = false;
    removeUnreachable(fn);
    // A branch to the same place either way is a jump.
    for (const b of fn.blocks) {
      if (b.term.k === 'br' && b.term.t === b.term.f) b.term = { k: 'jmp', target: b.term.t, loc: b.term.loc };
    }
    // Thread jumps through empty blocks.
    const byId = blockMap(fn);
    const forward = (id: BlockId): BlockId => {
      const seen = new Set<BlockId>();
      let x = id;
      for (;;) {
        const blk = byId.get(x)!;
        if (blk.instrs.length > 0 || blk.term.k !== 'jmp' || seen.has(x) || blk.term.target === x) return x;
        seen.add(x);
        x = blk.term.target;
      }
    };
    for (const b of fn.blocks) {
      const before = successors(b.term).join();
      mapSuccessors(b.term, (s) => (s === fn.blocks[0]!.id ? s : forward(s)));
      if (successors(b.term).join() !== before) changed = true;
    }
    // Merge a block into its only predecessor when that predecessor only jumps to it.
    const preds = predecessors(fn);
    const merged = new Set<BlockId>();
    for (const b of fn.blocks) {
      if (merged.has(b.id)) continue;
      while (b.term.k === 'jmp') {
        const target = b.term.target;
        const next = byId.get(target)!;
        if (target === b.id || target === fn.blocks[0]!.id || (preds.get(target)?.length ?? 0) !== 1 || merged.has(target)) break;
        b.instrs.push(...next.instrs);
        b.term = next.term;
        merged.add(target);
        // The merged block's successors now have b as predecessor.
        for (const s of successors(next.term)) {
          const ps = preds.get(s)!;
          preds.set(s, ps.map((p) => (p === target ? b.id : p)));
        }
        changed = true;
      }
    }
    if (merged.size > 0) fn.blocks = fn.blocks.filter((b) => !merged.has(b.id));
  }
}
