/**
 * Typed arrays inside functions: `const buf = new Uint8Array(64);` lives in the function's stack
 * frame (frame.ts), with a length word just below element 0 like a static array, so it is
 * indexed, measured, iterated and passed to functions exactly as one. No garbage collector is
 * needed: the array dies with the frame, and the rules below make sure nothing can still name it
 * then.
 *
 * - The length is a constant (or a list of constant elements), so the frame's size is known at
 *   compile time; a function's local arrays take at most LOCAL_ARRAY_LIMIT bytes (a larger one
 *   belongs at module level, in static storage).
 * - `new` gives zeros in JavaScript every time it runs, so the declaration stores the length word
 *   and zero-fills the elements (then stores the listed elements) each time it is executed: an
 *   array declared in a loop body is fresh on every iteration, and each call of a recursive
 *   function has its own.
 * - It is declared `const name = new T(...)` directly: it has a name for its whole life.
 * - It may be passed to functions (which cannot keep it: no module variable or return value can
 *   hold it) but not returned: a returned array would outlive its frame (TSG2014). Nor may its
 *   `addressOf` be stored outside the function's locals or returned (passing it to a function,
 *   a hypercall's buffer say, is fine).
 * - A `let` may hold one only when it is not declared inside a loop: each run of a loop body
 *   reuses the same frame bytes, where JavaScript would make a new array, so a variable outside
 *   the loop holding an earlier iteration's array would see the later one's contents (TSG2014).
 *
 * Indexing is bounds-checked wherever a parameter's is: through the length word.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { type Entity, GuestContext, type LocalScope, skipOuter, wrapElement } from './context.ts';
import type { MemClass, VReg } from './ir.ts';
import type { FunctionLowerer } from './lower.ts';
import { ELEM_BYTES, ELEM_TYPE_NAMES, type ElemKind } from './types.ts';

/** The most bytes of local typed arrays one function's frame may hold (length words included). */
export const LOCAL_ARRAY_LIMIT = 64 * 1024;

/** Zero-filling unrolls up to this many words; longer arrays get a loop. */
const UNROLLED_ZERO_WORDS = 16;

const ARRAY_MEM: MemClass = { kind: 'array', sym: null };

// ---------------------------------------------------------------------------------------------
// The subset check

/**
 * A `new T(...)` of a supported typed array inside a function: it must be the initializer of a
 * `const` declaration. Returns the problem, or undefined when the placement is right (the length
 * is checked when the function is lowered, where local constants are known).
 */
export function localArrayPlacementProblem(e: ts.NewExpression): { at: ts.Node; message: string } | undefined {
  let n: ts.Node = e;
  while (ts.isParenthesizedExpression(n.parent) || ts.isAsExpression(n.parent) || ts.isSatisfiesExpression(n.parent) || ts.isNonNullExpression(n.parent)) n = n.parent;
  const d = n.parent;
  const ctor = e.expression.getText();
  if (!ts.isVariableDeclaration(d) || d.initializer !== n || !ts.isIdentifier(d.name)) {
    return { at: e, message: `a typed array inside a function must be declared by name, as const buf = new ${ctor}(n): it lives in the function's stack frame` };
  }
  if ((d.parent.flags & ts.NodeFlags.Const) === 0) {
    return { at: d.name, message: `typed array '${d.name.text}' must be declared const (it lives in the function's stack frame for the whole call)` };
  }
  return undefined;
}

/**
 * The innermost loop whose every iteration runs `node` afresh (its body, test or update), or
 * undefined when `node` runs once per call of its function.
 */
function enclosingLoop(node: ts.Node): ts.IterationStatement | undefined {
  for (let n = node; n.parent && !ts.isFunctionLike(n); n = n.parent) {
    const p = n.parent;
    if (ts.isWhileStatement(p) || ts.isDoStatement(p) || ts.isForOfStatement(p) || ts.isForInStatement(p)) return p;
    if (ts.isForStatement(p) && n !== p.initializer) return p;
  }
  return undefined;
}

function isInside(node: ts.Node, ancestor: ts.Node): boolean {
  for (let n: ts.Node | undefined = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The local typed-array declaration `decl` is, when it is one (`const buf = new T(...)` in a function). */
function asLocalArray(ctx: GuestContext, decl: ts.Declaration | undefined): ts.VariableDeclaration | undefined {
  if (!decl || !ts.isVariableDeclaration(decl) || GuestContext.isModuleLevel(decl) || !decl.initializer) return undefined;
  const init = skipOuter(decl.initializer);
  if (!ts.isNewExpression(init)) return undefined;
  const t = ctx.classifyQuiet(ctx.checker.getTypeAtLocation(init));
  return typeof t !== 'string' && t.kind === 'array' ? decl : undefined;
}

function isArrayTyped(ctx: GuestContext, node: ts.Node): boolean {
  const t = ctx.classifyQuiet(ctx.checker.getTypeAtLocation(node));
  return typeof t !== 'string' && t.kind === 'array';
}

/**
 * What a typed-array expression may denote in its function's frame: the local array declarations
 * it may evaluate to, and whether it may be a `let` (which holds local arrays of its function).
 * Parameters and module arrays are never this frame's.
 */
function frameArrays(ctx: GuestContext, root: ts.Expression): { decls: Set<ts.VariableDeclaration>; viaLet: boolean } {
  const decls = new Set<ts.VariableDeclaration>();
  let viaLet = false;
  const seen = new Set<ts.Node>();
  const work: ts.Expression[] = [root];
  while (work.length > 0) {
    const e = skipOuter(work.pop()!);
    if (seen.has(e)) continue;
    seen.add(e);
    if (ts.isIdentifier(e)) {
      const decl = ctx.declarationOf(e);
      const local = asLocalArray(ctx, decl);
      if (local) decls.add(local);
      else if (decl && ts.isVariableDeclaration(decl) && !GuestContext.isModuleLevel(decl)) {
        if (decl.parent.flags & ts.NodeFlags.Const) {
          if (decl.initializer) work.push(decl.initializer);
        } else if (isArrayTyped(ctx, decl.name)) viaLet = true;
      } else if (decl && ts.isParameter(decl) && isReassigned(ctx, decl)) viaLet = true; // assigned like a let
    } else if (ts.isConditionalExpression(e)) work.push(e.whenTrue, e.whenFalse);
    else if (ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      if (op === ts.SyntaxKind.CommaToken || op === ts.SyntaxKind.EqualsToken) work.push(e.right);
      else if (op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.AmpersandAmpersandToken) work.push(e.left, e.right);
    } else if (ts.isCallExpression(e) && isArrayTyped(ctx, e)) {
      // A function returning one of its array parameters may hand a local array back.
      for (const a of e.arguments) if (isArrayTyped(ctx, a)) work.push(a);
    }
  }
  return { decls, viaLet };
}

/** Whether parameter `p` is assigned anywhere in its function. */
function isReassigned(ctx: GuestContext, p: ts.ParameterDeclaration): boolean {
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(skipOuter(n.left)) && ctx.declarationOf(skipOuter(n.left)) === p) found = true;
    else ts.forEachChild(n, visit);
  };
  const fn = p.parent;
  if (ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) if (fn.body) visit(fn.body);
  return found;
}

/** Whether `e` may be a typed array in the current function's stack frame (it must not escape). */
export function mayBeFrameArray(ctx: GuestContext, e: ts.Expression): boolean {
  if (!isArrayTyped(ctx, e)) return false;
  const f = frameArrays(ctx, e);
  return f.decls.size > 0 || (f.viaLet && declaresLocalArrays(ctx, e));
}

/** Whether the function around `node` declares a local typed array. */
function declaresLocalArrays(ctx: GuestContext, node: ts.Node): boolean {
  let fn: ts.Node | undefined = node;
  while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
  if (!fn) return false;
  let found = false;
  const visit = (n: ts.Node): void => {
    if (found) return;
    if (ts.isVariableDeclaration(n) && asLocalArray(ctx, n)) found = true;
    else ts.forEachChild(n, visit);
  };
  ts.forEachChild(fn, visit);
  return found;
}

/**
 * `return e`: a local array would outlive its frame. Only a function declared to return a typed
 * array is looked at (asking TypeScript for the type of every returned expression would cost a
 * flow analysis of each, quadratic in a long function).
 */
export function returnProblem(ctx: GuestContext, e: ts.Expression): string | undefined {
  let fn: ts.Node | undefined = e;
  while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
  const sig = fn ? ctx.checker.getSignatureFromDeclaration(fn as ts.SignatureDeclaration) : undefined;
  const ret = sig ? ctx.classifyQuiet(ctx.checker.getReturnTypeOfSignature(sig)) : undefined;
  if (ret === undefined || typeof ret === 'string' || ret.kind !== 'array') return undefined;
  if (!mayBeFrameArray(ctx, e)) return undefined;
  const f = frameArrays(ctx, e);
  const name = [...f.decls][0]?.name.getText();
  return `${name ? `'${name}' is a typed array` : 'this may be a typed array'} in this function's stack frame: it cannot be returned, since it dies with the frame (declare it at module level, or let the caller pass one in)`;
}

/**
 * `target = value`, or `let target = value` (then `target` is the declaration): a variable may
 * not hold a local array declared in a loop it is outside of (see the file comment).
 */
export function letAssignmentProblem(ctx: GuestContext, target: ts.Node, value: ts.Expression): string | undefined {
  const targetDecl = ts.isIdentifier(target) ? ctx.declarationOf(target) : target;
  // The variable's declared type (cheap), not the value's (a flow analysis of the expression).
  if (!targetDecl || !(ts.isVariableDeclaration(targetDecl) || ts.isParameter(targetDecl)) || !isArrayTyped(ctx, targetDecl.name)) return undefined;
  for (const decl of frameArrays(ctx, value).decls) {
    const loop = enclosingLoop(decl);
    if (!loop || isInside(targetDecl, loop.statement)) continue;
    return `'${decl.name.getText()}' is declared in a loop, so each iteration makes a new array in JavaScript but reuses the same frame bytes here: a variable declared outside that loop may not hold it (declare the array before the loop)`;
  }
  return undefined;
}

/**
 * `addressOf(buf)` of a local array, where the address would outlive the frame: stored into a
 * module variable, an array element or a record field, or returned. Passing it to a function (a
 * hypercall's buffer) or keeping it in a local is fine; what a callee does with a raw address is
 * its own business, as with any address.
 */
export function addressEscapeProblem(ctx: GuestContext, value: ts.Expression): string | undefined {
  const work: ts.Node[] = [value];
  while (work.length > 0) {
    const n = work.pop()!;
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'addressOf' && n.arguments.length === 1) {
      const decl = ctx.declarationOf(n.expression);
      if (decl && ctx.isIntrinsicDecl(decl) && mayBeFrameArray(ctx, n.arguments[0]!)) {
        return `${n.getText()} is an address in this function's stack frame: it may not be stored outside the function's locals or returned, since the array dies with the frame`;
      }
    }
    // A call's arguments are the callee's business (the address of a buffer passed to a hypercall).
    if (ts.isCallExpression(n)) work.push(n.expression);
    else ts.forEachChild(n, (c) => void work.push(c));
  }
  return undefined;
}

/** Whether assigning to `target` stores outside the current function's locals. */
export function storesOutsideFrame(ctx: GuestContext, target: ts.Expression): boolean {
  const t = skipOuter(target);
  if (!ts.isIdentifier(t)) return true; // an element or a field
  const decl = ctx.declarationOf(t);
  return !decl || ts.isParameter(decl) ? false : !ts.isVariableDeclaration(decl) || GuestContext.isModuleLevel(decl);
}

// ---------------------------------------------------------------------------------------------
// Lowering

/** The compile-time length of a local typed array named by `e` (through const aliases), if it is one. */
export function localArrayLength(ctx: GuestContext, e: ts.Expression, scope?: LocalScope): number | undefined {
  for (let x = skipOuter(e), hops = 0; ts.isIdentifier(x) && hops < 64; hops++) {
    const decl = ctx.declarationOf(x);
    if (!decl || !ts.isVariableDeclaration(decl) || GuestContext.isModuleLevel(decl) || !decl.initializer || (decl.parent.flags & ts.NodeFlags.Const) === 0) return undefined;
    const init = skipOuter(decl.initializer);
    if (ts.isNewExpression(init)) return asLocalArray(ctx, decl) ? declaredLength(ctx, init, scope)?.length : undefined;
    x = init;
  }
  return undefined;
}

/** The length and elements of `new T(n)` / `new T([...])`, or undefined when not constant. */
function declaredLength(ctx: GuestContext, init: ts.NewExpression, scope?: LocalScope): { length: number; elements: number[] | null; at: ts.Node } | undefined {
  const arg = init.arguments?.length === 1 ? skipOuter(init.arguments[0]!) : undefined;
  if (arg && ts.isArrayLiteralExpression(arg)) {
    const elements: number[] = [];
    for (const el of arg.elements) {
      const v = ctx.constValue(el, scope);
      if (!v || v.kind !== 'num') return undefined;
      elements.push(v.value);
    }
    return { length: elements.length, elements, at: arg };
  }
  const v = arg ? ctx.constValue(arg, scope) : undefined;
  if (!v || v.kind !== 'num' || v.unsigned || v.value < 0 || v.value > LOCAL_ARRAY_LIMIT) return undefined;
  return { length: v.value, elements: null, at: arg! };
}

/**
 * `const name = new T(n)` in the function being lowered: reserve its bytes in the frame, and at
 * this point (each time it runs) store the length word, zero the elements and store the listed
 * ones. The entity is a local holding element 0's address; undefined when `init` does not make
 * a typed array (another `new` is someone else's to lower, or refused).
 */
export function lowerLocalArray(l: FunctionLowerer, d: ts.VariableDeclaration, init: ts.NewExpression): Entity | undefined {
  const t = l.ctx.classifyQuiet(l.ctx.checker.getTypeAtLocation(init));
  if (typeof t === 'string' || t.kind !== 'array') return undefined;
  const ctorDecl = l.ctx.declarationOf(init.expression);
  if (!ctorDecl || !l.ctx.isGuestStdDecl(ctorDecl)) {
    l.ctx.bag.at(init.expression, Code.arrayKind, `'${init.expression.getText()}' does not name the guest library's typed array`);
    return { kind: 'error' };
  }
  const elem = t.elem;
  const name = d.name.getText();
  const shape = declaredLength(l.ctx, init, l);
  if (!shape) {
    const arg = init.arguments?.[0];
    l.ctx.bag.at(arg ?? init, Code.arrayLength, `the length of typed array '${name}' must be a constant (0 to ${LOCAL_ARRAY_LIMIT / ELEM_BYTES[elem]} elements) or a list of constant elements: its room in the stack frame is fixed when the function is compiled`);
    return { kind: 'error' };
  }
  const dataBytes = (shape.length * ELEM_BYTES[elem] + 3) & ~3;
  const offset = l.fn.localArrayBytes ?? 0;
  if (offset + 4 + dataBytes > LOCAL_ARRAY_LIMIT) {
    l.ctx.bag.at(
      d,
      Code.arrayTooLarge,
      `local typed array '${name}' (new ${ELEM_TYPE_NAMES[elem]}(${shape.length}), ${dataBytes} bytes) takes '${l.fn.name}' past ${LOCAL_ARRAY_LIMIT} bytes of local arrays in its stack frame: declare it at module level`,
    );
    return { kind: 'error' };
  }
  l.fn.localArrayBytes = offset + 4 + dataBytes;
  const addr = l.vreg();
  l.emit({ k: 'frame', dst: addr, offset: offset + 4 });
  // The length word never changes after this store (every run of the declaration stores the same
  // value there), so it is written as immutable data: `.length` reads forward from it.
  l.emit({ k: 'store', width: 4, src: l.li(shape.length), base: addr, offset: -4, mem: { kind: 'const' } });
  zeroFill(l, addr, dataBytes / 4);
  if (shape.elements) storeElements(l, addr, elem, shape.elements);
  return { kind: 'local', vreg: addr, type: t };
}

/** Zero `words` words from `addr`: unrolled when short, else a pointer loop (which unroll.ts widens). */
function zeroFill(l: FunctionLowerer, addr: VReg, words: number): void {
  if (words === 0) return;
  const zero = l.li(0);
  if (words <= UNROLLED_ZERO_WORDS) {
    for (let k = 0; k < words; k++) l.emit({ k: 'store', width: 4, src: zero, base: addr, offset: 4 * k, mem: ARRAY_MEM });
    return;
  }
  const p = l.vreg();
  l.emit({ k: 'mov', dst: p, src: addr });
  const end = l.vreg();
  l.emit({ k: 'bin', op: 'add', dst: end, a: addr, b: l.li(words * 4) });
  const loop = l.newBlock();
  const done = l.newBlock();
  l.terminate({ k: 'jmp', target: loop.id });
  l.enter(loop.id);
  l.emit({ k: 'store', width: 4, src: zero, base: p, offset: 0, mem: ARRAY_MEM });
  l.emit({ k: 'bin', op: 'add', dst: p, a: p, b: l.li(4) });
  // Stack addresses lie far below 2^31 (as static ones do), so a signed compare is exact.
  l.branch('lt', p, end, loop.id, done.id);
  l.enter(done.id);
}

function storeElements(l: FunctionLowerer, addr: VReg, elem: ElemKind, elements: readonly number[]): void {
  const size = ELEM_BYTES[elem];
  elements.forEach((v, k) => {
    const bits = wrapElement(v, elem);
    if (bits === 0) return; // already zero
    let base = addr;
    let offset = k * size;
    if (offset > 0x7fff) {
      base = l.vreg();
      l.emit({ k: 'bin', op: 'add', dst: base, a: addr, b: l.li(offset) });
      offset = 0;
    }
    l.emit({ k: 'store', width: size, src: l.li(bits), base, offset, mem: ARRAY_MEM });
  });
}
