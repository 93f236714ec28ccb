/**
 * Stage 2, the subset's rules for records and function values (the model is records.ts; the
 * general walk is subset.ts, which calls in here). One diagnostic per refused declaration or
 * construct, at the place to change:
 * - a record class: its layout is checked once (records.ts: fields, constructors, accessors,
 *   static members, inheritance...), its methods like functions; two record classes that
 *   TypeScript would let stand for each other are refused (their layouts differ);
 * - `this` only in a record's methods; `new C()` and `recordArray(C, n)` only where storage is
 *   static (a module-level initialiser, a readonly field's): there is no heap;
 * - a method is called, never used as a value; a function used as a value must be callable
 *   through `callr` (no default or optional parameters, at most 6); a function table is
 *   read-only.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { skipOuter, type GuestContext } from './context.ts';
import type { ValueType } from './types.ts';

/** The parts of the subset walk (subset.ts) that records reuse for method bodies and operands. */
export interface SubsetWalker {
  checkExpression(e: ts.Expression): void;
  checkBlock(b: ts.Block): void;
  checkParameter(p: ts.ParameterDeclaration): void;
}

export class RecordChecks {
  private allClasses: ts.ClassDeclaration[] | undefined;

  constructor(
    private readonly ctx: GuestContext,
    private readonly walk: SubsetWalker,
  ) {}

  private get bag() {
    return this.ctx.bag;
  }

  /** A class declared at module level: a record, or one error per refused member. */
  checkClass(decl: ts.ClassDeclaration): void {
    const layout = this.ctx.records.layoutOf(decl);
    for (const m of decl.members) {
      if (!ts.isMethodDeclaration(m) || !m.body || !layout?.methods.has(m.name.getText())) continue;
      for (const p of m.parameters) this.walk.checkParameter(p);
      const sig = this.ctx.checker.getSignatureFromDeclaration(m);
      if (sig) this.ctx.classify(this.ctx.checker.getReturnTypeOfSignature(sig), m.type ?? m.name, 'method result', true);
      this.walk.checkBlock(m.body);
    }
    if (layout) this.checkDistinct(decl);
  }

  /**
   * TypeScript compares classes by shape: a record with every member of another may be passed
   * where the other is expected, and the compiled code would read the other's offsets. Refused.
   */
  private checkDistinct(decl: ts.ClassDeclaration): void {
    this.allClasses ??= this.ctx.loaded.guestFiles.flatMap((sf) => sf.statements.filter(ts.isClassDeclaration));
    const checker = this.ctx.checker;
    const typeOfClass = (c: ts.ClassDeclaration): ts.Type | undefined => {
      const sym = c.name ? checker.getSymbolAtLocation(c.name) : undefined;
      return sym ? checker.getDeclaredTypeOfSymbol(sym) : undefined;
    };
    const mine = typeOfClass(decl);
    if (!mine) return;
    for (const other of this.allClasses) {
      if (other === decl || !this.ctx.records.layoutOf(other)) continue;
      const theirs = typeOfClass(other);
      if (!theirs || !checker.isTypeAssignableTo(mine, theirs)) continue;
      const a = decl.name!.text;
      const b = other.name!.text;
      this.bag.at(
        decl.name!,
        Code.recordShape,
        `record '${a}' has every member of record '${b}', so TypeScript lets a value of type ${a} stand for a ${b}, but their layouts differ: give ${b} a private field (TypeScript then tells the classes apart) or a member ${a} lacks`,
      );
      return;
    }
  }

  /** `this`: only in the methods of a record class. */
  checkThis(e: ts.Node): void {
    for (let n: ts.Node | undefined = e.parent; n; n = n.parent) {
      if (ts.isMethodDeclaration(n) && ts.isClassDeclaration(n.parent)) return;
      if (ts.isFunctionLike(n) || ts.isClassLike(n) || ts.isSourceFile(n)) break;
    }
    this.bag.at(e, Code.classes, "'this' is not supported outside the methods of a record class");
  }

  /**
   * A module-level initialiser this module understands (`new C()`, `recordArray(C, n)`, a
   * function table, a name for a static record or a function); false: subset.ts checks it.
   * The semantic checks (constant length, known functions) are made where the variable's entity
   * is created (records.ts moduleVar).
   */
  checkModuleInitialiser(d: ts.VariableDeclaration): boolean {
    const init = d.initializer ? skipOuter(d.initializer) : undefined;
    if (!init) return false;
    const records = this.ctx.records;
    if (ts.isNewExpression(init) && records.classOfName(init.expression)) return true;
    if (records.isRecordArrayCall(init)) return true;
    const t = this.ctx.classifyQuiet(this.ctx.checker.getTypeAtLocation(d.name));
    const functionNames = ts.isArrayLiteralExpression(init) && init.elements.every((el) => {
      const decl = ts.isIdentifier(skipOuter(el)) ? this.ctx.declarationOf(skipOuter(el)) : undefined;
      return decl !== undefined && ts.isFunctionDeclaration(decl);
    });
    if (!functionNames && (typeof t === 'string' || !['record', 'records', 'func', 'funcs'].includes(t.kind))) return false;
    const parts = ts.isArrayLiteralExpression(init) ? init.elements : [init];
    for (const p of parts) if (ts.isIdentifier(skipOuter(p))) this.walk.checkExpression(skipOuter(p));
    return true;
  }

  /** `new C()` of a record class outside a module-level initialiser: there is no heap. */
  checkNew(e: ts.NewExpression): boolean {
    const cls = this.ctx.records.classOfName(e.expression);
    if (!cls) return false;
    this.bag.at(
      e,
      Code.recordAllocation,
      `'new ${cls.name?.text ?? 'C'}()' outside a module-level initialiser is not supported: there is no heap; declare a static instance (const t = new ${cls.name?.text ?? 'C'}()) or an array of them (recordArray) at module level`,
    );
    return true;
  }

  /** A function declaration's name used as a value (not called): its address, if callr can call it. */
  checkFunctionValue(id: ts.Identifier, decl: ts.FunctionDeclaration): void {
    if (this.ctx.isGuestStdDecl(decl) || this.ctx.isIntrinsicDecl(decl) || !decl.body) {
      return this.bag.at(id, Code.functionValue, `'${id.text}' can only be called`);
    }
    if (decl.parameters.some((p) => p.initializer || p.questionToken || p.dotDotDotToken)) {
      return this.bag.at(id, Code.functionValue, `function '${id.text}' has default or optional parameters, so it cannot be a function value (a call through a value cannot fill them in)`);
    }
    if (decl.parameters.length > 6) {
      return this.bag.at(id, Code.functionValue, `function '${id.text}' takes more than 6 parameters, so it cannot be a function value (a call through a value passes r0..r5)`);
    }
  }

  /**
   * `x.name` on a record (a field, or a method being called), a record array or a function
   * table (`length`). False: not ours.
   */
  checkMember(e: ts.PropertyAccessExpression, base: ValueType | string): boolean {
    if (base === 'error') {
      this.walk.checkExpression(e.expression); // an invalid record class, reported at its declaration
      return true;
    }
    if (e.expression.kind === ts.SyntaxKind.ThisKeyword && (typeof base === 'string' || base.kind !== 'record')) {
      this.walk.checkExpression(e.expression); // 'this' outside a method: one error, there
      return true;
    }
    if (typeof base === 'string') return base === 'object' && this.declaredRefused(e.expression);
    const name = e.name.text;
    if (base.kind === 'records' || base.kind === 'funcs') {
      this.walk.checkExpression(e.expression);
      if (name !== 'length') this.bag.at(e.name, Code.objects, `member '${name}' of a ${base.kind === 'records' ? 'record array' : 'function table'} is not supported; only length and indexing`);
      return true;
    }
    if (base.kind !== 'record') return false;
    this.walk.checkExpression(e.expression);
    const layout = this.ctx.records.layoutOfType(base);
    if (layout?.methods.has(name) && !isCallee(e)) {
      this.bag.at(e.name, Code.functionValue, `method '${name}' can only be called (a method is not a value; pass the record, or use a module-level function)`);
    }
    return true;
  }

  /**
   * Whether `e` names a guest variable or parameter whose type was refused at its declaration
   * (an interface, say): its uses are not reported again.
   */
  private declaredRefused(e: ts.Expression): boolean {
    if (!ts.isIdentifier(e)) return false;
    const decl = this.ctx.declarationOf(e);
    return decl !== undefined && (ts.isParameter(decl) || ts.isVariableDeclaration(decl)) && !this.ctx.isGuestStdDecl(decl) && !this.ctx.isIntrinsicDecl(decl);
  }

  /** A call whose callee is not a function declaration: allowed when the callee is a function value. */
  checkCallee(e: ts.CallExpression): boolean {
    const callee = skipOuter(e.expression);
    if (this.ctx.records.isRecordArrayCall(e)) {
      this.bag.at(e, Code.recordAllocation, 'recordArray(...) allocates static storage: call it only as the initialiser of a module-level const or of a readonly field');
      return true;
    }
    const t = this.ctx.classifyQuiet(this.ctx.checker.getTypeAtLocation(callee));
    if (t === 'function' && this.declaredRefused(callee)) return true; // its type was refused at its declaration
    if (typeof t === 'string' || t.kind !== 'func') return false;
    if (!ts.isIdentifier(callee)) this.walk.checkExpression(callee);
    return true;
  }

  /** Whether values of this type are indexed like arrays (record arrays, function tables). */
  indexable(t: ValueType | string): boolean {
    return typeof t !== 'string' && (t.kind === 'records' || t.kind === 'funcs');
  }

  /** The target of an assignment: a function table entry or a method cannot be assigned. */
  checkTarget(t: ts.Expression): void {
    if (ts.isElementAccessExpression(t)) {
      const base = this.ctx.classifyQuiet(this.ctx.checker.getTypeAtLocation(t.expression));
      if (typeof base !== 'string' && base.kind === 'funcs') this.bag.at(t, Code.functionTable, 'a function table is read-only: its entries are fixed at compile time');
    } else if (ts.isPropertyAccessExpression(t)) {
      const base = this.ctx.classifyQuiet(this.ctx.checker.getTypeAtLocation(t.expression));
      const layout = typeof base === 'string' ? undefined : this.ctx.records.layoutOfType(base);
      if (layout?.methods.has(t.name.text)) this.bag.at(t, Code.recordForm, `method '${t.name.text}' cannot be assigned`);
    }
  }
}

function isCallee(node: ts.Node): boolean {
  let n = node;
  while (ts.isParenthesizedExpression(n.parent)) n = n.parent;
  return ts.isCallExpression(n.parent) && n.parent.expression === n;
}
