/**
 * Default parameter values: `function f(a: number, b = 4)`. A default must be a constant (a
 * number, boolean or string literal, or an expression of constants); a call that leaves the
 * parameter out passes the constant, which the caller loads like any other argument. The callee
 * does nothing at run time: there is no `undefined` in the subset, so an argument is either
 * given or defaulted, and which is known where the call is compiled.
 *
 * Parameters beyond the sixth travel on the stack (emit.ts, the calling convention in
 * guest-kernel/README.md); nothing here depends on where they travel.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import type { ConstValue, FunctionInfo, GuestContext } from './context.ts';
import type { VReg } from './ir.ts';
import { stringAddress, toReg } from './lower-expr.ts';
import type { FunctionLowerer } from './lower.ts';

/**
 * The constant value of a parameter's default, or undefined (after reporting) when it is not a
 * constant. Evaluated without the function's locals: a default may not name another parameter.
 */
export function defaultValue(ctx: GuestContext, p: ts.ParameterDeclaration, report = true): ConstValue | undefined {
  if (!p.initializer) return undefined;
  const v = ctx.constValue(p.initializer);
  if (!v && report) {
    ctx.bag.at(p.initializer, Code.nonConstInit, `the default value of parameter '${p.name.getText()}' must be a constant expression (a caller that leaves it out passes the constant)`);
  }
  if (v?.kind === 'num' && v.unsigned && report) {
    // JavaScript would see 4294967295 where the parameter reads back -1.
    ctx.bag.at(p.initializer, Code.unsignedLocal, `the default value of parameter '${p.name.getText()}' is above 2147483647, but a parameter holds a signed 32-bit number, so the function would compare, divide or print it differently from JavaScript: write (value) | 0 for its signed bits`);
    return undefined;
  }
  return v;
}

/** The registers holding the defaults of `fn`'s parameters from index `given` on. */
export function defaultArguments(l: FunctionLowerer, fn: FunctionInfo, given: number): VReg[] {
  const out: VReg[] = [];
  for (const p of fn.params.slice(given)) {
    if (!p.decl.initializer) break; // a missing argument: TypeScript has reported it
    const v = defaultValue(l.ctx, p.decl, false);
    if (v?.kind === 'str') out.push(toReg(l, stringAddress(l, v.text)));
    else out.push(l.li(v?.kind === 'num' ? v.value : 0));
  }
  return out;
}
