/**
 * The abstract domain of the range analysis (range-analysis.ts): the facts it keeps at a program
 * point, how facts from two paths join and how a loop header widens them, and interval arithmetic
 * for the IR's operations. Kept apart from the walk over the CFG so that the lattice can be read
 * (and its caps checked) on its own.
 *
 * Two kinds of facts per program point:
 * - an interval [lo, hi] per virtual register (constants, `& mask`, `>>> k`, `% n`, byte and
 *   halfword loads, lengths, and the arithmetic on them);
 * - upper bounds relative to other registers, `x <= y + c` (the part of the pentagon domain of
 *   Logozzo and Fähndrich, 2008, that bounds checks need, with constants as in ABCD, Bodík, Gupta
 *   and Sarkar, 2000): a loop test `i < n` gives `i <= n - 1`, a passed `chk i, len` gives
 *   `i <= len - 1`, `j = i - 1` gives `j <= i - 1`, so the inner loop of an insertion sort needs
 *   no check once the outer loop has checked `a[i]`.
 */

export const MIN = -0x80000000;
export const MAX = 0x7fffffff;
/** Lengths of arrays and strings: below the largest memory a machine has (limits.ts), in bytes. */
export const MAX_LENGTH = 1 << 30;
/** Relations kept per register, and registers with relations: enough for a loop nest, and the state stays small. */
const MAX_RELATIONS = 12;
const MAX_SUBJECTS = 256;

export type Itv = readonly [number, number];
export const TOP: Itv = [MIN, MAX];

/** A symbol of the relational facts: a register, or the length of the array at a register (negative). */
export type Sym = number;

export class State {
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

export function join(a: State, b: State): State {
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
export function widen(old: State, next: State, assigned: Set<Sym>, thresholds: readonly number[], all: boolean): State {
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
export function seedCounters(entering: State, assigned: Set<Sym>): void {
  const counters: [Sym, number][] = [];
  for (const [k, x] of entering.iv) {
    if (x[0] === x[1] && assigned.has(k)) counters.push([k, x[0]]);
    if (counters.length >= MAX_COUNTERS) break;
  }
  for (const [x, vx] of counters) for (const [y, vy] of counters) if (x !== y) entering.addRel(x, y, vx - vy);
}

/** In `acc`, the facts about registers `assigned` does not hold taken from `entering`. */
export function keepFromEntry(acc: State, entering: State, assigned: Set<Sym>): void {
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

export function sameState(a: State, b: State): boolean {
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

export const inInt32 = (lo: number, hi: number): boolean => lo >= MIN && hi <= MAX;
/** A result that wraps in int32 when it leaves the range: nothing is known then. */
export const wrapped = (lo: number, hi: number): Itv => (inInt32(lo, hi) ? [lo, hi] : TOP);
/** The result of a checked operation that did not trap. */
export const clamped = (lo: number, hi: number): Itv => [Math.max(lo, MIN), Math.min(hi, MAX)];

export function mulRange(a: Itv, b: Itv): [number, number] {
  const ps = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]];
  return [Math.min(...ps), Math.max(...ps)];
}

export function mulhRange(a: Itv, b: Itv): Itv {
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

export function andRange(a: Itv, b: Itv): Itv {
  if (a[0] >= 0 && b[0] >= 0) return [0, Math.min(a[1], b[1])];
  if (a[0] >= 0) return [0, a[1]];
  if (b[0] >= 0) return [0, b[1]];
  return TOP;
}

export function orRange(a: Itv, b: Itv): Itv {
  if (a[0] >= 0 && b[0] >= 0) return [0, 2 ** bitsFor(Math.max(a[1], b[1])) - 1];
  return TOP;
}

export function shiftLeft(a: Itv, k: number): Itv {
  const f = 2 ** (k & 31);
  return wrapped(a[0] * f, a[1] * f);
}

export function shiftRightLogical(a: Itv, k: number): Itv {
  k &= 31;
  if (k === 0) return a;
  if (a[0] >= 0) return [a[0] >>> k, a[1] >>> k];
  return [0, 0xffffffff >>> k];
}

export function shiftRightArith(a: Itv, k: number): Itv {
  k &= 31;
  return [a[0] >> k, a[1] >> k];
}

export function divRange(a: Itv, b: Itv): Itv {
  const m = Math.max(Math.abs(a[0]), Math.abs(a[1]));
  if (b[0] > 0 || b[1] < 0) {
    const qs = [a[0] / b[0], a[0] / b[1], a[1] / b[0], a[1] / b[1]].map(Math.trunc);
    return wrapped(Math.min(...qs), Math.max(...qs));
  }
  return wrapped(-m, m);
}

export function remRange(a: Itv, b: Itv): Itv {
  const m = Math.max(Math.abs(a[0]), Math.abs(a[1]), 0);
  const bound = Math.min(Math.max(Math.abs(b[0]), Math.abs(b[1])) - 1, m);
  if (a[0] >= 0) return [0, Math.min(a[1], bound)];
  if (a[1] <= 0) return [Math.max(a[0], -bound), 0];
  return [Math.max(a[0], -bound), Math.min(a[1], bound)];
}
