/**
 * The compilation context: what every name in a guest program refers to. It turns TypeScript
 * symbols into entities (functions, module variables, static arrays, compile-time constants,
 * intrinsics), classifies TypeScript types into the subset's value types, and evaluates constant
 * expressions with 32-bit semantics. Lowering asks it; it asks the type checker.
 *
 * Entities are created on first use, so a shared module (abi/) contributes only the declarations
 * a guest uses, and an unused typed array costs no memory.
 */
import path from 'node:path';
import ts from 'typescript';
import { Code, type DiagnosticBag } from './diagnostics.ts';
import { type DataSection, type LabelAllocator } from './data.ts';
import { RecordModel, type StaticObject } from './records.ts';
import type { VReg } from './ir.ts';
import type { LoadedProgram } from './program.ts';
import { GUEST_STD_DECLS } from './program.ts';
import { DEFAULT_MEMORY_BYTES } from '../../abi/platform.ts';
import { PV_STACK_PAGES, PV_STACK_TOP } from '../../abi/hypercall-numbers.ts';
import { PAGE_SIZE } from '../../abi/isa.ts';
import { USER_BASE, USER_IMAGE_MAX } from '../kernel/syscall-abi.ts';
import { localArrayLength } from './local-arrays.ts';
import { foldMathCall } from './math.ts';
import { constantWraps } from './checks.ts';
import { BOOL, ELEM_BYTES, ELEM_TYPE_NAMES, INT, STRING, targetFlag, VOID, type ElemKind, type IntRange, type Target, type ValueType } from './types.ts';

export interface ParamInfo {
  name: string;
  type: ValueType;
  decl: ts.ParameterDeclaration;
}

export interface FunctionInfo {
  /** A function declaration, or a record class's method (records.ts). */
  decl: ts.FunctionDeclaration | ts.MethodDeclaration;
  name: string;
  label: string;
  params: ParamInfo[];
  ret: ValueType;
  /** Label of the interrupt-entry stub, once some `interruptEntry(fn)` asked for one. */
  stubLabel?: string;
  /** A method: its record type; `this` arrives before the parameters (r0). */
  self?: ValueType;
}

export interface GlobalInfo {
  decl: ts.VariableDeclaration;
  label: string;
  type: ValueType;
  /** Initial value: a number, a string literal whose address it holds, or an address (a static record's, a function's). */
  init: number | { text: string } | { label: string };
}

export interface ArrayInfo {
  decl: ts.VariableDeclaration;
  label: string;
  elem: ElemKind;
  length: number;
  /** Initial elements (already wrapped to the element kind); null for all zeros. */
  init: number[] | null;
}

/** What a name denotes. `error` means "already reported; do not report again". */
export type Entity =
  | { kind: 'function'; fn: FunctionInfo }
  | { kind: 'global'; g: GlobalInfo }
  | { kind: 'array'; a: ArrayInfo }
  /** A static record, record array or function table (records.ts). */
  | { kind: 'static'; s: StaticObject }
  | { kind: 'const'; value: number; type: ValueType; unsigned?: boolean }
  | { kind: 'string'; text: string }
  /** `range`: what lowering knows of a const local's value (see IntRange). */
  | { kind: 'local'; vreg: VReg; type: ValueType; range?: IntRange }
  | { kind: 'intrinsic'; name: string }
  | { kind: 'error' };

/**
 * A compile-time value: an int or bool (0/1), or a string literal. `unsigned` marks an int whose
 * JavaScript value is `value >>> 0` (a `>>>` result, or a literal above 0x7fffffff), so that
 * folding compares and divides exactly as JavaScript would.
 */
export type ConstValue = { kind: 'num'; value: number; type: ValueType; unsigned?: boolean } | { kind: 'str'; text: string };

/** Locals of the function being lowered, by declaration. */
export interface LocalScope {
  lookup(decl: ts.Declaration): Entity | undefined;
}

/** Maximum number of parameters: the first six travel in r0..r5, the others on the stack (emit.ts). */
export const MAX_PARAMS = 16;

const ELEM_BY_NAME: ReadonlyMap<string, ElemKind> = new Map(
  (Object.entries(ELEM_TYPE_NAMES) as [ElemKind, string][]).map(([k, n]) => [n, k]),
);

/** Names of typed arrays outside the subset, for a precise message. */
const OTHER_TYPED_ARRAYS = new Set(['Float32Array', 'Float64Array', 'Uint8ClampedArray', 'BigInt64Array', 'BigUint64Array']);

export class GuestContext {
  readonly checker: ts.TypeChecker;
  readonly functions = new Map<ts.FunctionDeclaration, FunctionInfo>();
  /** Functions whose bodies must be compiled, in discovery order. */
  readonly worklist: FunctionInfo[] = [];
  private readonly moduleVars = new Map<ts.VariableDeclaration, Entity>();
  private readonly usedData = new Set<GlobalInfo | ArrayInfo>();
  private readonly stdDeclsPath = path.resolve(GUEST_STD_DECLS);
  /** Record classes, their static instances, function tables (records.ts). */
  readonly records: RecordModel;
  /**
   * Declarations already refused with their one diagnostic (a namespace, a generic function, a
   * string enum, an object-typed interface or type alias): their uses stay silent, so a user gets
   * one error per unsupported declaration rather than one per use.
   */
  readonly refused = new Set<ts.Node>();

  constructor(
    readonly loaded: LoadedProgram,
    readonly bag: DiagnosticBag,
    readonly target: Target,
    readonly labels: LabelAllocator,
    readonly data: DataSection,
    /** Called once for each declaration of a shared module that a guest uses (subset check). */
    private readonly onSharedDeclaration: (decl: ts.Declaration) => void,
  ) {
    this.checker = loaded.program.getTypeChecker();
    this.records = new RecordModel(this);
  }

  // -------------------------------------------------------------------------------------------
  // Names

  /** The declaration a name refers to, through import aliases. */
  declarationOf(node: ts.Node): ts.Declaration | undefined {
    let sym = this.checker.getSymbolAtLocation(node);
    if (!sym) return undefined;
    if (sym.flags & ts.SymbolFlags.Alias) sym = this.checker.getAliasedSymbol(sym);
    return sym.valueDeclaration ?? sym.declarations?.[0];
  }

  /**
   * The value of an enum member access (`E.A`, `E['A']`), const enum or not. (The checker's
   * getConstantValue answers for const enums only, since plain enum accesses are emitted as
   * property reads; the member's own value is known either way.)
   */
  enumValue(e: ts.PropertyAccessExpression | ts.ElementAccessExpression): number | undefined {
    const direct = this.checker.getConstantValue(e);
    if (typeof direct === 'number') return direct | 0;
    const decl = this.declarationOf(ts.isPropertyAccessExpression(e) ? e.name : e);
    if (!decl || !ts.isEnumMember(decl)) return undefined;
    const v = this.checker.getConstantValue(decl);
    return typeof v === 'number' ? v | 0 : undefined;
  }

  isIntrinsicDecl(decl: ts.Declaration): boolean {
    return this.loaded.isIntrinsicsFile(decl.getSourceFile());
  }

  isGuestStdDecl(decl: ts.Declaration): boolean {
    return path.resolve(decl.getSourceFile().fileName) === this.stdDeclsPath;
  }

  /** Whether `decl` is at module level (not inside a function). */
  static isModuleLevel(decl: ts.VariableDeclaration): boolean {
    const stmt = decl.parent.parent;
    return ts.isVariableStatement(stmt) && ts.isSourceFile(stmt.parent);
  }

  /**
   * The entity a name (identifier, or `ns.name` through a namespace import) denotes; undefined
   * when the name is not a value the subset knows (the caller reports).
   */
  resolve(node: ts.Identifier | ts.PropertyAccessExpression, scope?: LocalScope): Entity | undefined {
    const target = ts.isPropertyAccessExpression(node) ? node.name : node;
    const decl = this.declarationOf(target);
    if (!decl) return undefined;
    if (this.isIntrinsicDecl(decl)) {
      const name = ts.getNameOfDeclaration(decl);
      return name && ts.isIdentifier(name) ? { kind: 'intrinsic', name: name.text } : undefined;
    }
    const local = scope?.lookup(decl);
    if (local) return local;
    if (ts.isFunctionDeclaration(decl)) {
      const fn = this.functionInfo(decl);
      return fn ? { kind: 'function', fn } : { kind: 'error' };
    }
    if (ts.isVariableDeclaration(decl) && GuestContext.isModuleLevel(decl)) return this.moduleVar(decl);
    if (ts.isEnumMember(decl)) {
      const v = this.checker.getConstantValue(decl);
      if (typeof v === 'number') return { kind: 'const', value: v | 0, type: INT };
      this.bag.at(node, Code.type, `enum member '${decl.name.getText()}' is not a constant number`);
      return { kind: 'error' };
    }
    return undefined;
  }

  private noteShared(decl: ts.Declaration): void {
    if (this.loaded.isShared(decl.getSourceFile())) this.onSharedDeclaration(decl);
  }

  // -------------------------------------------------------------------------------------------
  // Functions

  functionInfo(decl: ts.FunctionDeclaration): FunctionInfo | undefined {
    const known = this.functions.get(decl);
    if (known) return known;
    if (!decl.body || !decl.name) return undefined;
    this.noteShared(decl);
    const sig = this.checker.getSignatureFromDeclaration(decl);
    const params: ParamInfo[] = [];
    for (const p of decl.parameters) {
      const t = this.classify(this.checker.getTypeAtLocation(p), p, 'parameter');
      params.push({ name: p.name.getText(), type: t ?? INT, decl: p });
    }
    const ret = sig ? this.classify(this.checker.getReturnTypeOfSignature(sig), decl.type ?? decl.name, 'return', true) : VOID;
    const info: FunctionInfo = { decl, name: decl.name.text, label: this.labels.unique(decl.name.text), params, ret: ret ?? INT };
    this.functions.set(decl, info);
    this.worklist.push(info);
    return info;
  }

  // -------------------------------------------------------------------------------------------
  // Module variables

  /** Place a module variable's storage in the data section; called when code refers to it. */
  useGlobal(g: GlobalInfo): void {
    if (this.usedData.has(g)) return;
    this.usedData.add(g);
    const init = typeof g.init === 'number' ? g.init : 'label' in g.init ? g.init.label : this.data.string(g.init.text);
    this.data.words.push({ kind: 'word', label: g.label, init, comment: `let ${g.decl.name.getText()}` });
  }

  private isGuestLibFile(sf: ts.SourceFile): boolean {
    return path.resolve(sf.fileName).startsWith(path.resolve(GUEST_STD_DECLS, '..') + path.sep);
  }

  /** The program's typed arrays placed in the data section (not the guest library's), largest first, with their sizes in bytes. */
  placedArrays(): { decl: ts.VariableDeclaration; bytes: number }[] {
    return [...this.usedData]
      .flatMap((d) => ('elem' in d && !this.isGuestLibFile(d.decl.getSourceFile()) ? [{ decl: d.decl, bytes: d.length * ELEM_BYTES[d.elem] }] : []))
      .sort((a, b) => b.bytes - a.bytes);
  }

  /** Place a typed array's storage in the data section; called when code refers to it. */
  useArray(a: ArrayInfo): void {
    if (this.usedData.has(a)) return;
    this.usedData.add(a);
    this.data.arrays.push({
      kind: 'array',
      label: a.label,
      elem: a.elem,
      length: a.length,
      init: a.init,
      comment: `const ${a.decl.name.getText()} = new ${ELEM_TYPE_NAMES[a.elem]}(${a.length})`,
    });
  }

  /** The entity of a module-level variable, created (and its data placed) on first use. */
  moduleVar(decl: ts.VariableDeclaration): Entity {
    const known = this.moduleVars.get(decl);
    if (known) return known;
    this.moduleVars.set(decl, { kind: 'error' }); // a self-reference in the initialiser is not constant
    this.noteShared(decl);
    const e = this.createModuleVar(decl);
    this.moduleVars.set(decl, e);
    return e;
  }

  private createModuleVar(decl: ts.VariableDeclaration): Entity {
    const isConst = (decl.parent.flags & ts.NodeFlags.Const) !== 0;
    const name = decl.name.getText();
    const init = decl.initializer ? skipOuter(decl.initializer) : undefined;
    if (!init) {
      this.bag.at(decl, Code.nonConstInit, `module-level variable '${name}' needs an initialiser (a constant, a string literal or a typed array)`);
      return { kind: 'error' };
    }
    const special = this.records.moduleVar(decl, init, isConst);
    if (special) return special;
    if (ts.isNewExpression(init)) return this.createArray(decl, init, isConst);
    const type = this.classify(this.checker.getTypeAtLocation(decl.name), decl.name, 'variable');
    if (!type) return { kind: 'error' };
    if (type.kind === 'array') {
      // `const alias = otherArray;` names the same static array.
      const target = ts.isIdentifier(init) ? this.resolve(init) : undefined;
      if (isConst && target?.kind === 'array') return target;
      this.bag.at(init, Code.arrayPlacement, `a module-level typed array must be created here with new ${ELEM_TYPE_NAMES[type.elem]}(...) and declared const`);
      return { kind: 'error' };
    }
    const value = this.constValue(init);
    if (!value) {
      this.bag.at(init, Code.nonConstInit, `module-level initialiser of '${name}' must be a constant expression (module code does not run at start-up)`);
      return { kind: 'error' };
    }
    if (value.kind === 'str') {
      if (isConst) return { kind: 'string', text: value.text };
      return { kind: 'global', g: { decl, label: this.labels.unique(name), type: STRING, init: { text: value.text } } };
    }
    if (isConst) return { kind: 'const', value: value.value, type: value.type, ...(value.unsigned ? { unsigned: true } : {}) };
    if (value.unsigned) this.bag.at(init, Code.unsignedLocal, unsignedLetMessage(name));
    return { kind: 'global', g: { decl, label: this.labels.unique(name), type, init: value.value } };
  }

  private createArray(decl: ts.VariableDeclaration, init: ts.NewExpression, isConst: boolean): Entity {
    const ctor = ts.isIdentifier(init.expression) ? init.expression.text : init.expression.getText();
    const elem = ELEM_BY_NAME.get(ctor);
    if (!elem) {
      if (OTHER_TYPED_ARRAYS.has(ctor)) {
        this.bag.at(init, Code.arrayKind, `${ctor} is not supported (supported: ${Object.values(ELEM_TYPE_NAMES).join(', ')}); values are 32-bit integers`);
      } else {
        this.bag.at(init, Code.classes, `'new ${ctor}' is not supported: classes and objects are outside the subset (only typed arrays can be created)`);
      }
      return { kind: 'error' };
    }
    const ctorDecl = this.declarationOf(init.expression);
    if (!ctorDecl || !this.isGuestStdDecl(ctorDecl)) {
      this.bag.at(init.expression, Code.arrayKind, `'${ctor}' does not name the guest library's typed array`);
      return { kind: 'error' };
    }
    if (!isConst) {
      this.bag.at(decl, Code.arrayPlacement, `typed array '${decl.name.getText()}' must be declared const (its storage is static)`);
      return { kind: 'error' };
    }
    const arg = init.arguments?.length === 1 ? skipOuter(init.arguments[0]!) : undefined;
    let length: number;
    let elements: number[] | null = null;
    if (arg && ts.isArrayLiteralExpression(arg)) {
      elements = [];
      for (const el of arg.elements) {
        const v = this.constValue(el);
        if (!v || v.kind !== 'num') {
          this.bag.at(el, Code.nonConstInit, 'typed array elements must be constant expressions');
          return { kind: 'error' };
        }
        elements.push(wrapElement(v.value, elem));
      }
      length = elements.length;
      if (elements.every((x) => x === 0)) elements = null;
    } else {
      const v = arg ? this.constValue(arg) : undefined;
      if (!v || v.kind !== 'num' || v.value <= 0 || v.value > 1 << 24) {
        this.bag.at(arg ?? init, Code.arrayLength, `typed array length must be a constant between 1 and ${1 << 24} (or a list of constant elements)`);
        return { kind: 'error' };
      }
      length = v.value;
    }
    const bytes = length * ELEM_BYTES[elem];
    const room = targetMemory(this.target);
    if (bytes > room.bytes) {
      this.bag.at(decl, Code.arrayTooLarge, `static array '${decl.name.getText()}' needs ${bytes} bytes; ${room.what} is ${room.bytes} bytes`);
      return { kind: 'error' };
    }
    return { kind: 'array', a: { decl, label: this.labels.unique(decl.name.getText()), elem, length, init: elements } };
  }

  // -------------------------------------------------------------------------------------------
  // Types

  /**
   * The value type of a TypeScript type, or undefined after reporting why it is outside the
   * subset. `what` names the position for the message; `allowVoid` for function results.
   */
  classify(type: ts.Type, at: ts.Node, what: string, allowVoid = false): ValueType | undefined {
    const r = this.classifyQuiet(type, allowVoid);
    if (typeof r !== 'string') return r;
    const shown = this.checker.typeToString(type);
    switch (r) {
      case 'any':
        this.bag.at(at, Code.anyType, `type '${shown}' of this ${what} is not supported: 'any' and 'unknown' are outside the subset`);
        break;
      case 'error':
        break; // TypeScript has reported it
      case 'nullish':
        this.bag.at(at, Code.nullish, `type '${shown}' of this ${what} is not supported: null and undefined are outside the subset`);
        break;
      case 'array':
        this.bag.at(at, Code.dynamicArray, `type '${shown}' of this ${what} is not supported: dynamic arrays are outside the subset (use a module-level typed array)`);
        break;
      case 'function':
        this.bag.at(at, Code.functionValue, `type '${shown}' of this ${what} is not supported: a function value takes at most 6 parameters, none optional, each a number, boolean or record (closures are outside the subset)`);
        break;
      case 'typedarray':
        this.bag.at(at, Code.arrayKind, `type '${shown}' of this ${what} is not supported (supported typed arrays: ${Object.values(ELEM_TYPE_NAMES).join(', ')})`);
        break;
      case 'object': {
        // An interface or type alias the program declares is refused once, where it is declared.
        const decl = (type.aliasSymbol ?? type.getSymbol())?.declarations?.find((d) => ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d));
        if (decl && !decl.getSourceFile().isDeclarationFile) {
          if (this.refused.has(decl)) break;
          this.refused.add(decl);
          const kind = ts.isInterfaceDeclaration(decl) ? 'interface' : 'type';
          this.bag.at(decl.name, Code.objects, `${kind} '${decl.name.text}' is an object type: objects are outside the subset (a record is an instance of a class: see guest-kernel/README.md)`);
          break;
        }
        this.bag.at(at, Code.objects, `type '${shown}' of this ${what} is not supported: objects are outside the subset (a record is an instance of a class: see guest-kernel/README.md)`);
        break;
      }
      default:
        this.bag.at(at, Code.type, `type '${shown}' of this ${what} is not supported`);
    }
    return undefined;
  }

  classifyQuiet(
    type: ts.Type,
    allowVoid = false,
  ): ValueType | 'any' | 'error' | 'nullish' | 'array' | 'function' | 'object' | 'typedarray' | 'other' {
    const f = type.flags;
    if (f & ts.TypeFlags.Any) return (type as { intrinsicName?: string }).intrinsicName === 'error' ? 'error' : 'any';
    if (f & ts.TypeFlags.Unknown) return 'any';
    if (f & (ts.TypeFlags.NumberLike | ts.TypeFlags.EnumLike)) return INT;
    if (f & ts.TypeFlags.BooleanLike) return BOOL;
    if (f & ts.TypeFlags.StringLike) return STRING;
    if (f & (ts.TypeFlags.Void | ts.TypeFlags.Never)) return allowVoid ? VOID : 'other';
    if (f & ts.TypeFlags.Undefined) return allowVoid ? VOID : 'nullish';
    if (f & ts.TypeFlags.Null) return 'nullish';
    if (f & (ts.TypeFlags.Object | ts.TypeFlags.TypeParameter)) {
      const r = this.records.classify(type);
      if (r !== undefined) return r;
    }
    if (type.isUnion()) {
      const parts = type.types.map((t) => this.classifyQuiet(t, allowVoid));
      const first = parts[0];
      if (first && typeof first !== 'string' && parts.every((p) => typeof p !== 'string' && sameType(p, first))) return first;
      return parts.find((p) => typeof p === 'string') ?? 'other';
    }
    if (f & ts.TypeFlags.Object) {
      const sym = type.getSymbol();
      const name = sym?.getName();
      const decl = sym?.declarations?.[0];
      if (name && decl && this.isGuestStdDecl(decl)) {
        const elem = ELEM_BY_NAME.get(name);
        if (elem) return { kind: 'array', elem };
        if (name === 'Array' || name === 'ReadonlyArray') return 'array';
      }
      if (name && OTHER_TYPED_ARRAYS.has(name)) return 'typedarray';
      if (this.checker.isArrayType(type) || this.checker.isTupleType(type)) return 'array';
      if (type.getCallSignatures().length > 0) return 'function';
      return 'object';
    }
    return 'other';
  }

  /** Value type of an expression or declaration name, reporting if outside the subset. */
  typeOf(node: ts.Node, what = 'expression'): ValueType | undefined {
    return this.classify(this.checker.getTypeAtLocation(node), node, what, true);
  }

  // -------------------------------------------------------------------------------------------
  // Constants

  /**
   * The value of `e` if it is a compile-time constant (32-bit arithmetic, as the machine does
   * it), else undefined. Reports only a constant division by zero.
   */
  constValue(e: ts.Expression, scope?: LocalScope): ConstValue | undefined {
    e = skipOuter(e);
    switch (e.kind) {
      case ts.SyntaxKind.NumericLiteral: {
        const v = numericLiteralValue(e as ts.NumericLiteral);
        if (v === undefined) return undefined;
        return v < 0 ? { kind: 'num', value: v, type: INT, unsigned: true } : { kind: 'num', value: v, type: INT };
      }
      case ts.SyntaxKind.TrueKeyword:
        return { kind: 'num', value: 1, type: BOOL };
      case ts.SyntaxKind.FalseKeyword:
        return { kind: 'num', value: 0, type: BOOL };
      case ts.SyntaxKind.StringLiteral:
      case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
        return { kind: 'str', text: (e as ts.StringLiteral).text };
      case ts.SyntaxKind.Identifier:
      case ts.SyntaxKind.PropertyAccessExpression:
      case ts.SyntaxKind.ElementAccessExpression:
        return this.constName(e as ts.Identifier | ts.PropertyAccessExpression | ts.ElementAccessExpression, scope);
      case ts.SyntaxKind.PrefixUnaryExpression: {
        const u = e as ts.PrefixUnaryExpression;
        const v = this.constValue(u.operand, scope);
        if (!v || v.kind !== 'num') return undefined;
        switch (u.operator) {
          case ts.SyntaxKind.MinusToken:
            return { kind: 'num', value: -jsValue(v) | 0, type: INT };
          case ts.SyntaxKind.PlusToken:
            return v;
          case ts.SyntaxKind.TildeToken:
            return { kind: 'num', value: ~v.value, type: INT };
          case ts.SyntaxKind.ExclamationToken:
            return { kind: 'num', value: v.value === 0 ? 1 : 0, type: BOOL };
          default:
            return undefined;
        }
      }
      case ts.SyntaxKind.BinaryExpression:
        return this.constBinary(e as ts.BinaryExpression, scope);
      case ts.SyntaxKind.ConditionalExpression: {
        const c = e as ts.ConditionalExpression;
        const cond = this.constValue(c.condition, scope);
        if (!cond || cond.kind !== 'num') return undefined;
        return this.constValue(cond.value !== 0 ? c.whenTrue : c.whenFalse, scope);
      }
      case ts.SyntaxKind.CallExpression:
        return foldMathCall(this, e as ts.CallExpression, scope); // Math.max(A, B) and friends
      default:
        return undefined;
    }
  }

  private constName(e: ts.Identifier | ts.PropertyAccessExpression | ts.ElementAccessExpression, scope?: LocalScope): ConstValue | undefined {
    if (!ts.isIdentifier(e)) {
      const enumValue = this.enumValue(e);
      if (enumValue !== undefined) return { kind: 'num', value: enumValue, type: INT };
      if (ts.isElementAccessExpression(e)) return undefined;
      if (e.name.text === 'length' && ts.isIdentifier(e.expression)) {
        const base = this.resolve(e.expression, scope);
        if (base?.kind === 'array') return { kind: 'num', value: base.a.length, type: INT };
        if (base?.kind === 'static' && base.s.kind !== 'record') return { kind: 'num', value: base.s.length, type: INT };
        if (base?.kind === 'string') return { kind: 'num', value: new TextEncoder().encode(base.text).length, type: INT };
        const local = !base || base.kind === 'local' ? localArrayLength(this, e.expression, scope) : undefined;
        return local === undefined ? undefined : { kind: 'num', value: local, type: INT };
      }
      const decl = this.declarationOf(e.name);
      if (!decl || !this.isModuleMember(e)) return undefined;
    }
    const ent = this.resolve(e as ts.Identifier | ts.PropertyAccessExpression, scope);
    if (!ent) return undefined;
    if (ent.kind === 'const') return { kind: 'num', value: ent.value, type: ent.type, ...(ent.unsigned ? { unsigned: true } : {}) };
    if (ent.kind === 'string') return { kind: 'str', text: ent.text };
    if (ent.kind === 'intrinsic') {
      const flag = targetFlag(ent.name, this.target);
      if (flag !== undefined) return { kind: 'num', value: flag, type: BOOL };
    }
    return undefined;
  }

  /** `ns.name` where `ns` is a namespace import. */
  isModuleMember(e: ts.PropertyAccessExpression): boolean {
    if (!ts.isIdentifier(e.expression)) return false;
    const sym = this.checker.getSymbolAtLocation(e.expression);
    const decl = sym?.declarations?.[0];
    return decl !== undefined && ts.isNamespaceImport(decl);
  }

  /**
   * A left-deep chain (`a + b + c ...`) is folded with a loop, innermost operator first, not by
   * recursion: its length is not nesting (limits.ts), and must not overflow the stack.
   */
  private constBinary(outer: ts.BinaryExpression, scope?: LocalScope): ConstValue | undefined {
    const chain = [outer];
    for (let e = outer.left; ts.isBinaryExpression(e); e = e.left) chain.push(e);
    let value = this.constValue(chain[chain.length - 1]!.left, scope);
    for (let k = chain.length - 1; k >= 0; k--) value = this.constOperator(chain[k]!, value, scope);
    return value;
  }

  /** `b` folded, given its left operand's value `l` (undefined: not a constant). */
  private constOperator(b: ts.BinaryExpression, l: ConstValue | undefined, scope?: LocalScope): ConstValue | undefined {
    const op = b.operatorToken.kind;
    if (op === ts.SyntaxKind.AmpersandAmpersandToken || op === ts.SyntaxKind.BarBarToken) {
      if (!l || l.kind !== 'num') return undefined;
      const takeLeft = op === ts.SyntaxKind.AmpersandAmpersandToken ? l.value === 0 : l.value !== 0;
      return takeLeft ? l : this.constValue(b.right, scope);
    }
    if (op === ts.SyntaxKind.CommaToken) return undefined;
    const r = this.constValue(b.right, scope);
    if (!l || !r) return undefined;
    if (l.kind === 'str' || r.kind === 'str') {
      if (l.kind === 'str' && r.kind === 'str') {
        if (op === ts.SyntaxKind.EqualsEqualsEqualsToken || op === ts.SyntaxKind.EqualsEqualsToken) return { kind: 'num', value: l.text === r.text ? 1 : 0, type: BOOL };
        if (op === ts.SyntaxKind.ExclamationEqualsEqualsToken || op === ts.SyntaxKind.ExclamationEqualsToken) return { kind: 'num', value: l.text !== r.text ? 1 : 0, type: BOOL };
      }
      return undefined;
    }
    const v = foldJs(op, jsValue(l), jsValue(r));
    if (v === 'divzero') {
      this.bag.at(b, Code.constDivZero, 'division by zero in a constant expression');
      return undefined;
    }
    if (op === ts.SyntaxKind.SlashToken && jsValue(l) % jsValue(r) !== 0 && !truncatedByParent(b)) {
      // JavaScript's quotient has a fraction the machine's cannot hold: `i < 100 / 3` would
      // run one iteration fewer than in Node. A bitwise operator around it truncates in both.
      const exact = jsValue(l) / jsValue(r);
      this.bag.at(
        b,
        Code.inexactDivision,
        `inexact division ${b.getText()} = ${exact.toFixed(3)}...: a number holds integers only; write (${b.getText()}) | 0 for the integer part`,
      );
    }
    if (v === undefined) return undefined;
    const type = isComparison(op) ? BOOL : INT;
    if (op === ts.SyntaxKind.PlusToken || op === ts.SyntaxKind.MinusToken || op === ts.SyntaxKind.AsteriskToken) {
      // JavaScript's exact result: above 0x7fffffff it is an unsigned constant (like such a
      // literal); outside -2^31..2^32-1 an error unless the program wraps it (checks.ts).
      const x = jsValue(l);
      const y = jsValue(r);
      const exact = op === ts.SyntaxKind.PlusToken ? x + y : op === ts.SyntaxKind.MinusToken ? x - y : x * y;
      if (exact > 0x7fffffff && exact <= 0xffffffff) return { kind: 'num', value: exact | 0, type, unsigned: true };
      if ((exact < -0x80000000 || exact > 0xffffffff) && !constantWraps(this, scope, b)) {
        this.bag.at(b, Code.constOverflow, `integer overflow in a constant expression: ${b.getText()} is ${exact}, outside the 32-bit range; write (${b.getText()}) | 0 if it should wrap`);
      }
      return { kind: 'num', value: v | 0, type };
    }
    return v > 0x7fffffff ? { kind: 'num', value: v | 0, type, unsigned: true } : { kind: 'num', value: v, type };
  }
}

/** Why a `let` (local or module variable) may not hold a value above 0x7fffffff. */
export function unsignedLetMessage(name: string): string {
  return `'${name}' would hold an unsigned value above 2147483647, but a let variable holds a signed 32-bit number, so comparing, dividing or printing it would differ from JavaScript: declare it const, or write (value) | 0 for its signed bits`;
}

/**
 * Where a program's static data must fit, [base, base + bytes): the native machine's memory, the
 * pv image area, or the user image area the kernel loads (syscall-abi.ts USER_IMAGE_MAX).
 */
export function targetMemory(target: Target): { base: number; bytes: number; what: string } {
  if (target === 'pv') return { base: 0, bytes: PV_STACK_TOP - PV_STACK_PAGES * PAGE_SIZE - PAGE_SIZE, what: "the pv target's image area" };
  if (target === 'user') return { base: USER_BASE, bytes: USER_IMAGE_MAX, what: "the user target's image area" };
  return { base: 0, bytes: DEFAULT_MEMORY_BYTES, what: "the native target's memory" };
}

const TRUNCATING_BINARY = new Set([
  ts.SyntaxKind.BarToken,
  ts.SyntaxKind.AmpersandToken,
  ts.SyntaxKind.CaretToken,
  ts.SyntaxKind.LessThanLessThanToken,
  ts.SyntaxKind.GreaterThanGreaterThanToken,
  ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken,
  ts.SyntaxKind.BarEqualsToken,
  ts.SyntaxKind.AmpersandEqualsToken,
  ts.SyntaxKind.CaretEqualsToken,
  ts.SyntaxKind.LessThanLessThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken,
]);

/**
 * Whether JavaScript truncates the value of `e` to an integer before anything else sees it: it
 * is an operand of a bitwise or shift operator (`(a / b) | 0`, `x >>>= a / b`) or of `~`.
 */
function truncatedByParent(e: ts.Expression): boolean {
  let n: ts.Node = e;
  while (n.parent && (ts.isParenthesizedExpression(n.parent) || ts.isAsExpression(n.parent) || ts.isNonNullExpression(n.parent) || ts.isTypeAssertionExpression(n.parent) || ts.isSatisfiesExpression(n.parent))) n = n.parent;
  const p = n.parent;
  if (!p) return false;
  if (ts.isBinaryExpression(p)) return TRUNCATING_BINARY.has(p.operatorToken.kind) && (p.right === n || p.operatorToken.kind < ts.SyntaxKind.FirstAssignment || p.operatorToken.kind > ts.SyntaxKind.LastAssignment);
  return ts.isPrefixUnaryExpression(p) && p.operator === ts.SyntaxKind.TildeToken;
}

function sameType(a: ValueType, b: ValueType): boolean {
  if ((a.kind === 'record' || a.kind === 'records') && (b.kind === 'record' || b.kind === 'records')) return a.kind === b.kind && a.name === b.name;
  return a.kind === b.kind && (a.kind !== 'array' || (b.kind === 'array' && a.elem === b.elem));
}

/** Parentheses, `as`, `!`, `<T>x` and `satisfies` change nothing at run time. */
export function skipOuter(e: ts.Expression): ts.Expression {
  for (;;) {
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e) || ts.isTypeAssertionExpression(e) || ts.isSatisfiesExpression(e)) {
      e = e.expression;
    } else {
      return e;
    }
  }
}

/**
 * The 32-bit value of an integer literal (0xffffffff is -1, as `| 0` would make it), or undefined
 * for a fraction or a value outside 0..2^32-1 (the subset check reports those).
 */
export function numericLiteralValue(lit: ts.NumericLiteral): number | undefined {
  const v = Number(lit.text.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return undefined;
  return v | 0;
}

export function isComparison(op: ts.SyntaxKind): boolean {
  switch (op) {
    case ts.SyntaxKind.LessThanToken:
    case ts.SyntaxKind.LessThanEqualsToken:
    case ts.SyntaxKind.GreaterThanToken:
    case ts.SyntaxKind.GreaterThanEqualsToken:
    case ts.SyntaxKind.EqualsEqualsToken:
    case ts.SyntaxKind.EqualsEqualsEqualsToken:
    case ts.SyntaxKind.ExclamationEqualsToken:
    case ts.SyntaxKind.ExclamationEqualsEqualsToken:
      return true;
    default:
      return false;
  }
}

/** A binary operator on two int32 values, as the machine computes it. */
export function foldBinary(op: ts.SyntaxKind, a: number, b: number): number | 'divzero' | undefined {
  switch (op) {
    case ts.SyntaxKind.PlusToken:
      return (a + b) | 0;
    case ts.SyntaxKind.MinusToken:
      return (a - b) | 0;
    case ts.SyntaxKind.AsteriskToken:
      return Math.imul(a, b);
    case ts.SyntaxKind.SlashToken:
      if (b === 0) return 'divzero';
      return a === -0x80000000 && b === -1 ? a : (a / b) | 0;
    case ts.SyntaxKind.PercentToken:
      if (b === 0) return 'divzero';
      return b === -1 ? 0 : (a % b) | 0;
    case ts.SyntaxKind.LessThanLessThanToken:
      return a << b;
    case ts.SyntaxKind.GreaterThanGreaterThanToken:
      return a >> b;
    case ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken:
      return (a >>> b) | 0;
    case ts.SyntaxKind.AmpersandToken:
      return a & b;
    case ts.SyntaxKind.BarToken:
      return a | b;
    case ts.SyntaxKind.CaretToken:
      return a ^ b;
    case ts.SyntaxKind.LessThanToken:
      return a < b ? 1 : 0;
    case ts.SyntaxKind.LessThanEqualsToken:
      return a <= b ? 1 : 0;
    case ts.SyntaxKind.GreaterThanToken:
      return a > b ? 1 : 0;
    case ts.SyntaxKind.GreaterThanEqualsToken:
      return a >= b ? 1 : 0;
    case ts.SyntaxKind.EqualsEqualsToken:
    case ts.SyntaxKind.EqualsEqualsEqualsToken:
      return a === b ? 1 : 0;
    case ts.SyntaxKind.ExclamationEqualsToken:
    case ts.SyntaxKind.ExclamationEqualsEqualsToken:
      return a !== b ? 1 : 0;
    default:
      return undefined;
  }
}

/** The number JavaScript sees for a compile-time int. */
export function jsValue(c: { value: number; unsigned?: boolean }): number {
  return c.unsigned ? c.value >>> 0 : c.value;
}

/**
 * A binary operator on the JavaScript values of two constants (each in -2^31..2^32-1), giving
 * the JavaScript result where it is exact and representable (comparisons, division truncated,
 * remainder, bitwise and shifts), and the machine's wrapped result for + - * (which JavaScript
 * would not wrap; guest code that wants both to agree writes `| 0`). The result is in
 * -2^31..2^32-1; callers keep its bits and note whether it is above 0x7fffffff.
 */
export function foldJs(op: ts.SyntaxKind, a: number, b: number): number | 'divzero' | undefined {
  switch (op) {
    case ts.SyntaxKind.PlusToken:
      return (a + b) | 0;
    case ts.SyntaxKind.MinusToken:
      return (a - b) | 0;
    case ts.SyntaxKind.AsteriskToken:
      return Math.imul(a, b);
    case ts.SyntaxKind.SlashToken: {
      if (b === 0) return 'divzero';
      const q = Math.trunc(a / b);
      return q > 0xffffffff || q < -0x80000000 ? q | 0 : q;
    }
    case ts.SyntaxKind.PercentToken:
      if (b === 0) return 'divzero';
      return a % b === 0 ? 0 : a % b;
    case ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken:
      return a >>> b;
    default: {
      if (isComparison(op)) return compareJs(op, a, b) ? 1 : 0;
      return foldBinary(op, a | 0, b | 0);
    }
  }
}

function compareJs(op: ts.SyntaxKind, a: number, b: number): boolean {
  switch (op) {
    case ts.SyntaxKind.LessThanToken:
      return a < b;
    case ts.SyntaxKind.LessThanEqualsToken:
      return a <= b;
    case ts.SyntaxKind.GreaterThanToken:
      return a > b;
    case ts.SyntaxKind.GreaterThanEqualsToken:
      return a >= b;
    case ts.SyntaxKind.EqualsEqualsToken:
    case ts.SyntaxKind.EqualsEqualsEqualsToken:
      return a === b;
    default:
      return a !== b;
  }
}

/** What storing `v` into an element of kind `elem` and reading it back gives. */
export function wrapElement(v: number, elem: ElemKind): number {
  switch (elem) {
    case 'i8':
      return (v << 24) >> 24;
    case 'u8':
      return v & 0xff;
    case 'i16':
      return (v << 16) >> 16;
    case 'u16':
      return v & 0xffff;
    case 'i32':
    case 'u32': // the same bits; a load reads them back unsigned
      return v | 0;
  }
}
