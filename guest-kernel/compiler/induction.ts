/**
 * Stage 4, loops: strength reduction of array indexing on induction variables, and linear-function
 * test replacement (the classic pair; Cocke and Kennedy, Allen, Cocke and Kennedy 1981).
 *
 * In `for (let i = 0; i < n; i++) s += a[i]` each iteration computes the element address
 * `&a + (i << k)`, increments `i` and compares it with `n`. Here a pointer `p` that always equals
 * `&a + (i << k)` is kept beside `i` (set before the loop, bumped right after `i` is), so the
 * address costs nothing; then, when `i` is used for nothing else, the exit test compares `p` with
 * `&a + (n << k)` instead and `i` disappears from the loop. Uses of `i` in a rarely run part of the
 * loop (the `if` arm of the sieve) are rebuilt there as `p - &a`.
 *
 * Runs after loop constants are hoisted (the array's `la` sits in the preheader, invariant) and
 * before register allocation; valueNumbering and eliminateDeadCode clean up after it.
 */
import { blockMap, dominates, dominators, forEachLoop, liveness, loopDefs, predecessors } from './cfg.ts';
import { type Block, type BlockId, type Instr, type IrFunction, type Term, type VReg, instrDef, instrUses, mapInstrUses, mapSuccessors, mapTermUses, newVreg, successors, termUses } from './ir.ts';
import { preheader } from './preheader.ts';

const S16 = (v: number): boolean => v >= -0x8000 && v <= 0x7fff;

/** Where an instruction sits: its block and index. */
interface Site {
  block: Block;
  instr: Instr;
}

/** A basic induction variable: assigned once in the loop, by `i = i + step`. */
interface Biv {
  v: VReg;
  inc: Site;
  /** A constant step, or an invariant register holding it. */
  step: { imm: number } | { reg: VReg };
}

/** `a = base + (i << shift)` inside the loop, `base` invariant. */
interface AddressUse {
  site: Site;
  base: VReg;
  shift: number;
  /** The index computations between i and the add (`t = i + d`, `t = t << k`), which go with i. */
  temps: Site[];
  /** The address is `p + disp` (d << k bytes for `base + ((i + d) << k)`). */
  disp: number;
}

export function reduceInductionVariables(fn: IrFunction): boolean {
  return forEachLoop(fn, (loop) => {
    let changed = false;
    while (reduceOne(fn, loop.header, loop.body)) changed = true;
    return changed;
  });
}

/** Reduce one induction variable of the loop; false when none qualifies. */
function reduceOne(fn: IrFunction, header: BlockId, body: Set<BlockId>): boolean {
  const byId = blockMap(fn);
  const blocks = [...body].map((id) => byId.get(id)!);
  const defsInLoop: Map<VReg, Site[]> = loopDefs(blocks);
  const invariant = (v: VReg): boolean => !defsInLoop.has(v);
  const { liveIn } = liveness(fn);
  const headerLive = liveIn.get(header)!;
  const preds = predecessors(fn);
  const latches = (preds.get(header) ?? []).filter((p) => body.has(p));
  const idom = dominators(fn);
  const everyIteration = (id: BlockId): boolean => latches.every((l) => dominates(idom, id, l));
  const exits = new Set(blocks.flatMap((b) => successors(b.term)).filter((s) => !body.has(s)));

  for (const [v, sites] of defsInLoop) {
    if (sites.length !== 1 || !headerLive.has(v)) continue;
    const biv = asBiv(v, sites[0]!, invariant);
    if (!biv) continue;
    // Where i is still wanted after the loop (`return i` from a search), the exit edges rebuild it.
    const liveExits = [...exits].filter((e) => liveIn.get(e)!.has(v));
    const found = addressUses(v, blocks, defsInLoop, invariant);
    // The index computations go with i, so an address through them counts only when nothing but
    // address computations reads them.
    const readers = new Set(found.flatMap((a) => [a.site.instr, ...a.temps.map((t) => t.instr)]));
    const addresses = found.filter((a) => a.temps.every((t) => onlyReadBy(fn, instrDef(t.instr)!, readers)));
    if (addresses.length === 0) continue;
    // One pointer per (base, scale); i must end up used only by its increment, the addresses
    // and exit tests, and uses rebuilt from the unscaled pointer.
    const groups = new Map<string, AddressUse[]>();
    for (const a of addresses) groups.set(`${a.base}:${a.shift}`, [...(groups.get(`${a.base}:${a.shift}`) ?? []), a]);
    if (groups.size > 2) continue;
    const addressSites = new Set(addresses.map((a) => a.site.instr));
    const scaledDefs = new Set(addresses.flatMap((a) => a.temps.map((t) => t.instr)));
    // The exit tests: `br cond i, n` with n invariant.
    const tests: Block[] = [];
    const others: Site[] = [];
    let ok = true;
    for (const block of blocks) {
      for (const instr of block.instrs) {
        if (!instrUses(instr).includes(v) || instr === biv.inc.instr || addressSites.has(instr) || scaledDefs.has(instr)) continue;
        others.push({ block, instr });
      }
      const t = block.term;
      if (termUses(t).includes(v)) {
        if (t.k === 'br' && ['lt', 'ge', 'eq', 'ne'].includes(t.cond) && (t.a === v ? invariant(t.b) && t.b !== v : invariant(t.a))) tests.push(block);
        else ok = false;
      }
    }
    if (!ok || tests.length === 0) continue;
    // The tests compare pointers, which equals comparing indices unless `base + (n << k)` passes
    // 2^31. A typed-array or string access through the pointer on every iteration means the base
    // is a static object (they all lie low in the image) and the original loop would have indexed
    // it at such an address first: no static object lies there, so that is outside the subset's
    // contract (typed arrays have no bounds check) rather than a program whose meaning changes.
    const unscaled = [...groups.values()].find((g) => g[0]!.shift === 0);
    const lead = unscaled ?? [...groups.values()][0]!;
    if (!lead.some((a) => isAccessedEveryIteration(a.site, blocks, everyIteration))) continue;
    // Other uses of i are rebuilt as `p - base` at their nearest common dominator, which must run
    // less often than every iteration and must not see i change between it and the uses.
    let rebuildAt: Block | null = null;
    if (liveExits.length > 0 && !unscaled) continue;
    if (others.length > 0) {
      if (!unscaled) continue;
      const d = commonDominator(idom, others.map((o) => o.block.id));
      if (!body.has(d) || everyIteration(d) || d === biv.inc.block.id || others.some((o) => o.block === biv.inc.block)) continue;
      if (reachesAvoiding(byId, biv.inc.block.id, new Set(others.map((o) => o.block.id)), d, body)) continue;
      rebuildAt = byId.get(d)!;
    }
    const p = rewrite(fn, header, body, biv, [...groups.values()], tests, others, rebuildAt, unscaled);
    if (liveExits.length > 0) rebuildOnExits(fn, body, new Set(liveExits), biv.v, p, unscaled![0]!.base);
    return true;
  }
  return false;
}

/** On each edge from the loop to an exit in `exits`, a block setting i = p - base (p unscaled). */
function rebuildOnExits(fn: IrFunction, body: Set<BlockId>, exits: Set<BlockId>, i: VReg, p: VReg, base: VReg): void {
  let id = Math.max(...fn.blocks.map((b) => b.id));
  for (const b of fn.blocks.filter((x) => body.has(x.id))) {
    for (const e of successors(b.term)) {
      if (!exits.has(e)) continue;
      const edge: Block = { id: ++id, instrs: [{ k: 'bin', op: 'sub', dst: i, a: p, b: base, loc: b.term.loc }], term: { k: 'jmp', target: e, loc: b.term.loc } };
      mapSuccessors(b.term, (x) => (x === e ? edge.id : x));
      fn.blocks.push(edge);
    }
  }
}

function onlyReadBy(fn: IrFunction, v: VReg, readers: Set<Instr>): boolean {
  return fn.blocks.every((b) => !termUses(b.term).includes(v) && b.instrs.every((i) => readers.has(i) || !instrUses(i).includes(v)));
}

function asBiv(v: VReg, site: Site, invariant: (v: VReg) => boolean): Biv | null {
  const i = site.instr;
  if (i.k === 'imm' && i.op === 'addi' && i.dst === v && i.a === v) return { v, inc: site, step: { imm: i.imm } };
  if (i.k === 'bin' && i.op === 'add' && i.dst === v) {
    if (i.a === v && i.b !== v && invariant(i.b)) return { v, inc: site, step: { reg: i.b } };
    if (i.b === v && i.a !== v && invariant(i.a)) return { v, inc: site, step: { reg: i.a } };
  }
  return null;
}

/**
 * `a = base + x` where x is i, `i + d` (`t[i - 1]`), `i << k` or `(i + d) << k` (k <= 2), each
 * step assigned once in the loop; base invariant.
 */
function addressUses(v: VReg, blocks: Block[], defsInLoop: Map<VReg, Site[]>, invariant: (v: VReg) => boolean): AddressUse[] {
  const single = (x: VReg): Site | undefined => {
    const d = defsInLoop.get(x);
    return d?.length === 1 && x !== v ? d[0] : undefined;
  };
  const displaced = (x: VReg): { disp: number; temps: Site[] } | null => {
    if (x === v) return { disp: 0, temps: [] };
    const s = single(x);
    if (s?.instr.k === 'imm' && s.instr.op === 'addi' && s.instr.a === v) return { disp: s.instr.imm, temps: [s] };
    return null;
  };
  const index = (x: VReg): { shift: number; disp: number; temps: Site[] } | null => {
    const plain = displaced(x);
    if (plain) return { shift: 0, ...plain };
    const s = single(x);
    if (s?.instr.k !== 'imm' || s.instr.op !== 'shli' || s.instr.imm < 1 || s.instr.imm > 2) return null;
    const inner = displaced(s.instr.a);
    if (!inner || !S16(inner.disp << s.instr.imm)) return null;
    return { shift: s.instr.imm, disp: inner.disp << s.instr.imm, temps: [s, ...inner.temps] };
  };
  const out: AddressUse[] = [];
  for (const block of blocks) {
    for (const instr of block.instrs) {
      if (instr.k !== 'bin' || instr.op !== 'add') continue;
      for (const [x, y] of [
        [instr.a, instr.b],
        [instr.b, instr.a],
      ] as const) {
        if (!invariant(x) || x === v || instr.dst === v || instr.dst === x) continue;
        const ix = index(y);
        if (ix) {
          out.push({ site: { block, instr }, base: x, ...ix });
          break;
        }
      }
    }
  }
  return out;
}

/**
 * The address feeds a typed-array or string access (never a raw load8..store32, whose addresses
 * may lie anywhere, 2^31 included) in a block that runs on every iteration.
 */
function isAccessedEveryIteration(site: Site, blocks: Block[], everyIteration: (id: BlockId) => boolean): boolean {
  const a = instrDef(site.instr)!;
  const after = (b: Block, i: Instr): boolean => b !== site.block || b.instrs.indexOf(i) > b.instrs.indexOf(site.instr);
  return blocks.some(
    (b) => everyIteration(b.id) && b.instrs.some((i) => (i.k === 'load' || i.k === 'store') && i.mem.kind !== 'raw' && i.base === a && after(b, i)),
  );
}

function commonDominator(idom: Map<BlockId, BlockId>, ids: BlockId[]): BlockId {
  let d = ids[0]!;
  for (const id of ids.slice(1)) while (!dominates(idom, d, id)) d = idom.get(d)!;
  return d;
}

/** Whether, inside the loop, control can go from `from` to one of `targets` without passing `avoid`. */
function reachesAvoiding(byId: Map<BlockId, Block>, from: BlockId, targets: Set<BlockId>, avoid: BlockId, body: Set<BlockId>): boolean {
  const seen = new Set<BlockId>();
  const work = successors(byId.get(from)!.term);
  while (work.length > 0) {
    const x = work.pop()!;
    if (x === avoid || !body.has(x) || seen.has(x)) continue;
    if (targets.has(x)) return true;
    seen.add(x);
    work.push(...successors(byId.get(x)!.term));
  }
  return false;
}

function rewrite(
  fn: IrFunction,
  header: BlockId,
  body: Set<BlockId>,
  biv: Biv,
  groups: AddressUse[][],
  tests: Block[],
  others: Site[],
  rebuildAt: Block | null,
  unscaled: AddressUse[] | undefined,
): VReg {
  const pre = preheader(fn, header, body);
  const loc = biv.inc.instr.loc;
  const emitPre = (i: Instr): void => void pre.instrs.push({ ...i, loc } as Instr);
  const bumps: Instr[] = [];
  const pointers = new Map<AddressUse[], VReg>();
  const scaledInPre = (x: VReg, shift: number): VReg => {
    if (shift === 0) return x;
    const t = newVreg(fn);
    emitPre({ k: 'imm', op: 'shli', dst: t, a: x, imm: shift });
    return t;
  };
  for (const g of groups) {
    const { base, shift } = g[0]!;
    const p = newVreg(fn);
    pointers.set(g, p);
    emitPre({ k: 'bin', op: 'add', dst: p, a: base, b: scaledInPre(biv.v, shift) });
    if ('imm' in biv.step && S16(biv.step.imm << shift)) bumps.push({ k: 'imm', op: 'addi', dst: p, a: p, imm: biv.step.imm << shift, loc });
    else {
      const step = 'imm' in biv.step ? newVreg(fn) : scaledInPre(biv.step.reg, shift);
      if ('imm' in biv.step) emitPre({ k: 'li', dst: step, value: biv.step.imm << shift });
      bumps.push({ k: 'bin', op: 'add', dst: p, a: p, b: step, loc });
    }
    for (const a of g) {
      const at = a.site.block.instrs.indexOf(a.site.instr);
      const dst = instrDef(a.site.instr)!;
      a.site.block.instrs[at] =
        a.disp === 0 ? { k: 'mov', dst, src: p, loc: a.site.instr.loc } : { k: 'imm', op: 'addi', dst, a: p, imm: a.disp, loc: a.site.instr.loc };
    }
  }
  // The exit tests move to the first group's pointer.
  const lead = unscaled ?? groups[0]!;
  const p = pointers.get(lead)!;
  const { base, shift } = lead[0]!;
  const limits = new Map<VReg, VReg>();
  for (const block of tests) {
    const t = block.term as Extract<Term, { k: 'br' }>;
    const n = t.a === biv.v ? t.b : t.a;
    let lim = limits.get(n);
    if (lim === undefined) {
      lim = newVreg(fn);
      emitPre({ k: 'bin', op: 'add', dst: lim, a: base, b: scaledInPre(n, shift) });
      limits.set(n, lim);
    }
    const l = lim;
    mapTermUses(t, (x) => (x === biv.v ? p : x === n ? l : x));
  }
  if (rebuildAt) {
    const i = newVreg(fn);
    rebuildAt.instrs.unshift({ k: 'bin', op: 'sub', dst: i, a: p, b: base, loc: rebuildAt.instrs[0]?.loc ?? rebuildAt.term.loc });
    for (const o of others) mapInstrUses(o.instr, (x) => (x === biv.v ? i : x));
  }
  // The increment of i goes; the pointers are bumped where it was. A scaled index `t = i << k`
  // left without uses is removed by dead-code elimination.
  const incBlock = biv.inc.block;
  incBlock.instrs.splice(incBlock.instrs.indexOf(biv.inc.instr), 1, ...bumps);
  return p;
}
