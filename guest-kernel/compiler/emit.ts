/**
 * Stage 6, code generation: an allocated IR function to assembly lines. Each IR instruction
 * becomes one machine instruction (two for `la`, large `li`, PUSHF/POPF), plus a reload from or a
 * store to a stack slot for a spilled operand. Calls and hypercalls move their arguments into
 * r0..r5 with a parallel move; the prologue and epilogue save what the allocator used.
 */
import { CR_NAMES, PAGE_SIZE } from '../../abi/isa.ts';
import { type AsmLine, ins, memOperand, reg } from './asm.ts';
import { dominates, dominators } from './cfg.ts';
import { type Block, type BlockId, type CheckSite, type Cond, INVERSE_COND, type Instr, type IrFunction, type Loc, type VReg, instrDef, instrUses, successors, termUses } from './ir.ts';
import { type Allocation, ARG_REGS, type Location, SCRATCH_A, SCRATCH_B } from './regalloc.ts';
import { type FrameLayout, frameLayout, outgoingOffset, REGISTER_ARGS } from './frame.ts';
import { assertNever } from './types.ts';

const BRANCH: Readonly<Record<Cond, string>> = { eq: 'beq', ne: 'bne', lt: 'blt', ge: 'bge', ltu: 'bltu', geu: 'bgeu' };

/** A place a value can be: an allocated location, or a stack argument at a fixed sp offset (frame.ts). */
type Place = Location | { k: 'stack'; offset: number };
type Source = Place | { k: 'imm'; value: number };

const S16 = (v: number): boolean => v >= -0x8000 && v <= 0x7fff;

/** A run-time check's trapping instruction, by the label emitted just before it. */
export interface SiteLabel {
  readonly label: string;
  readonly site: CheckSite;
}

export function blockLabel(fn: IrFunction, id: BlockId): string {
  return `${fn.label}.L${id}`;
}

class FunctionEmitter {
  readonly out: AsmLine[] = [];
  private loc: Loc | undefined;
  private readonly frameBytes: number;
  private readonly frame: FrameLayout;
  /** Where the prologue goes (see shrinkWrap), and the blocks whose returns need the epilogue. */
  private readonly prologueAt: BlockId;
  private readonly framed: Set<BlockId>;

  constructor(
    private readonly fn: IrFunction,
    private readonly alloc: Allocation,
    private readonly sites: SiteLabel[],
  ) {
    this.frame = frameLayout(fn, alloc);
    this.frameBytes = this.frame.bytes;
    const wrap = this.frame.atEntry ? { at: fn.blocks[0]!.id, region: new Set(fn.blocks.map((b) => b.id)) } : shrinkWrap(fn, alloc);
    this.prologueAt = wrap.at;
    this.framed = wrap.region;
  }

  private emit(op: string, ...args: string[]): void {
    this.out.push(ins(op, args, this.loc));
  }

  /**
   * Emit the instruction that does `i`'s work (after any reloads of its operands); when `i` is a
   * run-time check, label it so that the table of sites can name the pc that traps.
   */
  private emitMain(i: Instr, op: string, ...args: string[]): void {
    if (i.site) {
      const label = `${this.fn.label}.chk${this.sites.length}`;
      this.out.push({ kind: 'label', name: label });
      this.sites.push({ label, site: i.site });
    }
    this.emit(op, ...args);
  }

  private location(v: VReg): Location {
    const l = this.alloc.loc.get(v);
    // A register with no interval is never read: any register will do (its value is dead).
    return l ?? { k: 'reg', r: SCRATCH_A };
  }

  private slotOperand(index: number): string {
    return this.spOperand(this.frame.slots + index * 4);
  }

  /** `[sp+offset]`; beyond a 16-bit offset (above large local arrays), through r7 (SCRATCH_B). */
  private spOperand(offset: number): string {
    if (S16(offset)) return memOperand('sp', offset);
    this.emit('li', reg(SCRATCH_B), String(offset));
    this.emit('add', reg(SCRATCH_B), 'sp', reg(SCRATCH_B));
    return memOperand(reg(SCRATCH_B), 0);
  }

  /** The memory operand of a slot or a stack argument. */
  private placeOperand(p: Extract<Place, { k: 'slot' | 'stack' }>): string {
    return p.k === 'slot' ? this.slotOperand(p.index) : this.spOperand(p.offset);
  }

  /** `sp = sp + delta` (the prologue and epilogue), through r6 when delta needs more than 16 bits. */
  private adjustSp(delta: number): void {
    if (S16(delta)) return this.emit('addi', 'sp', 'sp', String(delta));
    this.emit('li', reg(SCRATCH_A), String(delta));
    this.emit('add', 'sp', 'sp', reg(SCRATCH_A));
  }

  /** The register to read `v` from, loading a spilled value (or rebuilding a constant) into `scratch` first. */
  private use(v: VReg, scratch: number): string {
    const l = this.location(v);
    if (l.k === 'reg') return reg(l.r);
    if (l.k === 'slot') this.emit('ldw', reg(scratch), this.slotOperand(l.index));
    else this.rebuild(reg(scratch), l);
    return reg(scratch);
  }

  private rebuild(r: string, l: Extract<Location, { k: 'remat' }>): void {
    if ('value' in l) this.emit('li', r, String(l.value));
    else this.emit('la', r, l.sym);
  }

  /** The register to compute `v` into; call `commit` after the instruction to store a spilled value. */
  private def(v: VReg): { r: string; commit: () => void } {
    const l = this.location(v);
    if (l.k === 'reg') return { r: reg(l.r), commit: () => undefined };
    if (l.k === 'remat') return { r: reg(SCRATCH_A), commit: () => undefined };
    return { r: reg(SCRATCH_A), commit: () => this.emit('stw', reg(SCRATCH_A), this.slotOperand(l.index)) };
  }

  private isRemat(v: VReg): boolean {
    return this.location(v).k === 'remat';
  }

  run(): AsmLine[] {
    const fn = this.fn;
    this.loc = fn.loc;
    this.out.push({ kind: 'label', name: fn.label });
    if (this.prologueAt === fn.blocks[0]!.id) this.prologue();
    // Parameters arrive in r0..r5, the seventh on in the caller's outgoing area (frame.ts).
    this.parallelMove(
      fn.params.flatMap((p, i) => {
        if (!this.alloc.loc.has(p)) return [];
        const src: Source = i < REGISTER_ARGS ? { k: 'reg', r: ARG_REGS[i]! } : { k: 'stack', offset: this.frame.incoming + (i - REGISTER_ARGS) * 4 };
        return [{ dst: this.location(p), src }];
      }),
    );
    const referenced = this.referencedBlocks();
    fn.blocks.forEach((b, idx) => {
      if (idx > 0 && referenced.has(b.id)) this.out.push({ kind: 'label', name: blockLabel(fn, b.id) });
      if (idx > 0 && b.id === this.prologueAt) {
        this.loc = b.instrs[0]?.loc ?? b.term.loc ?? this.loc;
        this.prologue();
      }
      for (const i of b.instrs) {
        this.loc = i.loc ?? this.loc;
        this.instr(i);
      }
      this.loc = b.term.loc ?? this.loc;
      this.term(b, fn.blocks[idx + 1]);
    });
    return this.out;
  }

  /** Blocks that need a label: targets of anything but a fall-through. */
  private referencedBlocks(): Set<BlockId> {
    const refs = new Set<BlockId>();
    this.fn.blocks.forEach((b, idx) => {
      const next = this.fn.blocks[idx + 1]?.id;
      const t = b.term;
      if (t.k === 'jmp' && t.target !== next) refs.add(t.target);
      else if (t.k === 'br') {
        refs.add(t.t);
        refs.add(t.f);
      } else if (t.k === 'jr') for (const x of t.targets) refs.add(x);
    });
    return refs;
  }

  private instr(i: Instr): void {
    switch (i.k) {
      case 'li': {
        if (this.isRemat(i.dst)) return; // rebuilt where used
        const d = this.def(i.dst);
        this.emit('li', d.r, String(i.value));
        return d.commit();
      }
      case 'la': {
        if (this.isRemat(i.dst)) return;
        const d = this.def(i.dst);
        this.emit('la', d.r, i.sym);
        return d.commit();
      }
      case 'frame': {
        const d = this.def(i.dst);
        const offset = this.frame.arrays + i.offset;
        if (S16(offset)) this.emit('addi', d.r, 'sp', String(offset));
        else {
          this.emit('li', d.r, String(offset));
          this.emit('add', d.r, 'sp', d.r);
        }
        return d.commit();
      }
      case 'mov':
        return this.move(this.location(i.dst), this.location(i.src));
      case 'bin': {
        const a = this.use(i.a, SCRATCH_A);
        const b = this.use(i.b, SCRATCH_B);
        const d = this.def(i.dst);
        this.emitMain(i, i.op, d.r, a, b);
        return d.commit();
      }
      case 'imm': {
        const a = this.use(i.a, SCRATCH_A);
        const d = this.def(i.dst);
        this.emitMain(i, i.op, d.r, a, String(i.imm));
        return d.commit();
      }
      case 'un': {
        const a = this.use(i.a, SCRATCH_A);
        const d = this.def(i.dst);
        this.emit(i.op, d.r, a);
        return d.commit();
      }
      case 'load': {
        const base = this.use(i.base, SCRATCH_A);
        const d = this.def(i.dst);
        const op = i.width === 4 ? 'ldw' : i.width === 2 ? (i.signed ? 'ldh' : 'ldhu') : i.signed ? 'ldb' : 'ldbu';
        this.emitMain(i, op, d.r, memOperand(base, i.offset));
        return d.commit();
      }
      case 'store': {
        const src = this.use(i.src, SCRATCH_A);
        const base = this.use(i.base, SCRATCH_B);
        this.emitMain(i, i.width === 4 ? 'stw' : i.width === 2 ? 'sth' : 'stb', src, memOperand(base, i.offset));
        return;
      }
      case 'call':
      case 'trap': {
        this.parallelMove(
          i.args.map((a, k) => ({ dst: k < REGISTER_ARGS ? ({ k: 'reg', r: ARG_REGS[k]! } as Place) : { k: 'stack', offset: outgoingOffset(k) }, src: this.location(a) })),
        );
        if (i.k === 'call') this.emit('call', i.target);
        else this.emit(i.op);
        if (i.dst !== null) this.move(this.location(i.dst), { k: 'reg', r: 0 });
        return;
      }
      case 'callr': {
        // The address travels in scratch r7 with the arguments' moves (at most six, all to
        // registers, so none writes r7) ... except a load from a slot beyond a 16-bit offset,
        // which builds its address in r7: such loads go last, with the address moved to r6.
        const moves = i.args.map((a, k) => ({ dst: { k: 'reg', r: ARG_REGS[k]! } as Place, src: this.location(a) as Source }));
        const far = (m: { src: Source }): boolean => m.src.k === 'slot' && !S16(this.frame.slots + m.src.index * 4);
        this.parallelMove([...moves.filter((m) => !far(m)), { dst: { k: 'reg', r: SCRATCH_B }, src: this.location(i.addr) }]);
        let target = SCRATCH_B;
        if (moves.some(far)) {
          this.emit('mov', reg(SCRATCH_A), reg(SCRATCH_B));
          target = SCRATCH_A;
          for (const m of moves.filter(far)) this.move(m.dst, m.src);
        }
        this.emit('callr', reg(target));
        if (i.dst !== null) this.move(this.location(i.dst), { k: 'reg', r: 0 });
        return;
      }
      case 'in': {
        const d = this.def(i.dst);
        this.emit('in', d.r, hex(i.port));
        return d.commit();
      }
      case 'inr': {
        const p = this.use(i.port, SCRATCH_A);
        const d = this.def(i.dst);
        this.emit('inr', d.r, p);
        return d.commit();
      }
      case 'out':
        return this.emit('out', hex(i.port), this.use(i.src, SCRATCH_A));
      case 'outr': {
        const p = this.use(i.port, SCRATCH_A);
        return this.emit('outr', p, this.use(i.src, SCRATCH_B));
      }
      case 'mfcr': {
        const d = this.def(i.dst);
        this.emit('mfcr', d.r, CR_NAMES[i.cr] ?? `cr${i.cr}`);
        return d.commit();
      }
      case 'mtcr':
        return this.emit('mtcr', CR_NAMES[i.cr] ?? `cr${i.cr}`, this.use(i.src, SCRATCH_A));
      case 'pushf': {
        const d = this.def(i.dst);
        this.emit('pushf');
        this.emit('pop', d.r);
        return d.commit();
      }
      case 'popf':
        this.emit('push', this.use(i.src, SCRATCH_A));
        return this.emit('popf');
      case 'invlpg':
        return this.emit('invlpg', this.use(i.src, SCRATCH_A));
      case 'sys':
        return this.emit(i.op);
      case 'chk': {
        const a = this.use(i.a, SCRATCH_A);
        return this.emitMain(i, 'chk', a, this.use(i.b, SCRATCH_B));
      }
      case 'chki':
        return this.emitMain(i, 'chki', this.use(i.a, SCRATCH_A), String(i.imm));
      default:
        return assertNever(i, 'instruction');
    }
  }

  private term(b: Block, next: Block | undefined): void {
    const t = b.term;
    const label = (id: BlockId): string => blockLabel(this.fn, id);
    switch (t.k) {
      case 'jmp':
        if (t.target !== next?.id) this.emit('jmp', label(t.target));
        return;
      case 'br': {
        const a = this.use(t.a, SCRATCH_A);
        const c = this.use(t.b, SCRATCH_B);
        if (t.t === next?.id) {
          this.emit(BRANCH[INVERSE_COND[t.cond]], a, c, label(t.f));
        } else {
          this.emit(BRANCH[t.cond], a, c, label(t.t));
          if (t.f !== next?.id) this.emit('jmp', label(t.f));
        }
        return;
      }
      case 'ret':
        if (t.value !== null) this.move({ k: 'reg', r: 0 }, this.location(t.value));
        if (this.framed.has(b.id)) this.epilogue();
        else this.emit('ret');
        return;
      case 'jr':
        return this.emit('jr', this.use(t.addr, SCRATCH_A));
      case 'unreachable':
        return;
      default:
        return assertNever(t, 'terminator');
    }
  }

  private prologue(): void {
    for (const r of this.alloc.calleeSaved) this.emit('push', reg(r));
    // A frame larger than a page (local arrays) is probed a page at a time on the way down, so
    // an overflow faults in the stack's guard page rather than stepping over it into other
    // memory (GCC's -fstack-clash-protection; Windows' __chkstk).
    let left = this.frameBytes;
    for (; left > PAGE_SIZE; left -= PAGE_SIZE) {
      this.emit('addi', 'sp', 'sp', String(-PAGE_SIZE));
      this.emit('ldw', reg(SCRATCH_A), '[sp]');
    }
    if (left > 0) this.adjustSp(-left);
  }

  private epilogue(): void {
    if (this.frameBytes > 0) this.adjustSp(this.frameBytes);
    for (const r of [...this.alloc.calleeSaved].reverse()) this.emit('pop', reg(r));
    this.emit('ret');
  }

  private move(dst: Place, src: Source): void {
    if (dst.k === 'remat') return; // a constant needs no copy: it is rebuilt where used
    if (src.k === 'remat') {
      if (dst.k === 'reg') return this.rebuild(reg(dst.r), src);
      this.rebuild(reg(SCRATCH_A), src);
      return this.emit('stw', reg(SCRATCH_A), this.placeOperand(dst));
    }
    if (src.k === 'imm') {
      if (dst.k === 'reg') return this.emit('li', reg(dst.r), String(src.value));
      this.emit('li', reg(SCRATCH_A), String(src.value));
      return this.emit('stw', reg(SCRATCH_A), this.placeOperand(dst));
    }
    if (dst.k === 'reg' && src.k === 'reg') {
      if (dst.r !== src.r) this.emit('mov', reg(dst.r), reg(src.r));
      return;
    }
    if (dst.k === 'reg') return this.emit('ldw', reg(dst.r), this.placeOperand(src as Extract<Place, { k: 'slot' | 'stack' }>));
    if (src.k === 'reg') return this.emit('stw', reg(src.r), this.placeOperand(dst));
    if (dst.k === src.k && (dst.k === 'slot' ? dst.index === (src as { index: number }).index : dst.offset === (src as { offset: number }).offset)) return;
    this.emit('ldw', reg(SCRATCH_A), this.placeOperand(src as Extract<Place, { k: 'slot' | 'stack' }>));
    this.emit('stw', reg(SCRATCH_A), this.placeOperand(dst));
  }

  /**
   * Perform all moves "at once": every source is read before any destination it shares a
   * register with is written. Stores to slots go first (they only read registers), then
   * register-to-register moves in an order that respects dependences (a cycle is broken through
   * scratch r6), then loads from slots and constants.
   */
  private parallelMove(moves: { dst: Place; src: Source }[]): void {
    const pending = moves.filter((m) => m.dst.k !== 'remat' && !(m.src.k === 'reg' && m.dst.k === 'reg' && m.src.r === m.dst.r));
    for (const m of pending.filter((x) => x.dst.k === 'slot' || x.dst.k === 'stack')) this.move(m.dst, m.src);
    let regMoves = pending.filter((x) => x.dst.k === 'reg' && x.src.k === 'reg') as { dst: { k: 'reg'; r: number }; src: { k: 'reg'; r: number } }[];
    const later = pending.filter((x) => x.dst.k === 'reg' && x.src.k !== 'reg');
    while (regMoves.length > 0) {
      const ready = regMoves.find((m) => !regMoves.some((o) => o !== m && o.src.r === m.dst.r));
      if (ready) {
        this.emit('mov', reg(ready.dst.r), reg(ready.src.r));
        regMoves = regMoves.filter((m) => m !== ready);
        continue;
      }
      // Every destination is still needed as a source: a cycle. Save one destination's value.
      const m = regMoves[0]!;
      this.emit('mov', reg(SCRATCH_A), reg(m.dst.r));
      regMoves = regMoves.map((o) => (o.src.r === m.dst.r ? { dst: o.dst, src: { k: 'reg', r: SCRATCH_A } } : o));
    }
    for (const m of later) this.move(m.dst, m.src);
  }
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Shrink-wrapping (Chow, 1988), in its simplest form: the prologue (pushing callee-saved
 * registers, making room for spill slots) goes at the start of the block P that dominates every
 * block using a callee-saved register or a stack slot, when P is entered once (no loop back into
 * it) and its region (the blocks P dominates) is left only by returning. Returns outside the
 * region skip the epilogue: fib's `n < 2` path costs a compare, a branch and a `ret`.
 * Otherwise P is the entry block, as usual.
 */
function shrinkWrap(fn: IrFunction, alloc: Allocation): { at: BlockId; region: Set<BlockId> } {
  const entry = fn.blocks[0]!.id;
  const all = { at: entry, region: new Set(fn.blocks.map((b) => b.id)) };
  if (alloc.calleeSaved.length === 0 && alloc.slotCount === 0) return all;
  const framed = (v: VReg): boolean => {
    const l = alloc.loc.get(v);
    return l !== undefined && (l.k === 'slot' || (l.k === 'reg' && l.r >= 8));
  };
  if (fn.params.some(framed)) return all;
  const users = fn.blocks.filter((b) => b.instrs.some((i) => [...instrUses(i), instrDef(i)].some((v) => v !== null && framed(v))) || termUses(b.term).some(framed));
  if (users.length === 0) return all;
  const idom = dominators(fn);
  let p = users[0]!.id;
  for (const u of users) while (!dominates(idom, p, u.id)) p = idom.get(p)!;
  if (p === entry) return all;
  const region = new Set(fn.blocks.filter((b) => dominates(idom, p, b.id)).map((b) => b.id));
  const closed = fn.blocks.every((b) => !region.has(b.id) || successors(b.term).every((s) => region.has(s) && s !== p));
  return closed ? { at: p, region } : all;
}

/** Assembly of one function; the labels of its run-time checks are appended to `sites`. */
export function emitFunction(fn: IrFunction, alloc: Allocation, sites: SiteLabel[] = []): AsmLine[] {
  return new FunctionEmitter(fn, alloc, sites).run();
}

/** Jump tables of a function, as `.word` lines (placed after all code). */
export function emitJumpTables(fn: IrFunction): AsmLine[] {
  const out: AsmLine[] = [];
  for (const b of fn.blocks) {
    if (b.term.k !== 'jr') continue;
    out.push({ kind: 'dir', text: '.align 4' }, { kind: 'label', name: b.term.table });
    for (const t of b.term.targets) out.push({ kind: 'dir', text: `.word ${blockLabel(fn, t)}` });
  }
  return out;
}

/** Sanity check used by tests: every successor of every block exists. */
export function checkBlocks(fn: IrFunction): void {
  const ids = new Set(fn.blocks.map((b) => b.id));
  for (const b of fn.blocks) for (const s of successors(b.term)) if (!ids.has(s)) throw new Error(`emit: ${fn.label} block ${b.id} jumps to missing block ${s}`);
}
