/**
 * Stage 2, the subset check: walk guest source and report every construct outside the
 * TypeScript subset, naming it, at its file:line:col. Lowering runs only on programs that pass, so
 * an unsupported construct is always an error and never a silent miscompile.
 *
 * Guest files are checked whole. A declaration in a shared module (abi/) is checked when a guest
 * first uses it (GuestContext calls `checkDeclaration`), because the rest of such a module is host
 * code the guest never runs.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { GuestContext, isComparison, MAX_PARAMS, numericLiteralValue, skipOuter } from './context.ts';
import { BOOL, ELEM_TYPE_NAMES, INT, STRING } from './types.ts';
import { isConsole } from './console-log.ts';
import { MATH_FUNCTIONS, mathFunctionName, unsupportedMathMessage } from './math.ts';
import { defaultValue } from './params.ts';
import { RecordChecks } from './records-check.ts';
import { forOfProblem } from './for-of.ts';
import { addressEscapeProblem, letAssignmentProblem, localArrayPlacementProblem, returnProblem, storesOutsideFrame } from './local-arrays.ts';

/** Intrinsics whose function argument is not a call: `addressOf(f)`, `interruptEntry(f)`. */
const FUNCTION_TAKING_INTRINSICS = new Set(['addressOf', 'interruptEntry']);

type Classified = ReturnType<GuestContext['classifyQuiet']>;

export class SubsetChecker {
  /** classOf's results. */
  private readonly classes = new Map<ts.Expression, Classified>();

  /** Records and function values (records-check.ts). */
  private readonly records: RecordChecks;

  constructor(private readonly ctx: GuestContext) {
    this.records = new RecordChecks(ctx, this);
  }

  private get bag() {
    return this.ctx.bag;
  }

  private get checker() {
    return this.ctx.checker;
  }

  /** Check a whole guest file. */
  checkFile(sf: ts.SourceFile): void {
    for (const stmt of sf.statements) this.checkTopLevel(stmt);
  }

  /** Check one declaration of a shared module that a guest uses. */
  checkDeclaration(decl: ts.Declaration): void {
    if (ts.isFunctionDeclaration(decl)) this.checkFunction(decl);
    else if (ts.isVariableDeclaration(decl)) {
      const stmt = decl.parent.parent;
      if (ts.isVariableStatement(stmt)) this.checkVariableStatement(stmt, true);
    }
  }

  private checkTopLevel(stmt: ts.Statement): void {
    switch (stmt.kind) {
      case ts.SyntaxKind.ImportDeclaration:
      case ts.SyntaxKind.ExportDeclaration:
      case ts.SyntaxKind.InterfaceDeclaration:
      case ts.SyntaxKind.TypeAliasDeclaration:
      case ts.SyntaxKind.EmptyStatement:
        return;
      case ts.SyntaxKind.ImportEqualsDeclaration:
        return this.bag.at(stmt, Code.moduleForm, "'import x = require(...)' is not supported; use an ES import");
      case ts.SyntaxKind.ExportAssignment:
        return this.bag.at(stmt, Code.moduleForm, "'export =' and 'export default <expression>' are not supported; export declarations by name");
      case ts.SyntaxKind.FunctionDeclaration:
        return this.checkFunction(stmt as ts.FunctionDeclaration);
      case ts.SyntaxKind.VariableStatement:
        return this.checkVariableStatement(stmt as ts.VariableStatement, true);
      case ts.SyntaxKind.EnumDeclaration:
        return this.checkEnum(stmt as ts.EnumDeclaration);
      case ts.SyntaxKind.ClassDeclaration:
        return this.records.checkClass(stmt as ts.ClassDeclaration);
      case ts.SyntaxKind.ModuleDeclaration:
        this.ctx.refused.add(stmt);
        return this.bag.at(stmt, Code.declaration, 'namespaces are not supported; use modules');
      default:
        return this.bag.at(stmt, Code.topLevelStatement, `top-level statements are not supported (${describeKind(stmt)}): module code does not run at start-up; put it in a function`);
    }
  }

  /** An enum with a member that is not a constant number: one error, at the first such member. */
  private checkEnum(decl: ts.EnumDeclaration): void {
    const bad = decl.members.find((m) => typeof this.checker.getConstantValue(m) !== 'number');
    if (!bad) return;
    this.ctx.refused.add(decl);
    this.bag.at(bad, Code.type, `enum member '${bad.name.getText()}' must have a constant number value (string enums are not supported)`);
  }

  // -------------------------------------------------------------------------------------------
  // Declarations

  private checkFunction(decl: ts.FunctionDeclaration): void {
    const where = decl.name ?? decl;
    if (hasModifier(decl, ts.SyntaxKind.DeclareKeyword) || !decl.body) {
      if (!decl.body && !hasModifier(decl, ts.SyntaxKind.DeclareKeyword)) return; // an overload signature
      return this.bag.at(where, Code.declaration, 'ambient function declarations are not supported in guest code (intrinsics live in guest-kernel/lib/intrinsics.d.ts)');
    }
    if (decl.asteriskToken) return this.bag.at(where, Code.declaration, 'generator functions are not supported');
    if (hasModifier(decl, ts.SyntaxKind.AsyncKeyword)) return this.bag.at(where, Code.declaration, 'async functions are not supported');
    // A generic function is one error; its parameters and result (typed by its type parameters) are not more.
    const generic = !!decl.typeParameters?.length;
    if (generic) this.bag.at(decl.typeParameters![0]!, Code.declaration, 'generic functions are not supported');
    if (decl.parameters.length > MAX_PARAMS) {
      this.bag.at(decl.parameters[MAX_PARAMS]!, Code.tooManyParams, `functions take at most ${MAX_PARAMS} parameters (r0..r5, then the stack)`);
    }
    for (const p of decl.parameters) this.checkParameter(p, !generic);
    if (decl.name && !generic) {
      const sig = this.checker.getSignatureFromDeclaration(decl);
      if (sig) this.ctx.classify(this.checker.getReturnTypeOfSignature(sig), decl.type ?? decl.name, 'function result', true);
    }
    this.checkBlock(decl.body);
  }

  checkParameter(p: ts.ParameterDeclaration, classify = true): void {
    if (!ts.isIdentifier(p.name)) return this.bag.at(p.name, Code.declaration, 'destructuring parameters are not supported');
    if (p.dotDotDotToken) return this.bag.at(p, Code.declaration, 'rest parameters are not supported');
    if (p.initializer) {
      this.checkExpression(p.initializer);
      if (!defaultValue(this.ctx, p)) return;
    }
    if (p.questionToken) return this.bag.at(p, Code.declaration, 'optional parameters are not supported');
    if (p.name.text === 'this') return this.bag.at(p, Code.declaration, "'this' parameters are not supported");
    if (classify) this.ctx.classify(this.checker.getTypeAtLocation(p), p, 'parameter');
  }

  private checkVariableStatement(stmt: ts.VariableStatement, moduleLevel: boolean): void {
    if (hasModifier(stmt, ts.SyntaxKind.DeclareKeyword)) {
      return this.bag.at(stmt, Code.declaration, 'ambient variable declarations are not supported in guest code');
    }
    this.checkDeclarationList(stmt.declarationList, moduleLevel);
  }

  private checkDeclarationList(list: ts.VariableDeclarationList, moduleLevel: boolean): void {
    const kind = list.flags & ts.NodeFlags.BlockScoped;
    if (kind === ts.NodeFlags.Using || kind === ts.NodeFlags.AwaitUsing) return this.bag.at(list, Code.declaration, "'using' declarations are not supported");
    if (kind !== ts.NodeFlags.Let && kind !== ts.NodeFlags.Const) {
      return this.bag.at(list, Code.declaration, "'var' is not supported; use let or const");
    }
    for (const d of list.declarations) {
      if (!ts.isIdentifier(d.name)) {
        this.bag.at(d.name, Code.declaration, 'destructuring declarations are not supported');
        continue;
      }
      if (moduleLevel) {
        this.checkModuleInitialiser(d);
        this.ctx.moduleVar(d); // reports a non-constant initialiser
      } else {
        const init = d.initializer ? skipOuter(d.initializer) : undefined;
        if (init && ts.isNewExpression(init)) {
          this.checkNew(init, false);
          continue;
        }
        if (d.initializer) this.checkExpression(d.initializer);
        const held = d.initializer ? letAssignmentProblem(this.ctx, d, d.initializer) : undefined;
        if (held) this.bag.at(d.initializer!, Code.arrayPlacement, held);
        this.ctx.classify(this.checker.getTypeAtLocation(d.name), d.name, 'variable');
      }
    }
  }

  /** A module-level initialiser: constants, string literals, or `new TypedArray(n | [...])`. */
  private checkModuleInitialiser(d: ts.VariableDeclaration): void {
    if (!d.initializer || this.records.checkModuleInitialiser(d)) return;
    const init = skipOuter(d.initializer);
    if (ts.isNewExpression(init)) {
      this.checkNew(init, true);
      const arg = init.arguments?.[0];
      if (arg && ts.isArrayLiteralExpression(skipOuter(arg))) {
        for (const el of (skipOuter(arg) as ts.ArrayLiteralExpression).elements) this.checkExpression(el);
        return;
      }
      if (arg) this.checkExpression(arg);
      return;
    }
    this.checkExpression(d.initializer);
  }

  private checkNew(e: ts.NewExpression, moduleLevel: boolean): void {
    if (this.records.checkNew(e)) return;
    const t = this.ctx.classifyQuiet(this.checker.getTypeAtLocation(e));
    if (typeof t !== 'string' && t.kind === 'array') {
      if (moduleLevel) return;
      // In a function: `const buf = new T(n)`, in the stack frame (local-arrays.ts).
      const problem = localArrayPlacementProblem(e);
      if (problem) return this.bag.at(problem.at, Code.arrayPlacement, problem.message);
      const arg = e.arguments?.[0] ? skipOuter(e.arguments[0]) : undefined;
      if (arg && ts.isArrayLiteralExpression(arg)) for (const el of arg.elements) this.checkExpression(el);
      else if (arg) this.checkExpression(arg);
      return;
    }
    if (t === 'array' || (ts.isIdentifier(e.expression) && e.expression.text === 'Array')) {
      return this.bag.at(e, Code.dynamicArray, 'dynamic arrays are not supported; use a module-level typed array');
    }
    if (t === 'typedarray') return this.bag.at(e, Code.arrayKind, `${e.expression.getText()} is not supported (supported: ${Object.values(ELEM_TYPE_NAMES).join(', ')})`);
    this.bag.at(e, Code.classes, `'new ${e.expression.getText()}' is not supported: classes and objects are outside the subset`);
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  checkBlock(b: ts.Block): void {
    for (const s of b.statements) this.checkStatement(s);
  }

  private checkStatement(s: ts.Statement): void {
    switch (s.kind) {
      case ts.SyntaxKind.Block:
        return this.checkBlock(s as ts.Block);
      case ts.SyntaxKind.EmptyStatement:
      case ts.SyntaxKind.InterfaceDeclaration:
      case ts.SyntaxKind.TypeAliasDeclaration:
        return;
      case ts.SyntaxKind.VariableStatement:
        return this.checkVariableStatement(s as ts.VariableStatement, false);
      case ts.SyntaxKind.ExpressionStatement:
        return this.checkExpression((s as ts.ExpressionStatement).expression);
      case ts.SyntaxKind.IfStatement: {
        const i = s as ts.IfStatement;
        this.checkCondition(i.expression);
        this.checkStatement(i.thenStatement);
        if (i.elseStatement) this.checkStatement(i.elseStatement);
        return;
      }
      case ts.SyntaxKind.WhileStatement: {
        const w = s as ts.WhileStatement;
        this.checkCondition(w.expression);
        return this.checkStatement(w.statement);
      }
      case ts.SyntaxKind.DoStatement: {
        const d = s as ts.DoStatement;
        this.checkStatement(d.statement);
        return this.checkCondition(d.expression);
      }
      case ts.SyntaxKind.ForStatement: {
        const f = s as ts.ForStatement;
        if (f.initializer) {
          if (ts.isVariableDeclarationList(f.initializer)) this.checkDeclarationList(f.initializer, false);
          else this.checkExpression(f.initializer);
        }
        if (f.condition) this.checkCondition(f.condition);
        if (f.incrementor) this.checkExpression(f.incrementor);
        return this.checkStatement(f.statement);
      }
      case ts.SyntaxKind.ForOfStatement: {
        const f = s as ts.ForOfStatement;
        const problem = forOfProblem(this.ctx, f);
        if (problem) return this.bag.at(problem.at, problem.code, problem.message);
        this.checkExpression(f.expression);
        return this.checkStatement(f.statement);
      }
      case ts.SyntaxKind.ForInStatement:
        return this.bag.at(s, Code.statement, "'for...in' is not supported; use a counted for loop");
      case ts.SyntaxKind.ReturnStatement: {
        const r = s as ts.ReturnStatement;
        if (r.expression) this.checkExpression(r.expression);
        const escape = r.expression ? (returnProblem(this.ctx, r.expression) ?? addressEscapeProblem(this.ctx, r.expression)) : undefined;
        if (escape) this.bag.at(r.expression!, Code.arrayPlacement, escape);
        return;
      }
      case ts.SyntaxKind.BreakStatement:
      case ts.SyntaxKind.ContinueStatement:
        return;
      case ts.SyntaxKind.SwitchStatement:
        return this.checkSwitch(s as ts.SwitchStatement);
      case ts.SyntaxKind.LabeledStatement:
        return this.checkStatement((s as ts.LabeledStatement).statement);
      case ts.SyntaxKind.ThrowStatement:
        return this.bag.at(s, Code.exceptions, "exceptions are not supported ('throw')");
      case ts.SyntaxKind.TryStatement:
        return this.bag.at(s, Code.exceptions, "exceptions are not supported ('try')");
      case ts.SyntaxKind.FunctionDeclaration:
        return this.bag.at((s as ts.FunctionDeclaration).name ?? s, Code.closure, 'closures are not supported (a function declared inside a function); declare it at module level');
      case ts.SyntaxKind.ClassDeclaration:
        return this.bag.at(s, Code.classes, 'classes must be declared at module level (a record class)');
      case ts.SyntaxKind.EnumDeclaration:
        return this.bag.at(s, Code.declaration, 'enums must be declared at module level');
      case ts.SyntaxKind.WithStatement:
        return this.bag.at(s, Code.statement, "'with' is not supported");
      case ts.SyntaxKind.DebuggerStatement:
        return this.bag.at(s, Code.statement, "'debugger' is not supported; use the breakpoint() intrinsic");
      default:
        return this.bag.at(s, Code.statement, `${describeKind(s)} is not supported`);
    }
  }

  private checkSwitch(s: ts.SwitchStatement): void {
    this.checkExpression(s.expression);
    const t = this.ctx.classifyQuiet(this.checker.getTypeAtLocation(s.expression));
    if (typeof t !== 'string' && t.kind !== 'int' && t.kind !== 'bool') {
      this.bag.at(s.expression, Code.stringValue, `switch on a ${t.kind} is not supported; switch on a number`);
    }
    for (const clause of s.caseBlock.clauses) {
      if (ts.isCaseClause(clause)) {
        const v = this.ctx.constValue(clause.expression);
        if (!v || v.kind !== 'num') this.bag.at(clause.expression, Code.caseLabel, 'case labels must be constant numbers');
      }
      for (const st of clause.statements) this.checkStatement(st);
    }
  }

  private checkCondition(e: ts.Expression): void {
    this.checkExpression(e);
    this.checkTruthiness(e);
  }

  /**
   * A value tested for truth must be a number or boolean. A string is a pointer here, never 0,
   * while JavaScript finds '' falsy; refusing it keeps guest and Node in agreement.
   */
  private checkTruthiness(e: ts.Expression): void {
    const t = this.classOf(e);
    if (typeof t !== 'string' && t.kind === 'string') {
      this.bag.at(e, Code.stringValue, "testing a string for truth is not supported (JavaScript's '' is falsy; a guest string is an address): compare its length");
    }
  }

  /**
   * A guest string is its UTF-8 bytes, while JavaScript counts UTF-16 units: for anything beyond
   * ASCII, `length` and `charCodeAt` would silently disagree with Node, so only ASCII compiles.
   */
  private checkStringLiteral(e: ts.StringLiteral): void {
    const ch = [...e.text].find((c) => c.codePointAt(0)! > 0x7f);
    if (ch === undefined) return;
    const cp = ch.codePointAt(0)!;
    this.bag.at(e, Code.stringValue, `non-ASCII string literals are not supported (U+${cp.toString(16).toUpperCase().padStart(4, '0')}): guest strings are bytes, so length and charCodeAt would differ from JavaScript's`);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  checkExpression(e: ts.Expression): void {
    switch (e.kind) {
      case ts.SyntaxKind.NumericLiteral:
        return this.checkNumericLiteral(e as ts.NumericLiteral);
      case ts.SyntaxKind.StringLiteral:
      case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
        return this.checkStringLiteral(e as ts.StringLiteral);
      case ts.SyntaxKind.TrueKeyword:
      case ts.SyntaxKind.FalseKeyword:
        return;
      case ts.SyntaxKind.BigIntLiteral:
        return this.bag.at(e, Code.expression, 'bigint literals are not supported (numbers are 32-bit integers)');
      case ts.SyntaxKind.TemplateExpression:
        return this.bag.at(e, Code.stringValue, 'strings as values are not supported (template literal with substitutions)');
      case ts.SyntaxKind.TaggedTemplateExpression:
        return this.bag.at(e, Code.stringValue, 'strings as values are not supported (tagged template)');
      case ts.SyntaxKind.RegularExpressionLiteral:
        return this.bag.at(e, Code.expression, 'regular expressions are not supported');
      case ts.SyntaxKind.NullKeyword:
        return this.bag.at(e, Code.nullish, "'null' is not supported");
      case ts.SyntaxKind.ThisKeyword:
        return this.records.checkThis(e);
      case ts.SyntaxKind.SuperKeyword:
        return this.bag.at(e, Code.classes, "'super' is not supported (classes are outside the subset)");
      case ts.SyntaxKind.Identifier:
        return this.checkIdentifier(e as ts.Identifier);
      case ts.SyntaxKind.ArrayLiteralExpression:
        return this.bag.at(e, Code.dynamicArray, 'dynamic arrays are not supported (array literal); use a module-level typed array');
      case ts.SyntaxKind.ObjectLiteralExpression:
        return this.bag.at(e, Code.objects, 'objects are not supported (object literal)');
      case ts.SyntaxKind.FunctionExpression:
        return this.bag.at(e, Code.closure, 'closures are not supported (function expression); declare a function at module level');
      case ts.SyntaxKind.ArrowFunction:
        return this.bag.at(e, Code.closure, 'closures are not supported (arrow function); declare a function at module level');
      case ts.SyntaxKind.ClassExpression:
        return this.bag.at(e, Code.classes, 'classes are not supported (class expression)');
      case ts.SyntaxKind.ParenthesizedExpression:
      case ts.SyntaxKind.NonNullExpression:
        return this.checkExpression((e as ts.ParenthesizedExpression).expression);
      case ts.SyntaxKind.AsExpression:
      case ts.SyntaxKind.TypeAssertionExpression:
      case ts.SyntaxKind.SatisfiesExpression: {
        const a = e as ts.AsExpression;
        if (a.type.kind === ts.SyntaxKind.AnyKeyword || a.type.kind === ts.SyntaxKind.UnknownKeyword) {
          return this.bag.at(a.type, Code.anyType, `'${a.type.getText()}' is not supported`);
        }
        this.checkExpression(a.expression);
        this.ctx.classify(this.checker.getTypeAtLocation(a), a.type, 'type assertion');
        return;
      }
      case ts.SyntaxKind.PropertyAccessExpression:
        return this.checkPropertyAccess(e as ts.PropertyAccessExpression);
      case ts.SyntaxKind.ElementAccessExpression:
        return this.checkElementAccess(e as ts.ElementAccessExpression);
      case ts.SyntaxKind.CallExpression:
        return this.checkCall(e as ts.CallExpression);
      case ts.SyntaxKind.NewExpression:
        return this.checkNew(e as ts.NewExpression, false);
      case ts.SyntaxKind.PrefixUnaryExpression:
      case ts.SyntaxKind.PostfixUnaryExpression: {
        const u = e as ts.PrefixUnaryExpression;
        this.checkExpression(u.operand);
        if (u.operator === ts.SyntaxKind.PlusPlusToken || u.operator === ts.SyntaxKind.MinusMinusToken) this.checkAssignTarget(u.operand);
        else this.checkNumericOperand(u.operand, e);
        return;
      }
      case ts.SyntaxKind.BinaryExpression:
        return this.checkBinary(e as ts.BinaryExpression);
      case ts.SyntaxKind.ConditionalExpression: {
        const c = e as ts.ConditionalExpression;
        this.checkCondition(c.condition);
        this.checkExpression(c.whenTrue);
        this.checkExpression(c.whenFalse);
        this.ctx.classify(this.checker.getTypeAtLocation(c), c, 'conditional expression');
        return;
      }
      case ts.SyntaxKind.TypeOfExpression:
        return this.bag.at(e, Code.expression, "'typeof' is not supported (all values are 32-bit words)");
      case ts.SyntaxKind.DeleteExpression:
        return this.bag.at(e, Code.expression, "'delete' is not supported");
      case ts.SyntaxKind.VoidExpression:
        return this.bag.at(e, Code.expression, "'void' is not supported");
      case ts.SyntaxKind.AwaitExpression:
        return this.bag.at(e, Code.expression, "'await' is not supported");
      case ts.SyntaxKind.YieldExpression:
        return this.bag.at(e, Code.expression, "'yield' is not supported");
      case ts.SyntaxKind.SpreadElement:
        return this.bag.at(e, Code.expression, 'spread is not supported');
      case ts.SyntaxKind.MetaProperty:
        return this.bag.at(e, Code.expression, `'${e.getText()}' is not supported`);
      default:
        return this.bag.at(e, Code.expression, `${describeKind(e)} is not supported`);
    }
  }

  private checkNumericLiteral(lit: ts.NumericLiteral): void {
    const v = Number(lit.text.replace(/_/g, ''));
    if (!Number.isInteger(v)) return this.bag.at(lit, Code.floatLiteral, `floating-point literals are not supported ('${lit.getText()}'); numbers are 32-bit integers`);
    if (numericLiteralValue(lit) === undefined) {
      this.bag.at(lit, Code.literalRange, `integer literal '${lit.getText()}' does not fit in 32 bits (0..0xffffffff, or down to -2147483648 with a minus)`);
    }
  }

  /** `use` is the expression the name stands for (`ns.f` for a namespace member `f`). */
  private checkIdentifier(id: ts.Identifier, use: ts.Expression = id): void {
    if (id.text === 'undefined') return this.bag.at(id, Code.nullish, "'undefined' is not supported");
    const decl = this.ctx.declarationOf(id);
    if (!decl) return; // unresolved: TypeScript reports it
    if (ts.isFunctionDeclaration(decl)) {
      if (!isCallee(use) && !isFunctionTakingIntrinsicArgument(use, this.ctx)) {
        this.records.checkFunctionValue(id, decl); // a function value: its address (records-check.ts)
      }
      return;
    }
    if (this.ctx.isGuestStdDecl(decl)) {
      if (decl.kind === ts.SyntaxKind.VariableDeclaration && isNewCallee(id)) return;
      if ((id.text === 'Math' || id.text === 'console') && ts.isPropertyAccessExpression(id.parent)) return;
      this.bag.at(id, Code.objects, `'${id.text}' is not supported as a value`);
    }
  }

  private checkPropertyAccess(e: ts.PropertyAccessExpression): void {
    if (e.questionDotToken) return this.bag.at(e, Code.nullish, "optional chaining ('?.') is not supported");
    if (ts.isPrivateIdentifier(e.name)) return this.bag.at(e, Code.classes, 'private names are not supported');
    if (this.ctx.enumValue(e) !== undefined) return; // an enum member
    if (this.ctx.isModuleMember(e)) return this.checkIdentifier(e.name, e);
    const baseType = this.ctx.classifyQuiet(this.checker.getTypeAtLocation(e.expression));
    const name = e.name.text;
    if (this.records.checkMember(e, baseType)) return;
    if (typeof baseType !== 'string' && (baseType.kind === 'array' || baseType.kind === 'string')) {
      this.checkExpression(e.expression);
      if (name === 'length') return;
      if (baseType.kind === 'string' && name === 'charCodeAt' && isCallee(e)) return;
      if (baseType.kind === 'string') return this.bag.at(e.name, Code.stringValue, `strings as values are not supported (string member '${name}'); only length and charCodeAt(i)`);
      return this.bag.at(e.name, Code.dynamicArray, `typed array member '${name}' is not supported; only length and indexing`);
    }
    if (mathFunctionName(this.ctx, e) !== undefined) {
      if (!MATH_FUNCTIONS.includes(name)) return this.bag.at(e, Code.unsupportedMath, unsupportedMathMessage(name));
      if (!isCallee(e)) return this.bag.at(e, Code.functionValue, `'Math.${name}' can only be called`);
      return;
    }
    if (isConsole(this.ctx, e.expression)) {
      if (name === 'log' && isCallee(e)) return;
      return this.bag.at(e, Code.objects, `'console.${name}' is not supported (console.log(...) prints numbers, booleans and strings)`);
    }
    if (ts.isIdentifier(e.expression)) {
      const decl = this.ctx.declarationOf(e.expression);
      // A member of a namespace or enum refused where it is declared: that one error says it all.
      if (decl && this.ctx.refused.has(decl)) return;
      if (decl && ts.isEnumDeclaration(decl)) return this.bag.at(e, Code.type, `enum member '${e.getText()}' must be a constant number`);
    }
    // A static member is refused at its declaration (records-check.ts), not at each use.
    const member = this.checker.getSymbolAtLocation(e.name)?.valueDeclaration;
    if (member && ts.isClassElement(member) && hasModifier(member, ts.SyntaxKind.StaticKeyword)) return;
    this.checkExpression(e.expression);
    this.bag.at(e, Code.objects, `objects are not supported (property access '.${name}')`);
  }

  private checkElementAccess(e: ts.ElementAccessExpression): void {
    if (e.questionDotToken) return this.bag.at(e, Code.nullish, "optional chaining ('?.[]') is not supported");
    if (this.ctx.enumValue(e) !== undefined) return; // E['A']
    const baseType = this.ctx.classifyQuiet(this.checker.getTypeAtLocation(e.expression));
    this.checkExpression(e.expression);
    this.checkExpression(e.argumentExpression);
    if ((typeof baseType !== 'string' && baseType.kind === 'array') || this.records.indexable(baseType)) {
      this.checkNumericOperand(e.argumentExpression, e.argumentExpression);
      return;
    }
    if (typeof baseType !== 'string' && baseType.kind === 'string') {
      return this.bag.at(e, Code.stringValue, 'strings as values are not supported (indexing a string gives a string); use s.charCodeAt(i)');
    }
    if (baseType === 'error') return;
    this.bag.at(e, Code.objects, 'element access is supported on typed arrays only');
  }

  private checkCall(e: ts.CallExpression): void {
    if (e.questionDotToken) return this.bag.at(e, Code.nullish, "optional call ('?.()') is not supported");
    for (const a of e.arguments) {
      if (ts.isSpreadElement(a)) this.bag.at(a, Code.expression, 'spread arguments are not supported');
    }
    const callee = skipOuter(e.expression);
    if (callee.kind === ts.SyntaxKind.ImportKeyword) return this.bag.at(e, Code.moduleForm, "dynamic 'import()' is not supported");
    if (ts.isPropertyAccessExpression(callee)) {
      this.checkPropertyAccess(callee);
    } else if (this.records.checkCallee(e)) {
      // a call through a function value, or recordArray(...) out of place
    } else if (ts.isIdentifier(callee)) {
      const decl = this.ctx.declarationOf(callee);
      if (decl && !ts.isFunctionDeclaration(decl)) {
        if (decl.kind === ts.SyntaxKind.VariableDeclaration && !this.ctx.isIntrinsicDecl(decl)) {
          this.bag.at(callee, Code.functionValue, `'${callee.text}' is not a function declaration: calls through function values are not supported (closures are outside the subset)`);
        } else if (!this.ctx.isIntrinsicDecl(decl)) {
          this.bag.at(callee, Code.functionValue, `calls through '${callee.text}' are not supported; call a function declaration`);
        }
      }
    } else {
      this.checkExpression(callee);
      this.bag.at(callee, Code.functionValue, 'indirect calls are not supported; call a function declaration by name');
    }
    for (const a of e.arguments) {
      if (!ts.isSpreadElement(a)) this.checkExpression(a);
    }
  }

  /**
   * A left-deep chain (`v0 + v1 + ... + v2999`) is walked with a loop, innermost operator first,
   * not by recursion: its length is not nesting (limits.ts), and must not overflow the stack.
   */
  private checkBinary(outer: ts.BinaryExpression): void {
    const chain = [outer];
    for (let e = outer.left; ts.isBinaryExpression(e); e = e.left) chain.push(e);
    this.checkExpression(chain[chain.length - 1]!.left);
    for (let k = chain.length - 1; k >= 0; k--) {
      const e = chain[k]!;
      this.checkExpression(e.right);
      this.checkOperator(e);
    }
  }

  /** The checks of a binary operator, its operands checked. */
  private checkOperator(e: ts.BinaryExpression): void {
    const op = e.operatorToken.kind;
    switch (op) {
      case ts.SyntaxKind.AsteriskAsteriskToken:
      case ts.SyntaxKind.AsteriskAsteriskEqualsToken:
        return this.bag.at(e.operatorToken, Code.expression, "the exponent operator '**' is not supported");
      case ts.SyntaxKind.InKeyword:
        return this.bag.at(e.operatorToken, Code.objects, "'in' is not supported (objects are outside the subset)");
      case ts.SyntaxKind.InstanceOfKeyword:
        return this.bag.at(e.operatorToken, Code.classes, "'instanceof' is not supported (classes are outside the subset)");
      case ts.SyntaxKind.QuestionQuestionToken:
      case ts.SyntaxKind.QuestionQuestionEqualsToken:
        return this.bag.at(e.operatorToken, Code.nullish, "'??' is not supported (null and undefined are outside the subset)");
      case ts.SyntaxKind.CommaToken:
        return;
      case ts.SyntaxKind.EqualsToken: {
        const held = ts.isIdentifier(skipOuter(e.left)) ? letAssignmentProblem(this.ctx, skipOuter(e.left), e.right) : undefined;
        const stored = !held && storesOutsideFrame(this.ctx, e.left) ? addressEscapeProblem(this.ctx, e.right) : undefined;
        if (held ?? stored) this.bag.at(e, Code.arrayPlacement, (held ?? stored)!);
        return this.checkAssignTarget(e.left);
      }
      case ts.SyntaxKind.EqualsEqualsToken:
      case ts.SyntaxKind.EqualsEqualsEqualsToken:
      case ts.SyntaxKind.ExclamationEqualsToken:
      case ts.SyntaxKind.ExclamationEqualsEqualsToken:
        return; // numbers, booleans, and identity of strings/arrays (string literals are interned)
      case ts.SyntaxKind.AmpersandAmpersandToken:
      case ts.SyntaxKind.BarBarToken:
      case ts.SyntaxKind.AmpersandAmpersandEqualsToken:
      case ts.SyntaxKind.BarBarEqualsToken: {
        this.checkTruthiness(e.left);
        const t = this.classOf(e);
        if (typeof t !== 'string' && (t.kind === 'string' || t.kind === 'array')) {
          this.bag.at(e.operatorToken, Code.stringValue, `'${e.operatorToken.getText()}' on ${t.kind === 'string' ? 'strings' : 'arrays'} is not supported`);
        }
        if (op === ts.SyntaxKind.AmpersandAmpersandEqualsToken || op === ts.SyntaxKind.BarBarEqualsToken) this.checkAssignTarget(e.left);
        return;
      }
      default:
        break;
    }
    // Arithmetic, bitwise, shift, relational and compound assignment: numbers only.
    this.checkNumericOperand(e.left, e);
    this.checkNumericOperand(e.right, e);
    if (isCompoundAssignment(op)) this.checkAssignTarget(e.left);
  }

  /** An operand of an arithmetic or relational operator must be a number (or boolean). */
  private checkNumericOperand(operand: ts.Expression, at: ts.Node): void {
    const t = this.classOf(operand);
    if (typeof t === 'string') return; // reported where the value came from, or by TypeScript
    if (t.kind === 'string') {
      const what = ts.isBinaryExpression(at) ? `'${at.operatorToken.getText()}' on a string` : 'a string operand';
      this.bag.at(at, Code.stringValue, `strings as values are not supported (${what}); strings can be printed, measured and read with charCodeAt`);
    } else if (t.kind === 'array') {
      this.bag.at(at, Code.dynamicArray, 'arithmetic on a typed array is not supported');
    } else if (t.kind !== 'int' && t.kind !== 'bool' && t.kind !== 'void') {
      this.bag.at(at, Code.objects, `arithmetic on a ${t.kind === 'func' ? 'function' : t.kind === 'funcs' ? 'function table' : t.kind === 'records' ? 'record array' : 'record'} is not supported`);
    }
  }

  /**
   * The value type of expression `e`, as ctx.classifyQuiet of its TypeScript type. TypeScript
   * computes the type of a composite expression afresh at every query, names' flow analysis
   * included, so asking it about each operand of a chain `v0 + v1 + ... + vn` took time cubic in
   * n (21 s for n = 1,000). Here the type of an arithmetic, comparison or `+` operator follows
   * from its operands', memoised, and TypeScript is asked about leaves (calls, accesses,
   * literals; a name's declared type) and other shapes only, once each. Iterative, like
   * checkBinary.
   */
  private classOf(root: ts.Expression): Classified {
    const work = [root];
    while (work.length > 0) {
      const e = work[work.length - 1]!;
      if (this.classes.has(e)) {
        work.pop();
        continue;
      }
      const parts = classParts(e);
      const missing = parts.filter((p) => !this.classes.has(p));
      if (missing.length > 0) {
        work.push(...missing);
        continue;
      }
      work.pop();
      this.classes.set(e, this.classFromParts(e, parts.map((p) => this.classes.get(p)!)));
    }
    return this.classes.get(root)!;
  }

  private classFromParts(e: ts.Expression, parts: Classified[]): Classified {
    if (ts.isParenthesizedExpression(e)) return parts[0]!;
    if (ts.isPrefixUnaryExpression(e)) return e.operator === ts.SyntaxKind.ExclamationToken ? BOOL : INT;
    if (ts.isPostfixUnaryExpression(e)) return INT;
    if (ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      if (NUMBER_OPERATORS.has(op)) return INT;
      if (isComparison(op)) return BOOL;
      if (op === ts.SyntaxKind.CommaToken) return parts[0]!;
      if (op === ts.SyntaxKind.PlusToken || op === ts.SyntaxKind.PlusEqualsToken) {
        const [l, r] = parts as [Classified, Classified];
        if (isKind(l, 'string') || isKind(r, 'string')) return STRING;
        if ((isKind(l, 'int') || isKind(l, 'bool')) && (isKind(r, 'int') || isKind(r, 'bool'))) return INT;
      }
      if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
        // Either operand's type: the same when both are numbers, or both booleans.
        const [l, r] = parts as [Classified, Classified];
        if ((isKind(l, 'int') && isKind(r, 'int')) || (isKind(l, 'bool') && isKind(r, 'bool'))) return l;
      }
    }
    if (ts.isIdentifier(e)) {
      // A variable's or parameter's declared type: its type at a use would be the same for
      // every type the subset accepts (no unions to narrow), and asking for that walks the
      // control flow back to the last assignment, through every statement in between.
      let sym = this.checker.getSymbolAtLocation(e);
      if (sym && sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
      if (sym && sym.flags & (ts.SymbolFlags.Variable | ts.SymbolFlags.EnumMember)) {
        const declared = this.ctx.classifyQuiet(this.checker.getTypeOfSymbol(sym));
        if (typeof declared !== 'string') return declared;
      }
    }
    return this.ctx.classifyQuiet(this.checker.getTypeAtLocation(e));
  }

  private checkAssignTarget(target: ts.Expression): void {
    const t = skipOuter(target);
    if (ts.isIdentifier(t)) {
      const decl = this.ctx.declarationOf(t);
      if (decl && ts.isVariableDeclaration(decl) && GuestContext.isModuleLevel(decl)) {
        const ty = this.ctx.classifyQuiet(this.checker.getTypeAtLocation(t));
        if (typeof ty !== 'string' && ty.kind === 'array') this.bag.at(t, Code.arrayPlacement, 'a module-level typed array cannot be reassigned');
      }
      return;
    }
    if (ts.isElementAccessExpression(t) || ts.isPropertyAccessExpression(t)) return this.records.checkTarget(t); // otherwise checked as an access
    if (ts.isArrayLiteralExpression(t) || ts.isObjectLiteralExpression(t)) return; // reported as a literal
    this.bag.at(t, Code.expression, 'this expression cannot be assigned to');
  }
}

/**
 * Operators whose result is a number (or a bigint, refused elsewhere) whatever their operands:
 * never a string or an array. With `+` (number or string) and the comparisons (boolean), these
 * let classOf type an operator without asking TypeScript.
 */
const NUMBER_OPERATORS = new Set([
  ts.SyntaxKind.MinusToken,
  ts.SyntaxKind.AsteriskToken,
  ts.SyntaxKind.SlashToken,
  ts.SyntaxKind.PercentToken,
  ts.SyntaxKind.LessThanLessThanToken,
  ts.SyntaxKind.GreaterThanGreaterThanToken,
  ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken,
  ts.SyntaxKind.AmpersandToken,
  ts.SyntaxKind.BarToken,
  ts.SyntaxKind.CaretToken,
  ts.SyntaxKind.MinusEqualsToken,
  ts.SyntaxKind.AsteriskEqualsToken,
  ts.SyntaxKind.SlashEqualsToken,
  ts.SyntaxKind.PercentEqualsToken,
  ts.SyntaxKind.LessThanLessThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken,
  ts.SyntaxKind.AmpersandEqualsToken,
  ts.SyntaxKind.BarEqualsToken,
  ts.SyntaxKind.CaretEqualsToken,
]);

/** The operands whose types decide `e`'s in classFromParts (none: TypeScript is asked, or none needed). */
function classParts(e: ts.Expression): ts.Expression[] {
  if (ts.isParenthesizedExpression(e)) return [e.expression];
  if (!ts.isBinaryExpression(e)) return [];
  const op = e.operatorToken.kind;
  if (op === ts.SyntaxKind.CommaToken) return [e.right];
  if (op === ts.SyntaxKind.PlusToken || op === ts.SyntaxKind.PlusEqualsToken) return [e.left, e.right];
  if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) return [e.left, e.right];
  return [];
}

const isKind = (t: Classified, kind: string): boolean => typeof t !== 'string' && t.kind === kind;

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === kind) ?? false);
}

function isCallee(node: ts.Node): boolean {
  let n = node;
  while (ts.isParenthesizedExpression(n.parent)) n = n.parent;
  return ts.isCallExpression(n.parent) && n.parent.expression === n;
}

function isNewCallee(node: ts.Node): boolean {
  return ts.isNewExpression(node.parent) && node.parent.expression === node;
}

function isFunctionTakingIntrinsicArgument(id: ts.Expression, ctx: GuestContext): boolean {
  const call = id.parent;
  if (!ts.isCallExpression(call) || call.arguments[0] !== id || !ts.isIdentifier(call.expression)) return false;
  const decl = ctx.declarationOf(call.expression);
  return decl !== undefined && ctx.isIntrinsicDecl(decl) && FUNCTION_TAKING_INTRINSICS.has(call.expression.text);
}

export function isCompoundAssignment(op: ts.SyntaxKind): boolean {
  return op >= ts.SyntaxKind.FirstCompoundAssignment && op <= ts.SyntaxKind.LastCompoundAssignment;
}

/** "a for statement", from the syntax kind's name. */
function describeKind(node: ts.Node): string {
  const name = ts.SyntaxKind[node.kind]
    .replace(/(Statement|Expression|Declaration)$/, ' $1')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return `a ${name}`;
}
