/**
 * The intermediate representation between lowering (lower*.ts) and code generation (regalloc.ts,
 * emit.ts): per function, a control-flow graph of basic blocks holding three-address instructions
 * over unlimited virtual registers. Instructions map one to one (or nearly) onto the ISA, so the
 * optimiser works on what the machine will run.
 *
 * Virtual registers are not SSA: a `let` local is one vreg assigned many times; temporaries from
 * lowering are assigned once. Passes that need single assignment check `defCount`.
 */

export type VReg = number;
export type BlockId = number;

/** Register-register ALU operations: the ISA's R forms. */
export type BinOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'divu'
  | 'rem'
  | 'remu'
  | 'and'
  | 'or'
  | 'xor'
  | 'shl'
  | 'shr'
  | 'sar'
  | 'slt'
  | 'sltu'
  | 'seq'
  | 'sne'
  /** Checked forms (#OF when the exact result leaves int32), and the high word of a product. */
  | 'addo'
  | 'subo'
  | 'mulo'
  | 'mulh';

/** Register-immediate ALU operations: the ISA's I forms. */
export type ImmOp = 'addi' | 'muli' | 'andi' | 'ori' | 'xori' | 'shli' | 'shri' | 'sari' | 'slti' | 'sltiu' | 'addio';

/** Conditions of the conditional branches (beq, bne, blt, bge, bltu, bgeu). */
export type Cond = 'eq' | 'ne' | 'lt' | 'ge' | 'ltu' | 'geu';

export const INVERSE_COND: Readonly<Record<Cond, Cond>> = { eq: 'ne', ne: 'eq', lt: 'ge', ge: 'lt', ltu: 'geu', geu: 'ltu' };

export type Width = 1 | 2 | 4;

/**
 * What memory a load or store touches, for redundant-load elimination:
 * - global: one scalar module variable (never aliased by anything but raw accesses);
 * - array: elements of a typed array, `sym` when the array is statically known;
 * - const: immutable bytes (string literals, length words);
 * - raw: load8..store32 intrinsics, which may touch anything.
 */
export type MemClass =
  | { readonly kind: 'global'; readonly sym: string }
  | { readonly kind: 'array'; readonly sym: string | null }
  /** A record's number or boolean field, `sym` naming the class and offset (records-lower.ts): records never overlap, so only the same field of some record aliases it. */
  | { readonly kind: 'field'; readonly sym: string }
  | { readonly kind: 'const' }
  | { readonly kind: 'raw' };

/** A source line an instruction came from, for the listing and `--trace`. */
export interface Loc {
  file: string;
  line: number;
}

export type SysOp = 'cli' | 'sti' | 'hlt' | 'brk';

/**
 * What a run-time check reports when its instruction traps (the default handlers in startup.ts
 * look the faulting pc up in the table of sites): the kind of error, where, and the source text.
 * `guest-kernel/programs/x.ts:12:9: integer overflow in 'i * i'`.
 */
export type CheckKind = 'overflow' | 'bounds' | 'inexact-division' | 'division-by-zero' | 'unsigned';

export interface CheckSite {
  readonly kind: CheckKind;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The source text of the checked expression, as the message quotes it. */
  readonly text: string;
}

export type Instr = (
  | { k: 'li'; dst: VReg; value: number }
  | { k: 'la'; dst: VReg; sym: string }
  /** The address of byte `offset` of the function's local typed arrays (sp-relative: local-arrays.ts). */
  | { k: 'frame'; dst: VReg; offset: number }
  | { k: 'mov'; dst: VReg; src: VReg }
  | { k: 'bin'; op: BinOp; dst: VReg; a: VReg; b: VReg }
  | { k: 'imm'; op: ImmOp; dst: VReg; a: VReg; imm: number }
  | { k: 'un'; op: 'neg' | 'not'; dst: VReg; a: VReg }
  | { k: 'load'; width: Width; signed: boolean; dst: VReg; base: VReg; offset: number; mem: MemClass }
  | { k: 'store'; width: Width; src: VReg; base: VReg; offset: number; mem: MemClass }
  /** Direct call; arguments go to r0..r5, the result comes back in r0. */
  | { k: 'call'; dst: VReg | null; target: string; args: VReg[] }
  /** Indirect call through a function value (`callr`): as `call`, to the address in `addr`. */
  | { k: 'callr'; dst: VReg | null; addr: VReg; args: VReg[] }
  /** HYPERCALL or SYSCALL: args[0] goes to r0 (the number), args[1..5] to r1..r5; result in r0. */
  | { k: 'trap'; op: 'hypercall' | 'syscall'; dst: VReg | null; args: VReg[] }
  | { k: 'in'; dst: VReg; port: number }
  | { k: 'inr'; dst: VReg; port: VReg }
  | { k: 'out'; port: number; src: VReg }
  | { k: 'outr'; port: VReg; src: VReg }
  | { k: 'mfcr'; dst: VReg; cr: number }
  | { k: 'mtcr'; cr: number; src: VReg }
  | { k: 'pushf'; dst: VReg }
  | { k: 'popf'; src: VReg }
  | { k: 'invlpg'; src: VReg }
  | { k: 'sys'; op: SysOp }
  /** A bounds check: #BR unless `a < b` unsigned (`chk`), or `a < imm` unsigned (`chki`). */
  | { k: 'chk'; a: VReg; b: VReg }
  | { k: 'chki'; a: VReg; imm: number }
) & { loc?: Loc | undefined; site?: CheckSite | undefined };

export type Term = (
  | { k: 'jmp'; target: BlockId }
  | { k: 'br'; cond: Cond; a: VReg; b: VReg; t: BlockId; f: BlockId }
  | { k: 'ret'; value: VReg | null }
  /**
   * Indirect jump through the jump table `table` (emitted after the function, one word per entry):
   * `addr` holds the loaded target; `targets` lists the table's entries in order.
   */
  | { k: 'jr'; addr: VReg; targets: BlockId[]; table: string }
  /** Control never reaches the end of this block (after a call to a function that never returns). */
  | { k: 'unreachable' }
) & { loc?: Loc | undefined };

export interface Block {
  id: BlockId;
  instrs: Instr[];
  term: Term;
}

export interface IrFunction {
  /** Name in the source. */
  name: string;
  /** Assembly label. */
  label: string;
  params: VReg[];
  /** Blocks in layout order; `blocks[0]` is the entry. Ids are not indices after optimisation. */
  blocks: Block[];
  nextVreg: number;
  returnsValue: boolean;
  /** Bytes of the function's local typed arrays in its frame (local-arrays.ts); absent when none. */
  localArrayBytes?: number;
  loc: Loc;
}

export function newVreg(fn: IrFunction): VReg {
  return fn.nextVreg++;
}

/** Virtual registers an instruction reads. */
export function instrUses(i: Instr): VReg[] {
  switch (i.k) {
    case 'li':
    case 'la':
    case 'frame':
    case 'in':
    case 'mfcr':
    case 'pushf':
    case 'sys':
      return [];
    case 'mov':
      return [i.src];
    case 'bin':
      return [i.a, i.b];
    case 'imm':
    case 'un':
      return [i.a];
    case 'load':
      return [i.base];
    case 'store':
      return [i.src, i.base];
    case 'call':
    case 'trap':
      return i.args;
    case 'callr':
      return [i.addr, ...i.args];
    case 'inr':
      return [i.port];
    case 'out':
    case 'mtcr':
    case 'popf':
    case 'invlpg':
      return [i.src];
    case 'outr':
      return [i.port, i.src];
    case 'chk':
      return [i.a, i.b];
    case 'chki':
      return [i.a];
  }
}

/** The virtual register an instruction writes, if any. */
export function instrDef(i: Instr): VReg | null {
  switch (i.k) {
    case 'li':
    case 'la':
    case 'frame':
    case 'mov':
    case 'bin':
    case 'imm':
    case 'un':
    case 'load':
    case 'in':
    case 'inr':
    case 'mfcr':
    case 'pushf':
      return i.dst;
    case 'call':
    case 'callr':
    case 'trap':
      return i.dst;
    case 'store':
    case 'out':
    case 'outr':
    case 'mtcr':
    case 'popf':
    case 'invlpg':
    case 'sys':
    case 'chk':
    case 'chki':
      return null;
  }
}

/** Rewrite the registers an instruction reads. */
export function mapInstrUses(i: Instr, f: (v: VReg) => VReg): void {
  switch (i.k) {
    case 'mov':
      i.src = f(i.src);
      return;
    case 'bin':
      i.a = f(i.a);
      i.b = f(i.b);
      return;
    case 'imm':
    case 'un':
      i.a = f(i.a);
      return;
    case 'load':
      i.base = f(i.base);
      return;
    case 'store':
      i.src = f(i.src);
      i.base = f(i.base);
      return;
    case 'call':
    case 'trap':
      i.args = i.args.map(f);
      return;
    case 'callr':
      i.addr = f(i.addr);
      i.args = i.args.map(f);
      return;
    case 'inr':
      i.port = f(i.port);
      return;
    case 'out':
    case 'mtcr':
    case 'popf':
    case 'invlpg':
      i.src = f(i.src);
      return;
    case 'outr':
      i.port = f(i.port);
      i.src = f(i.src);
      return;
    case 'chk':
      i.a = f(i.a);
      i.b = f(i.b);
      return;
    case 'chki':
      i.a = f(i.a);
      return;
    default:
      return;
  }
}

export function termUses(t: Term): VReg[] {
  switch (t.k) {
    case 'br':
      return [t.a, t.b];
    case 'ret':
      return t.value === null ? [] : [t.value];
    case 'jr':
      return [t.addr];
    case 'jmp':
    case 'unreachable':
      return [];
  }
}

export function mapTermUses(t: Term, f: (v: VReg) => VReg): void {
  if (t.k === 'br') {
    t.a = f(t.a);
    t.b = f(t.b);
  } else if (t.k === 'ret' && t.value !== null) {
    t.value = f(t.value);
  } else if (t.k === 'jr') {
    t.addr = f(t.addr);
  }
}

export function successors(t: Term): BlockId[] {
  switch (t.k) {
    case 'jmp':
      return [t.target];
    case 'br':
      return t.t === t.f ? [t.t] : [t.t, t.f];
    case 'jr':
      return [...new Set(t.targets)];
    case 'ret':
    case 'unreachable':
      return [];
  }
}

export function mapSuccessors(t: Term, f: (b: BlockId) => BlockId): void {
  if (t.k === 'jmp') t.target = f(t.target);
  else if (t.k === 'br') {
    t.t = f(t.t);
    t.f = f(t.f);
  } else if (t.k === 'jr') t.targets = t.targets.map(f);
}

/**
 * Whether the instruction may trap: a division (#DE), a checked operation (#OF) or a bounds
 * check (#BR). Such an instruction is never removed for want of uses, moved to where it would
 * run on a path that did not run it, or reordered with another one (which check fires first is
 * part of a program's behaviour); a later identical one may reuse its result.
 */
export function mayTrap(i: Instr): boolean {
  if (i.k === 'chk' || i.k === 'chki') return true;
  if (i.k === 'imm') return i.op === 'addio';
  if (i.k !== 'bin') return false;
  return i.op === 'div' || i.op === 'divu' || i.op === 'rem' || i.op === 'remu' || i.op === 'addo' || i.op === 'subo' || i.op === 'mulo';
}

/** True when removing the instruction (its result unused) cannot change behaviour. */
export function isPure(i: Instr): boolean {
  if (mayTrap(i)) return false;
  switch (i.k) {
    case 'li':
    case 'la':
    case 'frame':
    case 'mov':
    case 'bin':
    case 'imm':
    case 'un':
      return true;
    case 'load':
      // A raw load may be a device-visible access in a kernel; keep it. Typed-array and global loads go.
      return i.mem.kind !== 'raw';
    default:
      return false;
  }
}

/** Calls and traps clobber the caller-saved registers. */
export function isCallLike(i: Instr): boolean {
  return i.k === 'call' || i.k === 'callr' || i.k === 'trap';
}

/** A readable dump of a function, for tests and debugging. */
export function printFunction(fn: IrFunction): string {
  const v = (r: VReg): string => `v${r}`;
  const lines = [`function ${fn.label}(${fn.params.map(v).join(', ')})`];
  for (const b of fn.blocks) {
    lines.push(`b${b.id}:`);
    for (const i of b.instrs) lines.push(`  ${printInstr(i)}`);
    const t = b.term;
    switch (t.k) {
      case 'jmp':
        lines.push(`  jmp b${t.target}`);
        break;
      case 'br':
        lines.push(`  br ${t.cond} ${v(t.a)}, ${v(t.b)} ? b${t.t} : b${t.f}`);
        break;
      case 'ret':
        lines.push(`  ret${t.value === null ? '' : ' ' + v(t.value)}`);
        break;
      case 'jr':
        lines.push(`  jr ${v(t.addr)} [${t.targets.map((x) => `b${x}`).join(' ')}]`);
        break;
      case 'unreachable':
        lines.push('  unreachable');
        break;
    }
  }
  return lines.join('\n');
}

export function printInstr(i: Instr): string {
  const v = (r: VReg): string => `v${r}`;
  switch (i.k) {
    case 'li':
      return `${v(i.dst)} = ${i.value}`;
    case 'la':
      return `${v(i.dst)} = &${i.sym}`;
    case 'frame':
      return `${v(i.dst)} = &frame+${i.offset}`;
    case 'mov':
      return `${v(i.dst)} = ${v(i.src)}`;
    case 'bin':
      return `${v(i.dst)} = ${i.op} ${v(i.a)}, ${v(i.b)}`;
    case 'imm':
      return `${v(i.dst)} = ${i.op} ${v(i.a)}, ${i.imm}`;
    case 'un':
      return `${v(i.dst)} = ${i.op} ${v(i.a)}`;
    case 'load':
      return `${v(i.dst)} = load${i.width}${i.signed ? 's' : ''} [${v(i.base)}${i.offset ? `+${i.offset}` : ''}]`;
    case 'store':
      return `store${i.width} [${v(i.base)}${i.offset ? `+${i.offset}` : ''}] = ${v(i.src)}`;
    case 'call':
      return `${i.dst === null ? '' : `${v(i.dst)} = `}call ${i.target}(${i.args.map(v).join(', ')})`;
    case 'trap':
      return `${i.dst === null ? '' : `${v(i.dst)} = `}${i.op}(${i.args.map(v).join(', ')})`;
    case 'callr':
      return `${i.dst === null ? '' : `${v(i.dst)} = `}callr ${v(i.addr)}(${i.args.map(v).join(', ')})`;
    case 'in':
      return `${v(i.dst)} = in ${i.port}`;
    case 'inr':
      return `${v(i.dst)} = in ${v(i.port)}`;
    case 'out':
      return `out ${i.port}, ${v(i.src)}`;
    case 'outr':
      return `out ${v(i.port)}, ${v(i.src)}`;
    case 'mfcr':
      return `${v(i.dst)} = mfcr ${i.cr}`;
    case 'mtcr':
      return `mtcr ${i.cr}, ${v(i.src)}`;
    case 'pushf':
      return `${v(i.dst)} = flags`;
    case 'popf':
      return `flags = ${v(i.src)}`;
    case 'invlpg':
      return `invlpg ${v(i.src)}`;
    case 'sys':
      return i.op;
    case 'chk':
      return `chk ${v(i.a)}, ${v(i.b)}`;
    case 'chki':
      return `chk ${v(i.a)}, ${i.imm}`;
  }
}
