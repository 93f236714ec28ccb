/**
 * Control-flow graph analyses over the IR, shared by the optimiser and the register allocator:
 * predecessors, reverse postorder, dominators, natural loops, and register liveness.
 */
import { type Block, type BlockId, type IrFunction, type VReg, instrDef, instrUses, successors, termUses } from './ir.ts';

export function blockMap(fn: IrFunction): Map<BlockId, Block> {
  return new Map(fn.blocks.map((b) => [b.id, b]));
}

export function predecessors(fn: IrFunction): Map<BlockId, BlockId[]> {
  const preds = new Map<BlockId, BlockId[]>(fn.blocks.map((b) => [b.id, []]));
  for (const b of fn.blocks) for (const s of successors(b.term)) preds.get(s)?.push(b.id);
  return preds;
}

/** Blocks reachable from the entry, in reverse postorder. */
export function reversePostorder(fn: IrFunction): BlockId[] {
  const byId = blockMap(fn);
  const seen = new Set<BlockId>();
  const post: BlockId[] = [];
  // Iterative DFS: deep nesting must not overflow the host stack.
  const stack: { id: BlockId; next: number }[] = [];
  const entry = fn.blocks[0]!.id;
  seen.add(entry);
  stack.push({ id: entry, next: 0 });
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const succ = successors(byId.get(top.id)!.term);
    if (top.next < succ.length) {
      const s = succ[top.next++]!;
      if (!seen.has(s)) {
        seen.add(s);
        stack.push({ id: s, next: 0 });
      }
    } else {
      post.push(top.id);
      stack.pop();
    }
  }
  return post.reverse();
}

/** Immediate dominators (Cooper, Harvey and Kennedy, "A Simple, Fast Dominance Algorithm"). */
export function dominators(fn: IrFunction): Map<BlockId, BlockId> {
  const rpo = reversePostorder(fn);
  const index = new Map(rpo.map((id, i) => [id, i]));
  const preds = predecessors(fn);
  const idom = new Map<BlockId, BlockId>();
  const entry = rpo[0]!;
  idom.set(entry, entry);
  const intersect = (a: BlockId, b: BlockId): BlockId => {
    while (a !== b) {
      while (index.get(a)! > index.get(b)!) a = idom.get(a)!;
      while (index.get(b)! > index.get(a)!) b = idom.get(b)!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of rpo.slice(1)) {
      let d: BlockId | undefined;
      for (const p of preds.get(b) ?? []) {
        if (!idom.has(p)) continue;
        d = d === undefined ? p : intersect(p, d);
      }
      if (d !== undefined && idom.get(b) !== d) {
        idom.set(b, d);
        changed = true;
      }
    }
  }
  return idom;
}

export function dominates(idom: Map<BlockId, BlockId>, a: BlockId, b: BlockId): boolean {
  for (let x = b; ; ) {
    if (x === a) return true;
    const up = idom.get(x);
    if (up === undefined || up === x) return false;
    x = up;
  }
}

export interface Loop {
  header: BlockId;
  body: Set<BlockId>;
}

/** Natural loops, one per header (bodies of back edges to the same header merged), innermost first. */
export function naturalLoops(fn: IrFunction): Loop[] {
  const idom = dominators(fn);
  const preds = predecessors(fn);
  const loops = new Map<BlockId, Set<BlockId>>();
  for (const b of fn.blocks) {
    if (!idom.has(b.id)) continue;
    for (const h of successors(b.term)) {
      if (!dominates(idom, h, b.id)) continue;
      const body = loops.get(h) ?? new Set([h]);
      loops.set(h, body);
      const work = [b.id];
      while (work.length > 0) {
        const x = work.pop()!;
        if (body.has(x)) continue;
        body.add(x);
        for (const p of preds.get(x) ?? []) if (idom.has(p)) work.push(p);
      }
    }
  }
  return [...loops].map(([header, body]) => ({ header, body })).sort((a, b) => a.body.size - b.body.size);
}

/**
 * Visit each loop of `fn` once, innermost first, recomputing the loops after every visit: a
 * transformation may add a preheader, which the loop around it must see. The entry block's loop
 * is skipped (a preheader cannot go before the function's entry). Returns whether any visit
 * said it changed something.
 */
export function forEachLoop(fn: IrFunction, visit: (loop: Loop) => boolean): boolean {
  const done = new Set<BlockId>();
  let changed = false;
  for (;;) {
    const loop = naturalLoops(fn).find((l) => !done.has(l.header));
    if (!loop) return changed;
    done.add(loop.header);
    if (loop.header === fn.blocks[0]!.id) continue;
    if (visit(loop)) changed = true;
  }
}

export interface Liveness {
  liveIn: Map<BlockId, Set<VReg>>;
  liveOut: Map<BlockId, Set<VReg>>;
}

/** Registers live into and out of each block (backward dataflow to a fixed point). */
export function liveness(fn: IrFunction): Liveness {
  const use = new Map<BlockId, Set<VReg>>();
  const def = new Map<BlockId, Set<VReg>>();
  for (const b of fn.blocks) {
    const u = new Set<VReg>();
    const d = new Set<VReg>();
    for (const i of b.instrs) {
      for (const v of instrUses(i)) if (!d.has(v)) u.add(v);
      const w = instrDef(i);
      if (w !== null) d.add(w);
    }
    for (const v of termUses(b.term)) if (!d.has(v)) u.add(v);
    use.set(b.id, u);
    def.set(b.id, d);
  }
  const liveIn = new Map<BlockId, Set<VReg>>(fn.blocks.map((b) => [b.id, new Set<VReg>()]));
  const liveOut = new Map<BlockId, Set<VReg>>(fn.blocks.map((b) => [b.id, new Set<VReg>()]));
  const order = [...fn.blocks].reverse();
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of order) {
      const out = liveOut.get(b.id)!;
      for (const s of successors(b.term)) for (const v of liveIn.get(s) ?? []) out.add(v);
      const inn = liveIn.get(b.id)!;
      const before = inn.size;
      for (const v of use.get(b.id)!) inn.add(v);
      const d = def.get(b.id)!;
      for (const v of out) if (!d.has(v)) inn.add(v);
      if (inn.size !== before) changed = true;
    }
  }
  return { liveIn, liveOut };
}
