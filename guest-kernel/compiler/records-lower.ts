/**
 * Stage 3, lowering of records and function values (the model is records.ts):
 * - `t.pid` is one load or store at the field's offset from t (`ldw r, [t+8]`); a typed-array,
 *   record or record-array field is an address (`t + offset`), no load;
 * - `tasks[i]` is an address, `&tasks + i * stride` (a shift when the stride is a power of two),
 *   after the bounds check typed arrays have (checks.ts boundsCheck);
 * - `t.wake(x)` is a direct call of the method with t as its first argument;
 * - a function name used as a value is its address (`la`); `syscalls[n]` loads an entry of a
 *   read-only table (after a bounds check); a call through a function value is `callr`.
 */
import ts from 'typescript';
import { skipOuter as skip, type FunctionInfo } from './context.ts';
import { boundsCheck } from './checks.ts';
import type { MemClass, VReg } from './ir.ts';
import { lowerArgs, lowerExpr, regOperand, toReg, type LValue, type Operand } from './lower-expr.ts';
import type { FunctionLowerer } from './lower.ts';
import { defaultArguments } from './params.ts';
import type { Field, RecordLayout, StaticObject } from './records.ts';
import type { ValueType } from './types.ts';

/**
 * The memory of a number or boolean field: records never overlap, so a store to `pid` of some
 * Task may change only loads of `pid` of some Task (value-numbering.ts mayAlias).
 */
function fieldMem(layout: RecordLayout, field: Field): MemClass {
  return { kind: 'field', sym: `${layout.label}@${field.offset}` };
}

function typeOf(l: FunctionLowerer, e: ts.Expression): ValueType | undefined {
  const t = l.ctx.classifyQuiet(l.ctx.checker.getTypeAtLocation(e));
  return typeof t === 'string' ? undefined : t;
}

function layoutOfExpr(l: FunctionLowerer, e: ts.Expression): RecordLayout | undefined {
  const t = typeOf(l, e);
  return t?.kind === 'record' ? l.ctx.records.layoutByName(t.name) : undefined;
}

/** `this` in a method: its first parameter. */
export function lowerThis(l: FunctionLowerer): Operand {
  return l.selfReg === undefined ? { k: 'const', v: 0 } : regOperand(l.selfReg);
}

/** A static record, record array or function table: its address (its storage placed on first use). */
export function staticAddress(l: FunctionLowerer, s: StaticObject): Operand {
  l.ctx.records.place(s);
  const dst = l.vreg();
  l.emit({ k: 'la', dst, sym: s.label });
  return regOperand(dst);
}

/** A function declaration used as a value: its address. */
export function functionAddress(l: FunctionLowerer, fn: FunctionInfo): Operand {
  const dst = l.vreg();
  l.emit({ k: 'la', dst, sym: fn.label });
  return regOperand(dst);
}

function add(l: FunctionLowerer, base: VReg, offset: number): VReg {
  if (offset === 0) return base;
  const dst = l.vreg();
  l.emit({ k: 'bin', op: 'add', dst, a: base, b: l.li(offset) });
  return dst;
}

/** The field `e` names on a record, with the record's address, or undefined when `e` is not a field access. */
function fieldOf(l: FunctionLowerer, e: ts.PropertyAccessExpression): { field: Field; base: VReg; mem: MemClass } | undefined {
  const layout = layoutOfExpr(l, e.expression);
  const field = layout?.fields.get(e.name.text);
  if (!layout || !field) return undefined;
  return { field, base: toReg(l, lowerExpr(l, e.expression)), mem: fieldMem(layout, field) };
}

/** `t.f` read: a field's value (a load), or the address of an embedded array or record. */
export function lowerField(l: FunctionLowerer, e: ts.PropertyAccessExpression): Operand | undefined {
  const f = fieldOf(l, e);
  if (!f) return undefined;
  if (f.field.kind !== 'scalar') return regOperand(add(l, f.base, f.field.offset));
  const dst = l.vreg();
  l.emit({ k: 'load', width: 4, signed: true, dst, base: f.base, offset: f.field.offset, mem: f.mem });
  return regOperand(dst, f.field.type.kind === 'bool' ? 'nonneg' : undefined);
}

/** `t.f` as the target of an assignment: a number or boolean field (the others are readonly). */
export function fieldLValue(l: FunctionLowerer, e: ts.PropertyAccessExpression): LValue | undefined {
  const f = fieldOf(l, e);
  if (!f || f.field.kind !== 'scalar') return undefined;
  return { k: 'mem', base: f.base, offset: f.field.offset, width: 4, signed: true, mem: f.mem, elem: 'i32', field: true };
}

/**
 * `tasks[i]` (the address of record i) or `syscalls[n]` (the function address in entry n), after a
 * bounds check; undefined when `e` indexes something else.
 */
export function lowerRecordElement(l: FunctionLowerer, e: ts.ElementAccessExpression): Operand | undefined {
  const t = typeOf(l, e.expression);
  if (t?.kind !== 'records' && t?.kind !== 'funcs') return undefined;
  const stride = t.kind === 'funcs' ? 4 : l.ctx.records.layoutByName(t.name)!.stride;
  const base = toReg(l, lowerExpr(l, e.expression));
  const index = lowerExpr(l, e.argumentExpression);
  // The bounds check of typed arrays (checks.ts): chki against a static array's length, chk
  // against the length word below element 0 otherwise (both kinds have one).
  boundsCheck(l, e, base, index);
  let addr: VReg;
  if (index.k === 'const') {
    addr = add(l, base, Math.imul(index.v, stride));
  } else {
    const scaled = l.vreg();
    const pow2 = (stride & (stride - 1)) === 0;
    l.emit({ k: 'bin', op: pow2 ? 'shl' : 'mul', dst: scaled, a: index.r, b: l.li(pow2 ? Math.log2(stride) : stride) });
    addr = l.vreg();
    l.emit({ k: 'bin', op: 'add', dst: addr, a: base, b: scaled });
  }
  if (t.kind === 'records') return regOperand(addr);
  const dst = l.vreg();
  l.emit({ k: 'load', width: 4, signed: false, dst, base: addr, offset: 0, mem: { kind: 'const' } });
  return regOperand(dst);
}

/**
 * A call this module compiles: a method call `t.m(...)`, or a call through a function value
 * (`f(x)` with f a local, parameter or module variable, `syscalls[n](a)`). Undefined otherwise.
 */
export function lowerRecordCall(l: FunctionLowerer, e: ts.CallExpression): Operand | undefined {
  const callee = skip(e.expression);
  if (ts.isPropertyAccessExpression(callee) && !l.ctx.isModuleMember(callee)) {
    const layout = layoutOfExpr(l, callee.expression);
    const method = layout?.methods.get(callee.name.text);
    if (!layout || !method) return undefined;
    const info = l.ctx.records.methodInfo(layout, method);
    const args = [...lowerArgs(l, [callee.expression, ...e.arguments], info.name), ...defaultArguments(l, info, e.arguments.length)];
    const dst = info.ret.kind === 'void' ? null : l.vreg();
    l.emit({ k: 'call', dst, target: info.label, args });
    return dst === null ? { k: 'const', v: 0 } : regOperand(dst);
  }
  if (ts.isIdentifier(callee) || (ts.isPropertyAccessExpression(callee) && l.ctx.isModuleMember(callee))) {
    const ent = l.ctx.resolve(callee, l);
    if (ent?.kind !== 'local' && ent?.kind !== 'global') return undefined; // a direct call, an intrinsic
  } else if (ts.isPropertyAccessExpression(callee)) {
    return undefined; // s.charCodeAt(i), Math.imul(a, b), console.log(...)
  }
  // A function value: a local, parameter or module variable, a table entry, a call's result...
  if (typeOf(l, callee)?.kind !== 'func') return undefined;
  // The callee first, then the arguments, each kept stable against the ones after it.
  const [addr, ...args] = lowerArgs(l, [callee, ...e.arguments], callee.getText());
  const ret = l.ctx.checker.getTypeAtLocation(e);
  const dst = ret.flags & (ts.TypeFlags.Void | ts.TypeFlags.Undefined | ts.TypeFlags.Never) ? null : l.vreg();
  l.emit({ k: 'callr', dst, addr: addr!, args });
  return dst === null ? { k: 'const', v: 0 } : regOperand(dst);
}
