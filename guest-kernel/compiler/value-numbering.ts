/**
 * Local value numbering, per basic block: constant folding and propagation (fold.ts), algebraic
 * simplification, immediate-form selection (`addi`, `shli`, ...), common subexpressions, and no
 * redundant loads or stores of the same slot (store-to-load forwarding, dead-store removal)
 * within the block. Checked arithmetic folds only when it cannot trap, and a check already passed
 * in the block goes. Per block, so that it needs no SSA form and stays linear.
 */
import {
  type BinOp,
  type Block,
  type ImmOp,
  type Instr,
  type IrFunction,
  type MemClass,
  type VReg,
  instrDef,
  mapInstrUses,
  mapTermUses,
} from './ir.ts';
import { evalBin, evalCond } from './fold.ts';
import { assertNever } from './types.ts';

const S16 = (v: number): boolean => v >= -0x8000 && v <= 0x7fff;
const U16 = (v: number): boolean => v >= 0 && v <= 0xffff;
const COMMUTATIVE = new Set<BinOp>(['add', 'mul', 'and', 'or', 'xor', 'seq', 'sne']);

const IMM_OF: Partial<Record<BinOp, { op: ImmOp; fits: (v: number) => boolean }>> = {
  add: { op: 'addi', fits: S16 },
  mul: { op: 'muli', fits: S16 },
  and: { op: 'andi', fits: U16 },
  or: { op: 'ori', fits: U16 },
  xor: { op: 'xori', fits: U16 },
  shl: { op: 'shli', fits: () => true },
  shr: { op: 'shri', fits: () => true },
  sar: { op: 'sari', fits: () => true },
  slt: { op: 'slti', fits: S16 },
  sltu: { op: 'sltiu', fits: S16 },
};

const BIN_OF_IMM: Record<ImmOp, BinOp> = {
  addi: 'add',
  muli: 'mul',
  andi: 'and',
  ori: 'or',
  xori: 'xor',
  shli: 'shl',
  shri: 'shr',
  sari: 'sar',
  slti: 'slt',
  sltiu: 'sltu',
  addio: 'addo',
};

function mayAlias(store: MemClass, load: MemClass): boolean {
  if (load.kind === 'const') return false;
  if (store.kind === 'raw' || load.kind === 'raw') return true;
  if (store.kind === 'global') return load.kind === 'global' && load.sym === store.sym;
  if (store.kind === 'field') return load.kind === 'field' && load.sym === store.sym;
  if (store.kind === 'array') return load.kind === 'array' && (store.sym === null || load.sym === null || store.sym === load.sym);
  return false;
}

type VnExpr = { op: 'addi'; a: number; imm: number } | undefined;

class BlockNumbering {
  private nextVn = 0;
  private readonly vnOf = new Map<VReg, number>();
  private readonly holders = new Map<number, VReg[]>();
  readonly constOf = new Map<number, number>();
  private readonly vnOfConst = new Map<number, number>();
  private readonly exprVn = new Map<string, number>();
  readonly exprOf = new Map<number, VnExpr>();
  /** Available loads: key -> value number and memory class. */
  private readonly loads = new Map<string, { vn: number; mem: MemClass }>();
  /** Stores not yet read by anything: key -> index of the store in the block. */
  private readonly pendingStores = new Map<string, { index: number; mem: MemClass }>();
  readonly deadStores = new Set<number>();

  vn(v: VReg): number {
    let n = this.vnOf.get(v);
    if (n === undefined) {
      n = this.nextVn++;
      this.vnOf.set(v, n);
      this.holders.set(n, [v]);
    }
    return n;
  }

  fresh(): number {
    return this.nextVn++;
  }

  constVn(value: number): number {
    let n = this.vnOfConst.get(value);
    if (n === undefined) {
      n = this.fresh();
      this.vnOfConst.set(value, n);
      this.constOf.set(n, value);
    }
    return n;
  }

  exprKey(key: string): number | undefined {
    return this.exprVn.get(key);
  }

  setExpr(key: string, vn: number): void {
    this.exprVn.set(key, vn);
  }

  define(dst: VReg, vn: number): void {
    this.vnOf.set(dst, vn);
    const hs = this.holders.get(vn);
    if (hs) hs.push(dst);
    else this.holders.set(vn, [dst]);
  }

  /** The oldest register still holding `vn`, if any. */
  holder(vn: number): VReg | undefined {
    const hs = this.holders.get(vn);
    if (!hs) return undefined;
    for (const h of hs) if (this.vnOf.get(h) === vn) return h;
    return undefined;
  }

  canonical(v: VReg): VReg {
    return this.holder(this.vn(v)) ?? v;
  }

  lookupLoad(key: string): number | undefined {
    return this.loads.get(key)?.vn;
  }

  noteLoad(key: string, vn: number, mem: MemClass): void {
    this.loads.set(key, { vn, mem });
    for (const [k, s] of this.pendingStores) if (mayAlias(s.mem, mem)) this.pendingStores.delete(k);
  }

  noteStore(key: string, index: number, mem: MemClass, valueVn: number | undefined): void {
    const prev = this.pendingStores.get(key);
    if (prev) this.deadStores.add(prev.index);
    this.pendingStores.set(key, { index, mem });
    for (const [k, l] of this.loads) if (mayAlias(mem, l.mem)) this.loads.delete(k);
    if (valueVn !== undefined) this.loads.set(key, { vn: valueVn, mem });
  }

  /**
   * After a call, rebuild constants rather than reuse a register from before it: a constant kept
   * across a call would need a callee-saved register (a push and a pop) to save one `li`.
   */
  forgetConstants(): void {
    this.vnOfConst.clear();
  }

  /** Something outside the block's view may read or write memory (a call, I/O, an interrupt window). */
  barrier(): void {
    for (const [k, l] of this.loads) if (l.mem.kind !== 'const') this.loads.delete(k);
    this.pendingStores.clear();
  }
}

export function valueNumbering(fn: IrFunction): void {
  for (const b of fn.blocks) numberBlock(b);
}

function numberBlock(b: Block): void {
  const t = new BlockNumbering();
  const out: Instr[] = [];
  const constOfReg = (v: VReg): number | undefined => t.constOf.get(t.vn(v));
  /** Replace `i` by `dst = value`, or a copy of a register already holding it. */
  const constant = (i: Instr, dst: VReg, value: number): Instr => {
    const vn = t.constVn(value);
    const h = t.holder(vn);
    t.define(dst, vn);
    if (h !== undefined && !S16(value)) return { k: 'mov', dst, src: h, loc: i.loc };
    return { k: 'li', dst, value, loc: i.loc };
  };
  const copy = (i: Instr, dst: VReg, src: VReg): Instr => {
    t.define(dst, t.vn(src));
    return { k: 'mov', dst, src, loc: i.loc };
  };
  /** A pure expression with key: reuse an earlier result, or number it fresh. */
  const pure = (i: Instr & { dst: VReg }, key: string, expr?: VnExpr): Instr => {
    const known = t.exprKey(key);
    if (known !== undefined) {
      const h = t.holder(known);
      if (h !== undefined) return copy(i, i.dst, h);
    }
    const vn = known ?? t.fresh();
    t.setExpr(key, vn);
    if (expr) t.exprOf.set(vn, expr);
    t.define(i.dst, vn);
    return i;
  };
  /** Fold `base + imm` into a memory operand's offset. */
  const foldAddress = (i: Instr & { base: VReg; offset: number }): void => {
    const e = t.exprOf.get(t.vn(i.base));
    if (e?.op === 'addi' && S16(i.offset + e.imm)) {
      const h = t.holder(e.a);
      if (h !== undefined) {
        i.base = h;
        i.offset += e.imm;
      }
    }
  };

  for (const orig of b.instrs) {
    const i = orig;
    mapInstrUses(i, (v) => t.canonical(v));
    switch (i.k) {
      case 'li':
        out.push(constant(i, i.dst, i.value));
        break;
      case 'la':
        out.push(pure(i, `la:${i.sym}`));
        break;
      case 'frame':
        out.push(pure(i, `frame:${i.offset}`));
        break;
      case 'mov': {
        if (i.dst === i.src) break;
        const c = constOfReg(i.src);
        out.push(c !== undefined ? constant(i, i.dst, c) : copy(i, i.dst, i.src));
        break;
      }
      case 'bin':
        if (i.op === 'addo' || i.op === 'subo' || i.op === 'mulo') out.push(simplifyChecked(i, t, constant, copy, pure));
        else out.push(simplifyBin(i, t, constant, copy, pure));
        break;
      case 'imm':
        if (i.op === 'addio') {
          out.push(simplifyChecked(i, t, constant, copy, pure));
          break;
        }
        out.push(simplifyBin({ k: 'bin', op: BIN_OF_IMM[i.op], dst: i.dst, a: i.a, b: -1, loc: i.loc }, t, constant, copy, pure, i.imm));
        break;
      case 'un': {
        const c = constOfReg(i.a);
        if (c !== undefined) out.push(constant(i, i.dst, i.op === 'neg' ? -c | 0 : ~c));
        else out.push(pure(i, `${i.op}:${t.vn(i.a)}`));
        break;
      }
      case 'load': {
        foldAddress(i);
        const key = `m${i.width}:${t.vn(i.base)}:${i.offset}`;
        const known = t.lookupLoad(`${key}:${i.signed}`) ?? (i.width === 4 ? t.lookupLoad(key) : undefined);
        const h = known !== undefined ? t.holder(known) : undefined;
        if (h !== undefined && i.mem.kind !== 'raw') {
          out.push(copy(i, i.dst, h));
          break;
        }
        const vn = t.fresh();
        t.define(i.dst, vn);
        t.noteLoad(`${key}:${i.signed}`, vn, i.mem);
        out.push(i);
        break;
      }
      case 'store': {
        foldAddress(i);
        const key = `m${i.width}:${t.vn(i.base)}:${i.offset}`;
        const index = out.length;
        out.push(i);
        if (i.mem.kind === 'raw') {
          t.noteStore(key, -1, i.mem, undefined);
          t.barrier();
        } else {
          t.noteStore(key, index, i.mem, i.width === 4 ? t.vn(i.src) : undefined);
        }
        break;
      }
      case 'call':
      case 'callr':
      case 'trap':
        t.barrier();
        t.forgetConstants();
        if (i.dst !== null) t.define(i.dst, t.fresh());
        out.push(i);
        break;
      case 'in':
      case 'inr':
      case 'out':
      case 'outr':
      case 'mfcr':
      case 'mtcr':
      case 'pushf':
      case 'popf':
      case 'invlpg':
      case 'sys': {
        // Port I/O, control registers, FLAGS, CLI/STI/HLT, INVLPG: order matters, memory may change.
        t.barrier();
        const d = instrDef(i);
        if (d !== null) t.define(d, t.fresh());
        out.push(i);
        break;
      }
      case 'chk':
      case 'chki': {
        // A check whose outcome is known passes (constants) or has passed (the same check earlier
        // in the block); one that is known to fail stays, to trap.
        const ca = constOfReg(i.a);
        const cb = i.k === 'chki' ? i.imm : constOfReg(i.b);
        if (ca !== undefined && cb !== undefined && ca >>> 0 < cb >>> 0) break;
        const key = i.k === 'chki' || cb !== undefined ? `chk:${t.vn(i.a)}:#${cb}` : `chk:${t.vn(i.a)}:${t.vn(i.b)}`;
        if (t.exprKey(key) !== undefined) break;
        t.setExpr(key, t.fresh());
        if (i.k === 'chk' && cb !== undefined && U16(cb)) out.push({ k: 'chki', a: i.a, imm: cb, loc: i.loc, site: i.site });
        else out.push(i);
        break;
      }
      default:
        assertNever(i, 'instruction');
    }
  }
  b.instrs = out.filter((_, idx) => !t.deadStores.has(idx));
  mapTermUses(b.term, (v) => t.canonical(v));
  if (b.term.k === 'br') {
    const ca = constOfReg(b.term.a);
    const cb = constOfReg(b.term.b);
    const same = t.vn(b.term.a) === t.vn(b.term.b);
    if ((ca !== undefined && cb !== undefined) || same) {
      const taken = same ? ['eq', 'ge', 'geu'].includes(b.term.cond) : evalCond(b.term.cond, ca!, cb!);
      b.term = { k: 'jmp', target: taken ? b.term.t : b.term.f, loc: b.term.loc };
    }
  }
}

type Make = (i: Instr, dst: VReg, x: number) => Instr;
type Copy = (i: Instr, dst: VReg, src: VReg) => Instr;
type Pure = (i: Instr & { dst: VReg }, key: string, expr?: VnExpr) => Instr;

/**
 * Simplify `dst = a op b` (or `a op imm` when `imm` is given): fold constants, apply identities,
 * pick the immediate form, and share an earlier identical computation.
 */
function simplifyBin(i: Extract<Instr, { k: 'bin' }>, t: BlockNumbering, constant: Make, copy: Copy, pure: Pure, imm?: number): Instr {
  let op = i.op;
  let a = i.a;
  let b: VReg | undefined = imm === undefined ? i.b : undefined;
  let ca = t.constOf.get(t.vn(a));
  let cb = imm ?? (b !== undefined ? t.constOf.get(t.vn(b)) : undefined);
  if (ca !== undefined && cb !== undefined) {
    const v = evalBin(op, ca, cb);
    if (v !== undefined) return constant(i, i.dst, v);
  }
  // Constant on the left of a commutative operator: swap it right.
  if (ca !== undefined && cb === undefined && b !== undefined && COMMUTATIVE.has(op)) {
    [a, b] = [b, a];
    [ca, cb] = [cb, ca];
  }
  if (cb !== undefined) {
    // Identities.
    if ((cb === 0 && ['add', 'sub', 'or', 'xor', 'shl', 'shr', 'sar'].includes(op)) || (cb === 1 && (op === 'mul' || op === 'div')) || (cb === -1 && op === 'and')) {
      return copy(i, i.dst, a);
    }
    if ((cb === 0 && (op === 'mul' || op === 'and')) || (cb === 1 && (op === 'rem' || op === 'remu'))) return constant(i, i.dst, 0);
    if (cb === -1 && op === 'xor') return pure({ k: 'un', op: 'not', dst: i.dst, a, loc: i.loc }, `not:${t.vn(a)}`);
    if (cb === -1 && op === 'mul') return pure({ k: 'un', op: 'neg', dst: i.dst, a, loc: i.loc }, `neg:${t.vn(a)}`);
    // Prefer an immediate form: `x - c` is `x + -c`; multiplication and unsigned division or
    // remainder by a power of two are shifts and masks (not signed division: it rounds toward zero).
    let formOp = op;
    let formImm = cb;
    if (op === 'sub' && S16(-cb)) {
      formOp = 'add';
      formImm = -cb;
    } else if (cb > 0 && (cb & (cb - 1)) === 0) {
      const k = 31 - Math.clz32(cb);
      if (op === 'mul') [formOp, formImm] = ['shl', k];
      else if (op === 'divu') [formOp, formImm] = ['shr', k];
      else if (op === 'remu' && cb - 1 <= 0xffff) [formOp, formImm] = ['and', cb - 1];
    }
    const form = IMM_OF[formOp];
    if (form && form.fits(formImm)) {
      const immValue = formOp === 'shl' || formOp === 'shr' || formOp === 'sar' ? formImm & 31 : formImm;
      if (immValue === 0 && form.op !== 'andi' && form.op !== 'muli' && form.op !== 'slti' && form.op !== 'sltiu') return copy(i, i.dst, a);
      const key = `${form.op}:${t.vn(a)}:${immValue}`;
      const expr: VnExpr = form.op === 'addi' ? { op: 'addi', a: t.vn(a), imm: immValue } : undefined;
      return pure({ k: 'imm', op: form.op, dst: i.dst, a, imm: immValue, loc: i.loc }, key, expr);
    }
    if (b === undefined) b = materialize(t, cb);
  }
  if (b === undefined) return i; // cannot happen: an immediate always fits its own form
  if (a === b && (op === 'sub' || op === 'xor')) return constant(i, i.dst, 0);
  if (a === b && (op === 'and' || op === 'or')) return copy(i, i.dst, a);
  const va = t.vn(a);
  const vb = t.vn(b);
  const key = COMMUTATIVE.has(op) && vb < va ? `${op}:${vb}:${va}` : `${op}:${va}:${vb}`;
  // A division keeps its site: the handler names the expression that divided by zero.
  return pure({ k: 'bin', op, dst: i.dst, a, b, loc: i.loc, ...(i.site ? { site: i.site } : {}) }, key);
}

/**
 * Simplify a checked `addo`/`subo`/`mulo`/`addio`: fold it when the exact result is an int32
 * (otherwise it stays, to trap), apply only the identities that cannot overflow (`x + 0`,
 * `x * 1`, `x * 0`, `x - x`; not `x * -1`, which overflows for INT_MIN, nor shifts for powers of
 * two), use `addio` for a small constant, and reuse an identical earlier result in the block (it
 * passed its check already).
 */
function simplifyChecked(i: Extract<Instr, { k: 'bin' } | { k: 'imm' }>, t: BlockNumbering, constant: Make, copy: Copy, pure: Pure): Instr {
  const op: BinOp = i.k === 'imm' ? 'addo' : i.op;
  let a = i.a;
  let b: VReg | undefined = i.k === 'bin' ? i.b : undefined;
  let ca = t.constOf.get(t.vn(a));
  let cb = i.k === 'imm' ? i.imm : t.constOf.get(t.vn(b!));
  const site = i.site ? { site: i.site } : {};
  if (ca !== undefined && cb !== undefined) {
    const v = evalBin(op, ca, cb);
    if (v !== undefined) return constant(i, i.dst, v);
  }
  if (ca !== undefined && cb === undefined && b !== undefined && op !== 'subo') {
    [a, b] = [b, a];
    [ca, cb] = [cb, ca];
  }
  if (cb !== undefined) {
    if (cb === 0 && op !== 'mulo') return copy(i, i.dst, a);
    if (cb === 1 && op === 'mulo') return copy(i, i.dst, a);
    if (cb === 0 && op === 'mulo') return constant(i, i.dst, 0);
    const imm = op === 'addo' ? cb : op === 'subo' ? -cb : undefined;
    if (imm !== undefined && S16(imm)) {
      return pure({ k: 'imm', op: 'addio', dst: i.dst, a, imm, loc: i.loc, ...site }, `addio:${t.vn(a)}:${imm}`);
    }
    if (b === undefined) b = materialize(t, cb);
  }
  if (b === undefined) return i;
  if (a === b && op === 'subo') return constant(i, i.dst, 0);
  const va = t.vn(a);
  const vb = t.vn(b);
  const key = op !== 'subo' && vb < va ? `${op}:${vb}:${va}` : `${op}:${va}:${vb}`;
  return pure({ k: 'bin', op, dst: i.dst, a, b, loc: i.loc, ...site }, key);
}

/** A register holding `value`, which must already exist in the block (the operand it came from). */
function materialize(t: BlockNumbering, value: number): VReg {
  const h = t.holder(t.constVn(value));
  if (h === undefined) throw new Error(`optimize: no register holds constant ${value}`);
  return h;
}
