/**
 * Stage 5, register allocation: linear scan (Poletto and Sarkar, 1999) over one live interval per
 * virtual register, on the calling convention below.
 *
 * Calling convention (documented in guest-kernel/README.md):
 *   r0..r5   arguments 1..6; r0 also the result. Caller-saved. Arguments 7..16 go on the stack,
 *            in the caller's outgoing-argument area just above the return address (frame.ts).
 *   r6, r7   scratch for the code generator (spill reloads, parallel moves). Caller-saved.
 *   r8..r14  callee-saved: a function that uses one pushes it in its prologue.
 *   sp (r15) stack pointer; CALL pushes the return address. No frame pointer: spill slots are
 *            addressed from sp, whose offset is fixed for the body of a function.
 *
 * An interval that is live across a call (or HYPERCALL/SYSCALL, which clobber like one) may only
 * live in a callee-saved register; the others prefer caller-saved ones, which cost no save. Hints
 * steer parameters, call arguments and results into the registers the convention puts them in,
 * so most moves at calls vanish. When registers run out, a constant or address (defined once by
 * `li`/`la`) gives up its register first and is rebuilt at each use; otherwise the interval that
 * ends furthest away is spilled to a stack slot for its whole life.
 */
import { liveness } from './cfg.ts';
import { type BlockId, type IrFunction, type VReg, instrDef, instrUses, isCallLike, successors, termUses } from './ir.ts';

export const ARG_REGS = [0, 1, 2, 3, 4, 5] as const;
export const SCRATCH_A = 6;
export const SCRATCH_B = 7;
export const CALLER_SAVED = [0, 1, 2, 3, 4, 5] as const;
export const CALLEE_SAVED = [8, 9, 10, 11, 12, 13, 14] as const;

/**
 * Where a virtual register lives: a register, a stack slot, or nowhere (`remat`): a constant or
 * an address defined once, rebuilt with `li`/`la` wherever it is used instead of being kept.
 */
export type Location = { k: 'reg'; r: number } | { k: 'slot'; index: number } | { k: 'remat'; value: number } | { k: 'remat'; sym: string };

export interface Allocation {
  loc: Map<VReg, Location>;
  /** Callee-saved registers the function writes, ascending: the prologue pushes them. */
  calleeSaved: number[];
  slotCount: number;
}

interface Interval {
  v: VReg;
  start: number;
  end: number;
  crossesCall: boolean;
  hint: number | undefined;
  reg: number | undefined;
}

/**
 * Instruction positions: block b's label at start(b), its instructions every 2, its terminator
 * last. Blocks are numbered in reverse postorder, not in layout order: the layout moves cold
 * blocks (an else arm, a rare case) to the end of the function, which would stretch every
 * interval live into them across the whole function.
 */
function numberPositions(fn: IrFunction): {
  callPositions: number[];
  intervals: Map<VReg, Interval>;
  hints: Map<VReg, number>;
  copies: Map<VReg, VReg>;
  remat: Map<VReg, Location>;
} {
  const { liveIn, liveOut } = liveness(fn);
  const byId = new Map(fn.blocks.map((b) => [b.id, b]));
  const order = allocationOrder(fn).map((id) => byId.get(id)!);
  const intervals = new Map<VReg, Interval>();
  const hints = new Map<VReg, number>();
  const extend = (v: VReg, pos: number): void => {
    const iv = intervals.get(v);
    if (iv) {
      if (pos < iv.start) iv.start = pos;
      if (pos > iv.end) iv.end = pos;
    } else {
      intervals.set(v, { v, start: pos, end: pos, crossesCall: false, hint: undefined, reg: undefined });
    }
  };
  const hint = (v: VReg, r: number): void => {
    if (!hints.has(v)) hints.set(v, r);
  };
  // Arguments beyond the sixth travel on the stack (frame.ts): no register to hint.
  fn.params.forEach((p, i) => {
    if (i < ARG_REGS.length) hint(p, ARG_REGS[i]!);
  });
  const callPositions: number[] = [];
  /** dst -> src of `mov dst, src`: dst would like src's register. */
  const copies = new Map<VReg, VReg>();
  /** Registers defined once, by `li` or `la`: they can be rebuilt instead of spilled. */
  const defs = new Map<VReg, number>();
  const remat = new Map<VReg, Location>();
  for (const b of fn.blocks) {
    for (const i of b.instrs) {
      const d = instrDef(i);
      if (d === null) continue;
      defs.set(d, (defs.get(d) ?? 0) + 1);
      if (i.k === 'li') remat.set(d, { k: 'remat', value: i.value });
      else if (i.k === 'la') remat.set(d, { k: 'remat', sym: i.sym });
    }
  }
  for (const p of fn.params) defs.set(p, (defs.get(p) ?? 0) + 1);
  for (const [v] of remat) if (defs.get(v) !== 1) remat.delete(v);
  let pos = 0;
  for (const b of order) {
    const start = pos;
    for (const v of liveIn.get(b.id)!) extend(v, start);
    for (const i of b.instrs) {
      pos += 2;
      for (const u of instrUses(i)) extend(u, pos);
      const d = instrDef(i);
      if (d !== null) extend(d, pos);
      if (i.k === 'mov' && !copies.has(i.dst)) copies.set(i.dst, i.src);
      if (isCallLike(i)) {
        callPositions.push(pos);
        const args = (i as { args: VReg[] }).args;
        args.forEach((a, k) => {
          if (k < ARG_REGS.length) hint(a, ARG_REGS[k]!);
        });
        if (d !== null) hint(d, 0);
      }
    }
    pos += 2;
    for (const u of termUses(b.term)) extend(u, pos);
    if (b.term.k === 'ret' && b.term.value !== null) hint(b.term.value, 0);
    for (const v of liveOut.get(b.id)!) extend(v, pos + 1);
    pos += 2;
  }
  // Parameters arrive before the first instruction.
  for (const p of fn.params) if (intervals.has(p)) extend(p, -1);
  return { callPositions, intervals, hints, copies, remat };
}

/**
 * Reverse postorder, with the depth-first search entering call-making successors first, so they
 * come last: a value used on both sides of a branch then ends before the calls of one side rather
 * than stretching across them (intervals here have no holes).
 */
function allocationOrder(fn: IrFunction): BlockId[] {
  const byId = new Map(fn.blocks.map((b) => [b.id, b]));
  const hasCall = (id: BlockId): boolean => byId.get(id)!.instrs.some(isCallLike);
  const seen = new Set<BlockId>();
  const post: BlockId[] = [];
  const stack: { id: BlockId; succ: BlockId[]; next: number }[] = [];
  const push = (id: BlockId): void => {
    seen.add(id);
    const succ = successors(byId.get(id)!.term);
    succ.sort((a, b) => Number(hasCall(b)) - Number(hasCall(a)));
    stack.push({ id, succ, next: 0 });
  };
  push(fn.blocks[0]!.id);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.succ.length) {
      const s = top.succ[top.next++]!;
      if (!seen.has(s)) push(s);
    } else {
      post.push(top.id);
      stack.pop();
    }
  }
  return post.reverse();
}

function crosses(iv: Interval, calls: readonly number[]): boolean {
  // Binary search for the first call after the start.
  let lo = 0;
  let hi = calls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (calls[mid]! <= iv.start) lo = mid + 1;
    else hi = mid;
  }
  return lo < calls.length && calls[lo]! < iv.end;
}

export function allocateRegisters(fn: IrFunction): Allocation {
  const { callPositions, intervals, hints, copies, remat } = numberPositions(fn);
  const list = [...intervals.values()].sort((a, b) => a.start - b.start || a.v - b.v);
  for (const iv of list) {
    iv.crossesCall = crosses(iv, callPositions);
    iv.hint = hints.get(iv.v);
  }
  const loc = new Map<VReg, Location>();
  const free = new Set<number>([...CALLER_SAVED, ...CALLEE_SAVED]);
  let active: Interval[] = [];
  let slotCount = 0;
  const spill = (iv: Interval): void => {
    iv.reg = undefined;
    loc.set(iv.v, { k: 'slot', index: slotCount++ });
  };

  for (const iv of list) {
    // Expire intervals that end where this one starts: an instruction reads its operands before
    // it writes its result, so the two may share a register.
    active = active.filter((a) => {
      if (a.end <= iv.start) {
        free.add(a.reg!);
        return false;
      }
      return true;
    });
    const pool: readonly number[] = iv.crossesCall ? CALLEE_SAVED : [...CALLER_SAVED, ...CALLEE_SAVED];
    let reg: number | undefined;
    // A copy whose source dies here takes the source's register: the move disappears.
    const src = copies.get(iv.v);
    const srcLoc = src !== undefined ? loc.get(src) : undefined;
    const srcReg = srcLoc?.k === 'reg' && intervals.get(src!)!.end <= iv.start ? srcLoc.r : undefined;
    if (srcReg !== undefined && free.has(srcReg) && pool.includes(srcReg)) reg = srcReg;
    else if (iv.hint !== undefined && free.has(iv.hint) && pool.includes(iv.hint)) reg = iv.hint;
    else reg = pool.find((r) => free.has(r));
    if (reg === undefined) {
      // A constant gives way first: it costs an `li` at each use, not a store and loads.
      if (remat.has(iv.v)) {
        loc.set(iv.v, remat.get(iv.v)!);
        continue;
      }
      let rebuilt: Interval | undefined;
      for (const a of active) if (remat.has(a.v) && pool.includes(a.reg!) && (!rebuilt || a.end > rebuilt.end)) rebuilt = a;
      if (rebuilt) {
        reg = rebuilt.reg!;
        loc.set(rebuilt.v, remat.get(rebuilt.v)!);
        active = active.filter((a) => a !== rebuilt);
        iv.reg = reg;
        loc.set(iv.v, { k: 'reg', r: reg });
        active.push(iv);
        continue;
      }
      // Steal from the active interval (with a usable register) that ends last, if it ends after us.
      let victim: Interval | undefined;
      for (const a of active) if (pool.includes(a.reg!) && (!victim || a.end > victim.end)) victim = a;
      if (victim && victim.end > iv.end) {
        reg = victim.reg!;
        spill(victim);
        active = active.filter((a) => a !== victim);
      } else {
        spill(iv);
        continue;
      }
    } else {
      free.delete(reg);
    }
    iv.reg = reg;
    loc.set(iv.v, { k: 'reg', r: reg });
    active.push(iv);
  }
  const calleeSaved = [...new Set([...loc.values()].flatMap((l) => (l.k === 'reg' && l.r >= 8 ? [l.r] : [])))].sort((a, b) => a - b);
  return { loc, calleeSaved, slotCount };
}

/** `v3=r8 v4=slot0 ...`, for tracing. */
export function printAllocation(a: Allocation): string {
  const show = (l: Location): string => (l.k === 'reg' ? `r${l.r}` : l.k === 'slot' ? `slot${l.index}` : 'value' in l ? `=${l.value}` : `=&${l.sym}`);
  const parts = [...a.loc].sort((x, y) => x[0] - y[0]).map(([v, l]) => `v${v}=${show(l)}`);
  return `${parts.join(' ')}\ncallee-saved: ${a.calleeSaved.map((r) => `r${r}`).join(' ') || '-'}; slots: ${a.slotCount}`;
}
