/**
 * A loop's preheader: the block through which every entry into the loop passes, where the loop
 * passes (loop-invariants.ts, range.ts, induction.ts, affine-sr.ts, unroll.ts) put what runs once
 * before the loop.
 */
import { blockMap, predecessors } from './cfg.ts';
import { type Block, type BlockId, type IrFunction, mapSuccessors, successors } from './ir.ts';

/** The block through which every entry into the loop passes, created if need be (placed before the header). */
export function preheader(fn: IrFunction, header: BlockId, body: Set<BlockId>): Block {
  const preds = predecessors(fn).get(header) ?? [];
  const outside = preds.filter((p) => !body.has(p));
  const byId = blockMap(fn);
  if (outside.length === 1) {
    const p = byId.get(outside[0]!)!;
    if (successors(p.term).length === 1) return p;
  }
  const id = Math.max(...fn.blocks.map((b) => b.id)) + 1;
  const pre: Block = { id, instrs: [], term: { k: 'jmp', target: header } };
  for (const p of outside) mapSuccessors(byId.get(p)!.term, (s) => (s === header ? id : s));
  const at = fn.blocks.findIndex((b) => b.id === header);
  fn.blocks.splice(at, 0, pre);
  return pre;
}
