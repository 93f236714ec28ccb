/**
 * Loop-invariant code motion: constants (`li`, `la`, immutable length words) and arithmetic that
 * cannot trap on values a loop does not change move out of the loop into its preheader
 * (preheader.ts), so a loop does not recompute them every iteration.
 */
import { blockMap, forEachLoop } from './cfg.ts';
import { type BlockId, type Instr, type IrFunction, type VReg, instrDef, instrUses, mapInstrUses, mapTermUses, mayTrap } from './ir.ts';
import { preheader } from './preheader.ts';
import { defCounts } from './reg-counts.ts';

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
