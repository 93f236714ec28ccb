/**
 * Stage 4, loops: unrolling of small one-block loops that walk a pointer with a constant step
 * (what strength reduction in induction.ts leaves behind for `for (...; i < n; i++) a[i] ...`).
 *
 * The machine pays for every instruction, and in such a loop the bump and the test are a large
 * share: `stb; addi; blt` spends two of three instructions on bookkeeping. The unrolled loop runs
 * U copies of the body, the pointer `q` kept U-1 steps ahead so that one test of `q` against the
 * bound says all U iterations are due, and the accesses of copy k use the offset (k - (U-1)) * step:
 *
 *     guard:  q = p + (U-1)c;  if !(q < lim) goto loop      (fewer than U left: the plain loop)
 *     wide:   body[q - (U-1)c] ... body[q];  q += U*c;  if q < lim goto wide
 *     tail:   p = q - (U-1)c;  if p < lim goto loop else exit
 *     loop:   the original loop, which finishes the last few
 *
 * Only the body's first copy may run without its test passing, as in the original (a do/while's
 * first iteration). The pointer must be used only as the base of typed-array or string accesses:
 * those are static objects, low in the image, so `p + (U-1)c` cannot wrap past 2^31 (the same
 * argument as for the tests induction.ts rewrites).
 */
import { blockMap, liveness, type Loop, MAX_LOOPS_TRANSFORMED, naturalLoops, predecessors } from './cfg.ts';
import { type Block, type BlockId, type Cond, type Instr, type IrFunction, type VReg, INVERSE_COND, instrDef, instrUses, mapInstrUses, mapTermUses, newVreg, termUses } from './ir.ts';
import { preheader } from './preheader.ts';

const S16 = (v: number): boolean => v >= -0x8000 && v <= 0x7fff;
/** Body size (instructions besides the bump) up to which a loop is unrolled 4 times, then 2. */
const MAX_BODY_FOR_4 = 10;
const MAX_BODY_FOR_2 = 20;

export function unrollLoops(fn: IrFunction): boolean {
  let changed = false;
  // Innermost first, each loop of the source once: the wide loops unrolling makes are left alone.
  const original = new Set(naturalLoops(fn).map((x) => x.header));
  const done = new Set<BlockId>();
  for (;;) {
    if (done.size >= MAX_LOOPS_TRANSFORMED) return changed; // see there
    const loop = naturalLoops(fn).find((x) => original.has(x.header) && !done.has(x.header));
    if (!loop) return changed;
    done.add(loop.header);
    if (loop.header !== fn.blocks[0]!.id && unrollOne(fn, loop)) changed = true;
  }
  return changed;
}

interface Shape {
  p: VReg;
  step: number;
  inc: number;
  /** The test that continues the loop, with p and the bound in their places. */
  cond: Cond;
  pFirst: boolean;
  lim: VReg;
  exit: BlockId;
}

/** The pointer, its bump and the continue test of a loop's latch `h`, or null when it has another shape. */
function shapeOf(h: Block, header: BlockId): Shape | null {
  const t = h.term;
  if (t.k !== 'br' || t.t === t.f || (t.t !== header && t.f !== header)) return null;
  const cond = t.t === header ? t.cond : INVERSE_COND[t.cond];
  const exit = t.t === header ? t.f : t.t;
  if (cond !== 'lt' && cond !== 'ge') return null;
  for (const [p, lim, pFirst] of [
    [t.a, t.b, true],
    [t.b, t.a, false],
  ] as const) {
    if (p === lim) continue;
    const defs = h.instrs.flatMap((i, at) => (instrDef(i) === p ? [at] : []));
    const limDefined = h.instrs.some((i) => instrDef(i) === lim);
    if (defs.length !== 1 || limDefined) continue;
    const inc = h.instrs[defs[0]!]!;
    if (inc.k !== 'imm' || inc.op !== 'addi' || inc.a !== p || inc.imm === 0) continue;
    // `p < lim` needs p to grow; `p >= lim` to shrink (and the mirror images for `lim < p`, `lim >= p`).
    const grows = (cond === 'lt') === pFirst;
    if (grows !== inc.imm > 0) continue;
    return { p, step: inc.imm, inc: defs[0]!, cond, pFirst, lim, exit };
  }
  return null;
}

/**
 * Other pointers the body bumps by a constant and uses only as a base (`b[i] = a[i]` walks two):
 * the copies address them at k steps ahead and the wide loop bumps each once. They take no part
 * in the test, so any memory kind will do: the offsets give exactly the addresses the bumps would.
 */
function otherWalkers(h: Block, s: Shape, u: number): { v: VReg; step: number; inc: number }[] {
  const out: { v: VReg; step: number; inc: number }[] = [];
  for (const [at, i] of h.instrs.entries()) {
    if (at === s.inc || i.k !== 'imm' || i.op !== 'addi' || i.a !== i.dst || i.dst === s.p || i.dst === s.lim) continue;
    const v = i.dst;
    if (h.instrs.some((x, j) => j !== at && instrDef(x) === v) || !S16(u * i.imm)) continue;
    const t = h.term;
    if (t.k === 'br' && (t.a === v || t.b === v)) continue;
    const fits = h.instrs.every((x, j) => {
      if (j === at || !instrUses(x).includes(v)) return true;
      if ((x.k !== 'load' && x.k !== 'store') || x.base !== v || (x.k === 'store' && x.src === v)) return false;
      for (let k = 0; k < u; k++) if (!S16(x.offset + k * i.imm + (j > at ? i.imm : 0))) return false;
      return true;
    });
    if (fits) out.push({ v, step: i.imm, inc: at });
  }
  return out;
}

function unrollOne(fn: IrFunction, loop: Loop): boolean {
  const byId = blockMap(fn);
  const h = byId.get(loop.header)!;
  const latches = (predecessors(fn).get(h.id) ?? []).filter((b) => loop.body.has(b));
  if (latches.length !== 1) return false;
  const l = byId.get(latches[0]!)!;
  const s = shapeOf(l, h.id);
  if (!s || loop.body.has(s.exit)) return false;
  // Either the loop is one block, or the hot path is the header then the latch, and the header's
  // other way out (the `if` arm, a `break`) is a side exit that the copies leave by.
  let side: BlockId | null = null;
  if (l !== h) {
    const t = h.term;
    if (t.k !== 'br' || t.t === t.f || (t.t !== l.id && t.f !== l.id) || termUses(t).includes(s.p)) return false;
    side = t.t === l.id ? t.f : t.t;
  } else if (loop.body.size !== 1) return false;
  const hot = l === h ? [h] : [h, l];
  const size = hot.reduce((n, b) => n + b.instrs.length, 0) - 1;
  const u = size <= MAX_BODY_FOR_4 ? 4 : size <= MAX_BODY_FOR_2 ? 2 : 1;
  if (u === 1 || !S16(u * s.step)) return false;
  /** How far past p's value at the start of the iteration an instruction of the latch sees it. */
  const past = (b: Block, at: number): number => (b === l && at > s.inc ? s.step : 0);
  // Every other use of p is the base of a static-object access at an offset the copies can shift.
  let accesses = 0;
  for (const b of hot) {
    for (const [at, i] of b.instrs.entries()) {
      if (i.k === 'call' || i.k === 'callr' || i.k === 'trap') return false;
      if ((b === l && at === s.inc) || !instrUses(i).includes(s.p)) continue;
      if ((i.k !== 'load' && i.k !== 'store') || i.mem.kind === 'raw' || i.base !== s.p || (i.k === 'store' && i.src === s.p)) return false;
      for (let k = 0; k < u; k++) if (!S16(i.offset + (k - (u - 1)) * s.step + past(b, at))) return false;
      accesses++;
    }
  }
  if (accesses === 0) return false;
  // With side exits every register must hold its true value when a copy leaves, so only p is
  // kept virtual there; other pointers are folded into offsets in one-block loops only.
  const walkers = side === null ? otherWalkers(h, s, u) : [];

  // Values born and dead within one iteration get their own registers in each copy, so the copies
  // do not stretch one live range over the whole unrolled block.
  const { liveIn, liveOut } = liveness(fn);
  const local = new Set<VReg>();
  for (const b of hot) {
    for (const i of b.instrs) {
      const d = instrDef(i);
      if (d !== null && hot.every((x) => !liveIn.get(x.id)!.has(d) && !liveOut.get(x.id)!.has(d))) local.add(d);
    }
  }

  const pre = preheader(fn, h.id, loop.body);
  if (pre.term.k !== 'jmp' || pre.term.target !== h.id) return false;
  const q = newVreg(fn);
  const nextId = ((): (() => BlockId) => {
    let id = Math.max(...fn.blocks.map((b) => b.id));
    return () => ++id;
  })();
  const loc = l.instrs[s.inc]!.loc;
  const test = (x: VReg, t: BlockId, f: BlockId): Block['term'] => ({
    k: 'br',
    cond: s.cond,
    a: s.pFirst ? x : s.lim,
    b: s.pFirst ? s.lim : x,
    t,
    f,
    loc: l.term.loc,
  });
  const copyOf = (b: Block, k: number, rename: Map<VReg, VReg>): Instr[] =>
    b.instrs.flatMap((orig, at) => {
      if ((b === l && at === s.inc) || walkers.some((w) => w.inc === at)) return [];
      const i = structuredClone(orig);
      mapInstrUses(i, (v) => (v === s.p ? q : (rename.get(v) ?? v)));
      const d = instrDef(i);
      if (d !== null && rename.has(d)) (i as { dst: VReg }).dst = rename.get(d)!;
      if (i.k === 'load' || i.k === 'store') {
        if (i.base === q) i.offset += (k - (u - 1)) * s.step + past(b, at);
        const w = walkers.find((x) => x.v === i.base);
        if (w) i.offset += k * w.step + (at > w.inc ? w.step : 0);
      }
      return [i];
    });

  const guardId = nextId();
  const tailId = nextId();
  const bumps: Instr[] = [
    ...walkers.map((w): Instr => ({ k: 'imm', op: 'addi', dst: w.v, a: w.v, imm: u * w.step, loc })),
    { k: 'imm', op: 'addi', dst: q, a: q, imm: u * s.step, loc },
  ];
  const added: Block[] = [];
  if (side === null) {
    const wideId = nextId();
    const copies: Instr[] = [];
    for (let k = 0; k < u; k++) copies.push(...copyOf(h, k, new Map([...local].map((v) => [v, newVreg(fn)]))));
    added.push({ id: wideId, instrs: [...copies, ...bumps], term: test(q, wideId, tailId) });
  } else {
    // Block k holds the latch's copy k-1 and the header's copy k, ending in the side test; the
    // last one the latch's last copy and the bump. A side exit first makes p true again.
    const ids = Array.from({ length: u + 1 }, () => nextId());
    let carried: Instr[] = [];
    const hTerm = h.term as Extract<Block['term'], { k: 'br' }>;
    for (let k = 0; k < u; k++) {
      const rename = new Map([...local].map((v) => [v, newVreg(fn)]));
      const exitId = nextId();
      const term = structuredClone(hTerm);
      mapTermUses(term, (v) => rename.get(v) ?? v);
      term.t = term.t === l.id ? ids[k + 1]! : exitId;
      term.f = term.f === l.id ? ids[k + 1]! : exitId;
      added.push({ id: ids[k]!, instrs: [...carried, ...copyOf(h, k, rename)], term });
      added.push({ id: exitId, instrs: [{ k: 'imm', op: 'addi', dst: s.p, a: q, imm: (k - (u - 1)) * s.step, loc }], term: { k: 'jmp', target: side, loc } });
      carried = copyOf(l, k, rename);
    }
    added.push({ id: ids[u]!, instrs: [...carried, ...bumps], term: test(q, ids[0]!, tailId) });
    added.unshift(...added.splice(added.findIndex((b) => b.id === ids[0]), 1));
    // The slow loop goes back through the guard, so that after a side exit the copies resume.
    const lt = l.term as Extract<Block['term'], { k: 'br' }>;
    if (lt.t === h.id) lt.t = guardId;
    else lt.f = guardId;
  }
  const wideId = added[0]!.id;
  const tail: Block = { id: tailId, instrs: [{ k: 'imm', op: 'addi', dst: s.p, a: q, imm: -(u - 1) * s.step, loc }], term: test(s.p, h.id, s.exit) };
  const guard: Block = { id: guardId, instrs: [{ k: 'imm', op: 'addi', dst: q, a: s.p, imm: (u - 1) * s.step, loc }], term: test(q, wideId, h.id) };
  pre.term = { k: 'jmp', target: guardId, loc: pre.term.loc };
  const at = fn.blocks.indexOf(h);
  fn.blocks.splice(at, 0, guard, ...added, tail);
  return true;
}
