/**
 * Stage 4, optimisation of the IR, before register allocation:
 * - simplifyCfg: drop unreachable blocks, thread jumps through empty blocks, merge straight lines,
 *   fold branches whose outcome is known;
 * - coalesceTemps: compute a value straight into the local it is assigned to (no `mov`);
 * - valueNumbering: per basic block, constant folding and propagation, algebraic simplification,
 *   immediate-form selection (`addi`, `shli`, ...), common subexpressions, and no redundant loads or
 *   stores of the same slot (store-to-load forwarding, dead-store removal) within the block;
 * - eliminateDeadCode: drop pure instructions whose results are never used;
 * - hoistLoopConstants, hoistLoopInvariants: move `li`/`la`, and arithmetic on values the loop
 *   does not change, out of loops into a preheader;
 * - then induction variables (induction.ts): array indexing strength-reduced to pointers; and
 *   small one-block pointer loops unrolled (unroll.ts).
 */
import { blockMap, dominates, dominators, forEachLoop, liveness, predecessors, reversePostorder } from './cfg.ts';
import {
  type BinOp,
  type Block,
  type BlockId,
  type Cond,
  type ImmOp,
  type Instr,
  type IrFunction,
  type MemClass,
  type VReg,
  instrDef,
  instrUses,
  isCallLike,
  isPure,
  mapInstrUses,
  mayTrap,
  mapSuccessors,
  mapTermUses,
  successors,
  termUses,
} from './ir.ts';
import { reduceAffineAddresses } from './affine-sr.ts';
import { reduceInductionVariables } from './induction.ts';
import { eliminateChecks } from './range.ts';
import { unrollLoops } from './unroll.ts';
import { assertNever } from './types.ts';

export function optimizeFunction(fn: IrFunction): void {
  simplifyCfg(fn);
  coalesceTemps(fn);
  valueNumbering(fn);
  simplifyCfg(fn);
  eliminateDeadCode(fn);
  hoistLoopConstants(fn);
  eliminateDeadCode(fn);
  // Checks the ranges of values prove unnecessary go (and bounds checks leave loops whose bounds
  // prove them, for one check before the loop), before the loop passes look for plain shapes.
  if (eliminateChecks(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  if (reduceInductionVariables(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  if (hoistLoopInvariants(fn)) valueNumbering(fn);
  // After hoisting, so that the invariant parts of an index (`i * N` in the k loop) are outside.
  if (reduceAffineAddresses(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  if (unrollLoops(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  simplifyCfg(fn);
  splitAtEntryBranch(fn);
  layoutBlocks(fn);
}

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

/** The passes a non-optimising build still needs: unreachable code must go before allocation. */
export function minimalCleanup(fn: IrFunction): void {
  removeUnreachable(fn);
}

// ---------------------------------------------------------------------------------------------
// CFG simplification

function removeUnreachable(fn: IrFunction): void {
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

// ---------------------------------------------------------------------------------------------
// Temporaries into locals

function useCounts(fn: IrFunction): Map<VReg, number> {
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

function defCounts(fn: IrFunction): Map<VReg, number> {
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

// ---------------------------------------------------------------------------------------------
// Local value numbering

const S16 = (v: number): boolean => v >= -0x8000 && v <= 0x7fff;
const U16 = (v: number): boolean => v >= 0 && v <= 0xffff;
const COMMUTATIVE = new Set<BinOp>(['add', 'mul', 'and', 'or', 'xor', 'seq', 'sne']);

/** ALU semantics, exactly as abi/isa.ts documents them, for folding. */
export function evalBin(op: BinOp, a: number, b: number): number | undefined {
  switch (op) {
    case 'add':
      return (a + b) | 0;
    case 'sub':
      return (a - b) | 0;
    case 'mul':
      return Math.imul(a, b);
    case 'div':
      if (b === 0) return undefined;
      return a === -0x80000000 && b === -1 ? a : (a / b) | 0;
    case 'divu':
      if (b === 0) return undefined;
      return Math.floor((a >>> 0) / (b >>> 0)) | 0;
    case 'rem':
      if (b === 0) return undefined;
      return b === -1 ? 0 : (a % b) | 0;
    case 'remu':
      if (b === 0) return undefined;
      return (a >>> 0) % (b >>> 0) | 0;
    case 'and':
      return a & b;
    case 'or':
      return a | b;
    case 'xor':
      return a ^ b;
    case 'shl':
      return a << (b & 31);
    case 'shr':
      return (a >>> (b & 31)) | 0;
    case 'sar':
      return a >> (b & 31);
    case 'slt':
      return a < b ? 1 : 0;
    case 'sltu':
      return a >>> 0 < b >>> 0 ? 1 : 0;
    case 'seq':
      return a === b ? 1 : 0;
    case 'sne':
      return a !== b ? 1 : 0;
    case 'addo':
    case 'subo':
    case 'mulo': {
      // The exact result, or nothing when it leaves int32 (the instruction traps: keep it). A
      // double holds products of int32s only approximately, but never across these bounds.
      const x = op === 'addo' ? a + b : op === 'subo' ? a - b : a * b;
      return x >= -0x80000000 && x <= 0x7fffffff ? x | 0 : undefined;
    }
    case 'mulh':
      return Number(BigInt.asIntN(32, (BigInt(a) * BigInt(b)) >> 32n));
  }
}

const IMM_OF: Partial<Record<BinOp, { op: ImmOp; fits: (v: number) => boolean }>> = {
  add: { op: 'addi', fits: S16 },
  mul: { op: 'muli', fits: S16 },
  and: { op: 'andi', fits: U16 },
  or: { op: 'ori', fits: U16 },
  xor: { op: 'xori', fits: U16 },
  shl: { op: 'shli', fits: () => true },
  shr: { op: 'shri', fits: () => true },
  sar: { op: 'sari', fits: () => true },
  slt: { op: 'slti', fits: S16 },
  sltu: { op: 'sltiu', fits: S16 },
};

const BIN_OF_IMM: Record<ImmOp, BinOp> = {
  addi: 'add',
  muli: 'mul',
  andi: 'and',
  ori: 'or',
  xori: 'xor',
  shli: 'shl',
  shri: 'shr',
  sari: 'sar',
  slti: 'slt',
  sltiu: 'sltu',
  addio: 'addo',
};

export function evalCond(c: Cond, a: number, b: number): boolean {
  switch (c) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'lt':
      return a < b;
    case 'ge':
      return a >= b;
    case 'ltu':
      return a >>> 0 < b >>> 0;
    case 'geu':
      return a >>> 0 >= b >>> 0;
  }
}

function mayAlias(store: MemClass, load: MemClass): boolean {
  if (load.kind === 'const') return false;
  if (store.kind === 'raw' || load.kind === 'raw') return true;
  if (store.kind === 'global') return load.kind === 'global' && load.sym === store.sym;
  if (store.kind === 'field') return load.kind === 'field' && load.sym === store.sym;
  if (store.kind === 'array') return load.kind === 'array' && (store.sym === null || load.sym === null || store.sym === load.sym);
  return false;
}

type VnExpr = { op: 'addi'; a: number; imm: number } | undefined;

class BlockNumbering {
  private nextVn = 0;
  private readonly vnOf = new Map<VReg, number>();
  private readonly holders = new Map<number, VReg[]>();
  readonly constOf = new Map<number, number>();
  private readonly vnOfConst = new Map<number, number>();
  private readonly exprVn = new Map<string, number>();
  readonly exprOf = new Map<number, VnExpr>();
  /** Available loads: key -> value number and memory class. */
  private readonly loads = new Map<string, { vn: number; mem: MemClass }>();
  /** Stores not yet read by anything: key -> index of the store in the block. */
  private readonly pendingStores = new Map<string, { index: number; mem: MemClass }>();
  readonly deadStores = new Set<number>();

  vn(v: VReg): number {
    let n = this.vnOf.get(v);
    if (n === undefined) {
      n = this.nextVn++;
      this.vnOf.set(v, n);
      this.holders.set(n, [v]);
    }
    return n;
  }

  fresh(): number {
    return this.nextVn++;
  }

  constVn(value: number): number {
    let n = this.vnOfConst.get(value);
    if (n === undefined) {
      n = this.fresh();
      this.vnOfConst.set(value, n);
      this.constOf.set(n, value);
    }
    return n;
  }

  exprKey(key: string): number | undefined {
    return this.exprVn.get(key);
  }

  setExpr(key: string, vn: number): void {
    this.exprVn.set(key, vn);
  }

  define(dst: VReg, vn: number): void {
    this.vnOf.set(dst, vn);
    const hs = this.holders.get(vn);
    if (hs) hs.push(dst);
    else this.holders.set(vn, [dst]);
  }

  /** The oldest register still holding `vn`, if any. */
  holder(vn: number): VReg | undefined {
    const hs = this.holders.get(vn);
    if (!hs) return undefined;
    for (const h of hs) if (this.vnOf.get(h) === vn) return h;
    return undefined;
  }

  canonical(v: VReg): VReg {
    return this.holder(this.vn(v)) ?? v;
  }

  lookupLoad(key: string): number | undefined {
    return this.loads.get(key)?.vn;
  }

  noteLoad(key: string, vn: number, mem: MemClass): void {
    this.loads.set(key, { vn, mem });
    for (const [k, s] of this.pendingStores) if (mayAlias(s.mem, mem)) this.pendingStores.delete(k);
  }

  noteStore(key: string, index: number, mem: MemClass, valueVn: number | undefined): void {
    const prev = this.pendingStores.get(key);
    if (prev) this.deadStores.add(prev.index);
    this.pendingStores.set(key, { index, mem });
    for (const [k, l] of this.loads) if (mayAlias(mem, l.mem)) this.loads.delete(k);
    if (valueVn !== undefined) this.loads.set(key, { vn: valueVn, mem });
  }

  /**
   * After a call, rebuild constants rather than reuse a register from before it: a constant kept
   * across a call would need a callee-saved register (a push and a pop) to save one `li`.
   */
  forgetConstants(): void {
    this.vnOfConst.clear();
  }

  /** Something outside the block's view may read or write memory (a call, I/O, an interrupt window). */
  barrier(): void {
    for (const [k, l] of this.loads) if (l.mem.kind !== 'const') this.loads.delete(k);
    this.pendingStores.clear();
  }
}

export function valueNumbering(fn: IrFunction): void {
  for (const b of fn.blocks) numberBlock(b);
}

function numberBlock(b: Block): void {
  const t = new BlockNumbering();
  const out: Instr[] = [];
  const constOfReg = (v: VReg): number | undefined => t.constOf.get(t.vn(v));
  /** Replace `i` by `dst = value`, or a copy of a register already holding it. */
  const constant = (i: Instr, dst: VReg, value: number): Instr => {
    const vn = t.constVn(value);
    const h = t.holder(vn);
    t.define(dst, vn);
    if (h !== undefined && !S16(value)) return { k: 'mov', dst, src: h, loc: i.loc };
    return { k: 'li', dst, value, loc: i.loc };
  };
  const copy = (i: Instr, dst: VReg, src: VReg): Instr => {
    t.define(dst, t.vn(src));
    return { k: 'mov', dst, src, loc: i.loc };
  };
  /** A pure expression with key: reuse an earlier result, or number it fresh. */
  const pure = (i: Instr & { dst: VReg }, key: string, expr?: VnExpr): Instr => {
    const known = t.exprKey(key);
    if (known !== undefined) {
      const h = t.holder(known);
      if (h !== undefined) return copy(i, i.dst, h);
    }
    const vn = known ?? t.fresh();
    t.setExpr(key, vn);
    if (expr) t.exprOf.set(vn, expr);
    t.define(i.dst, vn);
    return i;
  };
  /** Fold `base + imm` into a memory operand's offset. */
  const foldAddress = (i: Instr & { base: VReg; offset: number }): void => {
    const e = t.exprOf.get(t.vn(i.base));
    if (e?.op === 'addi' && S16(i.offset + e.imm)) {
      const h = t.holder(e.a);
      if (h !== undefined) {
        i.base = h;
        i.offset += e.imm;
      }
    }
  };

  for (const orig of b.instrs) {
    const i = orig;
    mapInstrUses(i, (v) => t.canonical(v));
    switch (i.k) {
      case 'li':
        out.push(constant(i, i.dst, i.value));
        break;
      case 'la':
        out.push(pure(i, `la:${i.sym}`));
        break;
      case 'frame':
        out.push(pure(i, `frame:${i.offset}`));
        break;
      case 'mov': {
        if (i.dst === i.src) break;
        const c = constOfReg(i.src);
        out.push(c !== undefined ? constant(i, i.dst, c) : copy(i, i.dst, i.src));
        break;
      }
      case 'bin':
        if (i.op === 'addo' || i.op === 'subo' || i.op === 'mulo') out.push(simplifyChecked(i, t, constant, copy, pure));
        else out.push(simplifyBin(i, t, constant, copy, pure));
        break;
      case 'imm':
        if (i.op === 'addio') {
          out.push(simplifyChecked(i, t, constant, copy, pure));
          break;
        }
        out.push(simplifyBin({ k: 'bin', op: BIN_OF_IMM[i.op], dst: i.dst, a: i.a, b: -1, loc: i.loc }, t, constant, copy, pure, i.imm));
        break;
      case 'un': {
        const c = constOfReg(i.a);
        if (c !== undefined) out.push(constant(i, i.dst, i.op === 'neg' ? -c | 0 : ~c));
        else out.push(pure(i, `${i.op}:${t.vn(i.a)}`));
        break;
      }
      case 'load': {
        foldAddress(i);
        const key = `m${i.width}:${t.vn(i.base)}:${i.offset}`;
        const known = t.lookupLoad(`${key}:${i.signed}`) ?? (i.width === 4 ? t.lookupLoad(key) : undefined);
        const h = known !== undefined ? t.holder(known) : undefined;
        if (h !== undefined && i.mem.kind !== 'raw') {
          out.push(copy(i, i.dst, h));
          break;
        }
        const vn = t.fresh();
        t.define(i.dst, vn);
        t.noteLoad(`${key}:${i.signed}`, vn, i.mem);
        out.push(i);
        break;
      }
      case 'store': {
        foldAddress(i);
        const key = `m${i.width}:${t.vn(i.base)}:${i.offset}`;
        const index = out.length;
        out.push(i);
        if (i.mem.kind === 'raw') {
          t.noteStore(key, -1, i.mem, undefined);
          t.barrier();
        } else {
          t.noteStore(key, index, i.mem, i.width === 4 ? t.vn(i.src) : undefined);
        }
        break;
      }
      case 'call':
      case 'callr':
      case 'trap':
        t.barrier();
        t.forgetConstants();
        if (i.dst !== null) t.define(i.dst, t.fresh());
        out.push(i);
        break;
      case 'in':
      case 'inr':
      case 'out':
      case 'outr':
      case 'mfcr':
      case 'mtcr':
      case 'pushf':
      case 'popf':
      case 'invlpg':
      case 'sys': {
        // Port I/O, control registers, FLAGS, CLI/STI/HLT, INVLPG: order matters, memory may change.
        t.barrier();
        const d = instrDef(i);
        if (d !== null) t.define(d, t.fresh());
        out.push(i);
        break;
      }
      case 'chk':
      case 'chki': {
        // A check whose outcome is known passes (constants) or has passed (the same check earlier
        // in the block); one that is known to fail stays, to trap.
        const ca = constOfReg(i.a);
        const cb = i.k === 'chki' ? i.imm : constOfReg(i.b);
        if (ca !== undefined && cb !== undefined && ca >>> 0 < cb >>> 0) break;
        const key = i.k === 'chki' || cb !== undefined ? `chk:${t.vn(i.a)}:#${cb}` : `chk:${t.vn(i.a)}:${t.vn(i.b)}`;
        if (t.exprKey(key) !== undefined) break;
        t.setExpr(key, t.fresh());
        if (i.k === 'chk' && cb !== undefined && U16(cb)) out.push({ k: 'chki', a: i.a, imm: cb, loc: i.loc, site: i.site });
        else out.push(i);
        break;
      }
      default:
        assertNever(i, 'instruction');
    }
  }
  b.instrs = out.filter((_, idx) => !t.deadStores.has(idx));
  mapTermUses(b.term, (v) => t.canonical(v));
  if (b.term.k === 'br') {
    const ca = constOfReg(b.term.a);
    const cb = constOfReg(b.term.b);
    const same = t.vn(b.term.a) === t.vn(b.term.b);
    if ((ca !== undefined && cb !== undefined) || same) {
      const taken = same ? ['eq', 'ge', 'geu'].includes(b.term.cond) : evalCond(b.term.cond, ca!, cb!);
      b.term = { k: 'jmp', target: taken ? b.term.t : b.term.f, loc: b.term.loc };
    }
  }
}

type Make = (i: Instr, dst: VReg, x: number) => Instr;
type Copy = (i: Instr, dst: VReg, src: VReg) => Instr;
type Pure = (i: Instr & { dst: VReg }, key: string, expr?: VnExpr) => Instr;

/**
 * Simplify `dst = a op b` (or `a op imm` when `imm` is given): fold constants, apply identities,
 * pick the immediate form, and share an earlier identical computation.
 */
function simplifyBin(i: Extract<Instr, { k: 'bin' }>, t: BlockNumbering, constant: Make, copy: Copy, pure: Pure, imm?: number): Instr {
  let op = i.op;
  let a = i.a;
  let b: VReg | undefined = imm === undefined ? i.b : undefined;
  let ca = t.constOf.get(t.vn(a));
  let cb = imm ?? (b !== undefined ? t.constOf.get(t.vn(b)) : undefined);
  if (ca !== undefined && cb !== undefined) {
    const v = evalBin(op, ca, cb);
    if (v !== undefined) return constant(i, i.dst, v);
  }
  // Constant on the left of a commutative operator: swap it right.
  if (ca !== undefined && cb === undefined && b !== undefined && COMMUTATIVE.has(op)) {
    [a, b] = [b, a];
    [ca, cb] = [cb, ca];
  }
  if (cb !== undefined) {
    // Identities.
    if ((cb === 0 && ['add', 'sub', 'or', 'xor', 'shl', 'shr', 'sar'].includes(op)) || (cb === 1 && (op === 'mul' || op === 'div')) || (cb === -1 && op === 'and')) {
      return copy(i, i.dst, a);
    }
    if ((cb === 0 && (op === 'mul' || op === 'and')) || (cb === 1 && (op === 'rem' || op === 'remu'))) return constant(i, i.dst, 0);
    if (cb === -1 && op === 'xor') return pure({ k: 'un', op: 'not', dst: i.dst, a, loc: i.loc }, `not:${t.vn(a)}`);
    if (cb === -1 && op === 'mul') return pure({ k: 'un', op: 'neg', dst: i.dst, a, loc: i.loc }, `neg:${t.vn(a)}`);
    // Prefer an immediate form: `x - c` is `x + -c`; multiplication and unsigned division or
    // remainder by a power of two are shifts and masks (not signed division: it rounds toward zero).
    let formOp = op;
    let formImm = cb;
    if (op === 'sub' && S16(-cb)) {
      formOp = 'add';
      formImm = -cb;
    } else if (cb > 0 && (cb & (cb - 1)) === 0) {
      const k = 31 - Math.clz32(cb);
      if (op === 'mul') [formOp, formImm] = ['shl', k];
      else if (op === 'divu') [formOp, formImm] = ['shr', k];
      else if (op === 'remu' && cb - 1 <= 0xffff) [formOp, formImm] = ['and', cb - 1];
    }
    const form = IMM_OF[formOp];
    if (form && form.fits(formImm)) {
      const immValue = formOp === 'shl' || formOp === 'shr' || formOp === 'sar' ? formImm & 31 : formImm;
      if (immValue === 0 && form.op !== 'andi' && form.op !== 'muli' && form.op !== 'slti' && form.op !== 'sltiu') return copy(i, i.dst, a);
      const key = `${form.op}:${t.vn(a)}:${immValue}`;
      const expr: VnExpr = form.op === 'addi' ? { op: 'addi', a: t.vn(a), imm: immValue } : undefined;
      return pure({ k: 'imm', op: form.op, dst: i.dst, a, imm: immValue, loc: i.loc }, key, expr);
    }
    if (b === undefined) b = materialize(t, cb);
  }
  if (b === undefined) return i; // cannot happen: an immediate always fits its own form
  if (a === b && (op === 'sub' || op === 'xor')) return constant(i, i.dst, 0);
  if (a === b && (op === 'and' || op === 'or')) return copy(i, i.dst, a);
  const va = t.vn(a);
  const vb = t.vn(b);
  const key = COMMUTATIVE.has(op) && vb < va ? `${op}:${vb}:${va}` : `${op}:${va}:${vb}`;
  // A division keeps its site: the handler names the expression that divided by zero.
  return pure({ k: 'bin', op, dst: i.dst, a, b, loc: i.loc, ...(i.site ? { site: i.site } : {}) }, key);
}

/**
 * Simplify a checked `addo`/`subo`/`mulo`/`addio`: fold it when the exact result is an int32
 * (otherwise it stays, to trap), apply only the identities that cannot overflow (`x + 0`,
 * `x * 1`, `x * 0`, `x - x`; not `x * -1`, which overflows for INT_MIN, nor shifts for powers of
 * two), use `addio` for a small constant, and reuse an identical earlier result in the block (it
 * passed its check already).
 */
function simplifyChecked(i: Extract<Instr, { k: 'bin' } | { k: 'imm' }>, t: BlockNumbering, constant: Make, copy: Copy, pure: Pure): Instr {
  const op: BinOp = i.k === 'imm' ? 'addo' : i.op;
  let a = i.a;
  let b: VReg | undefined = i.k === 'bin' ? i.b : undefined;
  let ca = t.constOf.get(t.vn(a));
  let cb = i.k === 'imm' ? i.imm : t.constOf.get(t.vn(b!));
  const site = i.site ? { site: i.site } : {};
  if (ca !== undefined && cb !== undefined) {
    const v = evalBin(op, ca, cb);
    if (v !== undefined) return constant(i, i.dst, v);
  }
  if (ca !== undefined && cb === undefined && b !== undefined && op !== 'subo') {
    [a, b] = [b, a];
    [ca, cb] = [cb, ca];
  }
  if (cb !== undefined) {
    if (cb === 0 && op !== 'mulo') return copy(i, i.dst, a);
    if (cb === 1 && op === 'mulo') return copy(i, i.dst, a);
    if (cb === 0 && op === 'mulo') return constant(i, i.dst, 0);
    const imm = op === 'addo' ? cb : op === 'subo' ? -cb : undefined;
    if (imm !== undefined && S16(imm)) {
      return pure({ k: 'imm', op: 'addio', dst: i.dst, a, imm, loc: i.loc, ...site }, `addio:${t.vn(a)}:${imm}`);
    }
    if (b === undefined) b = materialize(t, cb);
  }
  if (b === undefined) return i;
  if (a === b && op === 'subo') return constant(i, i.dst, 0);
  const va = t.vn(a);
  const vb = t.vn(b);
  const key = op !== 'subo' && vb < va ? `${op}:${vb}:${va}` : `${op}:${va}:${vb}`;
  return pure({ k: 'bin', op, dst: i.dst, a, b, loc: i.loc, ...site }, key);
}

/** A register holding `value`, which must already exist in the block (the operand it came from). */
function materialize(t: BlockNumbering, value: number): VReg {
  const h = t.holder(t.constVn(value));
  if (h === undefined) throw new Error(`optimize: no register holds constant ${value}`);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Dead code

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

// ---------------------------------------------------------------------------------------------
// Loop-invariant constants

/**
 * Move `li` and `la` of single-assignment registers out of loops into a preheader, so a loop
 * comparing against a constant or indexing a static array does not rebuild it every iteration.
 */
export function hoistLoopConstants(fn: IrFunction): void {
  // Innermost loops first, recomputed after each hoist (forEachLoop), so that an outer loop sees
  // the preheader made for an inner one and hoists its constants further out.
  forEachLoop(fn, (loop) => {
    hoistFrom(fn, loop.header, loop.body);
    return false;
  });
}

function hoistFrom(fn: IrFunction, header: BlockId, body: Set<BlockId>): void {
  if (header === fn.blocks[0]!.id) return;
  const defs = defCounts(fn);
  const byId = blockMap(fn);
  const candidates: (Instr & { k: 'li' | 'la' })[] = [];
  const loads: Instr[] = [];
  // Registers assigned inside the loop are not invariant.
  const definedInLoop = new Set<VReg>();
  for (const id of body) for (const i of byId.get(id)?.instrs ?? []) {
    const d = instrDef(i);
    if (d !== null) definedInLoop.add(d);
  }
  for (const id of body) {
    const blk = byId.get(id);
    if (!blk) continue;
    blk.instrs = blk.instrs.filter((i) => {
      if ((i.k === 'li' || i.k === 'la') && defs.get(i.dst) === 1) {
        candidates.push(i);
        return false;
      }
      // Immutable data (a string's or array's length word) at an invariant address.
      if (i.k === 'load' && i.mem.kind === 'const' && defs.get(i.dst) === 1 && !definedInLoop.has(i.base)) {
        loads.push(i);
        return false;
      }
      return true;
    });
  }
  if (candidates.length === 0 && loads.length === 0) return;
  const pre = preheader(fn, header, body);
  // One register per distinct constant: later copies are renamed to the first.
  const keyOf = (i: Instr & { k: 'li' | 'la' }): string => (i.k === 'li' ? `li:${i.value}` : `la:${i.sym}`);
  const first = new Map<string, VReg>();
  const rename = new Map<VReg, VReg>();
  for (const i of pre.instrs) if ((i.k === 'li' || i.k === 'la') && defs.get(i.dst) === 1) first.set(keyOf(i), i.dst);
  for (const i of candidates) {
    const f = first.get(keyOf(i));
    if (f !== undefined) rename.set(i.dst, f);
    else {
      first.set(keyOf(i), i.dst);
      pre.instrs.push(i);
    }
  }
  pre.instrs.push(...loads);
  if (rename.size > 0) {
    const r = (v: VReg): VReg => rename.get(v) ?? v;
    for (const b of fn.blocks) {
      for (const i of b.instrs) mapInstrUses(i, r);
      mapTermUses(b.term, r);
    }
  }
}

/** Operations that cannot trap, so they may run before the loop even on a path that skips them. */
const NEVER_TRAPS = new Set<string>(['add', 'sub', 'mul', 'and', 'or', 'xor', 'shl', 'shr', 'sar', 'slt', 'sltu', 'seq', 'sne']);

/**
 * Loop-invariant code motion for arithmetic: a single-assignment `x = a op b` in a loop whose
 * operands are not assigned in the loop moves to the preheader (divisions stay: #DE must not
 * happen on a path that would not have divided). Strength reduction leaves such values behind
 * in inner preheaders, e.g. the sieve's `&composite + N` computed once per prime.
 */
export function hoistLoopInvariants(fn: IrFunction): boolean {
  return forEachLoop(fn, (loop) => {
    const defs = defCounts(fn);
    const byId = blockMap(fn);
    const blocks = [...loop.body].map((id) => byId.get(id)!);
    const definedInLoop = new Set<VReg>();
    for (const b of blocks) for (const i of b.instrs) {
      const d = instrDef(i);
      if (d !== null) definedInLoop.add(d);
    }
    const moved: Instr[] = [];
    for (let again = true; again; ) {
      again = false;
      for (const b of blocks) {
        b.instrs = b.instrs.filter((i) => {
          const movable = !mayTrap(i) && ((i.k === 'bin' && NEVER_TRAPS.has(i.op)) || i.k === 'imm' || i.k === 'un');
          if (!movable || defs.get(instrDef(i)!) !== 1 || instrUses(i).some((u) => definedInLoop.has(u))) return true;
          moved.push(i);
          definedInLoop.delete(instrDef(i)!);
          again = true;
          return false;
        });
      }
    }
    if (moved.length === 0) return false;
    preheader(fn, loop.header, loop.body).instrs.push(...moved);
    return true;
  });
}

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
