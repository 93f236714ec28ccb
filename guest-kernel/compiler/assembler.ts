/**
 * A two-pass assembler for the tsvisor instruction set, producing a GuestImage (abi/image.ts).
 *
 * Instructions are not listed here: the assembler reads abi/isa.ts's OPCODES table and parses
 * each instruction's operands by its operand form, so a new opcode needs no change in this file.
 *
 * Pass 0 collects symbol names (so "undefined" and "defined later" can be told apart), `.equ`
 * definitions and `.target`. Pass 1 lays out the program: it gives every label its address and
 * fixes every size (`.space`, `.align`, `.org`, the expansion of `li`) from values known at that
 * point. Pass 2 walks the same statements again and emits bytes; since every size-deciding value
 * was recorded in pass 1 and is replayed, the two passes cannot disagree on the layout.
 *
 * Errors are values (AsmError) collected over the whole file, never exceptions; an error reported
 * in both passes is reported once.
 *
 * Syntax summary (see also the tests):
 *   label:  mnemonic operands   ; comment      # comment
 *   registers r0..r15, sp (= r15); control registers by name (abi/isa.ts CR_NAMES) or crN
 *   numbers 42, -1, 0x2a, 0b101010, 'c' (with \n \t \r \0 \\ \' \" \xNN escapes)
 *   expressions over symbols, numbers and `.` (the address of the current statement) with
 *   + - * / % & | ^ << >> ~ and parentheses
 *   memory operands [ra], [ra+expr], [ra-expr]
 *   branch and jump targets are absolute addresses (usually labels)
 */
import {
  CR_NAMES,
  encode,
  immRange,
  INSN_BYTES,
  OPCODE_BY_MNEMONIC,
  REG_COUNT,
  REG_NAMES,
  type Instruction,
  type OpcodeInfo,
  type OperandForm,
} from '../../abi/isa.ts';
import { checkImage, formatImageError, SEG_R, SEG_W, SEG_X, type GuestImage, type ImageLine, type ImageTarget } from '../../abi/image.ts';
import { LOAD_BASE } from '../../abi/platform.ts';
import { ABI_MAJOR, ABI_MINOR } from '../../abi/version.ts';
import { cachedResult, resolveEqu } from './asm-equ.ts';

// ---------------------------------------------------------------------------------------------
// Public API

export interface AsmError {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** One source line with the address it was assembled at and the bytes it put in the file. */
export interface ListingLine {
  file: string;
  line: number;
  addr: number;
  bytes: Uint8Array;
  text: string;
}

export interface AssembleOptions {
  /** Used in error messages and in the image's line table. */
  fileName?: string;
  /** The build the source is for; a `.target` directive must agree with it. Default native. */
  target?: ImageTarget;
}

export type AssembleResult = { ok: true; image: GuestImage; listing: ListingLine[] } | { ok: false; errors: AsmError[] };

/** One line: `boot.s:12:9: unknown register 'r16'`. */
export function formatAsmError(e: AsmError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.message}`;
}

/** `as -a` style: address, bytes and source for each line. */
export function formatListing(listing: readonly ListingLine[]): string {
  return listing
    .map((l) => {
      const bytes = Array.from(l.bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
      const more = l.bytes.length > 8 ? '…' : '';
      return `${l.addr.toString(16).padStart(8, '0')}  ${(bytes + more).padEnd(24)}  ${l.text}`;
    })
    .join('\n');
}

export function assemble(text: string, opts: AssembleOptions = {}): AssembleResult {
  const a = new Assembly(opts.fileName ?? 'input.s');
  const stmts = parseSource(a, text);
  collectDefinitions(a, stmts, opts.target);
  runPass(a, stmts, 1);
  runPass(a, stmts, 2);
  const image = a.errors.size === 0 ? buildImage(a, stmts) : undefined;
  if (!image || a.errors.size > 0) {
    const errors = [...a.errors.values()].sort((x, y) => x.line - y.line || x.col - y.col);
    return { ok: false, errors };
  }
  return { ok: true, image, listing: a.listing };
}

// ---------------------------------------------------------------------------------------------
// Lexer: one source line to tokens. `;` and `#` start a comment outside string and char literals.

type Token =
  | { kind: 'ident'; text: string; col: number }
  | { kind: 'num'; value: number; text: string; col: number }
  | { kind: 'str'; bytes: number[]; col: number }
  | { kind: 'punct'; text: string; col: number };

/** A syntax error at a column; returned, not thrown, by the lexer and the parser. */
class Fail {
  constructor(
    readonly col: number,
    readonly message: string,
  ) {}
}

const IDENT_START = /[A-Za-z_.$]/;
const IDENT_REST = /^[A-Za-z0-9_.$]*/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)(?![A-Za-z0-9_.$])/;
const BAD_NUMBER = /^[0-9][A-Za-z0-9_.$]*/;
const SINGLE_PUNCT = ',[]:+-*/%&|^~()';

function lexLine(src: string): Token[] | Fail {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const col = i + 1;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === ';' || c === '#') {
      break;
    } else if (IDENT_START.test(c)) {
      const text = c + IDENT_REST.exec(src.slice(i + 1))![0];
      tokens.push({ kind: 'ident', text, col });
      i += text.length;
    } else if (c >= '0' && c <= '9') {
      const m = NUMBER.exec(src.slice(i));
      if (!m) return new Fail(col, `bad number '${BAD_NUMBER.exec(src.slice(i))![0]}'`);
      tokens.push({ kind: 'num', value: Number(m[0]), text: m[0], col });
      i += m[0].length;
    } else if (c === '"') {
      const s = lexString(src, i);
      if (s instanceof Fail) return s;
      tokens.push({ kind: 'str', bytes: s.bytes, col });
      i = s.next;
    } else if (c === "'") {
      const ch = lexChar(src, i);
      if (ch instanceof Fail) return ch;
      tokens.push({ kind: 'num', value: ch.value, text: src.slice(i, ch.next), col });
      i = ch.next;
    } else if ((c === '<' || c === '>') && src[i + 1] === c) {
      tokens.push({ kind: 'punct', text: c + c, col });
      i += 2;
    } else if (SINGLE_PUNCT.includes(c)) {
      tokens.push({ kind: 'punct', text: c, col });
      i++;
    } else {
      return new Fail(col, `unexpected character '${c}'`);
    }
  }
  return tokens;
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { n: 10, t: 9, r: 13, '0': 0, '\\': 92, '"': 34, "'": 39 };

/** One escape sequence starting at the backslash at src[i]: its byte value and where it ends. */
function lexEscape(src: string, i: number): { value: number; next: number } | Fail {
  const e = src[i + 1];
  if (e === undefined) return new Fail(i + 1, 'backslash at end of line');
  const simple = SIMPLE_ESCAPES[e];
  if (simple !== undefined) return { value: simple, next: i + 2 };
  if (e === 'x') {
    const hex = /^[0-9a-fA-F]{2}/.exec(src.slice(i + 2));
    if (!hex) return new Fail(i + 1, "'\\x' needs two hex digits");
    return { value: parseInt(hex[0], 16), next: i + 4 };
  }
  return new Fail(i + 1, `unknown escape '\\${e}'`);
}

/** A string literal as UTF-8 bytes; `\xNN` inserts the raw byte NN. */
function lexString(src: string, start: number): { bytes: number[]; next: number } | Fail {
  const bytes: number[] = [];
  const utf8 = new TextEncoder();
  let i = start + 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"') return { bytes, next: i + 1 };
    if (c === '\\') {
      const e = lexEscape(src, i);
      if (e instanceof Fail) return e;
      bytes.push(e.value);
      i = e.next;
    } else {
      const cp = String.fromCodePoint(src.codePointAt(i)!);
      bytes.push(...utf8.encode(cp));
      i += cp.length;
    }
  }
  return new Fail(start + 1, 'unterminated string');
}

/** A character literal: the code point of one character, or one escape. */
function lexChar(src: string, start: number): { value: number; next: number } | Fail {
  let value: number;
  let i = start + 1;
  if (src[i] === '\\') {
    const e = lexEscape(src, i);
    if (e instanceof Fail) return e;
    value = e.value;
    i = e.next;
  } else if (i < src.length && src[i] !== "'") {
    value = src.codePointAt(i)!;
    i += String.fromCodePoint(value).length;
  } else {
    return new Fail(start + 1, 'empty character literal');
  }
  if (src[i] !== "'") return new Fail(start + 1, 'unterminated character literal');
  return { value, next: i + 1 };
}

// ---------------------------------------------------------------------------------------------
// Parser: tokens to statements, operands and expressions.

export type Expr =
  | { k: 'num'; value: number; col: number }
  | { k: 'sym'; name: string; col: number }
  | { k: 'dot'; col: number }
  | { k: 'unary'; op: UnaryOp; arg: Expr; col: number }
  | { k: 'binary'; op: BinaryOp; left: Expr; right: Expr; col: number };

type Operand =
  | { kind: 'reg'; reg: number; name: string; col: number }
  | { kind: 'mem'; base: number; offset: Expr | undefined; col: number }
  | { kind: 'expr'; expr: Expr; col: number }
  | { kind: 'str'; bytes: number[]; col: number };

interface Op {
  /** Lower-cased mnemonic or directive. */
  name: string;
  col: number;
  operands: Operand[];
}

interface Stmt {
  line: number;
  text: string;
  labels: { name: string; col: number }[];
  op: Op | undefined;
  /** Size-deciding values computed in pass 1, replayed in pass 2 (null: could not be computed). */
  fixed: Map<number, number | null>;
}

class Cursor {
  private i = 0;
  /** Parentheses and unary operators open around the parser's position (checked on the way down). */
  nesting = 0;
  /** Levels of operators and parentheses in the expression parsed last (checked on the way up). */
  depth = 0;
  constructor(
    private readonly tokens: readonly Token[],
    /** Column just past the end of the line, for "expected ... at end of line". */
    readonly endCol: number,
  ) {}
  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }
  next(): Token | undefined {
    return this.tokens[this.i++];
  }
  atEnd(): boolean {
    return this.i >= this.tokens.length;
  }
  isPunct(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.kind === 'punct' && t.text === text;
  }
  /** Column of the next token, or of the end of the line. */
  col(): number {
    return this.peek()?.col ?? this.endCol;
  }
}

const tokenText = (t: Token | undefined): string =>
  t === undefined ? 'end of line' : t.kind === 'str' ? 'a string' : `'${t.text}'`;

/** A register name: its number, 'bad' for r16 and up (reserved syntax), undefined if not a register. */
function registerNumber(name: string): number | 'bad' | undefined {
  const lower = name.toLowerCase();
  const named = REG_NAMES.indexOf(lower);
  if (named >= 0) return named;
  const m = /^r(\d+)$/.exec(lower);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n < REG_COUNT ? n : 'bad';
}

function parseStatement(tokens: Token[], line: number, text: string): Stmt | Fail {
  const cur = new Cursor(tokens, text.length + 1);
  const labels: Stmt['labels'] = [];
  while (cur.peek()?.kind === 'ident' && cur.isPunct(':', 1)) {
    const t = cur.next() as Extract<Token, { kind: 'ident' }>;
    cur.next();
    if (registerNumber(t.text) !== undefined) return new Fail(t.col, `'${t.text}' is a register name and cannot be a label`);
    labels.push({ name: t.text, col: t.col });
  }
  const stmt: Stmt = { line, text, labels, op: undefined, fixed: new Map() };
  if (cur.atEnd()) return stmt;
  const head = cur.next()!;
  if (head.kind !== 'ident') return new Fail(head.col, `expected a label, mnemonic or directive, got ${tokenText(head)}`);
  const operands = parseOperands(cur);
  if (operands instanceof Fail) return operands;
  stmt.op = { name: head.text.toLowerCase(), col: head.col, operands };
  return stmt;
}

function parseOperands(cur: Cursor): Operand[] | Fail {
  const operands: Operand[] = [];
  if (cur.atEnd()) return operands;
  for (;;) {
    const o = parseOperand(cur);
    if (o instanceof Fail) return o;
    operands.push(o);
    if (cur.atEnd()) return operands;
    if (!cur.isPunct(',')) return new Fail(cur.col(), `expected ',' between operands, got ${tokenText(cur.peek())}`);
    cur.next();
  }
}

function parseOperand(cur: Cursor): Operand | Fail {
  const t = cur.peek();
  if (t === undefined) return new Fail(cur.col(), 'missing operand');
  if (t.kind === 'str') {
    cur.next();
    return { kind: 'str', bytes: t.bytes, col: t.col };
  }
  if (t.kind === 'punct' && t.text === '[') return parseMemory(cur);
  // A register stands alone unless an operator follows ('r1 + 4' is a misuse the expression
  // parser names); so 'li r1 5' is a missing comma after r1, not an expression with a register.
  if (t.kind === 'ident' && !isBinaryOp(cur.peek(1))) {
    const reg = registerNumber(t.text);
    if (reg === 'bad') return new Fail(t.col, `unknown register '${t.text}'`);
    if (reg !== undefined) {
      cur.next();
      return { kind: 'reg', reg, name: t.text, col: t.col };
    }
  }
  const expr = parseExpr(cur);
  return expr instanceof Fail ? expr : { kind: 'expr', expr, col: t.col };
}

/** `[ra]`, `[ra+expr]`, `[ra-expr]`: the sign belongs to the offset expression. */
function parseMemory(cur: Cursor): Operand | Fail {
  const open = cur.next()!;
  const base = cur.next();
  const reg = base?.kind === 'ident' ? registerNumber(base.text) : undefined;
  if (base?.kind === 'ident' && reg === 'bad') return new Fail(base.col, `unknown register '${base.text}'`);
  if (reg === undefined || reg === 'bad') {
    return new Fail(base?.col ?? cur.endCol, `expected a base register after '[', got ${tokenText(base)}`);
  }
  let offset: Expr | undefined;
  if (cur.isPunct('+') || cur.isPunct('-')) {
    const e = parseExpr(cur);
    if (e instanceof Fail) return e;
    offset = e;
  }
  if (!cur.isPunct(']')) return new Fail(cur.col(), `expected ']' to close the memory operand, got ${tokenText(cur.peek())}`);
  cur.next();
  return { kind: 'mem', base: reg, offset, col: open.col };
}

/** Binding strength of binary operators, as in C. */
const PRECEDENCE = { '|': 1, '^': 2, '&': 3, '<<': 4, '>>': 4, '+': 5, '-': 5, '*': 6, '/': 6, '%': 6 } as const;
type BinaryOp = keyof typeof PRECEDENCE;
type UnaryOp = '-' | '+' | '~';
const isBinaryOp = (t: Token | undefined): t is Extract<Token, { kind: 'punct' }> & { text: BinaryOp } =>
  t?.kind === 'punct' && Object.hasOwn(PRECEDENCE, t.text);

/**
 * The deepest expression accepted, in levels of operators and parentheses: far beyond what an
 * address computation needs, and far below what would overflow the host's stack in the parser
 * (which recurses per parenthesis and unary operator) or in evaluation (per level, a long chain
 * `1+1+...` included).
 */
export const MAX_EXPR_DEPTH = 256;

const tooDeep = (col: number): Fail => new Fail(col, `expression nested too deeply (more than ${MAX_EXPR_DEPTH} levels of operators and parentheses)`);

function parseExpr(cur: Cursor, minPrecedence = 1): Expr | Fail {
  let left = parseUnary(cur);
  if (left instanceof Fail) return left;
  let depth = cur.depth;
  for (;;) {
    const t = cur.peek();
    if (!isBinaryOp(t) || PRECEDENCE[t.text] < minPrecedence) {
      cur.depth = depth;
      return left;
    }
    cur.next();
    const right = parseExpr(cur, PRECEDENCE[t.text] + 1);
    if (right instanceof Fail) return right;
    depth = Math.max(depth, cur.depth) + 1;
    if (depth > MAX_EXPR_DEPTH) return tooDeep(t.col);
    left = { k: 'binary', op: t.text, left, right, col: t.col };
  }
}

function parseUnary(cur: Cursor): Expr | Fail {
  const t = cur.peek();
  if (t?.kind === 'punct' && (t.text === '-' || t.text === '+' || t.text === '~')) {
    cur.next();
    if (++cur.nesting > MAX_EXPR_DEPTH) return tooDeep(t.col);
    const arg = parseUnary(cur);
    cur.nesting--;
    if (arg instanceof Fail) return arg;
    if (++cur.depth > MAX_EXPR_DEPTH) return tooDeep(t.col);
    return { k: 'unary', op: t.text as UnaryOp, arg, col: t.col };
  }
  return parsePrimary(cur);
}

function parsePrimary(cur: Cursor): Expr | Fail {
  const t = cur.next();
  cur.depth = 0;
  if (t?.kind === 'num') return { k: 'num', value: t.value, col: t.col };
  if (t?.kind === 'ident') {
    if (t.text === '.') return { k: 'dot', col: t.col };
    const reg = registerNumber(t.text);
    if (reg === 'bad') return new Fail(t.col, `unknown register '${t.text}'`);
    if (reg !== undefined) return new Fail(t.col, `register '${t.text}' cannot be used in an expression`);
    return { k: 'sym', name: t.text, col: t.col };
  }
  if (t?.kind === 'punct' && t.text === '(') {
    if (++cur.nesting > MAX_EXPR_DEPTH) return tooDeep(t.col);
    const inner = parseExpr(cur);
    cur.nesting--;
    if (inner instanceof Fail) return inner;
    if (!cur.isPunct(')')) return new Fail(cur.col(), `expected ')', got ${tokenText(cur.peek())}`);
    cur.next();
    if (++cur.depth > MAX_EXPR_DEPTH) return tooDeep(t.col);
    return inner;
  }
  return new Fail(t?.col ?? cur.endCol, `expected an expression, got ${tokenText(t)}`);
}

function parseSource(a: Assembly, text: string): Stmt[] {
  const stmts: Stmt[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const src = raw.replace(/\r$/, '');
    const tokens = lexLine(src);
    const stmt = tokens instanceof Fail ? tokens : parseStatement(tokens, line, src);
    if (stmt instanceof Fail) {
      a.errorAt(line, stmt.col, stmt.message);
      // Keep the line in the listing, as an empty statement, so line numbers stay aligned.
      stmts.push({ line, text: src, labels: [], op: undefined, fixed: new Map() });
    } else {
      stmts.push(stmt);
    }
  });
  return stmts;
}

// ---------------------------------------------------------------------------------------------
// Assembly state

export type SymbolDef = { kind: 'label'; line: number; col: number; value?: number } | EquDef;
/** `result`: the last result that was not a value, while it holds (asm-equ.ts). */
export type EquDef = { kind: 'equ'; line: number; col: number; expr: Expr; dot?: number; value?: number; resolving: boolean; result?: Eval };

/** What evaluating an expression gave: a value, or why not. */
export type Eval =
  | { kind: 'value'; value: number }
  | { kind: 'undefined'; name: string; col: number; line?: number } // defined nowhere
  // Defined, but not yet at this point of pass 1; `blocker` is the label (or `.equ` position) waited for.
  | { kind: 'later'; name: string; col: number; line?: number; blocker?: SymbolDef }
  | { kind: 'error'; col: number; message: string; line?: number };

const SEG_RWX = SEG_R | SEG_W | SEG_X;
const ADDRESS_LIMIT = 2 ** 32;
/**
 * The most bytes a segment may hold in the file: the largest image `tsvisor run` reads
 * (hypervisor/fs-util.ts MAX_IMAGE_BYTES). Reserved zeros (`.space N`) stay out of the file, so
 * a large stack costs nothing, but bytes written after 2 GiB of them would need 2 GiB of buffer.
 */
const FILE_LIMIT = 64 * 2 ** 20;

/** A segment being laid out: bytes written so far, and its size in memory (which may be larger). */
class SegmentBuild {
  size = 0;
  /** The last instruction was misaligned (and reported). */
  misaligned = false;
  /** End of the bytes actually written: zeros reserved past it stay out of the file. */
  fileEnd = 0;
  private buf = new Uint8Array(256);
  constructor(
    readonly base: number,
    readonly flags: number,
    /** The `.org` that started it; undefined for the default segment at LOAD_BASE. */
    readonly origin: { line: number; col: number } | undefined,
  ) {}

  write(bytes: ArrayLike<number>): void {
    this.ensure(this.size + bytes.length);
    this.buf.set(bytes, this.size);
    this.size += bytes.length;
    this.fileEnd = this.size;
  }

  reserve(n: number): void {
    this.size += n;
  }

  bytes(from: number, to: number): Uint8Array {
    return this.buf.slice(Math.min(from, this.fileEnd), Math.min(to, this.fileEnd));
  }

  private ensure(n: number): void {
    if (n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(n, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.fileEnd));
    this.buf = grown;
  }
}

class Assembly {
  /** Keyed by position and message, so an error found in both passes is reported once. */
  readonly errors = new Map<string, AsmError>();
  readonly symbols = new Map<string, SymbolDef>();
  pass: 1 | 2 = 1;
  segments: SegmentBuild[] = [];
  stmt: Stmt = { line: 1, text: '', labels: [], op: undefined, fixed: new Map() };
  target: ImageTarget = 'native';
  entry: { expr: Expr; line: number; col: number } | undefined;
  /** Address of the current statement: the value of `.`. */
  here = 0;
  firstInstruction: number | undefined;
  readonly lines: ImageLine[] = [];
  readonly listing: ListingLine[] = [];

  constructor(readonly file: string) {}

  errorAt(line: number, col: number, message: string): void {
    const key = `${line}:${col}:${message}`;
    if (!this.errors.has(key)) this.errors.set(key, { file: this.file, line, col, message });
  }

  error(col: number, message: string): void {
    this.errorAt(this.stmt.line, col, message);
  }

  get seg(): SegmentBuild {
    return this.segments[this.segments.length - 1]!;
  }

  /** The location counter: where the next byte goes. */
  get dot(): number {
    return this.seg.base + this.seg.size;
  }

  /** Refuses (once) to lay anything out past the top of the 32-bit address space. */
  fits(n: number, col: number): boolean {
    if (this.dot + n <= ADDRESS_LIMIT) return true;
    this.error(col, `location counter runs past 0xffffffff (at ${hex(this.dot)}, ${n} more bytes)`);
    return false;
  }

  /** `fits`, for `n` bytes written to the file: the segment's file part stays within FILE_LIMIT. */
  fitsWrite(n: number, col: number): boolean {
    if (!this.fits(n, col)) return false;
    if (this.seg.size + n <= FILE_LIMIT) return true;
    this.error(col, `segment at ${hex(this.seg.base)} would hold ${this.seg.size + n} bytes in the image file, more than its limit of ${FILE_LIMIT} (reserve zeros with .space N instead of writing them)`);
    return false;
  }

  /** Evaluate with `.` = the address of the current statement. */
  evaluate(e: Expr, dot: number | undefined = this.here): Eval {
    switch (e.k) {
      case 'num':
        return { kind: 'value', value: e.value };
      case 'dot':
        return dot === undefined ? { kind: 'later', name: '.', col: e.col } : { kind: 'value', value: dot };
      case 'sym':
        return this.lookup(e.name, e.col);
      case 'unary': {
        const v = this.evaluate(e.arg, dot);
        return v.kind === 'value' ? checked(applyUnary(e.op, v.value), e.col) : v;
      }
      case 'binary': {
        const l = this.evaluate(e.left, dot);
        if (l.kind !== 'value') return l;
        const r = this.evaluate(e.right, dot);
        if (r.kind !== 'value') return r;
        if ((e.op === '/' || e.op === '%') && r.value === 0) return { kind: 'error', col: e.col, message: 'division by zero' };
        return checked(applyBinary(e.op, l.value, r.value), e.col);
      }
    }
  }

  private lookup(name: string, col: number): Eval {
    const def = this.symbols.get(name);
    if (!def) return { kind: 'undefined', name, col };
    if (def.value !== undefined) return { kind: 'value', value: def.value };
    if (def.kind === 'label') return { kind: 'later', name, col, blocker: def };
    if (def.resolving) return { kind: 'error', col, message: `symbol '${name}' is defined in terms of itself` };
    // Iteratively, in dependency order (asm-equ.ts): a long chain of .equs must not recurse.
    return cachedResult(def) ?? resolveEqu(this, def);
  }

  evaluateDefinition(def: EquDef): Eval {
    return this.evaluate(def.expr, def.dot);
  }

  /**
   * A value that may be a forward reference: in pass 1 an unknown one is fine (nothing depends on
   * it yet), in pass 2 it is an undefined symbol. Undefined means "no value; reported if need be".
   */
  value(e: Expr): number | undefined {
    const v = this.evaluate(e);
    if (v.kind === 'value') return v.value;
    if (v.kind === 'error' || this.pass === 2) this.errorAt(v.line ?? this.stmt.line, v.col, this.whyNot(v));
    return undefined;
  }

  /**
   * A value that decides a size or an address, so it must be known in pass 1. It is computed
   * once, in pass 1, and replayed in pass 2 so both passes lay out the same bytes.
   */
  fixedValue(slot: number, e: Expr, what: string, hint?: string): number | undefined {
    if (this.pass === 2) return this.stmt.fixed.get(slot) ?? undefined;
    const v = this.evaluate(e);
    this.stmt.fixed.set(slot, v.kind === 'value' ? v.value : null);
    if (v.kind === 'value') return v.value;
    const message =
      v.kind === 'later'
        ? `${what} must be known when it is reached, but '${v.name}' is only defined further down${hint ? `; ${hint}` : ''}`
        : this.whyNot(v);
    this.errorAt(v.line ?? this.stmt.line, v.col, message);
    return undefined;
  }

  private whyNot(v: Exclude<Eval, { kind: 'value' }>): string {
    return v.kind === 'error' ? v.message : `undefined symbol '${v.name}'`;
  }

  /** Emit one instruction word (0 as a placeholder when it could not be encoded). */
  emitInstruction(word: number | undefined, col: number): void {
    if (!this.fitsWrite(INSN_BYTES, col)) return;
    if (this.pass === 2) {
      this.firstInstruction ??= this.dot;
      this.lines.push({ addr: this.dot, file: this.file, line: this.stmt.line, text: this.stmt.text.trim() });
    }
    this.seg.write(le(word ?? 0, INSN_BYTES));
  }
}

const hex = (n: number): string => (n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`);

function applyUnary(op: UnaryOp, v: number): number {
  if (op === '-') return -v;
  if (op === '~') return ~v;
  return v;
}

/** Arithmetic is exact; bitwise operators work on 32-bit values, as the machine does. */
function applyBinary(op: BinaryOp, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return Math.trunc(l / r);
    case '%':
      return l % r;
    case '&':
      return (l & r) >>> 0;
    case '|':
      return (l | r) >>> 0;
    case '^':
      return (l ^ r) >>> 0;
    case '<<':
      return l * 2 ** (r & 63);
    case '>>':
      return Math.floor(l / 2 ** (r & 63));
  }
}

function checked(v: number, col: number): Eval {
  return Number.isSafeInteger(v) ? { kind: 'value', value: v } : { kind: 'error', col, message: 'expression overflows' };
}

/** `value` as n little-endian bytes (two's complement for negatives). */
function le(value: number, n: number): number[] {
  const u = value >>> 0;
  return Array.from({ length: n }, (_, i) => (u >>> (8 * i)) & 0xff);
}

function inRange(a: Assembly, v: number, [min, max]: readonly [number, number], col: number, what: string, owner: string): boolean {
  if (v >= min && v <= max) return true;
  a.error(col, `${what} ${v} out of range for ${owner} (${min}..${max})`);
  return false;
}

const WORD_RANGE = [-(2 ** 31), 2 ** 32 - 1] as const;

// ---------------------------------------------------------------------------------------------
// Pass 0: names, .equ and .target

function collectDefinitions(a: Assembly, stmts: readonly Stmt[], requested: ImageTarget | undefined): void {
  let target: { value: ImageTarget; line: number } | undefined;
  for (const s of stmts) {
    a.stmt = s;
    for (const l of s.labels) define(a, l.name, { kind: 'label', line: s.line, col: l.col });
    if (s.op?.name === '.equ') collectEqu(a, s.op);
    if (s.op?.name === '.target') {
      const t = targetOperand(a, s.op);
      if (t === undefined) continue;
      if (target && target.value !== t) a.error(s.op.col, `.target ${t} conflicts with .target ${target.value} at line ${target.line}`);
      else if (requested && requested !== t) a.error(s.op.col, `.target ${t} conflicts with the requested target ${requested}`);
      target ??= { value: t, line: s.line };
    }
  }
  a.target = requested ?? target?.value ?? 'native';
}

function define(a: Assembly, name: string, def: SymbolDef): void {
  const first = a.symbols.get(name);
  if (!first) {
    a.symbols.set(name, def);
    return;
  }
  const what = first.kind === 'label' && def.kind === 'label' ? 'label' : 'symbol';
  a.error(def.col, `duplicate ${what} '${name}' (first defined at line ${first.line})`);
}

function collectEqu(a: Assembly, op: Op): void {
  if (!operandCount(a, op, 2, 2, '.equ NAME, expr')) return;
  const name = symbolName(a, op, 0);
  const value = op.operands[1]!;
  if (name === undefined) return;
  if (value.kind !== 'expr') {
    a.error(value.col, `.equ operand 2: expected an expression, got ${describeOperand(value)}`);
    return;
  }
  define(a, name, { kind: 'equ', line: a.stmt.line, col: op.operands[0]!.col, expr: value.expr, resolving: false });
}

function targetOperand(a: Assembly, op: Op): ImageTarget | undefined {
  if (!operandCount(a, op, 1, 1, '.target native|pv|user')) return undefined;
  const name = symbolName(a, op, 0);
  if (name === 'native' || name === 'pv' || name === 'user') return name;
  if (name !== undefined) a.error(op.operands[0]!.col, `unknown target '${name}' (expected native, pv or user)`);
  return undefined;
}

/** Operand `index` as a bare identifier (a symbol name, a target, segment flags). */
function symbolName(a: Assembly, op: Op, index: number): string | undefined {
  const o = op.operands[index]!;
  if (o.kind === 'expr' && o.expr.k === 'sym') return o.expr.name;
  a.error(o.col, `${op.name} operand ${index + 1}: expected a name, got ${describeOperand(o)}`);
  return undefined;
}

function describeOperand(o: Operand): string {
  switch (o.kind) {
    case 'reg':
      return `register ${o.name}`;
    case 'mem':
      return 'a memory operand';
    case 'str':
      return 'a string';
    case 'expr':
      return o.expr.k === 'sym' ? `'${o.expr.name}'` : o.expr.k === 'num' ? `${o.expr.value}` : 'an expression';
  }
}

function operandCount(a: Assembly, op: Op, min: number, max: number, syntax: string): boolean {
  const n = op.operands.length;
  if (n >= min && n <= max) return true;
  const count = (k: number): string => (k === 0 ? 'no operands' : `${k} operand${k === 1 ? '' : 's'}`);
  const want = min === max ? count(min) : max === Infinity ? `at least ${count(min)}` : `${min} to ${max} operands`;
  a.error(op.col, `${op.name} takes ${want} (${syntax}), got ${n}`);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Passes 1 and 2

function runPass(a: Assembly, stmts: readonly Stmt[], pass: 1 | 2): void {
  a.pass = pass;
  a.segments = [new SegmentBuild(LOAD_BASE, SEG_RWX, undefined)];
  for (const s of stmts) {
    a.stmt = s;
    const seg = a.seg;
    const start = seg.size;
    a.here = a.dot;
    if (pass === 1) defineLabels(a, s);
    if (s.op) dispatch(a, s.op);
    if (pass === 2) {
      const bytes = a.seg === seg ? seg.bytes(start, seg.size) : new Uint8Array(0);
      a.listing.push({ file: a.file, line: s.line, addr: seg.base + start, bytes, text: s.text });
    }
  }
}

function defineLabels(a: Assembly, s: Stmt): void {
  for (const l of s.labels) {
    const def = a.symbols.get(l.name);
    // A duplicate was reported in pass 0; the first definition keeps its address.
    if (def?.kind === 'label' && def.line === s.line && def.col === l.col) def.value = a.dot;
  }
}

function dispatch(a: Assembly, op: Op): void {
  if (op.name.startsWith('.')) {
    const directive = DIRECTIVES.get(op.name);
    if (directive) directive(a, op);
    else a.error(op.col, `unknown directive '${op.name}'`);
    return;
  }
  checkInstructionAlignment(a, op);
  const pseudo = PSEUDOS.get(op.name);
  if (pseudo) return pseudo(a, op);
  const info = OPCODE_BY_MNEMONIC.get(op.name);
  if (info) return assembleInstruction(a, info, op);
  a.error(op.col, `unknown mnemonic '${op.name}'`);
  a.emitInstruction(undefined, op.col); // assume one word, so later addresses stay plausible
}

/**
 * Instructions must sit on word boundaries (the CPU fetches one aligned word). Only the first of a
 * run of misaligned instructions is reported: the rest are misaligned because of it.
 */
function checkInstructionAlignment(a: Assembly, op: Op): void {
  const aligned = a.dot % INSN_BYTES === 0;
  if (!aligned && !a.seg.misaligned) a.error(op.col, `instruction at misaligned address ${hex(a.dot)} (use .align ${INSN_BYTES})`);
  a.seg.misaligned = !aligned;
}

// ---------------------------------------------------------------------------------------------
// Instructions, parsed by operand form

type Field = 'rd' | 'ra' | 'rb';
type Slot =
  | { kind: 'reg'; field: Field }
  | { kind: 'imm'; label: string }
  | { kind: 'mem' }
  | { kind: 'target' }
  | { kind: 'cr' };

const reg = (field: Field): Slot => ({ kind: 'reg', field });
const imm = (label: string): Slot => ({ kind: 'imm', label });
const MEM: Slot = { kind: 'mem' };
const TARGET: Slot = { kind: 'target' };
const CR: Slot = { kind: 'cr' };

/** The assembler syntax of each operand form (abi/isa.ts documents the same in comments). */
const FORM_SLOTS: Readonly<Record<OperandForm, readonly Slot[]>> = {
  none: [],
  rrr: [reg('rd'), reg('ra'), reg('rb')],
  rri: [reg('rd'), reg('ra'), imm('imm')],
  rru: [reg('rd'), reg('ra'), imm('imm')],
  rr: [reg('rd'), reg('ra')],
  ri: [reg('rd'), imm('imm')],
  ru: [reg('rd'), imm('imm')],
  r: [reg('rd')],
  mem: [reg('rd'), MEM],
  branch: [reg('rd'), reg('ra'), TARGET],
  jump: [TARGET],
  portIn: [reg('rd'), imm('port')],
  portOut: [imm('port'), reg('rd')],
  portInR: [reg('rd'), reg('ra')],
  portOutR: [reg('ra'), reg('rd')],
  crRead: [reg('rd'), CR],
  crWrite: [CR, reg('rd')],
};

function slotSyntax(s: Slot): string {
  switch (s.kind) {
    case 'reg':
      return s.field;
    case 'imm':
      return s.label;
    case 'mem':
      return '[ra+imm]';
    case 'target':
      return 'target';
    case 'cr':
      return 'cr';
  }
}

const syntaxOf = (mnemonic: string, slots: readonly Slot[]): string =>
  [mnemonic, slots.map(slotSyntax).join(', ')].filter(Boolean).join(' ');

type Fields = { rd: number; ra: number; rb: number; imm: number };

function assembleInstruction(a: Assembly, info: OpcodeInfo, op: Op): void {
  const slots = FORM_SLOTS[info.form];
  if (!operandCount(a, op, slots.length, slots.length, syntaxOf(info.mnemonic, slots))) {
    return a.emitInstruction(undefined, op.col);
  }
  const fields: Fields = { rd: 0, ra: 0, rb: 0, imm: 0 };
  let complete = true;
  slots.forEach((slot, i) => {
    complete = bindSlot(a, info, slot, op.operands[i]!, i, fields) && complete;
  });
  a.emitInstruction(complete ? encodeOrReport(a, { opcode: info.opcode, ...fields }, op.col) : undefined, op.col);
}

/** Fill the fields one operand provides. False if it could not (reported, or unknown in pass 1). */
function bindSlot(a: Assembly, info: OpcodeInfo, slot: Slot, o: Operand, index: number, f: Fields): boolean {
  const expected = (what: string): false => {
    a.error(o.col, `${info.mnemonic} operand ${index + 1}: expected ${what}, got ${describeOperand(o)}`);
    return false;
  };
  switch (slot.kind) {
    case 'reg':
      if (o.kind !== 'reg') return expected('a register');
      f[slot.field] = o.reg;
      return true;
    case 'imm': {
      if (o.kind !== 'expr') return expected(slot.label === 'port' ? 'a port number' : 'an immediate');
      const v = a.value(o.expr);
      if (v === undefined || !inRange(a, v, immRange(info.form)!, o.col, slot.label === 'port' ? 'port' : 'immediate', info.mnemonic)) return false;
      f.imm = v;
      return true;
    }
    case 'mem': {
      if (o.kind !== 'mem') return expected('a memory operand like [r1+8]');
      const v = o.offset === undefined ? 0 : a.value(o.offset);
      if (v === undefined || !inRange(a, v, immRange(info.form)!, o.col, 'offset', info.mnemonic)) return false;
      f.ra = o.base;
      f.imm = v;
      return true;
    }
    case 'target': {
      if (o.kind !== 'expr') return expected('a branch target (label or address)');
      const words = branchOffset(a, info, o);
      if (words === undefined) return false;
      f.imm = words;
      return true;
    }
    case 'cr': {
      if (o.kind !== 'expr') return expected('a control register');
      const n = controlRegister(a, o.expr);
      if (n === undefined || !inRange(a, n, immRange(info.form)!, o.col, 'control register', info.mnemonic)) return false;
      f.imm = n;
      return true;
    }
  }
}

/**
 * Word offset from the next instruction to an absolute target. Offsets wrap modulo 2^32, as the
 * CPU's `pc + 4 + 4*offset` does, so any address the disassembler prints assembles back.
 */
function branchOffset(a: Assembly, info: OpcodeInfo, o: Extract<Operand, { kind: 'expr' }>): number | undefined {
  const target = a.value(o.expr);
  if (target === undefined) return undefined;
  if (!inRange(a, target, WORD_RANGE, o.col, 'branch target', info.mnemonic)) return undefined;
  if (a.dot % INSN_BYTES !== 0) return undefined; // the instruction itself is misaligned (reported)
  if (target % INSN_BYTES !== 0) {
    a.error(o.col, `branch target ${hex(target >>> 0)} is not ${INSN_BYTES}-byte aligned`);
    return undefined;
  }
  const words = ((target - (a.dot + INSN_BYTES)) | 0) / INSN_BYTES;
  const [min, max] = immRange(info.form)!;
  if (words >= min && words <= max) return words;
  a.error(o.col, `branch out of range: target ${hex(target >>> 0)} is ${words} words away, ${info.mnemonic} reaches ${min}..${max}`);
  return undefined;
}

function crNumber(name: string): number | undefined {
  const lower = name.toLowerCase();
  const named = CR_NAMES.indexOf(lower);
  if (named >= 0) return named;
  const m = /^cr(\d+)$/.exec(lower);
  return m ? Number(m[1]) : undefined;
}

/** A control register by name (`ptbr`), as `crN`, or as a numeric expression. */
function controlRegister(a: Assembly, e: Expr): number | undefined {
  if (e.k === 'sym') {
    const n = crNumber(e.name);
    if (n !== undefined) return n;
    if (!a.symbols.has(e.name)) {
      a.error(e.col, `unknown control register '${e.name}' (known: ${CR_NAMES.join(', ')})`);
      return undefined;
    }
  }
  return a.value(e);
}

function encodeOrReport(a: Assembly, ins: Instruction, col: number): number | undefined {
  const word = encode(ins);
  if (typeof word === 'number') return word;
  // Operands were range-checked above, so this is a table inconsistency, not a user error.
  a.error(col, `cannot encode: ${word.kind === 'field-range' ? `${word.field}=${word.value} not in ${word.min}..${word.max}` : 'unknown opcode'}`);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Pseudo-instructions

type Handler = (a: Assembly, op: Op) => void;

/** The real instructions the pseudo-instructions expand to, checked against the table at load. */
function realOpcode(mnemonic: string, form: OperandForm): OpcodeInfo {
  const info = OPCODE_BY_MNEMONIC.get(mnemonic);
  if (!info || info.form !== form) throw new Error(`assembler: abi/isa.ts has no '${mnemonic}' of form ${form}`);
  return info;
}
const LUI = realOpcode('lui', 'ru');
const ORI = realOpcode('ori', 'rru');
const LI = realOpcode('li', 'ri');

const PSEUDO_SLOTS: readonly Slot[] = [reg('rd'), imm('expr')];

/** `la rd, expr` and `li32 rd, expr`: always lui + ori, so the size never depends on the value. */
function loadWide(mnemonic: string): Handler {
  return (a, op) => {
    const rd = pseudoRegister(a, op, mnemonic);
    const o = op.operands[1];
    const v = rd !== undefined && o?.kind === 'expr' ? a.value(o.expr) : undefined;
    const ok = v !== undefined && inRange(a, v, WORD_RANGE, o!.col, 'value', mnemonic);
    emitLuiOri(a, rd ?? 0, ok ? v : undefined, op.col);
  };
}

/**
 * `li rd, value`: one `li` when the value fits its signed 16 bits, else `lui` (+ `ori` unless the
 * low half is zero). The choice sets the size, so the value must be known when pass 1 reaches it.
 */
const loadImmediate: Handler = (a, op) => {
  const rd = pseudoRegister(a, op, 'li');
  const o = op.operands[1];
  const v = rd !== undefined && o?.kind === 'expr' ? a.fixedValue(0, o.expr, 'the value of li', 'use la or li32 for a forward reference') : undefined;
  if (rd === undefined || v === undefined || !inRange(a, v, WORD_RANGE, o!.col, 'immediate', 'li')) {
    return a.emitInstruction(undefined, op.col);
  }
  // Registers hold 32 bits, so 0xffffffff and -1 are the same constant: compare as signed.
  const signed = v | 0;
  const [min, max] = immRange(LI.form)!;
  if (signed >= min && signed <= max) return a.emitInstruction(encodeOrReport(a, { opcode: LI.opcode, rd, ra: 0, rb: 0, imm: signed }, op.col), op.col);
  if ((v & 0xffff) === 0) return a.emitInstruction(encodeOrReport(a, { opcode: LUI.opcode, rd, ra: 0, rb: 0, imm: (v >>> 16) & 0xffff }, op.col), op.col);
  emitLuiOri(a, rd, v, op.col);
};

/** Checks `mnemonic rd, expr` and returns rd; undefined if the operands are wrong (reported). */
function pseudoRegister(a: Assembly, op: Op, mnemonic: string): number | undefined {
  if (!operandCount(a, op, 2, 2, syntaxOf(mnemonic, PSEUDO_SLOTS))) return undefined;
  const [r, v] = op.operands as [Operand, Operand];
  if (r.kind !== 'reg') a.error(r.col, `${mnemonic} operand 1: expected a register, got ${describeOperand(r)}`);
  if (v.kind !== 'expr') a.error(v.col, `${mnemonic} operand 2: expected an immediate, got ${describeOperand(v)}`);
  return r.kind === 'reg' && v.kind === 'expr' ? r.reg : undefined;
}

function emitLuiOri(a: Assembly, rd: number, value: number | undefined, col: number): void {
  const u = value === undefined ? undefined : value >>> 0;
  const hi = u === undefined ? undefined : encodeOrReport(a, { opcode: LUI.opcode, rd, ra: 0, rb: 0, imm: u >>> 16 }, col);
  const lo = u === undefined ? undefined : encodeOrReport(a, { opcode: ORI.opcode, rd, ra: rd, rb: 0, imm: u & 0xffff }, col);
  a.emitInstruction(hi, col);
  a.emitInstruction(lo, col);
}

const PSEUDOS: ReadonlyMap<string, Handler> = new Map([
  ['la', loadWide('la')],
  ['li32', loadWide('li32')],
  ['li', loadImmediate],
]);

// ---------------------------------------------------------------------------------------------
// Directives

/** `.word`, `.half`, `.byte`: values naturally aligned, each in the signed-or-unsigned range. */
function dataDirective(size: 1 | 2 | 4): Handler {
  const range = [-(2 ** (8 * size - 1)), 2 ** (8 * size) - 1] as const;
  return (a, op) => {
    if (!operandCount(a, op, 1, Infinity, `${op.name} expr, ...`)) return;
    if (a.dot % size !== 0) a.error(op.col, `misaligned ${op.name} at ${hex(a.dot)} (use .align ${size})`);
    if (!a.fitsWrite(size * op.operands.length, op.col)) return;
    op.operands.forEach((o, i) => {
      let v: number | undefined;
      if (o.kind !== 'expr') a.error(o.col, `${op.name} operand ${i + 1}: expected an expression, got ${describeOperand(o)}`);
      else v = a.value(o.expr);
      const ok = v !== undefined && inRange(a, v, range, o.col, 'value', op.name);
      a.seg.write(le(ok ? v! : 0, size));
    });
  };
}

function stringDirective(terminate: boolean): Handler {
  return (a, op) => {
    if (!operandCount(a, op, 1, Infinity, `${op.name} "text", ...`)) return;
    for (const [i, o] of op.operands.entries()) {
      if (o.kind !== 'str') {
        a.error(o.col, `${op.name} operand ${i + 1}: expected a string, got ${describeOperand(o)}`);
        continue;
      }
      const bytes = terminate ? [...o.bytes, 0] : o.bytes;
      if (a.fitsWrite(bytes.length, o.col)) a.seg.write(bytes);
    }
  };
}

/** `.space N [, fill]`: zero fill is reserved, not written, so a stack does not bloat the file. */
const directiveSpace: Handler = (a, op) => {
  if (!operandCount(a, op, 1, 2, '.space N [, fill]')) return;
  const [n, fill] = op.operands as [Operand, Operand | undefined];
  if (n.kind !== 'expr') return a.error(n.col, `.space operand 1: expected a size, got ${describeOperand(n)}`);
  const size = a.fixedValue(0, n.expr, 'the size of .space');
  if (size === undefined || !inRange(a, size, [0, ADDRESS_LIMIT], n.col, 'size', '.space') || !a.fits(size, n.col)) return;
  let byte = 0;
  if (fill?.kind === 'expr') {
    const v = a.value(fill.expr);
    if (v !== undefined && inRange(a, v, [-128, 255], fill.col, 'fill', '.space')) byte = v & 0xff;
  } else if (fill) {
    a.error(fill.col, `.space operand 2: expected a fill byte, got ${describeOperand(fill)}`);
  }
  if (byte === 0) a.seg.reserve(size);
  else if (a.fitsWrite(size, n.col)) a.seg.write(new Uint8Array(size).fill(byte));
};

/** `.align N`: pad to the next multiple of N bytes (a power of two), as GNU `.balign`. */
const directiveAlign: Handler = (a, op) => {
  if (!operandCount(a, op, 1, 1, '.align N')) return;
  const o = op.operands[0]!;
  if (o.kind !== 'expr') return a.error(o.col, `.align operand 1: expected a power of two, got ${describeOperand(o)}`);
  const n = a.fixedValue(0, o.expr, 'the alignment');
  if (n === undefined) return;
  if (n < 1 || n > 2 ** 30 || (n & (n - 1)) !== 0) return a.error(o.col, `alignment must be a power of two, got ${n}`);
  const pad = (n - (a.dot % n)) % n;
  if (a.fits(pad, o.col)) a.seg.reserve(pad);
};

/** `.org ADDR [, rwx]`: start a new segment at ADDR, by default readable, writable and executable. */
const directiveOrg: Handler = (a, op) => {
  if (!operandCount(a, op, 1, 2, '.org ADDR [, rwx]')) return;
  const [addr, flags] = op.operands as [Operand, Operand | undefined];
  if (addr.kind !== 'expr') return a.error(addr.col, `.org operand 1: expected an address, got ${describeOperand(addr)}`);
  const base = a.fixedValue(0, addr.expr, 'the address of .org');
  const segFlags = flags === undefined ? SEG_RWX : segmentFlags(a, op);
  if (base === undefined || segFlags === undefined) return;
  if (!inRange(a, base, [0, ADDRESS_LIMIT - 1], addr.col, 'address', '.org')) return;
  a.segments.push(new SegmentBuild(base, segFlags, { line: a.stmt.line, col: op.col }));
};

function segmentFlags(a: Assembly, op: Op): number | undefined {
  const name = symbolName(a, op, 1);
  if (name === undefined) return undefined;
  const bits: Record<string, number> = { r: SEG_R, w: SEG_W, x: SEG_X };
  let flags = 0;
  for (const c of name.toLowerCase()) {
    if (!bits[c] || flags & bits[c]) {
      a.error(op.operands[1]!.col, `bad segment flags '${name}' (use each of the letters r, w, x at most once)`);
      return undefined;
    }
    flags |= bits[c];
  }
  return flags;
}

const directiveEntry: Handler = (a, op) => {
  if (!operandCount(a, op, 1, 1, '.entry LABEL')) return;
  const o = op.operands[0]!;
  if (o.kind !== 'expr') return a.error(o.col, `.entry operand 1: expected a label or address, got ${describeOperand(o)}`);
  if (a.pass === 2) return;
  if (a.entry) return a.error(op.col, `duplicate .entry (first at line ${a.entry.line})`);
  a.entry = { expr: o.expr, line: a.stmt.line, col: o.col };
};

/** `.equ` was defined in pass 0; here it learns the value of `.` at its position. */
const directiveEqu: Handler = (a, op) => {
  const o = op.operands[0];
  const def = o?.kind === 'expr' && o.expr.k === 'sym' ? a.symbols.get(o.expr.name) : undefined;
  if (def?.kind === 'equ' && def.line === a.stmt.line && def.dot === undefined) def.dot = a.dot;
};

const directiveGlobal: Handler = (a, op) => {
  // Accepted for compatibility with GNU-style sources: an image has one namespace, all exported.
  if (operandCount(a, op, 1, Infinity, '.global NAME, ...')) op.operands.forEach((_, i) => symbolName(a, op, i));
};

const DIRECTIVES: ReadonlyMap<string, Handler> = new Map([
  ['.org', directiveOrg],
  ['.entry', directiveEntry],
  ['.word', dataDirective(4)],
  ['.half', dataDirective(2)],
  ['.byte', dataDirective(1)],
  ['.ascii', stringDirective(false)],
  ['.asciz', stringDirective(true)],
  ['.space', directiveSpace],
  ['.align', directiveAlign],
  ['.equ', directiveEqu],
  ['.target', () => {}], // read in pass 0
  ['.global', directiveGlobal],
]);

// ---------------------------------------------------------------------------------------------
// The image

function buildImage(a: Assembly, stmts: readonly Stmt[]): GuestImage | undefined {
  const used = a.segments.filter((s) => s.size > 0);
  if (!segmentsDisjoint(a, used)) return undefined;
  const entry = entryAddress(a, stmts);
  if (entry === undefined) return undefined;
  const image: GuestImage = {
    target: a.target,
    abi: { major: ABI_MAJOR, minor: ABI_MINOR },
    entry,
    segments: used.map((s) => ({ addr: s.base, data: s.bytes(0, s.fileEnd), memSize: s.size, flags: s.flags })),
    symbols: labelAddresses(a),
    lines: a.lines,
  };
  // The image rules live in abi/image.ts; anything they refuse that we did not catch above
  // (an entry in a non-executable segment, say) is reported against the .entry line.
  const invalid = checkImage(image);
  if (invalid) {
    a.errorAt(a.entry?.line ?? 1, a.entry?.col ?? 1, `invalid image: ${formatImageError(invalid)}`);
    return undefined;
  }
  return image;
}

function segmentsDisjoint(a: Assembly, segs: readonly SegmentBuild[]): boolean {
  const describe = (s: SegmentBuild): string =>
    `${hex(s.base)}..${hex(s.base + s.size - 1)} ${s.origin ? `(from line ${s.origin.line})` : '(the default segment at LOAD_BASE)'}`;
  let ok = true;
  segs.forEach((later, j) => {
    const earlier = segs.slice(0, j).find((s) => s.base < later.base + later.size && later.base < s.base + s.size);
    if (!earlier) return;
    const at = later.origin ?? { line: 1, col: 1 };
    a.errorAt(at.line, at.col, `segment ${describe(later)} overlaps segment ${describe(earlier)}`);
    ok = false;
  });
  return ok;
}

/** `.entry`, else the label `start` or `_start`, else the first instruction. */
function entryAddress(a: Assembly, stmts: readonly Stmt[]): number | undefined {
  if (a.entry) {
    a.stmt = stmts[a.entry.line - 1]!;
    return a.value(a.entry.expr);
  }
  for (const name of ['start', '_start']) {
    const def = a.symbols.get(name);
    if (def?.kind === 'label' && def.value !== undefined) return def.value;
  }
  if (a.firstInstruction !== undefined) return a.firstInstruction;
  a.errorAt(1, 1, 'nothing to run: no instructions and no .entry');
  return undefined;
}

function labelAddresses(a: Assembly): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, def] of a.symbols) if (def.kind === 'label' && def.value !== undefined) out[name] = def.value;
  return out;
}
