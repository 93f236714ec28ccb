/**
 * Stage 4, run-time checks: a range analysis over the IR that removes the checks it proves can
 * never fire, and moves the bounds checks of simple counted loops to one check before the loop.
 *
 * The checks (lowered by checks.ts) are `addo`/`subo`/`mulo`/`addio` (#OF when the exact result
 * leaves int32), `chk`/`chki` (#BR unless an index is below a length, unsigned), and the `chki`
 * that ends the product check of a wrapping multiplication. A check is proven when the values
 * that reach it cannot make it fire: then `addo` becomes `add`, a bounds check goes.
 *
 * This file removes and moves the checks; the analysis that proves them is range-analysis.ts,
 * over the facts (intervals and `x <= y + c` relations) of range-domain.ts. A function too large
 * for the analysis to be cheap (see MAX_WORK there) keeps all its checks.
 */
import { blockMap, dominates, dominators, MAX_LOOPS_TRANSFORMED, naturalLoops, predecessors } from './cfg.ts';
import { type Block, type BlockId, type Instr, type IrFunction, type VReg, INVERSE_COND, instrDef, mayTrap, successors } from './ir.ts';
import { preheader } from './preheader.ts';
import { RangeAnalysis } from './range-analysis.ts';

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
