/**
 * `for (const x of a)` over a typed array (module-level, local or a parameter): a counted loop
 * over its elements, as if written
 *
 *     const t = a; const n = t.length;
 *     for (let i = 0; i < n; i++) { const x = t[i]; ... }
 *
 * The array expression is evaluated once, and its length read once (a typed array never changes
 * length; JavaScript's iterator re-reads it, with the same answer). The index is always inside the
 * array, so the access needs no bounds check, and strength reduction (induction.ts) turns the
 * index into a walking pointer. `x` may be `let` (then assignable in the body); an element of a
 * Uint32Array is unsigned, so a `let` may not hold one (TSG3010), as elsewhere.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { type GuestContext, skipOuter, unsignedLetMessage } from './context.ts';
import type { FunctionLowerer } from './lower.ts';
import { localArrayLength } from './local-arrays.ts';
import { lowerExpr, toReg } from './lower-expr.ts';
import { ELEM_BYTES, elementRange, INT } from './types.ts';

/** What the subset check reports about a for...of, or undefined when it compiles. */
export function forOfProblem(ctx: GuestContext, s: ts.ForOfStatement): { at: ts.Node; code: string; message: string } | undefined {
  if (s.awaitModifier) return { at: s, code: Code.statement, message: "'for await' is not supported" };
  const list = s.initializer;
  const kind = ts.isVariableDeclarationList(list) ? list.flags & ts.NodeFlags.BlockScoped : undefined;
  if (!ts.isVariableDeclarationList(list) || (kind !== ts.NodeFlags.Const && kind !== ts.NodeFlags.Let)) {
    return { at: list, code: Code.statement, message: "'for...of' needs its own const or let variable: for (const x of array)" };
  }
  const d = list.declarations[0];
  if (!d || list.declarations.length !== 1 || !ts.isIdentifier(d.name)) {
    return { at: d?.name ?? list, code: Code.declaration, message: 'destructuring declarations are not supported' };
  }
  const t = ctx.classifyQuiet(ctx.checker.getTypeAtLocation(s.expression));
  if (typeof t !== 'string' && t.kind === 'array') return undefined;
  if (typeof t !== 'string' && t.kind === 'string') {
    return { at: s.expression, code: Code.stringValue, message: "'for...of' over a string is not supported (it gives strings); loop over s.charCodeAt(i)" };
  }
  if (t === 'error') return undefined; // TypeScript has reported it
  return { at: s.expression, code: Code.statement, message: "'for...of' is supported over typed arrays only" };
}

export function lowerForOf(l: FunctionLowerer, s: ts.ForOfStatement): void {
  const label = l.takeLabel();
  const list = s.initializer as ts.VariableDeclarationList;
  const d = list.declarations[0]!;
  const t = l.ctx.classifyQuiet(l.ctx.checker.getTypeAtLocation(s.expression));
  if (typeof t === 'string' || t.kind !== 'array') return; // refused by the subset check
  const size = ELEM_BYTES[t.elem];
  const base = toReg(l, lowerExpr(l, s.expression));
  const known = knownLength(l, s.expression);
  const n = known !== undefined ? l.li(known) : l.vreg();
  if (known === undefined) l.emit({ k: 'load', width: 4, signed: false, dst: n, base, offset: -4, mem: { kind: 'const' } });
  const i = l.li(0);
  const body = l.newBlock();
  const cont = l.newBlock();
  const exit = l.newBlock();
  l.branch('lt', i, n, body.id, exit.id);

  // x = base[i], at the top of the body.
  l.enter(body.id);
  l.loc = l.locOf(d);
  let scaled = i;
  if (size > 1) {
    scaled = l.vreg();
    l.emit({ k: 'bin', op: 'shl', dst: scaled, a: i, b: l.li(size === 2 ? 1 : 2) });
  }
  const addr = l.vreg();
  l.emit({ k: 'bin', op: 'add', dst: addr, a: base, b: scaled });
  const x = l.vreg();
  const elem = t.elem;
  const signed = elem === 'i8' || elem === 'i16' || elem === 'i32';
  const sym = arraySymbol(l, s.expression);
  l.emit({ k: 'load', width: size, signed, dst: x, base: addr, offset: 0, mem: { kind: 'array', sym } });
  const range = elementRange(elem);
  const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
  if (!isConst && range === 'u32') l.ctx.bag.at(d.name, Code.unsignedLocal, unsignedLetMessage(d.name.getText()));
  l.bindLocal(d, { kind: 'local', vreg: x, type: INT, ...(isConst && range ? { range } : {}) });
  l.loopBody(s.statement, label, body.id, cont.id, exit.id);

  // i++, and the test at the bottom (the loop is rotated).
  l.loc = l.locOf(s.expression);
  l.emit({ k: 'bin', op: 'add', dst: i, a: i, b: l.li(1) });
  l.branch('lt', i, n, body.id, exit.id);
  l.enter(exit.id);
}

/** The length of a module-level or local typed array named by `e`, when known at compile time. */
function knownLength(l: FunctionLowerer, e: ts.Expression): number | undefined {
  const x = skipOuter(e);
  if (!ts.isIdentifier(x) && !ts.isPropertyAccessExpression(x)) return undefined;
  const ent = l.ctx.resolve(x, l);
  if (ent?.kind === 'array') return ent.a.length;
  return localArrayLength(l.ctx, x, l);
}

/** The static array's label, for alias analysis (value-numbering.ts), when `e` names one. */
function arraySymbol(l: FunctionLowerer, e: ts.Expression): string | null {
  const x = skipOuter(e);
  if (!ts.isIdentifier(x) && !ts.isPropertyAccessExpression(x)) return null;
  const ent = l.ctx.resolve(x, l);
  return ent?.kind === 'array' ? ent.a.label : null;
}
