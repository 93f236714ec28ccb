/**
 * `console.log(...)`: numbers, booleans and strings, printed as Node prints them (numbers in
 * decimal, unsigned ones as unsigned, booleans as true/false, strings as they are; one space
 * between arguments, a newline at the end), on the guest console of either target.
 *
 * It lowers to calls of guest-kernel/lib/console.ts (every program loads it, program.ts), so the
 * same port writes (native) or console hypercalls (pv) print it. The arguments are all evaluated
 * first, left to right, then printed: a call among them that prints itself prints before the
 * line, as in JavaScript. Constant arguments become text at compile time, and adjacent text (the
 * separators and the newline included) one string: `console.log('sum =', s)` is
 * `print('sum = '); printNumber(s); putc(10)`.
 *
 * Node treats a first string argument followed by others as a format string (`%d`, `%s`, `%%`
 * ...); the compiler refuses such a first argument rather than emulate util.format.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { type GuestContext, jsValue, skipOuter } from './context.ts';
import type { VReg } from './ir.ts';
import { lowerExpr, stable, stringAddress, toReg, type Operand } from './lower-expr.ts';
import type { FunctionLowerer } from './lower.ts';
import { GUEST_CONSOLE } from './program.ts';

const NONE: Operand = { k: 'const', v: 0, range: 'nonneg' };

/** Whether `e` is the guest library's `console` (lib.guest.d.ts). */
export function isConsole(ctx: GuestContext, e: ts.Expression): boolean {
  const x = skipOuter(e);
  if (!ts.isIdentifier(x) || x.text !== 'console') return false;
  const decl = ctx.declarationOf(x);
  return decl !== undefined && ctx.isGuestStdDecl(decl);
}

/** Whether `callee` is `console.log`. */
export function isConsoleLog(ctx: GuestContext, callee: ts.Expression): boolean {
  const c = skipOuter(callee);
  return ts.isPropertyAccessExpression(c) && c.name.text === 'log' && isConsole(ctx, c.expression);
}

/** Node's util.format conversions: `%s %d %i %f %j %o %O %c %%`. */
const FORMAT_SPECIFIER = /%[sdifjoOc%]/;

type Piece = { k: 'text'; text: string } | { k: 'value'; kind: 'int' | 'u32' | 'bool' | 'string'; reg: VReg };

export function lowerConsoleLog(l: FunctionLowerer, call: ts.CallExpression): Operand {
  const args = call.arguments;
  const pieces: Piece[] = [];
  args.forEach((a, i) => {
    if (i > 0) pieces.push({ k: 'text', text: ' ' });
    const t = l.ctx.classifyQuiet(l.ctx.checker.getTypeAtLocation(a));
    const kind = typeof t === 'string' ? undefined : t.kind;
    if (kind !== 'int' && kind !== 'bool' && kind !== 'string') {
      l.ctx.bag.at(a, Code.expression, `console.log prints numbers, booleans and strings${kind === 'array' ? '; not a typed array (print its elements)' : ''}`);
      return;
    }
    if (i === 0 && kind === 'string' && args.length > 1) {
      // util.format: the first string is a format when more arguments follow.
      const c = l.ctx.constValue(a, l);
      if (c?.kind !== 'str') {
        l.ctx.bag.at(a, Code.expression, "console.log's first argument is a format string in Node when more arguments follow (a '%d' in it would print the next argument): pass a string literal without '%' conversions here, or print this string alone");
        return;
      }
      if (FORMAT_SPECIFIER.test(c.text)) {
        l.ctx.bag.at(a, Code.expression, `console.log's first argument '${c.text}' has a format conversion (${FORMAT_SPECIFIER.exec(c.text)![0]}), which Node would apply to the next argument: the compiler does not emulate util.format; split the text or print it alone`);
        return;
      }
    }
    const c = l.ctx.constValue(a, l);
    if (c?.kind === 'str') return void pieces.push({ k: 'text', text: c.text });
    if (c?.kind === 'num') return void pieces.push({ k: 'text', text: kind === 'bool' ? String(c.value !== 0) : String(jsValue(c)) });
    const v = stable(l, lowerExpr(l, a), ...args.slice(i + 1));
    const reg = toReg(l, v);
    pieces.push({ k: 'value', kind: kind === 'int' && v.range === 'u32' ? 'u32' : kind, reg });
  });
  pieces.push({ k: 'text', text: '\n' });

  // Adjacent text is one string; then a call per piece.
  const merged: Piece[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (p.k === 'text' && last?.k === 'text') last.text += p.text;
    else merged.push(p.k === 'text' ? { ...p } : p);
  }
  for (const p of merged) {
    if (p.k === 'text') {
      if (p.text.length === 1) callConsole(l, call, 'putc', l.li(p.text.charCodeAt(0)));
      else if (p.text.length > 1) callConsole(l, call, 'print', toReg(l, stringAddress(l, p.text)));
      continue;
    }
    const fn = p.kind === 'string' ? 'print' : p.kind === 'bool' ? 'printBoolean' : p.kind === 'u32' ? 'printUnsigned' : 'printNumber';
    callConsole(l, call, fn, p.reg);
  }
  return NONE;
}

/** A call of console.ts's exported function `name` with one argument. */
function callConsole(l: FunctionLowerer, at: ts.Node, name: string, arg: VReg): void {
  const label = consoleFunctionLabel(l.ctx, name);
  if (label === undefined) {
    l.ctx.bag.at(at, Code.internal, `compiler bug: guest-kernel/lib/console.ts has no exported function '${name}' for console.log`);
    return;
  }
  l.emit({ k: 'call', dst: null, target: label, args: [arg] });
}

function consoleFunctionLabel(ctx: GuestContext, name: string): string | undefined {
  const sf = ctx.loaded.program.getSourceFile(GUEST_CONSOLE);
  const sym = sf ? ctx.checker.getSymbolAtLocation(sf) : undefined;
  const exported = sym ? ctx.checker.getExportsOfModule(sym).find((s) => s.name === name) : undefined;
  const decl = exported?.valueDeclaration;
  if (!decl || !ts.isFunctionDeclaration(decl)) return undefined;
  return ctx.functionInfo(decl)?.label;
}
