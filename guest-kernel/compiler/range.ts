/**
 * Stage 4, run-time checks: a range analysis over the IR that removes the checks it proves can
 * never fire, and moves the bounds checks of simple counted loops to one check before the loop.
 *
 * The checks (lowered by checks.ts) are `addo`/`subo`/`mulo`/`addio` (#OF when the exact result
 * leaves int32), `chk`/`chki` (#BR unless an index is below a length, unsigned), and the `chki`
 * that ends the product check of a wrapping multiplication. A check is proven when the values
 * that reach it cannot make it fire: then `addo` becomes `add`, a bounds check goes.
 *
 * The analysis is abstract interpretation over the CFG (Cousot and Cousot, 1977), forward, with
 * two kinds of facts per program point:
 * - an interval [lo, hi] per virtual register (constants, `& mask`, `>>> k`, `% n`, byte and
 *   halfword loads, lengths, and the arithmetic on them);
 * - upper bounds relative to other registers, `x <= y + c` (the part of the pentagon domain of
 *   Logozzo and Fähndrich, 2008, that bounds checks need, with constants as in ABCD, Bodík, Gupta
 *   and Sarkar, 2000): a loop test `i < n` gives `i <= n - 1`, a passed `chk i, len` gives
 *   `i <= len - 1`, `j = i - 1` gives `j <= i - 1`, so the inner loop of an insertion sort needs
 *   no check once the outer loop has checked `a[i]`.
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
import { blockMap, dominates, dominators, MAX_LOOPS_TRANSFORMED, naturalLoops, predecessors, reversePostorder } from './cfg.ts';
import { type Block, type BlockId, type Cond, type Instr, type IrFunction, type VReg, INVERSE_COND, instrDef, mayTrap, successors } from './ir.ts';
import { preheader } from './optimize.ts';

const MIN = -0x80000000;
const MAX = 0x7fffffff;
/** Lengths of arrays and strings: below the largest memory a machine has (limits.ts), in bytes. */
const MAX_LENGTH = 1 << 30;
/** Relations kept per register, and registers with relations: enough for a loop nest, and the state stays small. */
const MAX_RELATIONS = 12;
const MAX_SUBJECTS = 256;
/** Visits of a loop header before its growing bounds are widened, and before all of them are. */
const WIDEN_AFTER = 3;
const WIDEN_ALL_AFTER = 40;
/** Instructions times fixpoint rounds past which the analysis gives up (keeping every check). */
const MAX_WORK = 4_000_000;

type Itv = readonly [number, number];
const TOP: Itv = [MIN, MAX];

/** A symbol of the relational facts: a register, or the length of the array at a register (negative). */
type Sym = number;

class State {
  constructor(
    readonly iv: Map<Sym, Itv> = new Map(),
    /** x -> (y -> c): x <= y + c. */
    readonly up: Map<Sym, Map<Sym, number>> = new Map(),
  ) {}

  clone(): State {
    const up = new Map<Sym, Map<Sym, number>>();
    for (const [x, m] of this.up) up.set(x, new Map(m));
    return new State(new Map(this.iv), up);
  }

  get(v: Sym): Itv {
    return this.iv.get(v) ?? TOP;
  }

  set(v: Sym, x: Itv): void {
    if (x[0] <= MIN && x[1] >= MAX) this.iv.delete(v);
    else this.iv.set(v, x);
  }

  /** Forget everything about `d` (it is being assigned). */
  kill(d: Sym): void {
    this.iv.delete(d);
    this.up.delete(d);
    for (const m of this.up.values()) m.delete(d);
  }

  rel(x: Sym, y: Sym): number | undefined {
    return this.up.get(x)?.get(y);
  }

  /** Record `a <= b + c`, with what follows through b's bounds, and for whatever is bounded by a. */
  addRel(a: Sym, b: Sym, c: number): void {
    if (a === b) return;
    if (!this.up.has(a) && this.up.size >= MAX_SUBJECTS) return;
    const ma = this.up.get(a) ?? new Map<Sym, number>();
    this.up.set(a, ma);
    put(ma, b, c);
    const mb = this.up.get(b);
    if (mb) for (const [t, c2] of mb) if (t !== a) put(ma, t, c + c2);
    for (const [x, mx] of this.up) {
      if (x === a || x === b) continue;
      const c0 = mx.get(a);
      if (c0 === undefined) continue;
      put(mx, b, c0 + c);
      if (mb) for (const [t, c2] of mb) if (t !== x) put(mx, t, c0 + c + c2);
    }
  }

  /** Each upper end lowered to what the relations give (`x <= i + c` and i <= 9: x <= 9 + c), after a test narrowed i. */
  tighten(): void {
    for (const [x, m] of this.up) {
      const r = this.get(x);
      let hi = r[1];
      for (const [t, c] of m) hi = Math.min(hi, this.get(t)[1] + c);
      if (hi < r[1]) this.set(x, [r[0], Math.max(hi, r[0])]);
    }
  }

  /** The least c known with `x <= y + c`, from the relations (one step through a third symbol) and the intervals. */
  upperBound(x: Sym, y: Sym): number {
    let best = this.get(x)[1] - this.get(y)[0];
    const mx = this.up.get(x);
    if (mx) {
      const direct = mx.get(y);
      if (direct !== undefined) best = Math.min(best, direct);
      for (const [t, c] of mx) {
        const c2 = this.up.get(t)?.get(y);
        if (c2 !== undefined) best = Math.min(best, c + c2);
      }
    }
    return best;
  }
}

function put(m: Map<Sym, number>, k: Sym, c: number): void {
  const old = m.get(k);
  if (old !== undefined && old <= c) return;
  if (old === undefined && m.size >= MAX_RELATIONS) return;
  m.set(k, c);
}

function join(a: State, b: State): State {
  const out = new State();
  for (const [k, x] of a.iv) {
    const y = b.iv.get(k);
    if (y) out.set(k, [Math.min(x[0], y[0]), Math.max(x[1], y[1])]);
  }
  for (const [x, ma] of a.up) {
    const mb = b.up.get(x);
    if (!mb) continue;
    const m = new Map<Sym, number>();
    for (const [y, c] of ma) {
      const c2 = mb.get(y);
      if (c2 !== undefined) m.set(y, Math.max(c, c2));
    }
    if (m.size > 0) out.up.set(x, m);
  }
  return out;
}

/**
 * `next` (which includes `old`) with every bound that grew pushed to the next threshold (the
 * program's constants, and the int32 limits), for the registers the loop assigns; the others
 * change only as an enclosing loop goes round, whose header widens them. `all` widens every
 * register (a header visited too often).
 */
function widen(old: State, next: State, assigned: Set<Sym>, thresholds: readonly number[], all: boolean): State {
  const out = new State();
  const below = (x: number): number => {
    let k = thresholds.length - 1;
    while (k > 0 && thresholds[k]! > x) k--;
    return all ? MIN : thresholds[k]!;
  };
  const above = (x: number): number => {
    let k = 0;
    while (k < thresholds.length - 1 && thresholds[k]! < x) k++;
    return all ? MAX : thresholds[k]!;
  };
  for (const [k, y] of next.iv) {
    const x = old.iv.get(k);
    if (!x) continue;
    if (!all && !assigned.has(k)) out.set(k, y);
    else out.set(k, [y[0] < x[0] ? below(y[0]) : y[0], y[1] > x[1] ? above(y[1]) : y[1]]);
  }
  for (const [x, mn] of next.up) {
    const mo = old.up.get(x);
    if (!mo) continue;
    const m = new Map<Sym, number>();
    for (const [y, c] of mn) if (mo.get(y) === c || (!all && !assigned.has(x) && !assigned.has(y) && mo.has(y))) m.set(y, c);
    if (m.size > 0) out.up.set(x, m);
  }
  return out;
}

/** Registers a loop assigns, constant on entering it, whose relations are seeded there. */
const MAX_COUNTERS = 6;

/**
 * Counters a loop starts at constants (`count = 0`, `i = 2`) are related on entering it (`count
 * <= i - 2`), so that a counter bumped at most as often as a bounded one is bounded too.
 */
function seedCounters(entering: State, assigned: Set<Sym>): void {
  const counters: [Sym, number][] = [];
  for (const [k, x] of entering.iv) {
    if (x[0] === x[1] && assigned.has(k)) counters.push([k, x[0]]);
    if (counters.length >= MAX_COUNTERS) break;
  }
  for (const [x, vx] of counters) for (const [y, vy] of counters) if (x !== y) entering.addRel(x, y, vx - vy);
}

/** In `acc`, the facts about registers `assigned` does not hold taken from `entering`. */
function keepFromEntry(acc: State, entering: State, assigned: Set<Sym>): void {
  for (const k of [...acc.iv.keys(), ...entering.iv.keys()]) {
    if (assigned.has(k)) continue;
    const x = entering.iv.get(k);
    if (x) acc.iv.set(k, x);
    else acc.iv.delete(k);
  }
  for (const [x, m] of entering.up) {
    if (assigned.has(x)) continue;
    for (const [y, c] of m) {
      if (assigned.has(y)) continue;
      const mx = acc.up.get(x) ?? new Map<Sym, number>();
      acc.up.set(x, mx);
      mx.set(y, c);
    }
  }
}

function sameState(a: State, b: State): boolean {
  if (a.iv.size !== b.iv.size || a.up.size !== b.up.size) return false;
  for (const [k, x] of a.iv) {
    const y = b.iv.get(k);
    if (!y || y[0] !== x[0] || y[1] !== x[1]) return false;
  }
  for (const [x, ma] of a.up) {
    const mb = b.up.get(x);
    if (!mb || mb.size !== ma.size) return false;
    for (const [y, c] of ma) if (mb.get(y) !== c) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Interval arithmetic

const inInt32 = (lo: number, hi: number): boolean => lo >= MIN && hi <= MAX;
/** A result that wraps in int32 when it leaves the range: nothing is known then. */
const wrapped = (lo: number, hi: number): Itv => (inInt32(lo, hi) ? [lo, hi] : TOP);
/** The result of a checked operation that did not trap. */
const clamped = (lo: number, hi: number): Itv => [Math.max(lo, MIN), Math.min(hi, MAX)];

function mulRange(a: Itv, b: Itv): [number, number] {
  const ps = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
  return [Math.min(...ps), Math.max(...ps)];
}

function mulhRange(a: Itv, b: Itv): Itv {
  const ps = [BigInt(a[0]) * BigInt(b[0]), BigInt(a[0]) * BigInt(b[1]), BigInt(a[1]) * BigInt(b[0]), BigInt(a[1]) * BigInt(b[1])];
  let lo = ps[0]!;
  let hi = ps[0]!;
  for (const p of ps) {
    if (p < lo) lo = p;
    if (p > hi) hi = p;
  }
  return [Number(lo >> 32n), Number(hi >> 32n)];
}

const bitsFor = (n: number): number => (n <= 0 ? 0 : 32 - Math.clz32(n));

function andRange(a: Itv, b: Itv): Itv {
  if (a[0] >= 0 && b[0] >= 0) return [0, Math.min(a[1], b[1])];
  if (a[0] >= 0) return [0, a[1]];
  if (b[0] >= 0) return [0, b[1]];
  return TOP;
}

function orRange(a: Itv, b: Itv): Itv {
  if (a[0] >= 0 && b[0] >= 0) return [0, 2 ** bitsFor(Math.max(a[1], b[1])) - 1];
  return TOP;
}

function shiftLeft(a: Itv, k: number): Itv {
  const f = 2 ** (k & 31);
  return wrapped(a[0] * f, a[1] * f);
}

function shiftRightLogical(a: Itv, k: number): Itv {
  k &= 31;
  if (k === 0) return a;
  if (a[0] >= 0) return [a[0] >>> k, a[1] >>> k];
  return [0, 0xffffffff >>> k];
}

function shiftRightArith(a: Itv, k: number): Itv {
  k &= 31;
  return [a[0] >> k, a[1] >> k];
}

function divRange(a: Itv, b: Itv): Itv {
  const m = Math.max(Math.abs(a[0]), Math.abs(a[1]));
  if (b[0] > 0 || b[1] < 0) {
    const qs = [a[0] / b[0], a[0] / b[1], a[1] / b[0], a[1] / b[1]].map(Math.trunc);
    return wrapped(Math.min(...qs), Math.max(...qs));
  }
  return wrapped(-m, m);
}

function remRange(a: Itv, b: Itv): Itv {
  const m = Math.max(Math.abs(a[0]), Math.abs(a[1]), 0);
  const bound = Math.min(Math.max(Math.abs(b[0]), Math.abs(b[1])) - 1, m);
  if (a[0] >= 0) return [0, Math.min(a[1], bound)];
  if (a[1] <= 0) return [Math.max(a[0], -bound), 0];
  return [Math.max(a[0], -bound), Math.min(a[1], bound)];
}

// ---------------------------------------------------------------------------------------------
// The analysis

/**
 * The analysis of one function: `entry` holds the state at each reachable block's entry (after
 * the fixpoint and the descending passes), `edge` the state on an edge (null when it cannot be
 * taken), `sym` the symbol of a register (a length loaded twice is one symbol).
 */
class RangeAnalysis {
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

// ---------------------------------------------------------------------------------------------
// Removing and hoisting checks

/** The unchecked instruction a proven check becomes, or null when it goes entirely. */
function unchecked(i: Instr): Instr | null {
  if (i.k === 'chk' || i.k === 'chki') return null;
  const { site: _site, ...rest } = i;
  if (rest.k === 'bin') {
    if (rest.op === 'addo') return { ...rest, op: 'add' };
    if (rest.op === 'subo') return { ...rest, op: 'sub' };
    if (rest.op === 'mulo') return { ...rest, op: 'mul' };
  }
  if (rest.k === 'imm' && rest.op === 'addio') return { ...rest, op: 'addi' };
  return i;
}

/** Whether `i` is a check the analysis may remove (not a division: that one divides). */
function isRemovableCheck(i: Instr): boolean {
  return i.k === 'chk' || i.k === 'chki' || (i.k === 'bin' && (i.op === 'addo' || i.op === 'subo' || i.op === 'mulo')) || (i.k === 'imm' && i.op === 'addio');
}

/** Remove the checks the analysis proves; true when any went. */
function removeProven(fn: IrFunction): boolean {
  if (!fn.blocks.some((b) => b.instrs.some(isRemovableCheck))) return false;
  const a = new RangeAnalysis(fn);
  if (!a.run()) return false;
  let changed = false;
  for (const b of fn.blocks) {
    const entry = a.entry.get(b.id);
    if (!entry) continue; // unreachable: left to the clean-up
    const s = entry.clone();
    const divisions = new Map<VReg, { a: VReg; b: VReg }>();
    const out: Instr[] = [];
    for (const i of b.instrs) {
      let kept: Instr | null = i;
      if (isRemovableCheck(i) && a.proven(s, i, divisions)) {
        kept = unchecked(i);
        changed = true;
      }
      a.transfer(s, i);
      const d = instrDef(i);
      if (d !== null) for (const [q, x] of divisions) if (q === d || x.a === d || x.b === d) divisions.delete(q);
      if (i.k === 'bin' && i.op === 'div' && i.dst !== i.a && i.dst !== i.b) divisions.set(i.dst, { a: i.a, b: i.b });
      if (kept) out.push(kept);
    }
    b.instrs = out;
  }
  return changed;
}

/**
 * Bounds checks of a counted loop, moved before it. In an innermost loop
 *
 *     for (let i = start; i < n; i++) ... a[i + d] ...
 *
 * whose only way out is its test, with `i` going up by one, which runs no call, I/O or other
 * check, and where every check `chk i + d, len` (one length for all of them) runs on every
 * iteration before `i` is bumped, the indices checked are exactly start + d .. n - 1 + d. When
 * the analysis proves start + d >= 0 for the smallest d, one check of n - 1 + d for the largest
 * d, before the loop, fires exactly when the first failing check in the loop would (the largest
 * d fails first; with the same d, the first in program order, whose site it reports), and it runs
 * only when the loop is entered. The checks in the loop go.
 */
function hoistLoopChecks(fn: IrFunction): boolean {
  let changed = false;
  const loops = naturalLoops(fn).slice(0, MAX_LOOPS_TRANSFORMED); // innermost first (see cfg.ts)
  // One analysis serves every loop: a check put before one loop only narrows what reaches another.
  let analysis: RangeAnalysis | null | undefined;
  const analyse = (): RangeAnalysis | null => {
    if (analysis === undefined) {
      const a = new RangeAnalysis(fn);
      analysis = a.run() ? a : null;
    }
    return analysis;
  };
  for (const loop of loops) {
    if (loop.header === fn.blocks[0]!.id) continue;
    if (loops.some((o) => o !== loop && loop.body.has(o.header) && o.header !== loop.header)) continue; // innermost only
    const plan = planHoist(fn, loop.header, loop.body, analyse);
    if (!plan) continue;
    const pre = preheader(fn, loop.header, loop.body);
    const loc = plan.site.loc;
    const last = fn.nextVreg++;
    pre.instrs.push({ k: 'imm', op: 'addi', dst: last, a: plan.n, imm: plan.lastOffset, loc });
    if (plan.len.k === 'imm') pre.instrs.push({ k: 'chki', a: last, imm: plan.len.imm, loc, ...(plan.site.site ? { site: plan.site.site } : {}) });
    else pre.instrs.push({ k: 'chk', a: last, b: plan.len.reg, loc, ...(plan.site.site ? { site: plan.site.site } : {}) });
    for (const b of fn.blocks) if (loop.body.has(b.id)) b.instrs = b.instrs.filter((i) => !plan.checks.has(i));
    changed = true;
  }
  return changed;
}

interface HoistPlan {
  n: VReg;
  lastOffset: number;
  len: { k: 'imm'; imm: number } | { k: 'reg'; reg: VReg };
  site: Instr;
  checks: Set<Instr>;
}

function planHoist(fn: IrFunction, header: BlockId, body: Set<BlockId>, analyse: () => RangeAnalysis | null): HoistPlan | null {
  const byId = blockMap(fn);
  const preds = predecessors(fn);
  const latches = (preds.get(header) ?? []).filter((p) => body.has(p));
  if (latches.length !== 1) return null;
  const latch = byId.get(latches[0]!)!;
  const blocks = [...body].map((id) => byId.get(id)!);
  if (blocks.some((b) => b !== latch && successors(b.term).some((s) => !body.has(s)))) return null;
  const t = latch.term;
  if (t.k !== 'br' || t.t === t.f || (t.t !== header && t.f !== header) || body.has(t.t === header ? t.f : t.t)) return null;
  const cond = t.t === header ? t.cond : INVERSE_COND[t.cond];
  // The loop goes on while i < n (`lt i, n`) or i <= n (`ge n, i`).
  let i: VReg;
  let n: VReg;
  let inclusive: boolean;
  if (cond === 'lt') [i, n, inclusive] = [t.a, t.b, false];
  else if (cond === 'ge') [i, n, inclusive] = [t.b, t.a, true];
  else return null;
  const defsInLoop = new Map<VReg, Instr[]>();
  for (const b of blocks) for (const x of b.instrs) {
    const d = instrDef(x);
    if (d !== null) defsInLoop.set(d, [...(defsInLoop.get(d) ?? []), x]);
  }
  if (defsInLoop.has(n) || i === n) return null;
  const incs = defsInLoop.get(i);
  const inc = incs?.length === 1 ? incs[0]! : undefined;
  if (!inc || inc.k !== 'imm' || inc.op !== 'addi' || inc.a !== i || inc.imm !== 1 || !latch.instrs.includes(inc)) return null;
  const incAt = latch.instrs.indexOf(inc);
  const idom = dominators(fn);
  const checks: { instr: Instr; d: number }[] = [];
  let len: HoistPlan['len'] | undefined;
  for (const b of blocks) {
    for (const [at, x] of b.instrs.entries()) {
      if (x.k === 'call' || x.k === 'trap' || x.k === 'out' || x.k === 'outr' || x.k === 'in' || x.k === 'inr' || x.k === 'sys' || x.k === 'mtcr' || x.k === 'popf' || x.k === 'invlpg') return null;
      if (!mayTrap(x)) continue;
      if (x.k !== 'chk' && x.k !== 'chki') return null;
      const thisLen: HoistPlan['len'] = x.k === 'chki' ? { k: 'imm', imm: x.imm } : { k: 'reg', reg: x.b };
      if (thisLen.k === 'reg' && defsInLoop.has(thisLen.reg)) return null;
      if (len && (len.k !== thisLen.k || (len.k === 'imm' ? len.imm !== (thisLen as { imm: number }).imm : len.reg !== (thisLen as { reg: VReg }).reg))) return null;
      len = thisLen;
      // Every iteration runs it. It checks i + d, with i's value before the bump; an index
      // computed after the bump (`i++; a[i - 1]`) is one more than it says.
      if (!dominates(idom, b.id, latch.id)) return null;
      let d: number;
      if (x.a === i) d = b === latch && at > incAt ? 1 : 0;
      else {
        const xd = defsInLoop.get(x.a);
        const def = xd?.length === 1 ? xd[0]! : undefined;
        if (!def || def.k !== 'imm' || def.op !== 'addi' || def.a !== i) return null;
        const defBlock = blocks.find((bb) => bb.instrs.includes(def))!;
        if (!dominates(idom, defBlock.id, b.id)) return null;
        d = def.imm + (defBlock === latch && latch.instrs.indexOf(def) > incAt ? 1 : 0);
      }
      checks.push({ instr: x, d });
    }
  }
  if (checks.length === 0 || !len) return null;
  // The first index checked must be known non-negative: i's value on entry, plus the smallest d.
  const analysis = analyse();
  if (!analysis) return null;
  // And the loop must be entered only when its test holds (a do/while runs once regardless:
  // its last index is not n - 1 then).
  let startLo = Infinity;
  for (const p of preds.get(header) ?? []) {
    if (body.has(p)) continue;
    const s = analysis.edge(p, header);
    if (!s) continue;
    if (s.upperBound(analysis.sym(i), analysis.sym(n)) > (inclusive ? 0 : -1)) return null;
    startLo = Math.min(startLo, s.get(analysis.sym(i))[0]);
  }
  const dMin = Math.min(...checks.map((c) => c.d));
  const dMax = Math.max(...checks.map((c) => c.d));
  if (!(startLo + dMin >= 0)) return null;
  // The last index: n - 1 + d (i < n) or n + d (i <= n); the analysis showed i + d does not overflow.
  const lastOffset = dMax + (inclusive ? 0 : -1);
  if (lastOffset < -0x8000 || lastOffset > 0x7fff) return null;
  // The site reported: the first to run of the checks with the largest d (they all dominate the
  // latch, so they lie on one chain of dominators).
  const blockOf = (x: Instr): Block => blocks.find((bb) => bb.instrs.includes(x))!;
  const first = checks
    .filter((c) => c.d === dMax)
    .map((c) => c.instr)
    .reduce((a, b) => {
      const ba = blockOf(a);
      const bb = blockOf(b);
      if (ba === bb) return ba.instrs.indexOf(a) <= ba.instrs.indexOf(b) ? a : b;
      return dominates(idom, ba.id, bb.id) ? a : b;
    });
  const site = first;
  return { n, lastOffset, len, site, checks: new Set(checks.map((c) => c.instr)) };
}

/**
 * Remove the checks the range analysis proves, and move the bounds checks of counted loops
 * before them (then the analysis runs again, since the moved checks prove more). True when the
 * function changed.
 */
export function eliminateChecks(fn: IrFunction): boolean {
  let changed = removeProven(fn);
  if (hoistLoopChecks(fn)) {
    changed = true;
    removeProven(fn);
  }
  return changed;
}


/**
 * The run-time checks a function keeps (checking instructions other than divisions, which
 * divide), and how many of them sit inside loops: CompileStats.checks and checksInLoops.
 */
export function countChecks(fn: IrFunction): { checks: number; inLoops: number } {
  const inLoop = new Set<BlockId>();
  for (const l of naturalLoops(fn)) for (const b of l.body) inLoop.add(b);
  let checks = 0;
  let inLoops = 0;
  for (const b of fn.blocks) {
    for (const i of b.instrs) {
      if (!i.site || i.site.kind === 'division-by-zero' || !mayTrap(i)) continue;
      checks++;
      if (inLoop.has(b.id)) inLoops++;
    }
  }
  return { checks, inLoops };
}
