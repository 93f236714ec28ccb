/**
 * Stage 3, run-time checks: which operations need one, and the instructions that check them
 * (DESIGN.md: "Node's answer or a clear error"; range.ts removes the checks it proves).
 *
 * JavaScript computes `+ - *` exactly (in doubles) and `/` with a fraction; the machine in 32
 * bits. They agree while every result is an int32, so:
 * - `a + b`, `a - b`, `a * b`, `-a`, `x++`, `x += e` compile to the checking forms (`addo`,
 *   `subo`, `mulo`, `addio`: #OF when the exact result leaves int32), unless the program asked
 *   for wrapping: the value flows, through other `+ - *` only, into `| 0`, `>>> 0`, another
 *   bitwise operator or shift, `Math.imul`, or a store into a typed-array element (which wraps in
 *   JavaScript too). There `+` and `-` are exact in JavaScript as long as the sum stays within
 *   2^53, which a chain of int32 terms does; a product is exact only while |product| <= 2^53, so a
 *   wrapping product is checked with `mulh`: with n terms in the chain, each product must stay
 *   below 2^(53 - ceil(log2 n)) for the whole sum to be exact. `(h * 16777619) | 0` must not
 *   silently differ from Node.
 * - `a / b` not truncated at once by a bitwise operator (`(a / b) | 0`) must be exact: a
 *   remainder check (#BR with kind 'inexact-division'), and INT_MIN / -1 is an overflow. Every
 *   division and remainder carries a 'division-by-zero' site, so the handler names it.
 * - an operand above 2^31 - 1 (`x >>> 0`, a `Uint32Array` element) in a checked `+ - *` is
 *   checked to be an int32 first (kind 'unsigned'): the machine holds only its bits.
 * - `a[i]` checks `i` against the array's length (`chki i, LEN` for a static array, `chk i, len`
 *   with the length word below element 0 otherwise).
 *
 * Each check carries a CheckSite (ir.ts) with the source position and text, which emit.ts labels
 * and the start-up handlers report: `programs/x.ts:12:9: integer overflow in 'i * i'`.
 * `compile(..., { unchecked: true })` (`tsvisor compile --unchecked`) emits none of the overflow,
 * unsigned, inexact-division and bounds checks, for comparison; a division by zero still traps.
 */
import ts from 'typescript';
import { displayPath } from './diagnostics.ts';
import { type GuestContext, type LocalScope, skipOuter } from './context.ts';
import type { BinOp, CheckKind, CheckSite, Instr, VReg } from './ir.ts';
import type { FunctionLowerer } from './lower.ts';
import type { Operand } from './lower-expr.ts';
import type { IntRange } from './types.ts';

const unchecked = new WeakSet<object>();

/** Build without run-time checks (`--unchecked`): `ctx` is the compile's GuestContext. */
export function setUnchecked(ctx: object): void {
  unchecked.add(ctx);
}

/** Whether this compile emits run-time checks. */
export function checking(l: FunctionLowerer): boolean {
  return !unchecked.has(l.ctx);
}

/** The longest source text a site quotes; longer text is cut with '...'. */
const MAX_SITE_TEXT = 60;

export function siteAt(l: FunctionLowerer, node: ts.Node, kind: CheckKind): CheckSite {
  const sf = node.getSourceFile();
  const lc = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  let text = node.getText(sf).replace(/\s+/g, ' ');
  if (text.length > MAX_SITE_TEXT) text = `${text.slice(0, MAX_SITE_TEXT - 3)}...`;
  return { kind, file: displayPath(sf.fileName, l.ctx.bag.rootDir), line: lc.line + 1, col: lc.character + 1, text };
}

const reg = (l: FunctionLowerer, o: Operand): VReg => (o.k === 'reg' ? o.r : l.li(o.v));
const result = (r: VReg, range?: IntRange): Operand => (range ? { k: 'reg', r, range } : { k: 'reg', r });

// ---------------------------------------------------------------------------------------------
// Where JavaScript wraps too

const K = ts.SyntaxKind;
const ADDITIVE = new Set([K.PlusToken, K.MinusToken]);
const BITWISE = new Set([K.BarToken, K.AmpersandToken, K.CaretToken, K.LessThanLessThanToken, K.GreaterThanGreaterThanToken, K.GreaterThanGreaterThanGreaterThanToken]);
const BITWISE_ASSIGN = new Set([
  K.BarEqualsToken,
  K.AmpersandEqualsToken,
  K.CaretEqualsToken,
  K.LessThanLessThanEqualsToken,
  K.GreaterThanGreaterThanEqualsToken,
  K.GreaterThanGreaterThanGreaterThanEqualsToken,
]);
const ADDITIVE_ASSIGN = new Set([K.PlusEqualsToken, K.MinusEqualsToken]);
const isAssignment = (k: ts.SyntaxKind): boolean => k >= K.FirstAssignment && k <= K.LastAssignment;

const transparent = (n: ts.Node): boolean =>
  ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isNonNullExpression(n) || ts.isTypeAssertionExpression(n) || ts.isSatisfiesExpression(n);

/** The node whose parent uses `n`'s value, past parentheses and `as`. */
function outermost(n: ts.Node): ts.Node {
  while (n.parent && transparent(n.parent)) n = n.parent;
  return n;
}

/** An expression whose value nobody reads: a statement, a `for` head's clause, a comma's left side. */
function isDiscarded(e: ts.Node): boolean {
  for (;;) {
    const n = outermost(e);
    const p = n.parent;
    if (!p) return false;
    if (ts.isExpressionStatement(p)) return true;
    if (ts.isForStatement(p)) return p.incrementor === n || p.initializer === n;
    if (ts.isBinaryExpression(p) && p.operatorToken.kind === K.CommaToken) {
      if (p.left === n) return true;
      e = p;
      continue;
    }
    return false;
  }
}

/** `a[i] = e`, `a[i] += e`, ... on a typed array, whose value nobody reads: the store wraps `e`. */
function storesIntoTypedArray(l: Where, assign: ts.BinaryExpression): boolean {
  const target = skipOuter(assign.left);
  if (!ts.isElementAccessExpression(target) || !isDiscarded(assign)) return false;
  const t = l.ctx.classifyQuiet(l.ctx.checker.getTypeAtLocation(target.expression));
  return typeof t !== 'string' && t.kind === 'array';
}

/** `Math.imul(x, y)` and `Math.clz32(x)` convert their arguments with ToInt32/ToUint32. */
function wrapsArguments(callee: ts.Expression): boolean {
  const c = skipOuter(callee);
  return ts.isPropertyAccessExpression(c) && ts.isIdentifier(c.expression) && c.expression.text === 'Math' && (c.name.text === 'imul' || c.name.text === 'clz32');
}

/**
 * The machine's intrinsics (`load8(addr + i)`, `portOut(port, v)`) take 32-bit words: their Node
 * shims convert each argument with `>>> 0`, `| 0` or a mask (compiler/node-shim.ts).
 */
function isIntrinsic(l: Where, callee: ts.Expression): boolean {
  const c = skipOuter(callee);
  if (!ts.isIdentifier(c) && !ts.isPropertyAccessExpression(c)) return false;
  return l.ctx.resolve(c, l.scope)?.kind === 'intrinsic';
}

const topMemo = new WeakMap<ts.Node, ts.Node>();

/** The outermost `+ -` (or unary `- +`, or `+= -=` into which it is added) that `n`'s value flows into. */
function chainTop(n: ts.Node): ts.Node {
  const path: ts.Node[] = [];
  let x = n;
  for (;;) {
    const memo = topMemo.get(x);
    if (memo) {
      x = memo;
      break;
    }
    path.push(x);
    const p = x.parent;
    if (!p) break;
    if (transparent(p)) x = p;
    else if (ts.isBinaryExpression(p) && ADDITIVE.has(p.operatorToken.kind)) x = p;
    else if (ts.isPrefixUnaryExpression(p) && (p.operator === K.MinusToken || p.operator === K.PlusToken)) x = p;
    else if (ts.isBinaryExpression(p) && ADDITIVE_ASSIGN.has(p.operatorToken.kind) && p.right === x) x = p;
    else break;
    if (ts.isBinaryExpression(x) && isAssignment(x.operatorToken.kind)) break; // a compound assignment ends the chain
  }
  for (const q of path) topMemo.set(q, x);
  return x;
}

/** Terms of the sum whose top is `top` (products, names, calls: anything but `+ -`). */
function countTerms(top: ts.Node): number {
  let count = 0;
  const work: ts.Node[] = [top];
  while (work.length > 0) {
    const e = work.pop()!;
    if (ts.isBinaryExpression(e) && ADDITIVE_ASSIGN.has(e.operatorToken.kind)) {
      count++;
      work.push(e.right);
    } else if (transparent(e)) work.push((e as ts.ParenthesizedExpression).expression);
    else if (ts.isBinaryExpression(e) && ADDITIVE.has(e.operatorToken.kind)) work.push(e.left, e.right);
    else if (ts.isPrefixUnaryExpression(e) && (e.operator === K.MinusToken || e.operator === K.PlusToken)) work.push(e.operand);
    else count++;
  }
  return count;
}

/**
 * 0 when the result of `node` (a `+ - *`, unary `-`, or compound assignment) must be exactly an
 * int32; otherwise the program wraps it as JavaScript does, and this is the number of terms of
 * the sum it is part of.
 */
export function wrapTerms(lowerer: FunctionLowerer, node: ts.Node): number {
  return wrapTermsIn({ ctx: lowerer.ctx, scope: lowerer }, node);
}

/** Whether the value of a constant `+ - *` at `node` is wrapped by the program (context.ts folding). */
export function constantWraps(ctx: GuestContext, scope: LocalScope | undefined, node: ts.Node): boolean {
  return wrapTermsIn({ ctx, scope }, node) > 0;
}

/** What deciding needs: the compile's context, and the function whose names are in scope. */
interface Where {
  ctx: GuestContext;
  scope: LocalScope | undefined;
}

function wrapTermsIn(l: Where, node: ts.Node): number {
  if (ts.isBinaryExpression(node) && isAssignment(node.operatorToken.kind)) {
    if (!storesIntoTypedArray(l, node)) return 0;
    return ADDITIVE_ASSIGN.has(node.operatorToken.kind) ? countTerms(node) : 1;
  }
  const top = chainTop(node);
  let memo = termsMemo.get(l.ctx);
  if (!memo) termsMemo.set(l.ctx, (memo = new WeakMap()));
  let terms = memo.get(top);
  if (terms === undefined) {
    // Once per chain: each of the n operators of `v0 + ... + vn` asks.
    const wraps = ts.isBinaryExpression(top) && isAssignment(top.operatorToken.kind) ? storesIntoTypedArray(l, top) : wrapsValue(l, top);
    terms = wraps ? countTerms(top) : 0;
    memo.set(top, terms);
  }
  return terms;
}

/** Per compile (the answer depends on types, and parsed files outlive a compile: program.ts's cache). */
const termsMemo = new WeakMap<GuestContext, WeakMap<ts.Node, number>>();

/** Whether the value of `e` is converted at once with ToInt32/ToUint32 (or stored into a typed array). */
function wrapsValue(l: Where, e: ts.Node): boolean {
  const n = outermost(e);
  const p = n.parent;
  if (!p) return false;
  if (ts.isBinaryExpression(p)) {
    const k = p.operatorToken.kind;
    if (BITWISE.has(k)) return true;
    if (BITWISE_ASSIGN.has(k)) return p.right === n;
    if (k === K.EqualsToken) return p.right === n && storesIntoTypedArray(l, p);
    return false;
  }
  if (ts.isPrefixUnaryExpression(p)) return p.operator === K.TildeToken;
  if (ts.isCallExpression(p)) return p.arguments.includes(n as ts.Expression) && (wrapsArguments(p.expression) || isIntrinsic(l, p.expression));
  return false;
}

/** Whether a division's quotient is truncated at once (`(a / b) | 0`, `a[i] = x / 2`), as the machine's is. */
export function truncated(lowerer: FunctionLowerer, node: ts.Node): boolean {
  const l = { ctx: lowerer.ctx, scope: lowerer };
  if (ts.isBinaryExpression(node) && isAssignment(node.operatorToken.kind)) return storesIntoTypedArray(l, node);
  return wrapsValue(l, node);
}

// ---------------------------------------------------------------------------------------------
// The checking instructions

function emitChecked(l: FunctionLowerer, i: Instr, at: ts.Node, kind: CheckKind): void {
  l.emit({ ...i, site: siteAt(l, at, kind) } as Instr);
}

/** An operand above 2^31 - 1 in JavaScript (`x >>> 0`) must be an int32 where it is used exactly. */
function unsignedGuard(l: FunctionLowerer, o: Operand, at: ts.Node): void {
  if (o.range !== 'u32' || (o.k === 'const' && o.v >= 0)) return;
  const top = l.vreg();
  l.emit({ k: 'imm', op: 'shri', dst: top, a: reg(l, o), imm: 31 });
  emitChecked(l, { k: 'chki', a: top, imm: 1 }, at, 'unsigned');
}

/** `a + b`, `a - b` or `a * b` at `at`, checked unless the program wraps it (see above). */
export function lowerAddSubMul(l: FunctionLowerer, bin: 'add' | 'sub' | 'mul', a: Operand, b: Operand, at: ts.Node): Operand {
  const dst = l.vreg();
  if (!checking(l)) {
    l.emit({ k: 'bin', op: bin, dst, a: reg(l, a), b: reg(l, b) });
    return result(dst);
  }
  const terms = wrapTerms(l, at);
  if (terms > 0 && bin !== 'mul') {
    l.emit({ k: 'bin', op: bin, dst, a: reg(l, a), b: reg(l, b) });
    return result(dst);
  }
  if (terms === 0) {
    unsignedGuard(l, a, at);
    unsignedGuard(l, b, at);
    const op: BinOp = bin === 'add' ? 'addo' : bin === 'sub' ? 'subo' : 'mulo';
    emitChecked(l, { k: 'bin', op, dst, a: reg(l, a), b: reg(l, b) }, at, 'overflow');
    return result(dst);
  }
  // A wrapping product: exact in JavaScript while |p| < 2^bits, bits = 53 - ceil(log2 terms),
  // that is while the high word of the 64-bit product is in [-2^(bits-32), 2^(bits-32)). With
  // an operand above 2^31 - 1 (`x >>> 0`: below 2^32 in JavaScript, where the signed high word
  // would be wrong), the other must be below 2^(bits-32) in magnitude instead.
  const ra = reg(l, a);
  const rb = reg(l, b);
  l.emit({ k: 'bin', op: 'mul', dst, a: ra, b: rb });
  const shift = Math.max(53 - Math.ceil(Math.log2(terms)) - 32, 0);
  const top = l.vreg();
  const ua = a.range === 'u32';
  const ub = b.range === 'u32';
  if (ua && ub) {
    l.emit({ k: 'imm', op: 'shri', dst: top, a: rb, imm: shift });
    emitChecked(l, { k: 'chki', a: top, imm: 1 }, at, 'overflow');
    return result(dst);
  }
  let hi: VReg;
  if (ua || ub) hi = ua ? rb : ra;
  else {
    hi = l.vreg();
    l.emit({ k: 'bin', op: 'mulh', dst: hi, a: ra, b: rb });
  }
  const biased = l.vreg();
  l.emit({ k: 'imm', op: 'sari', dst: top, a: hi, imm: shift });
  l.emit({ k: 'imm', op: 'addi', dst: biased, a: top, imm: 1 });
  emitChecked(l, { k: 'chki', a: biased, imm: 2 }, at, 'overflow');
  return result(dst);
}

/** `-a`: `0 - a`, checked (INT_MIN) unless wrapped. */
export function lowerNegate(l: FunctionLowerer, a: VReg, operand: Operand, at: ts.Node): Operand {
  const dst = l.vreg();
  if (!checking(l) || wrapTerms(l, at) > 0) {
    l.emit({ k: 'un', op: 'neg', dst, a });
    return result(dst);
  }
  unsignedGuard(l, operand, at);
  emitChecked(l, { k: 'bin', op: 'subo', dst, a: l.li(0), b: a }, at, 'overflow');
  return result(dst);
}

/**
 * `x++`, `--x`, ...: `old + delta` for `target`. A typed-array element wraps what is stored,
 * so there the add is plain, unless `++a[i]`'s (exact) value is read.
 */
export function lowerStep(l: FunctionLowerer, old: VReg, delta: 1 | -1, target: ts.Expression, node: ts.Node, prefix: boolean, discard: boolean): VReg {
  const dst = l.vreg();
  const element = ts.isElementAccessExpression(skipOuter(target));
  if (!checking(l) || (element && (!prefix || discard || isDiscarded(node)))) {
    l.emit({ k: 'bin', op: 'add', dst, a: old, b: l.li(delta) });
  } else {
    emitChecked(l, { k: 'bin', op: 'addo', dst, a: old, b: l.li(delta) }, node, 'overflow');
  }
  return dst;
}

/**
 * A division or remainder. Each traps on a zero divisor (the site names it); a quotient that is
 * not truncated at once must also be exact: `rem` and `chki r, 1` ('inexact-division'), and
 * INT_MIN / -1 is an overflow (`mulo q, b` fires exactly then; range.ts knows the pattern).
 */
export function lowerDivision(l: FunctionLowerer, bin: 'div' | 'divu' | 'rem' | 'remu', a: Operand, b: Operand, at: ts.Node): VReg {
  const ra = reg(l, a);
  const rb = reg(l, b);
  const dst = l.vreg();
  emitChecked(l, { k: 'bin', op: bin, dst, a: ra, b: rb }, at, 'division-by-zero');
  if ((bin === 'div' || bin === 'divu') && checking(l) && !truncated(l, at)) {
    if (bin === 'div') emitChecked(l, { k: 'bin', op: 'mulo', dst: l.vreg(), a: dst, b: rb }, at, 'overflow');
    const r = l.vreg();
    emitChecked(l, { k: 'bin', op: bin === 'div' ? 'rem' : 'remu', dst: r, a: ra, b: rb }, at, 'division-by-zero');
    emitChecked(l, { k: 'chki', a: r, imm: 1 }, at, 'inexact-division');
  }
  return dst;
}

/**
 * The bounds check of `e` (an element access), with the array's address in `base` and the
 * index: none when the index is a constant inside a static array.
 */
export function boundsCheck(l: FunctionLowerer, e: ts.ElementAccessExpression, base: VReg, index: Operand): void {
  if (!checking(l)) return;
  let length: number | undefined;
  const b = skipOuter(e.expression);
  if (ts.isIdentifier(b)) {
    const ent = l.ctx.resolve(b, l);
    if (ent?.kind === 'array') length = ent.a.length;
    else if (ent?.kind === 'static' && ent.s.kind !== 'record') length = ent.s.length; // a record array, a function table (records.ts)
  }
  if (length !== undefined && index.k === 'const' && index.v >>> 0 < length) return;
  const idx = reg(l, index);
  if (length !== undefined && length <= 0xffff) return emitChecked(l, { k: 'chki', a: idx, imm: length }, e, 'bounds');
  let len: VReg;
  if (length !== undefined) len = l.li(length);
  else {
    len = l.vreg();
    l.emit({ k: 'load', width: 4, signed: false, dst: len, base, offset: -4, mem: { kind: 'const' } });
  }
  emitChecked(l, { k: 'chk', a: idx, b: len }, e, 'bounds');
}
