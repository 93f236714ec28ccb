/**
 * Stage 3, lowering of expressions and conditions (statements are in lower.ts).
 *
 * `lowerExpr` returns an Operand: a constant (folded on the way up, with the machine's 32-bit
 * arithmetic) or a virtual register. `lowerCondition` lowers an expression used as a condition
 * straight to conditional branches.
 *
 * JavaScript and the machine agree on every int32 operation except where JavaScript leaves the
 * int32 range: `+ - *` and `/` (checked at run time unless the program wraps or truncates them:
 * checks.ts; a constant that overflows is refused here), and `>>>`, whose result JavaScript reads
 * as unsigned. For the last, the compiler tracks which operands are `x >>> 0` values (IntRange
 * 'u32') and uses the unsigned compare, divide and remainder for them, refusing a comparison
 * with a possibly negative value, where JavaScript and the machine would disagree.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { foldBinary, isComparison, numericLiteralValue, skipOuter, unsignedLetMessage, type Entity } from './context.ts';
import type { BinOp, BlockId, Cond, MemClass, VReg, Width } from './ir.ts';
import { lowerIntrinsic } from './intrinsics.ts';
import { lowerMath, mathFunctionName, unsignedRemainder } from './math.ts';
import { isConsoleLog, lowerConsoleLog } from './console-log.ts';
import { defaultArguments } from './params.ts';
import type { FunctionLowerer } from './lower.ts';
import { fieldLValue, functionAddress, lowerField, lowerRecordCall, lowerRecordElement, lowerThis, staticAddress } from './records-lower.ts';
import { ELEM_BYTES, elementRange, targetFlag, type ElemKind, type IntRange } from './types.ts';
import { isCompoundAssignment } from './subset.ts';
import { boundsCheck, lowerAddSubMul, lowerDivision, lowerNegate, lowerStep, truncated, wrapTerms } from './checks.ts';

export type Operand = { k: 'const'; v: number; range?: IntRange } | { k: 'reg'; r: VReg; range?: IntRange };

export function constOperand(v: number, range?: IntRange): Operand {
  const r = range ?? (v >= 0 ? 'nonneg' : undefined);
  return r ? { k: 'const', v, range: r } : { k: 'const', v };
}

export function regOperand(r: VReg, range?: IntRange): Operand {
  return range ? { k: 'reg', r, range } : { k: 'reg', r };
}

const ZERO: Operand = { k: 'const', v: 0, range: 'nonneg' };

/** A register holding the operand's value. */
export function toReg(l: FunctionLowerer, o: Operand): VReg {
  return o.k === 'reg' ? o.r : l.li(o.v);
}

// ---------------------------------------------------------------------------------------------
// Expressions

/** Lower `e`; with `discard`, the value is not needed (an expression statement). */
export function lowerExpr(l: FunctionLowerer, e: ts.Expression, discard = false): Operand {
  e = skipOuter(e);
  switch (e.kind) {
    case ts.SyntaxKind.NumericLiteral: {
      const v = numericLiteralValue(e as ts.NumericLiteral) ?? 0;
      // A literal above 0x7fffffff is positive in JavaScript though its bits are a negative int32.
      return constOperand(v, v < 0 ? 'u32' : 'nonneg');
    }
    case ts.SyntaxKind.TrueKeyword:
      return constOperand(1);
    case ts.SyntaxKind.FalseKeyword:
      return ZERO;
    case ts.SyntaxKind.StringLiteral:
    case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
      return stringAddress(l, (e as ts.StringLiteral).text);
    case ts.SyntaxKind.Identifier:
      return lowerName(l, e as ts.Identifier);
    case ts.SyntaxKind.PropertyAccessExpression:
      return lowerPropertyAccess(l, e as ts.PropertyAccessExpression);
    case ts.SyntaxKind.ThisKeyword:
      return lowerThis(l);
    case ts.SyntaxKind.ElementAccessExpression: {
      const c = l.ctx.enumValue(e as ts.ElementAccessExpression);
      if (c !== undefined) return constOperand(c);
      const element = lowerRecordElement(l, e as ts.ElementAccessExpression);
      if (element) return element;
      return readLValue(l, elementLValue(l, e as ts.ElementAccessExpression));
    }
    case ts.SyntaxKind.CallExpression:
      return lowerCall(l, e as ts.CallExpression);
    case ts.SyntaxKind.PrefixUnaryExpression:
      return lowerPrefix(l, e as ts.PrefixUnaryExpression, discard);
    case ts.SyntaxKind.PostfixUnaryExpression: {
      const p = e as ts.PostfixUnaryExpression;
      return lowerUpdate(l, p.operand, p.operator === ts.SyntaxKind.PlusPlusToken ? 1 : -1, discard);
    }
    case ts.SyntaxKind.BinaryExpression:
      return lowerBinary(l, e as ts.BinaryExpression, discard);
    case ts.SyntaxKind.ConditionalExpression:
      return lowerConditional(l, e as ts.ConditionalExpression);
    default:
      // Refused by the subset check; keep going to find more errors.
      return ZERO;
  }
}

export function stringAddress(l: FunctionLowerer, text: string): Operand {
  const dst = l.vreg();
  l.emit({ k: 'la', dst, sym: l.ctx.data.string(text) });
  return regOperand(dst);
}

function lowerName(l: FunctionLowerer, node: ts.Identifier | ts.PropertyAccessExpression): Operand {
  const ent = l.ctx.resolve(node, l);
  if (!ent) {
    const decl = l.ctx.declarationOf(ts.isPropertyAccessExpression(node) ? node.name : node);
    if (decl) l.ctx.bag.at(node, Code.expression, `'${node.getText()}' is not a value the subset supports`);
    return ZERO;
  }
  return entityValue(l, ent, node);
}

function entityValue(l: FunctionLowerer, ent: Entity, node: ts.Node): Operand {
  switch (ent.kind) {
    case 'const':
      return constOperand(ent.value, ent.unsigned ? 'u32' : undefined);
    case 'string':
      return stringAddress(l, ent.text);
    case 'local':
      return regOperand(ent.vreg, ent.range);
    case 'global':
      return readLValue(l, globalLValue(l, ent));
    case 'array': {
      l.ctx.useArray(ent.a);
      const dst = l.vreg();
      l.emit({ k: 'la', dst, sym: ent.a.label });
      return regOperand(dst);
    }
    case 'intrinsic':
      {
        const flag = targetFlag(ent.name, l.ctx.target); // TARGET_PV, TARGET_USER
        if (flag !== undefined) return constOperand(flag);
      }
      l.ctx.bag.at(node, Code.functionValue, `intrinsic '${ent.name}' can only be called`);
      return ZERO;
    case 'function':
      return functionAddress(l, ent.fn); // a function value (the subset check refused the others)
    case 'static':
      return staticAddress(l, ent.s);
    case 'error':
      return ZERO;
  }
}

function lowerPropertyAccess(l: FunctionLowerer, e: ts.PropertyAccessExpression): Operand {
  const c = l.ctx.enumValue(e);
  if (c !== undefined) return constOperand(c);
  if (l.ctx.isModuleMember(e)) return lowerName(l, e);
  const field = lowerField(l, e);
  if (field) return field;
  if (e.name.text === 'length') {
    const folded = l.ctx.constValue(e, l);
    if (folded?.kind === 'num') return constOperand(folded.value);
    const base = toReg(l, lowerExpr(l, e.expression));
    const dst = l.vreg();
    l.emit({ k: 'load', width: 4, signed: false, dst, base, offset: -4, mem: { kind: 'const' } });
    return regOperand(dst, 'nonneg');
  }
  return ZERO; // refused by the subset check
}

// ---------------------------------------------------------------------------------------------
// Places: what can be assigned

export type LValue =
  | { k: 'local'; vreg: VReg }
  | { k: 'global'; addr: VReg; mem: MemClass }
  /** `field`: a record's number or boolean field (records-lower.ts), which reads back what was stored. */
  | { k: 'mem'; base: VReg; offset: number; width: Width; signed: boolean; mem: MemClass; elem: ElemKind; field?: true };

function globalLValue(l: FunctionLowerer, ent: Extract<Entity, { kind: 'global' }>): LValue {
  l.ctx.useGlobal(ent.g);
  const addr = l.vreg();
  l.emit({ k: 'la', dst: addr, sym: ent.g.label });
  return { k: 'global', addr, mem: { kind: 'global', sym: ent.g.label } };
}

export function readLValue(l: FunctionLowerer, lv: LValue): Operand {
  switch (lv.k) {
    case 'local':
      return regOperand(lv.vreg);
    case 'global': {
      const dst = l.vreg();
      l.emit({ k: 'load', width: 4, signed: true, dst, base: lv.addr, offset: 0, mem: lv.mem });
      return regOperand(dst);
    }
    case 'mem': {
      const dst = l.vreg();
      l.emit({ k: 'load', width: lv.width, signed: lv.signed, dst, base: lv.base, offset: lv.offset, mem: lv.mem });
      return regOperand(dst, elementRange(lv.elem));
    }
  }
}

/** Whether JavaScript may see `o` as a number above 2147483647 (a `>>>` result or such a constant). */
export function mayExceedInt32(o: Operand): boolean {
  return o.range === 'u32' && (o.k === 'reg' || o.v < 0);
}

/**
 * Store `value`; `at` is the assignment, whose target must not be a `let` (local or module
 * variable) when the value may be above 2147483647: the variable would read back signed.
 */
function writeLValue(l: FunctionLowerer, lv: LValue, value: Operand, at?: ts.BinaryExpression): void {
  if (at && (lv.k !== 'mem' || lv.field) && mayExceedInt32(value)) l.ctx.bag.at(at, Code.unsignedLocal, unsignedLetMessage(skipOuter(at.left).getText()));
  if (lv.k === 'local') {
    if (value.k === 'const') l.emit({ k: 'li', dst: lv.vreg, value: value.v });
    else if (value.r !== lv.vreg) l.emit({ k: 'mov', dst: lv.vreg, src: value.r });
    return;
  }
  const src = toReg(l, value);
  if (lv.k === 'global') l.emit({ k: 'store', width: 4, src, base: lv.addr, offset: 0, mem: lv.mem });
  else l.emit({ k: 'store', width: lv.width, src, base: lv.base, offset: lv.offset, mem: lv.mem });
}

/** The element kind of a typed-array expression, from its static type. */
function elemKindOf(l: FunctionLowerer, e: ts.Expression): ElemKind {
  const t = l.ctx.classifyQuiet(l.ctx.checker.getTypeAtLocation(e));
  return typeof t !== 'string' && t.kind === 'array' ? t.elem : 'i32';
}

function elementLValue(l: FunctionLowerer, e: ts.ElementAccessExpression): LValue {
  const elem = elemKindOf(l, e.expression);
  const size = ELEM_BYTES[elem];
  const baseExpr = skipOuter(e.expression);
  let sym: string | null = null;
  if (ts.isIdentifier(baseExpr)) {
    const ent = l.ctx.resolve(baseExpr, l);
    if (ent?.kind === 'array') sym = ent.a.label;
  }
  const base = toReg(l, lowerExpr(l, e.expression));
  const index = lowerExpr(l, e.argumentExpression);
  boundsCheck(l, e, base, index);
  const mem: MemClass = { kind: 'array', sym };
  const common = { width: size, signed: elem === 'i8' || elem === 'i16' || elem === 'i32', mem, elem } as const;
  if (index.k === 'const') {
    const off = Math.imul(index.v, size);
    if (off >= -0x8000 && off <= 0x7fff && off / size === index.v) return { k: 'mem', base, offset: off, ...common };
  }
  let scaled = toReg(l, index);
  if (size > 1) {
    const s = l.vreg();
    l.emit({ k: 'bin', op: 'shl', dst: s, a: scaled, b: l.li(size === 2 ? 1 : 2) });
    scaled = s;
  }
  const addr = l.vreg();
  l.emit({ k: 'bin', op: 'add', dst: addr, a: base, b: scaled });
  return { k: 'mem', base: addr, offset: 0, ...common };
}

function lvalueOf(l: FunctionLowerer, target: ts.Expression): LValue | undefined {
  const t = skipOuter(target);
  if (ts.isIdentifier(t)) {
    const ent = l.ctx.resolve(t, l);
    if (ent?.kind === 'local') return { k: 'local', vreg: ent.vreg };
    if (ent?.kind === 'global') return globalLValue(l, ent);
    return undefined;
  }
  if (ts.isElementAccessExpression(t)) return elementLValue(l, t);
  if (ts.isPropertyAccessExpression(t)) return fieldLValue(l, t);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Operators

function lowerPrefix(l: FunctionLowerer, e: ts.PrefixUnaryExpression, discard: boolean): Operand {
  switch (e.operator) {
    case ts.SyntaxKind.PlusPlusToken:
      return lowerUpdate(l, e.operand, 1, discard, true);
    case ts.SyntaxKind.MinusMinusToken:
      return lowerUpdate(l, e.operand, -1, discard, true);
    case ts.SyntaxKind.PlusToken:
      return lowerExpr(l, e.operand);
    case ts.SyntaxKind.MinusToken: {
      const a = lowerExpr(l, e.operand);
      if (a.k === 'const') return exactConstant(l, -(a.range === 'u32' ? a.v >>> 0 : a.v), e) ?? constOperand(-a.v | 0);
      return lowerNegate(l, a.r, a, e);
    }
    case ts.SyntaxKind.TildeToken: {
      const a = lowerExpr(l, e.operand);
      if (a.k === 'const') return constOperand(~a.v);
      const dst = l.vreg();
      l.emit({ k: 'un', op: 'not', dst, a: a.r });
      return regOperand(dst);
    }
    case ts.SyntaxKind.ExclamationToken: {
      const a = lowerExpr(l, e.operand);
      if (a.k === 'const') return constOperand(a.v === 0 ? 1 : 0);
      const dst = l.vreg();
      l.emit({ k: 'bin', op: 'seq', dst, a: a.r, b: l.li(0) });
      return regOperand(dst, 'nonneg');
    }
    default:
      return ZERO;
  }
}

/** `x++`, `--x` and friends. */
function lowerUpdate(l: FunctionLowerer, target: ts.Expression, delta: 1 | -1, discard: boolean, prefix = false): Operand {
  const lv = lvalueOf(l, target);
  if (!lv) return ZERO;
  let old = readLValue(l, lv);
  if (!prefix && !discard && lv.k === 'local') {
    const copy = l.vreg(); // the old value must survive the write to the local's register
    l.emit({ k: 'mov', dst: copy, src: toReg(l, old) });
    old = regOperand(copy);
  }
  const updated = lowerStep(l, toReg(l, old), delta, target, target.parent, prefix, discard);
  writeLValue(l, lv, regOperand(updated));
  return prefix ? regOperand(updated) : old;
}

/** Operators whose left operand is a value (not a place assigned to). */
const takesLeftValue = (e: ts.BinaryExpression): boolean => e.operatorToken.kind !== ts.SyntaxKind.EqualsToken && !isCompoundAssignment(e.operatorToken.kind);
const isComma = (e: ts.BinaryExpression): boolean => e.operatorToken.kind === ts.SyntaxKind.CommaToken;

/**
 * A left-deep chain (`v0 + v1 + ... + v2999`, `a, b, c`, `p && q && r`) is lowered with a loop,
 * innermost operator first, not by recursion: its length is not nesting (limits.ts), and must
 * not overflow the stack. The code is the same as recursion would give.
 */
function lowerBinary(l: FunctionLowerer, outer: ts.BinaryExpression, discard: boolean): Operand {
  if (!takesLeftValue(outer)) return lowerAssignment(l, outer);
  const chain = [outer];
  for (let e = outer.left; ts.isBinaryExpression(e) && takesLeftValue(e); e = e.left) chain.push(e);
  const inner = chain[chain.length - 1]!;
  let value = lowerExpr(l, inner.left, isComma(inner));
  for (let k = chain.length - 1; k >= 0; k--) {
    // A comma discards its left operand's value; the outermost operator's is discarded as asked.
    value = lowerOperator(l, chain[k]!, value, k === 0 ? discard : isComma(chain[k - 1]!));
  }
  return value;
}

/** `e`, an operator whose left operand is a value, given that value. */
function lowerOperator(l: FunctionLowerer, e: ts.BinaryExpression, left: Operand, discard: boolean): Operand {
  const op = e.operatorToken.kind;
  if (op === ts.SyntaxKind.CommaToken) return lowerExpr(l, e.right, discard);
  if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
    return lowerLogical(l, e, left, op === ts.SyntaxKind.AmpersandAmpersandToken);
  }
  const a = stable(l, left, e.right);
  const b = lowerExpr(l, e.right);
  if (isComparison(op)) return compareValue(l, op, a, b, e);
  return arith(l, op, a, b, e);
}

/** `=` and the compound assignments. */
function lowerAssignment(l: FunctionLowerer, e: ts.BinaryExpression): Operand {
  const op = e.operatorToken.kind;
  if (op === ts.SyntaxKind.EqualsToken) {
    const lv = lvalueOf(l, e.left);
    const v = lowerExpr(l, e.right);
    if (lv) writeLValue(l, lv, v, e);
    return v;
  }
  if (op === ts.SyntaxKind.AmpersandAmpersandEqualsToken || op === ts.SyntaxKind.BarBarEqualsToken) {
    return lowerLogicalAssign(l, e, op === ts.SyntaxKind.AmpersandAmpersandEqualsToken);
  }
  const lv = lvalueOf(l, e.left);
  if (!lv) return ZERO;
  const old = stable(l, readLValue(l, lv), e.right);
  const v = arith(l, compoundBase(op), old, lowerExpr(l, e.right), e);
  writeLValue(l, lv, v, e);
  return v;
}

/** Snapshot a local's register when `later` (evaluated after it) may assign that local. */
export function stable(l: FunctionLowerer, o: Operand, ...later: ts.Expression[]): Operand {
  if (o.k !== 'reg' || !later.some(mayAssign)) return o;
  const copy = l.vreg();
  l.emit({ k: 'mov', dst: copy, src: o.r });
  return regOperand(copy, o.range);
}

/** Whether `root` contains an assignment or `++`/`--`. Iterative: chains may be long. */
function mayAssign(root: ts.Node): boolean {
  const work = [root];
  while (work.length > 0) {
    const e = work.pop()!;
    if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.EqualsToken || isCompoundAssignment(e.operatorToken.kind))) return true;
    if ((ts.isPrefixUnaryExpression(e) || ts.isPostfixUnaryExpression(e)) && (e.operator === ts.SyntaxKind.PlusPlusToken || e.operator === ts.SyntaxKind.MinusMinusToken)) {
      return true;
    }
    ts.forEachChild(e, (c) => {
      work.push(c);
    });
  }
  return false;
}

function compoundBase(op: ts.SyntaxKind): ts.SyntaxKind {
  switch (op) {
    case ts.SyntaxKind.PlusEqualsToken:
      return ts.SyntaxKind.PlusToken;
    case ts.SyntaxKind.MinusEqualsToken:
      return ts.SyntaxKind.MinusToken;
    case ts.SyntaxKind.AsteriskEqualsToken:
      return ts.SyntaxKind.AsteriskToken;
    case ts.SyntaxKind.SlashEqualsToken:
      return ts.SyntaxKind.SlashToken;
    case ts.SyntaxKind.PercentEqualsToken:
      return ts.SyntaxKind.PercentToken;
    case ts.SyntaxKind.LessThanLessThanEqualsToken:
      return ts.SyntaxKind.LessThanLessThanToken;
    case ts.SyntaxKind.GreaterThanGreaterThanEqualsToken:
      return ts.SyntaxKind.GreaterThanGreaterThanToken;
    case ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken:
      return ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken;
    case ts.SyntaxKind.AmpersandEqualsToken:
      return ts.SyntaxKind.AmpersandToken;
    case ts.SyntaxKind.BarEqualsToken:
      return ts.SyntaxKind.BarToken;
    case ts.SyntaxKind.CaretEqualsToken:
      return ts.SyntaxKind.CaretToken;
    default:
      return op;
  }
}

const isU32 = (o: Operand): boolean => o.range === 'u32';
/** Non-negative as JavaScript sees it. */
const nonNeg = (o: Operand): boolean => o.range === 'nonneg' || o.range === 'u32' || (o.k === 'const' && o.v >= 0);

/** A binary arithmetic, bitwise or shift operator. */
export function arith(l: FunctionLowerer, op: ts.SyntaxKind, a: Operand, b: Operand, at: ts.Node): Operand {
  const unsigned = isU32(a) || isU32(b);
  if (op === ts.SyntaxKind.PercentToken && isU32(a) && !isU32(b) && !nonNeg(b)) return regOperand(unsignedRemainder(l, a, b, at), 'nonneg');
  if ((op === ts.SyntaxKind.SlashToken || op === ts.SyntaxKind.PercentToken) && unsigned && !(nonNeg(a) && nonNeg(b))) {
    l.ctx.bag.at(at, Code.signMix, mixMessage(op === ts.SyntaxKind.SlashToken ? 'dividing' : 'taking the remainder of'));
    return ZERO;
  }
  if (a.k === 'const' && b.k === 'const' && !unsigned) {
    const v = foldBinary(op, a.v, b.v);
    if (v === 'divzero') {
      l.ctx.bag.at(at, Code.constDivZero, 'division by zero in a constant expression');
      return ZERO;
    }
    const exact = constantChecks(l, op, a.v, b.v, at);
    if (exact !== undefined) return exact;
    return constOperand(v ?? 0, op === ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken && (b.v & 31) === 0 ? 'u32' : undefined);
  }
  let bin: BinOp;
  let range: IntRange | undefined;
  switch (op) {
    case ts.SyntaxKind.PlusToken:
      bin = 'add';
      break;
    case ts.SyntaxKind.MinusToken:
      bin = 'sub';
      break;
    case ts.SyntaxKind.AsteriskToken:
      bin = 'mul';
      break;
    case ts.SyntaxKind.SlashToken:
      bin = unsigned ? 'divu' : 'div';
      // An unsigned quotient is below 2^31 when the dividend is, or the divisor is at least 2.
      if (unsigned) range = !isU32(a) || (b.k === 'const' && b.v >>> 0 >= 2) ? 'nonneg' : 'u32';
      else if (nonNeg(a) && nonNeg(b)) range = 'nonneg';
      break;
    case ts.SyntaxKind.PercentToken:
      bin = unsigned ? 'remu' : 'rem';
      // An unsigned remainder is below the divisor and the dividend.
      if (unsigned) range = !isU32(a) || !isU32(b) || (b.k === 'const' && b.v >= 0) ? 'nonneg' : 'u32';
      else if (nonNeg(a)) range = 'nonneg';
      break;
    case ts.SyntaxKind.LessThanLessThanToken:
      bin = 'shl';
      break;
    case ts.SyntaxKind.GreaterThanGreaterThanToken:
      bin = 'sar';
      if (nonNeg(a) && !isU32(a)) range = 'nonneg';
      break;
    case ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken:
      if (b.k === 'const' && (b.v & 31) === 0) return a.k === 'const' ? constOperand(a.v, 'u32') : regOperand(a.r, 'u32');
      bin = 'shr';
      range = b.k === 'const' ? 'nonneg' : 'u32';
      break;
    case ts.SyntaxKind.AmpersandToken:
      bin = 'and';
      if ((nonNeg(a) && !isU32(a)) || (nonNeg(b) && !isU32(b))) range = 'nonneg';
      break;
    case ts.SyntaxKind.BarToken:
      if (b.k === 'const' && b.v === 0) return a.k === 'const' ? constOperand(a.v) : regOperand(a.r); // `x | 0`: an int32 again
      bin = 'or';
      break;
    case ts.SyntaxKind.CaretToken:
      bin = 'xor';
      break;
    default:
      return ZERO;
  }
  if (a.k === 'const' && b.k === 'const') {
    // Unsigned division of constants.
    const ua = a.v >>> 0;
    const ub = b.v >>> 0;
    if (ub === 0 && (bin === 'divu' || bin === 'remu')) {
      l.ctx.bag.at(at, Code.constDivZero, 'division by zero in a constant expression');
      return ZERO;
    }
    if (bin === 'divu') {
      const q = Math.floor(ua / ub);
      return constOperand(q | 0, q > 0x7fffffff ? 'u32' : 'nonneg');
    }
    if (bin === 'remu') return constOperand(ua % ub | 0, 'nonneg');
    const v = foldBinary(op, a.v, b.v);
    return constOperand(typeof v === 'number' ? v : 0);
  }
  if (bin === 'add' || bin === 'sub' || bin === 'mul') return lowerAddSubMul(l, bin, a, b, at);
  if (bin === 'div' || bin === 'divu' || bin === 'rem' || bin === 'remu') return regOperand(lowerDivision(l, bin, a, b, at), range);
  const dst = l.vreg();
  l.emit({ k: 'bin', op: bin, dst, a: toReg(l, a), b: toReg(l, b) });
  return regOperand(dst, range);
}

/**
 * A constant `+ - *` (or `-x`, or INT_MIN / -1) whose exact result leaves int32, where the
 * program does not wrap it, is an unsigned constant below 2^32 (as such a literal is; context.ts
 * folds the same way), and an error beyond; a constant `/` with a fraction is an error unless
 * truncated: the machine's folded value would differ from JavaScript's (checks.ts is the
 * run-time side). Returns the operand to use instead of the wrapped fold, if any.
 */
function constantChecks(l: FunctionLowerer, op: ts.SyntaxKind, a: number, b: number, at: ts.Node): Operand | undefined {
  if (op === ts.SyntaxKind.PlusToken || op === ts.SyntaxKind.MinusToken || op === ts.SyntaxKind.AsteriskToken) {
    return exactConstant(l, op === ts.SyntaxKind.PlusToken ? a + b : op === ts.SyntaxKind.MinusToken ? a - b : a * b, at);
  }
  if (op === ts.SyntaxKind.SlashToken && b !== 0 && !truncated(l, at)) {
    if (a % b !== 0) {
      l.ctx.bag.at(at, Code.inexactDivision, `inexact division ${at.getText()} = ${(a / b).toFixed(3)}...: a number holds integers only; write (${at.getText()}) | 0 for the integer part`);
      return undefined;
    }
    return exactConstant(l, a / b, at);
  }
  return undefined;
}

/** `exact`, the JavaScript value of a constant operation at `at`, as the machine can hold it (see above). */
function exactConstant(l: FunctionLowerer, exact: number, at: ts.Node): Operand | undefined {
  if ((exact >= -0x80000000 && exact <= 0x7fffffff) || wrapTerms(l, at) > 0) return undefined;
  if (exact > 0x7fffffff && exact <= 0xffffffff) return constOperand(exact | 0, 'u32');
  l.ctx.bag.at(at, Code.constOverflow, `integer overflow in a constant expression: ${at.getText()} is ${exact}, outside the 32-bit range; write (${at.getText()}) | 0 if it should wrap`);
  return undefined;
}

export function mixMessage(what: string): string {
  return `${what} an unsigned value (x >>> 0) and a value that may be negative: JavaScript and the machine disagree here; write both sides as (x >>> 0)`;
}

/** A comparison as branch operands: `cond(a, b)` holds exactly when the comparison is true. */
function comparison(l: FunctionLowerer, op: ts.SyntaxKind, a: Operand, b: Operand, at: ts.Node): { cond: Cond; a: VReg; b: VReg } | boolean {
  const unsigned = isU32(a) || isU32(b);
  if (unsigned && !(nonNeg(a) && nonNeg(b))) {
    l.ctx.bag.at(at, Code.signMix, mixMessage('comparing'));
    return false;
  }
  if (a.k === 'const' && b.k === 'const') {
    return compareNumbers(op, unsigned ? a.v >>> 0 : a.v, unsigned ? b.v >>> 0 : b.v);
  }
  const lt: Cond = unsigned ? 'ltu' : 'lt';
  const ge: Cond = unsigned ? 'geu' : 'ge';
  const ra = (): VReg => toReg(l, a);
  const rb = (): VReg => toReg(l, b);
  switch (op) {
    case ts.SyntaxKind.LessThanToken:
      return { cond: lt, a: ra(), b: rb() };
    case ts.SyntaxKind.GreaterThanEqualsToken:
      return { cond: ge, a: ra(), b: rb() };
    case ts.SyntaxKind.GreaterThanToken: {
      const x = ra();
      return { cond: lt, a: rb(), b: x };
    }
    case ts.SyntaxKind.LessThanEqualsToken: {
      const x = ra();
      return { cond: ge, a: rb(), b: x };
    }
    case ts.SyntaxKind.EqualsEqualsToken:
    case ts.SyntaxKind.EqualsEqualsEqualsToken:
      return { cond: 'eq', a: ra(), b: rb() };
    default:
      return { cond: 'ne', a: ra(), b: rb() };
  }
}

function compareNumbers(op: ts.SyntaxKind, x: number, y: number): boolean {
  switch (op) {
    case ts.SyntaxKind.LessThanToken:
      return x < y;
    case ts.SyntaxKind.LessThanEqualsToken:
      return x <= y;
    case ts.SyntaxKind.GreaterThanToken:
      return x > y;
    case ts.SyntaxKind.GreaterThanEqualsToken:
      return x >= y;
    case ts.SyntaxKind.EqualsEqualsToken:
    case ts.SyntaxKind.EqualsEqualsEqualsToken:
      return x === y;
    default:
      return x !== y;
  }
}

/** A comparison as a 0/1 value. */
function compareValue(l: FunctionLowerer, op: ts.SyntaxKind, a: Operand, b: Operand, at: ts.Node): Operand {
  const c = comparison(l, op, a, b, at);
  if (typeof c === 'boolean') return constOperand(c ? 1 : 0);
  const dst = l.vreg();
  switch (c.cond) {
    case 'eq':
      l.emit({ k: 'bin', op: 'seq', dst, a: c.a, b: c.b });
      break;
    case 'ne':
      l.emit({ k: 'bin', op: 'sne', dst, a: c.a, b: c.b });
      break;
    case 'lt':
    case 'ltu':
      l.emit({ k: 'bin', op: c.cond === 'lt' ? 'slt' : 'sltu', dst, a: c.a, b: c.b });
      break;
    case 'ge':
    case 'geu': {
      const t = l.vreg();
      l.emit({ k: 'bin', op: c.cond === 'ge' ? 'slt' : 'sltu', dst: t, a: c.a, b: c.b });
      l.emit({ k: 'bin', op: 'xor', dst, a: t, b: l.li(1) });
      break;
    }
  }
  return regOperand(dst, 'nonneg');
}

/** `a && b` / `a || b` as a value, given `a`: JavaScript returns the deciding operand, not a boolean. */
function lowerLogical(l: FunctionLowerer, e: ts.BinaryExpression, a: Operand, isAnd: boolean): Operand {
  if (a.k === 'const') return (a.v === 0) === isAnd ? a : lowerExpr(l, e.right);
  const result = l.vreg();
  l.emit({ k: 'mov', dst: result, src: a.r });
  const evalRight = l.newBlock();
  const done = l.newBlock();
  // &&: a falsy decides; ||: a truthy decides.
  l.branch(isAnd ? 'eq' : 'ne', a.r, l.li(0), done.id, evalRight.id);
  l.enter(evalRight.id);
  const b = lowerExpr(l, e.right);
  if (b.k === 'const') l.emit({ k: 'li', dst: result, value: b.v });
  else l.emit({ k: 'mov', dst: result, src: b.r });
  l.terminate({ k: 'jmp', target: done.id });
  l.enter(done.id);
  return regOperand(result);
}

/** `x &&= e` / `x ||= e`. */
function lowerLogicalAssign(l: FunctionLowerer, e: ts.BinaryExpression, isAnd: boolean): Operand {
  const lv = lvalueOf(l, e.left);
  if (!lv) return ZERO;
  const old = toReg(l, readLValue(l, lv));
  const result = l.vreg();
  l.emit({ k: 'mov', dst: result, src: old });
  const assign = l.newBlock();
  const done = l.newBlock();
  l.branch(isAnd ? 'eq' : 'ne', old, l.li(0), done.id, assign.id);
  l.enter(assign.id);
  const v = lowerExpr(l, e.right);
  writeLValue(l, lv, v, e);
  if (v.k === 'const') l.emit({ k: 'li', dst: result, value: v.v });
  else l.emit({ k: 'mov', dst: result, src: v.r });
  l.terminate({ k: 'jmp', target: done.id });
  l.enter(done.id);
  return regOperand(result);
}

function lowerConditional(l: FunctionLowerer, e: ts.ConditionalExpression): Operand {
  const c = l.ctx.constValue(e.condition, l);
  if (c?.kind === 'num') return lowerExpr(l, c.value !== 0 ? e.whenTrue : e.whenFalse);
  const result = l.vreg();
  const t = l.newBlock();
  const f = l.newBlock();
  const done = l.newBlock();
  lowerCondition(l, e.condition, t.id, f.id);
  for (const [block, arm] of [[t, e.whenTrue], [f, e.whenFalse]] as const) {
    l.enter(block.id);
    const v = lowerExpr(l, arm);
    if (v.k === 'const') l.emit({ k: 'li', dst: result, value: v.v });
    else l.emit({ k: 'mov', dst: result, src: v.r });
    l.terminate({ k: 'jmp', target: done.id });
  }
  l.enter(done.id);
  return regOperand(result);
}

// ---------------------------------------------------------------------------------------------
// Calls

function lowerCall(l: FunctionLowerer, e: ts.CallExpression): Operand {
  const viaValue = lowerRecordCall(l, e);
  if (viaValue) return viaValue;
  const callee = skipOuter(e.expression);
  if (ts.isPropertyAccessExpression(callee) && !l.ctx.isModuleMember(callee)) {
    if (callee.name.text === 'charCodeAt') return lowerCharCodeAt(l, callee.expression, e.arguments[0]);
    const math = mathFunctionName(l.ctx, callee);
    if (math !== undefined) return lowerMath(l, math, e);
    if (isConsoleLog(l.ctx, callee)) return lowerConsoleLog(l, e);
    return ZERO; // refused by the subset check
  }
  if (!ts.isIdentifier(callee) && !ts.isPropertyAccessExpression(callee)) return ZERO;
  const ent = l.ctx.resolve(callee, l);
  if (ent?.kind === 'intrinsic') return lowerIntrinsic(l, ent.name, e);
  if (ent?.kind !== 'function') return ZERO;
  const fn = ent.fn;
  const args = [...lowerArgs(l, e.arguments, callee.getText()), ...defaultArguments(l, fn, e.arguments.length)];
  const dst = fn.ret.kind === 'void' ? null : l.vreg();
  l.emit({ k: 'call', dst, target: fn.label, args });
  return dst === null ? ZERO : regOperand(dst);
}

/**
 * Arguments left to right, each in a register that later arguments cannot change. `callee`
 * (a guest function, not an intrinsic) names it for the message refusing a computed argument
 * that may be above 2147483647 (`x >>> 0`): its parameter would read it back signed.
 */
export function lowerArgs(l: FunctionLowerer, args: readonly ts.Expression[], callee?: string): VReg[] {
  return args.map((a, i) => {
    const v = lowerExpr(l, a);
    // A constant above 0x7fffffff is refused like a computed `>>>` value: `printlnNumber(0xffffffff)`
    // would print -1 where Node prints 4294967295.
    if (callee !== undefined && mayExceedInt32(v)) {
      const what = v.k === 'const' ? `is ${v.v >>> 0}, above 2147483647` : 'is an unsigned value that may be above 2147483647';
      l.ctx.bag.at(a, Code.unsignedLocal, `argument ${i + 1} of '${callee}' ${what}, but a parameter holds a signed 32-bit number, so the callee would compare, divide or print it differently from JavaScript: write (value) | 0 to pass its signed bits`);
    }
    return toReg(l, stable(l, v, ...args.slice(i + 1)));
  });
}

function lowerCharCodeAt(l: FunctionLowerer, str: ts.Expression, index: ts.Expression | undefined): Operand {
  const base = toReg(l, lowerExpr(l, str));
  const i = index ? lowerExpr(l, index) : ZERO;
  const dst = l.vreg();
  if (i.k === 'const' && i.v >= -0x8000 && i.v <= 0x7fff) {
    l.emit({ k: 'load', width: 1, signed: false, dst, base, offset: i.v, mem: { kind: 'const' } });
  } else {
    const addr = l.vreg();
    l.emit({ k: 'bin', op: 'add', dst: addr, a: base, b: toReg(l, i) });
    l.emit({ k: 'load', width: 1, signed: false, dst, base: addr, offset: 0, mem: { kind: 'const' } });
  }
  return regOperand(dst, 'nonneg');
}

// ---------------------------------------------------------------------------------------------
// Conditions

const isAndOr = (e: ts.BinaryExpression): boolean =>
  e.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken || e.operatorToken.kind === ts.SyntaxKind.BarBarToken;

/** Lower `e` as a condition: branch to `t` when truthy, to `f` when falsy. Ends the current block. */
export function lowerCondition(l: FunctionLowerer, e: ts.Expression, t: BlockId, f: BlockId): void {
  e = skipOuter(e);
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.ExclamationToken) return lowerCondition(l, e.operand, f, t);
  if (ts.isBinaryExpression(e)) {
    const op = e.operatorToken.kind;
    if (isAndOr(e)) {
      // A chain `p && q && r`: the blocks and targets of each left operand on the way down, then
      // the right operands on the way back, with a loop (as lowerBinary), in recursion's order.
      const spine: { e: ts.BinaryExpression; mid: BlockId; t: BlockId; f: BlockId }[] = [];
      let x: ts.Expression = e;
      let xt = t;
      let xf = f;
      while (ts.isBinaryExpression(x) && isAndOr(x)) {
        const mid = l.newBlock().id;
        spine.push({ e: x, mid, t: xt, f: xf });
        if (x.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) xt = mid;
        else xf = mid;
        x = x.left;
      }
      lowerCondition(l, x, xt, xf);
      for (let k = spine.length - 1; k >= 0; k--) {
        const s = spine[k]!;
        l.enter(s.mid);
        lowerCondition(l, s.e.right, s.t, s.f);
      }
      return;
    }
    if (op === ts.SyntaxKind.CommaToken) {
      lowerExpr(l, e.left, true);
      return lowerCondition(l, e.right, t, f);
    }
    if (isComparison(op)) {
      const a = stable(l, lowerExpr(l, e.left), e.right);
      const b = lowerExpr(l, e.right);
      const c = comparison(l, op, a, b, e);
      if (typeof c === 'boolean') return l.terminate({ k: 'jmp', target: c ? t : f });
      return l.branch(c.cond, c.a, c.b, t, f);
    }
  }
  if (ts.isConditionalExpression(e)) {
    const whenTrue = l.newBlock();
    const whenFalse = l.newBlock();
    lowerCondition(l, e.condition, whenTrue.id, whenFalse.id);
    l.enter(whenTrue.id);
    lowerCondition(l, e.whenTrue, t, f);
    l.enter(whenFalse.id);
    return lowerCondition(l, e.whenFalse, t, f);
  }
  const v = lowerExpr(l, e);
  if (v.k === 'const') return l.terminate({ k: 'jmp', target: v.v !== 0 ? t : f });
  l.branch('ne', v.r, l.li(0), t, f);
}
