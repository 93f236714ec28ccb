/**
 * The Math functions of the subset, each inline on the machine and each giving exactly
 * JavaScript's answer on 32-bit integers (or the named integer-overflow error):
 *
 *   Math.imul(a, b)      `mul` (intrinsics.ts)
 *   Math.min(a, b, ...)  a compare and branch per further argument
 *   Math.max(a, b, ...)  the same
 *   Math.abs(x)          `m = x >> 31; (x ^ m) - m` with `subo`: JavaScript's Math.abs(-2147483648)
 *                        is 2147483648, which no int32 holds, so that one input traps (integer
 *                        overflow, with the call's source line), as Swift's abs does
 *   Math.clz32(x)        a branch-free binary search, five steps (the machine has no clz)
 *   Math.sign(x)         `(0 < x) | (x >> 31)`
 *
 * Unsigned arguments (`x >>> 0`, a Uint32Array element) compare unsigned, as in JavaScript; mixing
 * one with a possibly negative value is refused (TSG3012), as for the comparison operators.
 * Calls with constant arguments fold (context.ts asks foldMathCall), so `const K = Math.max(A, B)`
 * is a constant. Any other Math function is TSG2020, naming it.
 */
import ts from 'typescript';
import { checking, siteAt } from './checks.ts';
import { Code } from './diagnostics.ts';
import { type ConstValue, type GuestContext, type LocalScope, jsValue, skipOuter } from './context.ts';
import type { CheckSite, VReg } from './ir.ts';
import { lowerMathImul } from './intrinsics.ts';
import { constOperand, lowerExpr, mixMessage, regOperand, stable, toReg, type Operand } from './lower-expr.ts';
import type { FunctionLowerer } from './lower.ts';
import { INT, type IntRange } from './types.ts';

/** The Math functions that compile; the subset check refuses the others (TSG2020). */
export const MATH_FUNCTIONS: readonly string[] = ['imul', 'min', 'max', 'abs', 'clz32', 'sign'];

/** The function name when `callee` is `Math.name` with the guest library's Math, else undefined. */
export function mathFunctionName(ctx: GuestContext, callee: ts.Expression): string | undefined {
  const c = skipOuter(callee);
  if (!ts.isPropertyAccessExpression(c) || !ts.isIdentifier(c.expression) || c.expression.text !== 'Math') return undefined;
  const decl = ctx.declarationOf(c.expression);
  return decl && ctx.isGuestStdDecl(decl) ? c.name.text : undefined;
}

/** The message for `Math.name`, which is not one of MATH_FUNCTIONS. */
export function unsupportedMathMessage(name: string): string {
  return `'Math.${name}' is not supported: numbers are 32-bit integers (supported: ${MATH_FUNCTIONS.map((f) => `Math.${f}`).join(', ')})`;
}

// ---------------------------------------------------------------------------------------------
// Folding

/** JavaScript's result as a compile-time constant (its bits, unsigned when above 2^31 - 1). */
function constOf(v: number): ConstValue {
  return v > 0x7fffffff ? { kind: 'num', value: v | 0, type: INT, unsigned: true } : { kind: 'num', value: v, type: INT };
}

/** `Math.f(constants)` folded as JavaScript computes it, or undefined when not a constant call. */
export function foldMathCall(ctx: GuestContext, call: ts.CallExpression, scope?: LocalScope): ConstValue | undefined {
  const name = mathFunctionName(ctx, call.expression);
  if (name === undefined || !MATH_FUNCTIONS.includes(name) || call.arguments.length === 0) return undefined;
  const args: number[] = [];
  for (const a of call.arguments) {
    if (ts.isSpreadElement(a)) return undefined;
    const v = ctx.constValue(a, scope);
    if (!v || v.kind !== 'num') return undefined;
    args.push(jsValue(v));
  }
  const x = args[0]!;
  switch (name) {
    case 'imul':
      return args.length === 2 ? constOf(Math.imul(x, args[1]!)) : undefined;
    case 'min':
      return constOf(Math.min(...args));
    case 'max':
      return constOf(Math.max(...args));
    case 'abs':
      return constOf(Math.abs(x)); // Math.abs(-2147483648) is 2147483648: an unsigned constant
    case 'clz32':
      return constOf(Math.clz32(x));
    case 'sign':
      return constOf(Math.sign(x));
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Lowering

const isU32 = (o: Operand): boolean => o.range === 'u32';
const nonNeg = (o: Operand): boolean => o.range === 'nonneg' || o.range === 'u32' || (o.k === 'const' && o.v >= 0);

/** `Math.name(...)` in the function being lowered (the subset check has refused other names). */
export function lowerMath(l: FunctionLowerer, name: string, call: ts.CallExpression): Operand {
  if (name === 'imul') return lowerMathImul(l, call);
  const folded = foldMathCall(l.ctx, call, l);
  if (folded?.kind === 'num') return constOperand(folded.value, folded.unsigned ? 'u32' : undefined);
  if (call.arguments.length === 0) {
    // Math.min() is Infinity and Math.max() -Infinity in JavaScript: no integer.
    l.ctx.bag.at(call, Code.unsupportedMath, `'Math.${name}()' needs at least one argument (with none, JavaScript gives ${name === 'min' ? 'Infinity' : '-Infinity'})`);
    return constOperand(0);
  }
  const args = call.arguments.map((a, i) => {
    const v = lowerExpr(l, a);
    return stable(l, v, ...call.arguments.slice(i + 1));
  });
  switch (name) {
    case 'min':
    case 'max':
      return minMax(l, name === 'min', args, call);
    case 'abs':
      return abs(l, args[0]!, call);
    case 'clz32':
      return clz32(l, args[0]!);
    case 'sign':
      return sign(l, args[0]!);
    default:
      return constOperand(0); // refused by the subset check
  }
}

function bin(l: FunctionLowerer, op: 'add' | 'sub' | 'subo' | 'xor' | 'or' | 'slt' | 'sltu' | 'seq' | 'shl' | 'shr' | 'sar', a: VReg, b: VReg, site?: CheckSite): VReg {
  const dst = l.vreg();
  l.emit(site ? { k: 'bin', op, dst, a, b, site } : { k: 'bin', op, dst, a, b });
  return dst;
}

/**
 * The smallest (or largest) argument: `r = a0; if (a1 < r) r = a1; ...`. Unsigned arguments
 * compare unsigned; with one, every other must be known non-negative (JavaScript compares the
 * numbers, and a negative int32 would compare as a huge unsigned one here).
 */
function minMax(l: FunctionLowerer, isMin: boolean, args: Operand[], call: ts.CallExpression): Operand {
  const unsigned = args.some(isU32);
  if (unsigned && !args.every(nonNeg)) {
    l.ctx.bag.at(call, Code.signMix, mixMessage(`taking Math.${isMin ? 'min' : 'max'} of`));
    return constOperand(0);
  }
  let range: IntRange | undefined;
  if (unsigned) range = isMin && args.some((a) => nonNeg(a) && !isU32(a)) ? 'nonneg' : 'u32';
  else if (isMin ? args.every(nonNeg) : args.some(nonNeg)) range = 'nonneg';
  if (args.length === 1) return args[0]!;
  const r = l.vreg();
  const first = args[0]!;
  if (first.k === 'const') l.emit({ k: 'li', dst: r, value: first.v });
  else l.emit({ k: 'mov', dst: r, src: first.r });
  for (const a of args.slice(1)) {
    const take = l.newBlock();
    const next = l.newBlock();
    const x = toReg(l, a);
    // min: take a when a < r; max: when r < a.
    l.branch(unsigned ? 'ltu' : 'lt', isMin ? x : r, isMin ? r : x, take.id, next.id);
    l.enter(take.id);
    l.emit({ k: 'mov', dst: r, src: x });
    l.terminate({ k: 'jmp', target: next.id });
    l.enter(next.id);
  }
  return regOperand(r, range);
}

/**
 * `m = x >> 31; (x ^ m) - m`: x when m = 0, -x when m = -1. The subtraction is `subo`, which
 * overflows exactly when x = -2147483648 (2147483647 - -1), the one input whose absolute value
 * JavaScript can hold and an int32 cannot: `x.ts:3:9: integer overflow in 'Math.abs(v)'`.
 * Built `--unchecked`, it is `sub` and gives -2147483648 there.
 */
function abs(l: FunctionLowerer, x: Operand, call: ts.CallExpression): Operand {
  if (nonNeg(x)) return x; // an unsigned value, a length, a byte: already its own absolute value
  if (!checking(l)) return regOperand(absBits(l, toReg(l, x)));
  return regOperand(absBits(l, toReg(l, x), siteAt(l, call, 'overflow')), 'nonneg');
}

/**
 * `(v ^ m) - m` with `m = v >> 31`, branch-free: `subo` at `site` when given, else `sub`, which
 * gives -2147483648 for -2147483648 (read unsigned, its magnitude 2^31).
 */
function absBits(l: FunctionLowerer, v: VReg, site?: CheckSite): VReg {
  const m = bin(l, 'sar', v, l.li(31));
  const t = bin(l, 'xor', v, m);
  return site ? bin(l, 'subo', t, m, site) : bin(l, 'sub', t, m);
}

/**
 * `(u >>> 0) % n` with `n` a signed value that may be negative (`(rand() >>> 0) % n`). JavaScript
 * gives the dividend's sign and `u mod |n|`, so this is `remu u, |n|`, |n| from absBits without a
 * check (INT_MIN gives 0x80000000, which `remu` reads as 2^31, its magnitude); the result is below
 * |n| <= 2^31, so a non-negative int32. A zero divisor traps, named at `at`.
 */
export function unsignedRemainder(l: FunctionLowerer, a: Operand, b: Operand, at: ts.Node): VReg {
  const dst = l.vreg();
  l.emit({ k: 'bin', op: 'remu', dst, a: toReg(l, a), b: absBits(l, toReg(l, b)), site: siteAt(l, at, 'division-by-zero') });
  return dst;
}

/**
 * Leading zeros by halving: if the top 16 bits are zero, count 16 and shift them out; then the
 * top 8, 4, 2 and 1. Each step is branch-free (`z = (v >>> (32 - s)) == 0; s' = z << log2 s;
 * v <<= s'; n += s'`). A zero input counts 31 in the steps and one more at the end: 32.
 */
function clz32(l: FunctionLowerer, x: Operand): Operand {
  const zero = l.li(0);
  let v = toReg(l, x);
  let n: VReg | undefined;
  for (const [bits, log] of [
    [16, 4],
    [8, 3],
    [4, 2],
    [2, 1],
  ] as const) {
    const z = bin(l, 'seq', bin(l, 'shr', v, l.li(32 - bits)), zero);
    const s = bin(l, 'shl', z, l.li(log));
    v = bin(l, 'shl', v, s);
    n = n === undefined ? s : bin(l, 'add', n, s);
  }
  const top = bin(l, 'seq', bin(l, 'shr', v, l.li(31)), zero);
  const isZero = bin(l, 'seq', v, zero);
  return regOperand(bin(l, 'add', bin(l, 'add', n!, top), isZero), 'nonneg');
}

/** `(0 < x) | (x >> 31)`: 1, 0 or -1 (0 < x alone when x cannot be negative as JavaScript sees it). */
function sign(l: FunctionLowerer, x: Operand): Operand {
  const v = toReg(l, x);
  const zero = l.li(0);
  if (isU32(x)) return regOperand(bin(l, 'sltu', zero, v), 'nonneg');
  const positive = bin(l, 'slt', zero, v);
  if (nonNeg(x)) return regOperand(positive, 'nonneg');
  return regOperand(bin(l, 'or', positive, bin(l, 'sar', v, l.li(31))));
}
