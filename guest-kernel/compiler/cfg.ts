/**
 * Control-flow graph analyses over the IR, shared by the optimiser and the register allocator:
 * predecessors, reverse postorder, dominators, natural loops, and register liveness.
 */
import { type Block, type BlockId, type Instr, type IrFunction, type VReg, instrDef, instrUses, successors, termUses } from './ir.ts';

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

/**
 * Immediate dominators of the blocks reachable from the entry (the entry maps to itself):
 * Lengauer and Tarjan, "A Fast Algorithm for Finding Dominators in a Flowgraph" (1979), with
 * simple path compression, all of it with loops rather than recursion. Cooper, Harvey and
 * Kennedy's iterative algorithm, used before, costs the depth of the tree for every edge into a
 * block with many predecessors: a sparse switch of 4,000 cases (a chain of tests, each case
 * jumping to one join) took seconds per call, and the optimiser calls this once per loop.
 */
export function dominators(fn: IrFunction): Map<BlockId, BlockId> {
  const byId = blockMap(fn);
  // Depth-first preorder numbers from the entry; parent in the depth-first tree.
  const vertex: BlockId[] = [];
  const num = new Map<BlockId, number>();
  const parent: number[] = [];
  const entry = fn.blocks[0]!.id;
  const stack: { id: BlockId; from: number }[] = [{ id: entry, from: -1 }];
  while (stack.length > 0) {
    const { id, from } = stack.pop()!;
    if (num.has(id)) continue;
    num.set(id, vertex.length);
    parent.push(from);
    vertex.push(id);
    const succ = successors(byId.get(id)!.term);
    for (let k = succ.length - 1; k >= 0; k--) if (byId.has(succ[k]!) && !num.has(succ[k]!)) stack.push({ id: succ[k]!, from: num.get(id)! });
  }
  const n = vertex.length;
  const preds: number[][] = vertex.map(() => []);
  for (const id of vertex) for (const s of successors(byId.get(id)!.term)) if (num.has(s)) preds[num.get(s)!]!.push(num.get(id)!);
  const semi = Int32Array.from({ length: n }, (_, k) => k);
  const label = Int32Array.from({ length: n }, (_, k) => k);
  const ancestor = new Int32Array(n).fill(-1);
  const idom = new Int32Array(n);
  const bucket: number[][] = vertex.map(() => []);
  const path: number[] = [];
  const evaluate = (v: number): number => {
    if (ancestor[v]! < 0) return v;
    // Compress the path from v to the root of its tree in the forest, top down.
    for (let x = v; ancestor[ancestor[x]!]! >= 0; x = ancestor[x]!) path.push(x);
    while (path.length > 0) {
      const y = path.pop()!;
      const a = ancestor[y]!;
      if (semi[label[a]!]! < semi[label[y]!]!) label[y] = label[a]!;
      ancestor[y] = ancestor[a]!;
    }
    return label[v]!;
  };
  for (let w = n - 1; w >= 1; w--) {
    for (const v of preds[w]!) {
      const u = evaluate(v);
      if (semi[u]! < semi[w]!) semi[w] = semi[u]!;
    }
    bucket[semi[w]!]!.push(w);
    const p = parent[w]!;
    ancestor[w] = p;
    for (const v of bucket[p]!) {
      const u = evaluate(v);
      idom[v] = semi[u]! < semi[v]! ? u : p;
    }
    bucket[p] = [];
  }
  const result = new Map<BlockId, BlockId>([[entry, entry]]);
  for (let w = 1; w < n; w++) {
    if (idom[w] !== semi[w]) idom[w] = idom[idom[w]!]!;
    result.set(vertex[w]!, vertex[idom[w]!]!);
  }
  return result;
}

/**
 * Whether `a` dominates `b`. Each dominator tree is numbered once, depth-first (first call), so a
 * query is two comparisons: walking up from `b` cost the tree's depth, which grows with every
 * `if` in a row, and the region computations ask for every block.
 */
export function dominates(idom: Map<BlockId, BlockId>, a: BlockId, b: BlockId): boolean {
  if (a === b) return true;
  let n = treeNumbers.get(idom);
  if (!n) {
    n = numberTree(idom);
    treeNumbers.set(idom, n);
  }
  const x = n.get(a);
  const y = n.get(b);
  return x !== undefined && y !== undefined && x.enter < y.enter && y.exit <= x.exit;
}

const treeNumbers = new WeakMap<Map<BlockId, BlockId>, Map<BlockId, { enter: number; exit: number }>>();

/** Enter and exit times of a depth-first walk of the tree `idom` describes (iterative). */
function numberTree(idom: Map<BlockId, BlockId>): Map<BlockId, { enter: number; exit: number }> {
  const children = new Map<BlockId, BlockId[]>();
  const roots: BlockId[] = [];
  for (const [b, d] of idom) {
    if (d === b) roots.push(b);
    else children.set(d, [...(children.get(d) ?? []), b]);
  }
  const times = new Map<BlockId, { enter: number; exit: number }>();
  let clock = 0;
  const stack: { id: BlockId; next: number }[] = roots.map((id) => ({ id, next: -1 }));
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next < 0) {
      times.set(top.id, { enter: clock++, exit: 0 });
      top.next = 0;
    }
    const kids = children.get(top.id) ?? [];
    if (top.next < kids.length) {
      stack.push({ id: kids[top.next++]!, next: -1 });
    } else {
      times.get(top.id)!.exit = clock++;
      stack.pop();
    }
  }
  return times;
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
 * Loops of one function that each loop transformation visits. A visit recomputes whole-function
 * analyses (the loops and dominators here; liveness, predecessors in the transformations), since
 * the visit before may have changed the function, so a function with L loops cost time cubic in
 * L (130 s for 1,000 loops in a row). Past this many, the remaining loops, the outermost, are
 * compiled as they are: correct, just not strength-reduced, unrolled or hoisted from.
 */
export const MAX_LOOPS_TRANSFORMED = 64;

/**
 * Visit each loop of `fn` once, innermost first (MAX_LOOPS_TRANSFORMED of them at most),
 * recomputing the loops after every visit: a transformation may add a preheader, which the loop
 * around it must see. The entry block's loop is skipped (a preheader cannot go before the
 * function's entry). Returns whether any visit said it changed something.
 */
export function forEachLoop(fn: IrFunction, visit: (loop: Loop) => boolean): boolean {
  const done = new Set<BlockId>();
  let changed = false;
  for (;;) {
    if (done.size >= MAX_LOOPS_TRANSFORMED) return changed;
    const loop = naturalLoops(fn).find((l) => !done.has(l.header));
    if (!loop) return changed;
    done.add(loop.header);
    if (loop.header === fn.blocks[0]!.id) continue;
    if (visit(loop)) changed = true;
  }
}

/**
 * A set of virtual registers: a sorted list, with `has` by binary search. Liveness keeps two per
 * block; their total size is the output of the analysis, and nothing is spent on registers that
 * are not live (a function with thousands of values and blocks made dense sets, or bitsets,
 * cost seconds and hundreds of megabytes).
 */
export class RegSet implements Iterable<VReg> {
  constructor(private readonly members: readonly VReg[]) {}

  get size(): number {
    return this.members.length;
  }

  has(v: VReg): boolean {
    const m = this.members;
    let lo = 0;
    let hi = m.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (m[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo < m.length && m[lo] === v;
  }

  /** Each member, ascending. */
  [Symbol.iterator](): Iterator<VReg> {
    return this.members[Symbol.iterator]();
  }
}

export interface Liveness {
  liveIn: Map<BlockId, RegSet>;
  liveOut: Map<BlockId, RegSet>;
}

/**
 * Registers live into and out of each block. One register at a time, in ascending order: from
 * each block that reads it before writing it, backwards through predecessors until blocks that
 * write it. The work is the size of the result (each block a register is live in is reached once
 * for it), where iterating whole sets to a fixed point cost blocks x registers per round.
 */
export function liveness(fn: IrFunction): Liveness {
  const n = fn.blocks.length;
  const index = new Map(fn.blocks.map((b, k) => [b.id, k]));
  const preds: number[][] = fn.blocks.map(() => []);
  fn.blocks.forEach((b, k) => {
    for (const s of successors(b.term)) {
      const t = index.get(s);
      if (t !== undefined) preds[t]!.push(k);
    }
  });
  // Per register: the blocks that read it before any write (upward-exposed uses), and that write it.
  const usedIn = new Map<VReg, number[]>();
  const writtenIn = new Map<VReg, number[]>();
  const note = (m: Map<VReg, number[]>, v: VReg, k: number): void => {
    const list = m.get(v);
    if (list === undefined) m.set(v, [k]);
    else if (list[list.length - 1] !== k) list.push(k);
  };
  fn.blocks.forEach((b, k) => {
    const written = new Set<VReg>();
    for (const i of b.instrs) {
      for (const v of instrUses(i)) if (!written.has(v)) note(usedIn, v, k);
      const w = instrDef(i);
      if (w !== null && !written.has(w)) {
        written.add(w);
        note(writtenIn, w, k);
      }
    }
    for (const v of termUses(b.term)) if (!written.has(v)) note(usedIn, v, k);
  });
  const ins: VReg[][] = fn.blocks.map(() => []);
  const outs: VReg[][] = fn.blocks.map(() => []);
  // Stamps: block k has v live in / live out / written when its entry is v + 1.
  const inMark = new Int32Array(n);
  const outMark = new Int32Array(n);
  const writeMark = new Int32Array(n);
  const work: number[] = [];
  for (const v of [...usedIn.keys()].sort((a, b) => a - b)) {
    const stamp = v + 1;
    for (const k of writtenIn.get(v) ?? []) writeMark[k] = stamp;
    for (const k of usedIn.get(v)!) {
      if (inMark[k] === stamp) continue;
      inMark[k] = stamp;
      ins[k]!.push(v);
      work.push(k);
    }
    while (work.length > 0) {
      const k = work.pop()!;
      for (const p of preds[k]!) {
        if (outMark[p] === stamp) continue;
        outMark[p] = stamp;
        outs[p]!.push(v);
        if (writeMark[p] === stamp || inMark[p] === stamp) continue;
        inMark[p] = stamp;
        ins[p]!.push(v);
        work.push(p);
      }
    }
  }
  return {
    liveIn: new Map(fn.blocks.map((b, k) => [b.id, new RegSet(ins[k]!)])),
    liveOut: new Map(fn.blocks.map((b, k) => [b.id, new RegSet(outs[k]!)])),
  };
}

/** The assignments inside a loop's blocks, by register: where each instruction sits. */
export function loopDefs(blocks: readonly Block[]): Map<VReg, { block: Block; instr: Instr }[]> {
  const defs = new Map<VReg, { block: Block; instr: Instr }[]>();
  for (const block of blocks) {
    for (const instr of block.instrs) {
      const d = instrDef(instr);
      if (d === null) continue;
      const list = defs.get(d);
      if (list) list.push({ block, instr });
      else defs.set(d, [{ block, instr }]);
    }
  }
  return defs;
}
