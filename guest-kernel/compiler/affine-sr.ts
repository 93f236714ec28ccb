/**
 * Stage 4, loops, after induction.ts: strength reduction of addresses that are affine in an
 * induction variable with a loop-invariant part, the indexing of a row-major matrix. In the inner
 * loop of a matrix multiply, `s += A[i * N + k] * B[k * N + j]`, the two element addresses are
 *
 *     &A + ((i*N + k) << 2)      = (&A + (i*N << 2)) + 4k
 *     &B + ((k*N + j) << 2)      = (&B + (j << 2))   + 4N k
 *
 * each `pointer + c*k` with the pointer invariant. induction.ts handles `base + ((k + d) << s)`
 * only; here any chain of `add inv`, `addi d`, `muli c` and `shli s` from k to the address gives
 * a pointer set in the preheader and bumped by `c * step` where k is incremented, and the index
 * arithmetic leaves the loop (13 instructions per iteration in the matrix multiply become 7).
 * When k then serves only its increment and the exit test, the test moves to the pointer (linear
 * function test replacement) and k goes too.
 *
 * Arithmetic is the same modulo 2^32 as the code it replaces, so every value is unchanged. Only
 * chains of the wrapping forms (add, addi, muli, shli) are rewritten: a checking form (addo,
 * mulo) is a run-time check the program must keep, so a chain through one is left alone. Only
 * addresses used solely by typed-array or string accesses qualify (static objects, low in the
 * image, so the pointer comparison of the exit test cannot wrap where the index would not).
 */
import { blockMap, dominates, dominators, forEachLoop, liveness, loopDefs, predecessors } from './cfg.ts';
import { type Block, type BlockId, type Instr, type IrFunction, type Term, type VReg, instrDef, instrUses, mapTermUses, newVreg, successors, termUses } from './ir.ts';
import { eliminateDeadCode } from './dead-code.ts';
import { preheader } from './preheader.ts';

const S16 = (v: number): boolean => v >= -0x8000 && v <= 0x7fff;
/** New pointers per loop: each takes a register across the loop. */
const MAX_POINTERS = 4;

/** value = coef * i + (inv << invShift) + disp, with inv invariant in the loop. */
interface Affine {
  coef: number;
  inv: VReg | null;
  invShift: number;
  disp: number;
  /** The loop instructions computing it from i: removed when nothing else reads them. */
  chain: Instr[];
}

interface AddressSite {
  block: Block;
  instr: Instr;
  base: VReg;
  form: Affine;
}

export function reduceAffineAddresses(fn: IrFunction): boolean {
  return forEachLoop(fn, (loop) => reduceLoop(fn, loop.header, loop.body));
}

function reduceLoop(fn: IrFunction, header: BlockId, body: Set<BlockId>): boolean {
  const byId = blockMap(fn);
  const blocks = [...body].map((id) => byId.get(id)!);
  const defs = loopDefs(blocks);
  const invariant = (v: VReg): boolean => !defs.has(v);
  const headerLive = liveness(fn).liveIn.get(header)!;
  // Uses of every register in the whole function, to know what a rewrite leaves behind.
  const uses = new Map<VReg, Instr[]>();
  const termUsers = new Set<VReg>();
  // Registers assigned once in the function, by a constant.
  const defCount = new Map<VReg, number>();
  const consts = new Map<VReg, number>();
  for (const b of fn.blocks) {
    for (const i of b.instrs) {
      for (const u of instrUses(i)) {
        const list = uses.get(u);
        if (list) list.push(i);
        else uses.set(u, [i]);
      }
      const d = instrDef(i);
      if (d !== null) {
        defCount.set(d, (defCount.get(d) ?? 0) + 1);
        if (i.k === 'li') consts.set(d, i.value);
      }
    }
    for (const u of termUses(b.term)) termUsers.add(u);
  }
  for (const [d, n] of defCount) if (n !== 1) consts.delete(d);
  for (const p of fn.params) consts.delete(p);

  let changed = false;
  for (const [v, sites] of defs) {
    if (sites.length !== 1 || !headerLive.has(v)) continue;
    const inc = sites[0]!;
    const i = inc.instr;
    if (!(i.k === 'imm' && i.op === 'addi' && i.dst === v && i.a === v)) continue;
    const step = i.imm;
    const found = addressSites(v, blocks, defs, invariant, uses, termUsers, consts);
    if (found.length === 0) continue;
    const groups = new Map<string, AddressSite[]>();
    for (const a of found) {
      const key = `${a.base}:${a.form.coef}:${a.form.inv}:${a.form.invShift}`;
      groups.set(key, [...(groups.get(key) ?? []), a]);
    }
    if (groups.size > MAX_POINTERS) continue;
    rewrite(fn, header, body, v, inc, step, [...groups.values()]);
    changed = true;
    break; // the analyses above are stale; forEachLoop's caller re-runs from a fresh state
  }
  if (changed) {
    // The index arithmetic the pointers replaced still reads v until dead code goes.
    eliminateDeadCode(fn);
    replaceExitTest(fn, header, body);
  }
  return changed;
}

/** The affine form of `x` in terms of `v`, through single-assignment wrapping arithmetic. */
function affineOf(x: VReg, v: VReg, defs: Map<VReg, { block: Block; instr: Instr }[]>, invariant: (r: VReg) => boolean, consts: Map<VReg, number>, depth = 0): Affine | null {
  if (x === v) return { coef: 1, inv: null, invShift: 0, disp: 0, chain: [] };
  const d = defs.get(x);
  if (depth > 8 || d?.length !== 1) return null;
  const i = d[0]!.instr;
  if (i.site) return null;
  if (i.k === 'imm') {
    const inner = affineOf(i.a, v, defs, invariant, consts, depth + 1);
    if (!inner) return null;
    const chain = [...inner.chain, i];
    if (i.op === 'addi') return { ...inner, disp: inner.disp + i.imm, chain };
    if (i.op === 'muli' && inner.inv === null) return { ...inner, coef: Math.imul(inner.coef, i.imm), disp: Math.imul(inner.disp, i.imm), chain };
    if (i.op === 'shli' && i.imm >= 0 && i.imm <= 15) {
      return { coef: inner.coef << i.imm, inv: inner.inv, invShift: inner.invShift + i.imm, disp: inner.disp << i.imm, chain };
    }
    return null;
  }
  if (i.k === 'bin' && (i.op === 'mul' || i.op === 'shl')) {
    // A constant operand in a register: the range analysis turns a proven `mulo` back into `mul`
    // after the constant was hoisted out of reach of the immediate forms.
    const c = consts.get(i.b) ?? (i.op === 'mul' ? consts.get(i.a) : undefined);
    if (c === undefined) return null;
    const other = consts.has(i.b) ? i.a : i.b;
    const inner = affineOf(other, v, defs, invariant, consts, depth + 1);
    if (!inner) return null;
    const chain = [...inner.chain, i];
    if (i.op === 'mul' && inner.inv === null) return { ...inner, coef: Math.imul(inner.coef, c), disp: Math.imul(inner.disp, c), chain };
    if (i.op === 'shl' && c >= 0 && c <= 15) return { coef: inner.coef << c, inv: inner.inv, invShift: inner.invShift + c, disp: inner.disp << c, chain };
    return null;
  }
  if (i.k === 'bin' && i.op === 'add') {
    for (const [a, b] of [
      [i.a, i.b],
      [i.b, i.a],
    ] as const) {
      if (!invariant(b) || b === v) continue;
      const inner = affineOf(a, v, defs, invariant, consts, depth + 1);
      if (inner && inner.inv === null && inner.coef !== 0) return { ...inner, inv: b, invShift: 0, chain: [...inner.chain, i] };
    }
  }
  return null;
}

/**
 * `dst = base + x`, base invariant, x affine in v with something to gain (an invariant part, or a
 * coefficient that is not a shift induction.ts would have taken), dst read only as the base of
 * typed-array or string accesses, and every step of the chain read only by the chain.
 */
function addressSites(
  v: VReg,
  blocks: Block[],
  defs: Map<VReg, { block: Block; instr: Instr }[]>,
  invariant: (r: VReg) => boolean,
  uses: Map<VReg, Instr[]>,
  termUsers: Set<VReg>,
  consts: Map<VReg, number>,
): AddressSite[] {
  const out: AddressSite[] = [];
  for (const block of blocks) {
    for (const instr of block.instrs) {
      if (instr.k !== 'bin' || instr.op !== 'add' || instr.site) continue;
      for (const [base, x] of [
        [instr.a, instr.b],
        [instr.b, instr.a],
      ] as const) {
        if (!invariant(base) || x === v) continue;
        const form = affineOf(x, v, defs, invariant, consts);
        if (!form || form.coef === 0 || form.chain.length === 0) continue;
        if (!S16(form.disp) || !S16(form.coef)) continue;
        const dst = instr.dst;
        if (termUsers.has(dst)) continue;
        const readers = uses.get(dst) ?? [];
        if (readers.length === 0 || !readers.every((r) => (r.k === 'load' || r.k === 'store') && r.base === dst && r.mem.kind !== 'raw' && (r.k !== 'store' || r.src !== dst))) continue;
        const chainSet = new Set<Instr>([...form.chain, instr]);
        const closed = form.chain.every((c) => {
          const d = instrDef(c)!;
          return !termUsers.has(d) && (uses.get(d) ?? []).every((r) => chainSet.has(r));
        });
        if (!closed) continue;
        out.push({ block, instr, base, form });
        break;
      }
    }
  }
  return out;
}

function rewrite(fn: IrFunction, header: BlockId, body: Set<BlockId>, v: VReg, inc: { block: Block; instr: Instr }, step: number, groups: AddressSite[][]): void {
  const pre = preheader(fn, header, body);
  const loc = inc.instr.loc;
  const emit = (i: Instr): void => void pre.instrs.push({ ...i, loc } as Instr);
  const bumps: Instr[] = [];
  for (const g of groups) {
    const { base, form } = g[0]!;
    // p = base + coef * v + (inv << invShift), computed from v's value on entry.
    const scaled = newVreg(fn);
    emit({ k: 'imm', op: 'muli', dst: scaled, a: v, imm: form.coef });
    let start = newVreg(fn);
    emit({ k: 'bin', op: 'add', dst: start, a: base, b: scaled });
    if (form.inv !== null) {
      let part = form.inv;
      if (form.invShift > 0) {
        part = newVreg(fn);
        emit({ k: 'imm', op: 'shli', dst: part, a: form.inv, imm: form.invShift });
      }
      const next = newVreg(fn);
      emit({ k: 'bin', op: 'add', dst: next, a: start, b: part });
      start = next;
    }
    const p = newVreg(fn);
    emit({ k: 'mov', dst: p, src: start });
    const delta = Math.imul(form.coef, step);
    if (S16(delta)) bumps.push({ k: 'imm', op: 'addi', dst: p, a: p, imm: delta, loc });
    else {
      const d = newVreg(fn);
      emit({ k: 'li', dst: d, value: delta });
      bumps.push({ k: 'bin', op: 'add', dst: p, a: p, b: d, loc });
    }
    for (const a of g) {
      const at = a.block.instrs.indexOf(a.instr);
      const dst = instrDef(a.instr)!;
      a.block.instrs[at] = a.form.disp === 0 ? { k: 'mov', dst, src: p, loc: a.instr.loc } : { k: 'imm', op: 'addi', dst, a: p, imm: a.form.disp, loc: a.instr.loc };
    }
  }
  // Bump the pointers right after v's increment, so each equals base + coef*v + ... wherever v is read.
  const at = inc.block.instrs.indexOf(inc.instr);
  inc.block.instrs.splice(at + 1, 0, ...bumps);
}

/**
 * Linear function test replacement: when the induction variable `v` is read only by its increment
 * and the loop's exit tests against an invariant `n`, and a pointer `p = start + c*v` (c > 0, a
 * bump right after v's increment) addresses an access on every iteration, the tests compare p
 * with `start + c*n` and v leaves the loop. Not when v is read after the loop.
 */
function replaceExitTest(fn: IrFunction, header: BlockId, body: Set<BlockId>): void {
  const byId = blockMap(fn);
  const blocks = [...body].map((id) => byId.get(id)!);
  const defsIn = loopDefs(blocks);
  const invariant = (r: VReg): boolean => !defsIn.has(r);
  const { liveIn } = liveness(fn);
  const exits = new Set(blocks.flatMap((b) => successors(b.term)).filter((s) => !body.has(s)));
  const preds = predecessors(fn);
  const latches = (preds.get(header) ?? []).filter((p) => body.has(p));
  const idom = dominators(fn);
  const everyIteration = (id: BlockId): boolean => latches.every((l) => dominates(idom, id, l));

  for (const block of blocks) {
    for (let k = 0; k < block.instrs.length; k++) {
      const inc = block.instrs[k]!;
      if (!(inc.k === 'imm' && inc.op === 'addi' && inc.dst === inc.a)) continue;
      const v = inc.dst;
      if (defsIn.get(v)?.length !== 1 || [...exits].some((e) => liveIn.get(e)!.has(v))) continue;
      // The bump that follows it: `addi p, p, c*step` with p defined only there in the loop.
      const bump = block.instrs[k + 1];
      if (!(bump && bump.k === 'imm' && bump.op === 'addi' && bump.dst === bump.a && defsIn.get(bump.dst)?.length === 1)) continue;
      if (inc.imm <= 0 || bump.imm <= 0 || bump.imm % inc.imm !== 0) continue;
      const p = bump.dst;
      const c = bump.imm / inc.imm;
      if (!accessedEveryIteration(p, blocks, everyIteration)) continue;
      // v may be read only by its increment and by exit tests against an invariant.
      const tests: Extract<Term, { k: 'br' }>[] = [];
      let ok = true;
      for (const b of blocks) {
        for (const i of b.instrs) if (i !== inc && instrUses(i).includes(v)) ok = false;
        const t = b.term;
        if (!termUses(t).includes(v)) continue;
        if (t.k === 'br' && ['lt', 'ge', 'eq', 'ne'].includes(t.cond) && (t.a === v ? t.b !== v && invariant(t.b) : invariant(t.a))) tests.push(t);
        else ok = false;
      }
      if (!ok || tests.length === 0) continue;
      // p = start + c*v on entry: start = p - c*v, the limit start + c*n.
      const pre = preheader(fn, header, body);
      const loc = inc.loc;
      const limits = new Map<VReg, VReg>();
      for (const t of tests) {
        const n = t.a === v ? t.b : t.a;
        let lim = limits.get(n);
        if (lim === undefined) {
          const dn = newVreg(fn);
          const diff = newVreg(fn);
          const cv = newVreg(fn);
          lim = newVreg(fn);
          pre.instrs.push(
            { k: 'bin', op: 'sub', dst: diff, a: n, b: v, loc },
            { k: 'imm', op: 'muli', dst: dn, a: diff, imm: c, loc },
            { k: 'mov', dst: cv, src: p, loc },
            { k: 'bin', op: 'add', dst: lim, a: cv, b: dn, loc },
          );
          limits.set(n, lim);
        }
        const l = lim;
        mapTermUses(t, (x) => (x === v ? p : x === n ? l : x));
      }
      block.instrs.splice(k, 1);
      return;
    }
  }
}

function accessedEveryIteration(p: VReg, blocks: Block[], everyIteration: (id: BlockId) => boolean): boolean {
  const derived = new Set<VReg>([p]);
  for (const b of blocks) for (const i of b.instrs) if ((i.k === 'mov' && derived.has(i.src)) || (i.k === 'imm' && i.op === 'addi' && derived.has(i.a) && i.dst !== i.a)) derived.add(i.dst);
  return blocks.some((b) => everyIteration(b.id) && b.instrs.some((i) => (i.k === 'load' || i.k === 'store') && i.mem.kind !== 'raw' && derived.has(i.base)));
}
