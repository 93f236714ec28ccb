/**
 * The range analysis of one function: abstract interpretation over the CFG (Cousot and Cousot,
 * 1977), forward, with the facts of range-domain.ts (an interval per register, and upper bounds
 * `x <= y + c` relative to other registers). range.ts asks it which run-time checks can never fire
 * and what holds on entering a loop.
 *
 * A branch refines both on each edge (`i < n` holds on one, `i >= n` on the other), so a loop
 * counter is bounded by its test. Loop headers widen an interval bound that keeps growing to the
 * int32 limit (and drop a relation that keeps weakening), then two descending passes recover
 * what the tests bound. The length of an array that a register holding its address (assigned
 * once) points to is one symbol however many times it is loaded, since it cannot change.
 *
 * The IR is not SSA: a local is one register assigned many times. Facts are per program point,
 * so an assignment kills the facts about the register it writes (or, for `i = i + k`, shifts
 * them by k), which is all the non-SSA form asks.
 *
 * A function too large for the analysis to be cheap (see MAX_WORK) keeps all its checks.
 */
import { blockMap, dominates, dominators, naturalLoops, predecessors, reversePostorder } from './cfg.ts';
import { type Block, type BlockId, type Cond, type Instr, type IrFunction, type VReg, INVERSE_COND, instrDef } from './ir.ts';
import {
  type Itv,
  type Sym,
  andRange,
  clamped,
  divRange,
  inInt32,
  join,
  keepFromEntry,
  MAX,
  MAX_LENGTH,
  MIN,
  mulhRange,
  mulRange,
  orRange,
  remRange,
  sameState,
  seedCounters,
  shiftLeft,
  shiftRightArith,
  shiftRightLogical,
  State,
  TOP,
  widen,
  wrapped,
} from './range-domain.ts';

/** Visits of a loop header before its growing bounds are widened, and before all of them are. */
const WIDEN_AFTER = 3;
const WIDEN_ALL_AFTER = 40;
/** Instructions times fixpoint rounds past which the analysis gives up (keeping every check). */
const MAX_WORK = 4_000_000;

/**
 * The analysis of one function: `entry` holds the state at each reachable block's entry (after
 * the fixpoint and the descending passes), `edge` the state on an edge (null when it cannot be
 * taken), `sym` the symbol of a register (a length loaded twice is one symbol).
 */
export class RangeAnalysis {
  readonly entry = new Map<BlockId, State>();
  private readonly exit = new Map<BlockId, State>();
  private readonly lengthOf = new Map<VReg, Sym>();
  /** Registers whose length word is a symbol. */
  private readonly bases = new Set<VReg>();
  private readonly byId: Map<BlockId, Block>;
  private work = 0;

  constructor(private readonly fn: IrFunction) {
    this.byId = blockMap(fn);
    // A length word loaded from an address held by a register assigned once is the same value
    // wherever it is loaded: one symbol, -(base + 1).
    const defs = new Map<VReg, number>();
    for (const p of fn.params) defs.set(p, 1);
    for (const b of fn.blocks) for (const i of b.instrs) {
      const d = instrDef(i);
      if (d !== null) defs.set(d, (defs.get(d) ?? 0) + 1);
    }
    for (const b of fn.blocks) for (const i of b.instrs) {
      if (i.k === 'load' && i.width === 4 && i.offset === -4 && i.mem.kind === 'const' && defs.get(i.base) === 1 && defs.get(i.dst) === 1) {
        this.lengthOf.set(i.dst, -(i.base + 1));
        this.bases.add(i.base);
      }
    }
  }

  sym(v: VReg): Sym {
    return this.lengthOf.get(v) ?? v;
  }

  /** Run to a fixpoint; false when the function is too large to analyse cheaply. */
  run(): boolean {
    const fn = this.fn;
    const order = reversePostorder(fn);
    const preds = predecessors(fn);
    const idom = dominators(fn);
    const headers = new Set(order.filter((h) => (preds.get(h) ?? []).some((p) => idom.has(p) && dominates(idom, h, p))));
    // What each loop assigns (widened at its header), and the thresholds bounds widen to.
    const assigned = new Map<BlockId, Set<Sym>>();
    for (const loop of naturalLoops(fn)) {
      const set = new Set<Sym>();
      for (const id of loop.body) for (const i of this.byId.get(id)!.instrs) {
        const d = instrDef(i);
        if (d !== null) set.add(this.sym(d)).add(-(d + 1));
      }
      assigned.set(loop.header, set);
    }
    // Thresholds: the constants the program compares with (loop bounds, lengths), and one off.
    const consts = new Set<number>([MIN, MIN + 1, -1, 0, 1, MAX - 1, MAX, MAX_LENGTH - 1, MAX_LENGTH]);
    const compared = new Set<VReg>();
    for (const b of fn.blocks) if (b.term.k === 'br') compared.add(b.term.a).add(b.term.b);
    for (const b of fn.blocks) for (const i of b.instrs) {
      const v = i.k === 'li' && compared.has(i.dst) ? i.value : i.k === 'chki' ? i.imm : i.k === 'chk' ? undefined : undefined;
      if (v !== undefined) for (const c of [v - 1, v, v + 1]) if (c >= MIN && c <= MAX) consts.add(c);
    }
    const thresholds = [...consts].sort((a, b) => a - b);
    const visits = new Map<BlockId, number>();
    const entryId = fn.blocks[0]!.id;
    const computeIn = (b: BlockId): State | null => {
      const loopAssigns = headers.has(b) ? assigned.get(b) : undefined;
      let entering: State | null = b === entryId ? new State() : null;
      let around: State | null = null;
      for (const p of preds.get(b) ?? []) {
        const s = this.edge(p, b);
        if (!s) continue;
        if (loopAssigns && dominates(idom, b, p)) around = around ? join(around, s) : s;
        else entering = entering ? join(entering, s) : s;
      }
      if (!loopAssigns || !entering) return entering && around ? join(entering, around) : (entering ?? around);
      entering = entering.clone(); // it may be a predecessor's exit state itself
      seedCounters(entering, loopAssigns);
      if (!around) return entering;
      // What a loop does not assign holds at its header what it held on entering the loop: the
      // back edges bring it round unchanged (or narrowed by a test).
      const acc = join(entering, around);
      keepFromEntry(acc, entering, loopAssigns);
      return acc;
    };
    for (let changed = true; changed; ) {
      changed = false;
      for (const b of order) {
        this.work += this.byId.get(b)!.instrs.length + 1;
        if (this.work > MAX_WORK) return false;
        let next = computeIn(b);
        if (!next) continue;
        const old = this.entry.get(b);
        if (old) {
          next = join(old, next);
          const n = (visits.get(b) ?? 0) + 1;
          visits.set(b, n);
          if (headers.has(b) && n >= WIDEN_AFTER) next = widen(old, next, assigned.get(b) ?? new Set(), thresholds, n >= WIDEN_ALL_AFTER);
          if (sameState(old, next)) continue;
        }
        this.entry.set(b, next);
        this.exit.set(b, this.transferBlock(this.byId.get(b)!, next.clone()));
        changed = true;
      }
    }
    // Descending passes: each block's entry from its predecessors as they now are, without the
    // join with the old state, recovers the bounds that widening pushed past a loop's test. The
    // result must still hold what its predecessors bring (a post-fixpoint, hence sound); if it
    // does not (the caps on relations make the transfer not quite monotone), the ascending
    // result stands.
    const ascending = { entry: new Map(this.entry), exit: new Map(this.exit) };
    for (let pass = 0; pass < 2; pass++) {
      for (const b of order) {
        this.work += this.byId.get(b)!.instrs.length + 1;
        const next = computeIn(b);
        if (!next) continue;
        this.entry.set(b, next);
        this.exit.set(b, this.transferBlock(this.byId.get(b)!, next.clone()));
      }
    }
    for (const b of order) {
      const old = this.entry.get(b);
      const next = computeIn(b);
      if (old && next && !sameState(join(old, next), old)) {
        for (const [k, v] of ascending.entry) this.entry.set(k, v);
        for (const [k, v] of ascending.exit) this.exit.set(k, v);
        break;
      }
    }
    return this.work <= MAX_WORK;
  }

  edge(from: BlockId, to: BlockId): State | null {
    const out = this.exit.get(from);
    if (!out) return null;
    const t = this.byId.get(from)!.term;
    if (t.k !== 'br' || t.t === t.f) return out;
    const s = out.clone();
    if (!this.refine(s, to === t.t ? t.cond : INVERSE_COND[t.cond], t.a, t.b)) return null;
    s.tighten();
    return s;
  }

  transferBlock(b: Block, s: State): State {
    for (const i of b.instrs) this.transfer(s, i);
    return s;
  }

  /** Apply `a <= b - k` (k >= 0); false when it contradicts the state (the edge is never taken). */
  private lessThan(s: State, a: VReg, b: VReg, k: number): boolean {
    const x = this.sym(a);
    const y = this.sym(b);
    const A = s.get(x);
    const B = s.get(y);
    const na: Itv = [A[0], Math.min(A[1], B[1] - k)];
    const nb: Itv = [Math.max(B[0], A[0] + k), B[1]];
    if (na[0] > na[1] || nb[0] > nb[1]) return false;
    if (x === y) return k === 0;
    s.set(x, na);
    s.set(y, nb);
    s.addRel(x, y, -k);
    return true;
  }

  private refine(s: State, cond: Cond, a: VReg, b: VReg): boolean {
    switch (cond) {
      case 'lt':
        return this.lessThan(s, a, b, 1);
      case 'ge':
        return this.lessThan(s, b, a, 0);
      case 'eq':
        return this.lessThan(s, a, b, 0) && this.lessThan(s, b, a, 0);
      case 'ne': {
        for (const [x, y] of [
          [a, b],
          [b, a],
        ] as const) {
          const Y = s.get(this.sym(y));
          if (Y[0] !== Y[1]) continue;
          const X = s.get(this.sym(x));
          const lo = X[0] === Y[0] ? X[0] + 1 : X[0];
          const hi = X[1] === Y[0] ? X[1] - 1 : X[1];
          if (lo > hi) return false;
          s.set(this.sym(x), [lo, hi]);
        }
        return true;
      }
      case 'ltu':
        return this.unsignedBelow(s, a, b);
      case 'geu': {
        // a >= b unsigned: with both non-negative, a >= b signed.
        if (s.get(this.sym(a))[0] >= 0 && s.get(this.sym(b))[0] >= 0) return this.lessThan(s, b, a, 0);
        return true;
      }
    }
  }

  /** `a < b` unsigned holds: with b non-negative, a is in [0, b - 1]; false when it cannot hold. */
  private unsignedBelow(s: State, a: VReg, b: VReg): boolean {
    if (s.get(this.sym(b))[0] < 0) return true; // b may be above 2^31 unsigned: nothing follows
    const A = s.get(this.sym(a));
    if (A[1] < 0) return false; // a is above 2^31 unsigned, b below it
    s.set(this.sym(a), [Math.max(A[0], 0), A[1]]);
    return this.lessThan(s, a, b, 1);
  }

  /** The interval of a register, its upper end tightened by what bounds it (`x <= i + c`, i bounded). */
  private itv(s: State, v: VReg): Itv {
    const x = this.sym(v);
    const r = s.get(x);
    const m = s.up.get(x);
    if (!m) return r;
    let hi = r[1];
    for (const [t, c] of m) hi = Math.min(hi, s.get(t)[1] + c);
    return hi === r[1] ? r : [r[0], Math.max(hi, r[0])];
  }

  /** The result interval of an arithmetic instruction (before it is assigned). */
  private resultOf(s: State, i: Instr): Itv | undefined {
    const imm = (v: number): Itv => [v, v];
    switch (i.k) {
      case 'li':
        return [i.value, i.value];
      case 'mov':
        return this.itv(s, i.src);
      case 'bin':
      case 'imm': {
        const a = this.itv(s, i.a);
        const b = i.k === 'bin' ? this.itv(s, i.b) : imm(i.imm);
        const op = i.k === 'bin' ? i.op : i.op;
        const konst = b[0] === b[1] ? b[0] : undefined;
        switch (op) {
          case 'add':
          case 'addi':
            return wrapped(a[0] + b[0], a[1] + b[1]);
          case 'addo':
          case 'addio':
            return clamped(a[0] + b[0], a[1] + b[1]);
          case 'sub':
            return wrapped(a[0] - b[1], a[1] - b[0]);
          case 'subo':
            return clamped(a[0] - b[1], a[1] - b[0]);
          case 'mul':
          case 'muli': {
            const [lo, hi] = mulRange(a, b);
            return wrapped(lo, hi);
          }
          case 'mulo': {
            const [lo, hi] = mulRange(a, b);
            return clamped(lo, hi);
          }
          case 'mulh':
            return mulhRange(a, b);
          case 'and':
          case 'andi':
            return andRange(a, b);
          case 'or':
          case 'ori':
          case 'xor':
          case 'xori':
            return orRange(a, b);
          case 'shl':
          case 'shli':
            return konst !== undefined ? shiftLeft(a, konst) : TOP;
          case 'shr':
          case 'shri':
            return konst !== undefined ? shiftRightLogical(a, konst) : a[0] >= 0 ? [0, a[1]] : TOP; // a count of 0 keeps a's sign
          case 'sar':
          case 'sari':
            return konst !== undefined ? shiftRightArith(a, konst) : [Math.min(a[0], 0), Math.max(a[1], 0)];
          case 'div':
            return divRange(a, b);
          case 'rem':
            return remRange(a, b);
          case 'divu':
            return a[0] >= 0 && b[0] >= 1 ? divRange(a, b) : TOP;
          case 'remu':
            if (b[0] >= 1) return [0, a[0] >= 0 ? Math.min(a[1], b[1] - 1) : b[1] - 1];
            return TOP;
          case 'slt':
          case 'slti':
          case 'sltu':
          case 'sltiu':
          case 'seq':
          case 'sne':
            return [0, 1];
        }
        return TOP;
      }
      case 'un': {
        const a = this.itv(s, i.a);
        if (i.op === 'not') return [~a[1], ~a[0]];
        return a[0] > MIN ? [-a[1], -a[0]] : TOP;
      }
      case 'load':
        if (i.width === 1) return i.signed ? [-128, 127] : [0, 255];
        if (i.width === 2) return i.signed ? [-32768, 32767] : [0, 65535];
        if (i.mem.kind === 'const' && i.offset === -4) return [0, MAX_LENGTH];
        return TOP;
      default:
        return undefined;
    }
  }

  /** Whether a checking instruction, reached in state `s`, can never fire. */
  proven(s: State, i: Instr, divisions: Map<VReg, { a: VReg; b: VReg }>): boolean {
    switch (i.k) {
      case 'chki': {
        const a = this.itv(s, i.a);
        return a[0] >= 0 && a[1] < i.imm;
      }
      case 'chk': {
        const a = this.itv(s, i.a);
        const b = this.itv(s, i.b);
        if (a[0] < 0) return false;
        if (b[0] < 0 && b[1] >= 0) return false;
        if (b[1] < 0) return true; // b is above 2^31 unsigned, a below it
        return s.upperBound(this.sym(i.a), this.sym(i.b)) <= -1;
      }
      case 'bin':
      case 'imm': {
        const op = i.op;
        if (op !== 'addo' && op !== 'subo' && op !== 'mulo' && op !== 'addio') return false;
        if (op === 'mulo' && i.k === 'bin') {
          // The overflow check of an exact division, `mulo z, q, b` after `q = div a, b`: it fires
          // only for INT_MIN / -1.
          const d = divisions.get(i.a);
          if (d && d.b === i.b) {
            const a = this.itv(s, d.a);
            const b = this.itv(s, d.b);
            if (a[0] > MIN || b[0] > -1 || b[1] < -1) return true;
          }
        }
        const a = this.itv(s, i.a);
        const b: Itv = i.k === 'bin' ? this.itv(s, i.b) : [i.imm, i.imm];
        const [lo, hi] = op === 'mulo' ? mulRange(a, b) : op === 'subo' ? [a[0] - b[1], a[1] - b[0]] : [a[0] + b[0], a[1] + b[1]];
        return inInt32(lo, hi);
      }
      default:
        return false;
    }
  }

  transfer(s: State, i: Instr): void {
    if (i.k === 'chk') {
      this.unsignedBelow(s, i.a, i.b);
      return;
    }
    if (i.k === 'chki') {
      const a = this.itv(s, i.a);
      s.set(this.sym(i.a), [Math.max(a[0], 0), Math.min(a[1], i.imm - 1)]);
      return;
    }
    const d = instrDef(i);
    if (d === null) return;
    // A register holding an array's address that is assigned again (in a loop) may point at
    // another array: what was known of the length it pointed at goes.
    if (this.bases.has(d)) s.kill(-(d + 1));
    const D = this.sym(d);
    if (D !== d) {
      // A length: the same symbol wherever it is loaded, and it never changes.
      const cur = s.get(D);
      s.set(D, [Math.max(cur[0], 0), Math.min(cur[1], MAX_LENGTH)]);
      return;
    }
    const r = this.resultOf(s, i);
    // The new value's relations: D <= t + c (below), and x <= D + c (above), for exact arithmetic.
    const below: [Sym, number][] = [];
    const above: [Sym, number][] = [];
    const from = (x: Sym, k: number): void => {
      below.push([x, k]);
      for (const [t, c] of s.up.get(x) ?? []) below.push([t, c + k]);
    };
    if (i.k === 'mov') {
      if (i.src === d) return;
      from(this.sym(i.src), 0);
      above.push([this.sym(i.src), 0]);
    } else if ((i.k === 'bin' || i.k === 'imm') && (i.op === 'add' || i.op === 'addi' || i.op === 'addo' || i.op === 'addio' || i.op === 'sub' || i.op === 'subo')) {
      const exact = i.op === 'addo' || i.op === 'addio' || i.op === 'subo' || this.isExact(s, i);
      const add = i.op !== 'sub' && i.op !== 'subo';
      const a = this.itv(s, i.a);
      const b: Itv = i.k === 'bin' ? this.itv(s, i.b) : [i.imm, i.imm];
      const bReg = i.k === 'bin' ? i.b : undefined;
      if (exact) {
        const k = add ? b[1] : -b[0];
        if (i.a === d && b[0] === b[1] && bReg !== d) {
          // i = i + k: what bounded i bounds it k lower; i's own bounds move up by k.
          const step = add ? b[0] : -b[0];
          for (const m of s.up.values()) {
            const c = m.get(D);
            if (c !== undefined) m.set(D, c - step);
          }
          const own = s.up.get(D);
          if (own) for (const [t, c] of own) own.set(t, c + step);
          s.set(D, r ?? TOP);
          return;
        }
        if (i.a !== d) {
          from(this.sym(i.a), k);
          if (b[0] === b[1]) above.push([this.sym(i.a), add ? -b[0] : b[0]]);
        }
        if (add && bReg !== undefined && bReg !== d && bReg !== i.a) from(this.sym(bReg), a[1]);
      }
    }
    s.kill(D);
    if (r) s.set(D, r);
    for (const [t, c] of below) if (t !== D) s.addRel(D, t, c);
    for (const [x, c] of above) if (x !== D) s.addRel(x, D, c);
  }

  /** A plain add or subtract whose operands' intervals show it cannot wrap. */
  private isExact(s: State, i: Extract<Instr, { k: 'bin' } | { k: 'imm' }>): boolean {
    const a = this.itv(s, i.a);
    const b: Itv = i.k === 'bin' ? this.itv(s, i.b) : [i.imm, i.imm];
    if (i.op === 'add' || i.op === 'addi') return inInt32(a[0] + b[0], a[1] + b[1]);
    if (i.op === 'sub') return inInt32(a[0] - b[1], a[1] - b[0]);
    return false;
  }
}
