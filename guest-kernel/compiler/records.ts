/**
 * Records: classes whose instances have one layout, fixed at compile time, and live in static
 * storage (there is no heap and no garbage collector). This file is the model: which classes are
 * records, their layouts and initial images, the static instances and arrays of them, function
 * tables, and the module variables that point at them. Lowering is in records-lower.ts, the
 * subset's rules in records-check.ts; guest-kernel/README.md ("Records and function values")
 * states the rules for guest authors.
 *
 * Layout. A record value is the address of its first byte. Fields are laid out in declaration
 * order, each on a 4-byte boundary:
 * - number and boolean: one word (`t.pid` is one `ldw`/`stw` at a constant offset);
 * - `readonly name = new Uint8Array(16)`: a length word, then the elements (padded to a word);
 *   the field's value is the address of element 0, exactly like a static typed array's, so it can
 *   be passed to any function taking a Uint8Array;
 * - `readonly ctx = new Context()`: the Context record embedded (its value is its address);
 * - `readonly fds = recordArray(File, 16)`: a length word, then 16 File records embedded.
 * An array of records is a length word and then the records, `stride` bytes apart: the record's
 * size, rounded up to a power of two when that adds at most a quarter, so that most element
 * addresses are `base + (i << k)` and the rest `base + i * stride`.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { MAX_PARAMS, skipOuter as skip, targetMemory, wrapElement as wrap, type Entity, type FunctionInfo, type GuestContext, type ParamInfo } from './context.ts';
import { BOOL, ELEM_BYTES, ELEM_TYPE_NAMES, INT, VOID, type ElemKind, type ValueType } from './types.ts';

/** A field; `offset` is where its value is: a scalar's word, element 0 of an array (length word at offset - 4). */
export type Field =
  | { kind: 'scalar'; name: string; offset: number; type: ValueType; init: number }
  | { kind: 'array'; name: string; offset: number; elem: ElemKind; length: number; init: number[] | null }
  | { kind: 'record'; name: string; offset: number; layout: RecordLayout }
  | { kind: 'records'; name: string; offset: number; layout: RecordLayout; length: number };

export interface RecordLayout {
  decl: ts.ClassDeclaration;
  /** The class name, as guest code spells it. */
  name: string;
  /** A unique label: the record's identity in ValueType, and the prefix of its methods' labels. */
  label: string;
  type: Extract<ValueType, { kind: 'record' }>;
  /** Bytes of one instance (a multiple of 4). */
  size: number;
  /** Bytes from one element of a record array to the next. */
  stride: number;
  fields: Map<string, Field>;
  methods: Map<string, ts.MethodDeclaration>;
  /** The bytes of a new instance (field initialisers, length words of embedded arrays). */
  image: Uint8Array;
}

/** A static object of a module-level const: a record, an array of records, or a function table. */
export interface StaticObject {
  kind: 'record' | 'records' | 'funcs';
  label: string;
  decl: ts.VariableDeclaration;
  /** The records' layout (record, records). */
  layout?: RecordLayout;
  /** Elements (records, funcs); 1 for a record. */
  length: number;
  /** Labels of the functions in a table (funcs). */
  entries?: string[];
}

/** Maximum elements of a record array (as for typed arrays). */
const MAX_LENGTH = 1 << 24;
/** Maximum bytes of one record: the native machine's memory (its image is built on the host). */
const MAX_RECORD_BYTES = 1 << 24;

export class RecordModel {
  private readonly layouts = new Map<ts.ClassDeclaration, RecordLayout | null>();
  private readonly byLabel = new Map<string, RecordLayout>();
  private readonly computing = new Set<ts.ClassDeclaration>();
  private readonly methodInfos = new Map<ts.MethodDeclaration, FunctionInfo>();
  private readonly placed = new Set<StaticObject>();
  /** Function types being classified: `type F = (f: F) => number` refers to itself. */
  private readonly checkingFunctions = new Set<ts.Type>();

  constructor(private readonly ctx: GuestContext) {}

  // -------------------------------------------------------------------------------------------
  // Types

  /**
   * The value type of a TypeScript type this module knows: a record class's instance type (or
   * `this` in its methods), RecordArray<C>, a function type, an array of functions. 'error': the
   * class is not a valid record (reported at its declaration); 'function': a function type
   * outside the subset; undefined: not ours.
   */
  classify(type: ts.Type): ValueType | 'error' | 'function' | undefined {
    if (type.flags & ts.TypeFlags.TypeParameter) {
      if (!(type as { isThisType?: boolean }).isThisType) return undefined;
      const c = this.ctx.checker.getBaseConstraintOfType(type);
      return c ? this.classify(c) : undefined;
    }
    if (!(type.flags & ts.TypeFlags.Object)) return undefined;
    const cls = this.classOfType(type);
    if (cls) return this.layoutOf(cls)?.type ?? 'error';
    const sym = type.getSymbol();
    const decl = sym?.declarations?.[0];
    if (sym && decl && this.ctx.isGuestStdDecl(decl)) {
      if (sym.getName() === 'RecordArray') {
        const arg = this.ctx.checker.getTypeArguments(type as ts.TypeReference)[0];
        const el = arg ? this.classify(arg) : undefined;
        if (el === 'error') return 'error';
        return el && typeof el !== 'string' && el.kind === 'record' ? { kind: 'records', name: el.name } : undefined;
      }
    }
    if (this.ctx.checker.isArrayType(type) || this.ctx.checker.isTupleType(type)) {
      const args = this.ctx.checker.getTypeArguments(type as ts.TypeReference);
      if (args.length > 0 && args.every((a) => a.getCallSignatures().length > 0)) {
        return args.every((a) => this.functionType(a)) ? { kind: 'funcs' } : 'function';
      }
      return undefined;
    }
    if (type.getCallSignatures().length > 0) return this.functionType(type) ? { kind: 'func' } : 'function';
    return undefined;
  }

  /**
   * Whether values of function type `type` can be called through `callr`: one signature, no type
   * parameters, at most 6 parameters (r0..r5), none optional or rest, each a subset value.
   */
  functionType(type: ts.Type): boolean {
    if (this.checkingFunctions.has(type)) return true;
    this.checkingFunctions.add(type);
    try {
      return this.acceptableSignature(type);
    } finally {
      this.checkingFunctions.delete(type);
    }
  }

  private acceptableSignature(type: ts.Type): boolean {
    const sigs = type.getCallSignatures();
    if (sigs.length !== 1 || type.getConstructSignatures().length > 0) return false;
    const sig = sigs[0]!;
    if (sig.getTypeParameters()?.length) return false;
    const params = sig.getParameters();
    if (params.length > 6) return false;
    for (const p of params) {
      const d = p.valueDeclaration;
      if (!d || !ts.isParameter(d) || d.questionToken || d.initializer || d.dotDotDotToken) return false;
      const t = this.ctx.classifyQuiet(this.ctx.checker.getTypeOfSymbol(p));
      if (typeof t === 'string' || t.kind === 'void') return false;
    }
    return typeof this.ctx.classifyQuiet(sig.getReturnType(), true) !== 'string';
  }

  /** The record class of an instance type, if it is a class declared in guest code. */
  classOfType(type: ts.Type): ts.ClassDeclaration | undefined {
    if (!(type.flags & ts.TypeFlags.Object) || !type.isClass()) return undefined;
    const decl = type.getSymbol()?.declarations?.find(ts.isClassDeclaration);
    return decl && !decl.getSourceFile().isDeclarationFile ? decl : undefined;
  }

  /** The record class a class name (in `new C()`, `recordArray(C, n)`) refers to. */
  classOfName(e: ts.Expression): ts.ClassDeclaration | undefined {
    const decl = this.ctx.declarationOf(e);
    return decl && ts.isClassDeclaration(decl) && !decl.getSourceFile().isDeclarationFile ? decl : undefined;
  }

  layoutByName(label: string): RecordLayout | undefined {
    return this.byLabel.get(label);
  }

  /** The layout of a value type (record, records), if any. */
  layoutOfType(t: ValueType): RecordLayout | undefined {
    return t.kind === 'record' || t.kind === 'records' ? this.byLabel.get(t.name) : undefined;
  }

  /** Whether `e` is a call of the guest library's recordArray. */
  isRecordArrayCall(e: ts.Expression): e is ts.CallExpression {
    if (!ts.isCallExpression(e) || !ts.isIdentifier(e.expression) || e.expression.text !== 'recordArray') return false;
    const decl = this.ctx.declarationOf(e.expression);
    return decl !== undefined && this.ctx.isGuestStdDecl(decl);
  }

  // -------------------------------------------------------------------------------------------
  // Layouts

  /** The layout of record class `decl`, or undefined after reporting why it is not a record. */
  layoutOf(decl: ts.ClassDeclaration): RecordLayout | undefined {
    const known = this.layouts.get(decl);
    if (known !== undefined) return known ?? undefined;
    if (this.computing.has(decl)) return undefined; // reported by the field that closes the cycle
    this.computing.add(decl);
    const layout = this.computeLayout(decl);
    this.computing.delete(decl);
    this.layouts.set(decl, layout ?? null);
    if (layout) this.byLabel.set(layout.label, layout);
    return layout;
  }

  private computeLayout(decl: ts.ClassDeclaration): RecordLayout | undefined {
    const bag = this.ctx.bag;
    const at = decl.name ?? decl;
    let ok = true;
    const refuse = (node: ts.Node, code: string, message: string): void => {
      bag.at(node, code, message);
      ok = false;
    };
    if (!decl.name) refuse(decl, Code.recordForm, 'a record class needs a name');
    for (const h of decl.heritageClauses ?? []) {
      if (h.token === ts.SyntaxKind.ExtendsKeyword) {
        refuse(h, Code.recordForm, "inheritance ('extends') is not supported: a record has one fixed layout; embed the other record as a field (readonly base = new Base())");
      }
    }
    if (decl.typeParameters?.length) refuse(decl.typeParameters[0]!, Code.recordForm, 'generic classes are not supported: a record has one fixed layout');
    for (const m of ts.getModifiers(decl) ?? []) {
      if (m.kind === ts.SyntaxKind.AbstractKeyword || m.kind === ts.SyntaxKind.DeclareKeyword || m.kind === ts.SyntaxKind.DefaultKeyword) {
        refuse(m, Code.recordForm, `'${m.getText()}' classes are not supported`);
      }
    }
    if (ts.getDecorators(decl)?.length) refuse(ts.getDecorators(decl)![0]!, Code.recordForm, 'decorators are not supported');

    const fields = new Map<string, Field>();
    const methods = new Map<string, ts.MethodDeclaration>();
    const parts: { field: Field; image: Uint8Array | null; lengthWord?: number; copies?: number; stride?: number }[] = [];
    let offset = 0;
    for (const m of decl.members) {
      if (ts.isPropertyDeclaration(m)) {
        const f = this.fieldOf(m, offset, refuse);
        if (!f) {
          ok = false; // reported here, or at the declaration of an embedded record
          continue;
        }
        fields.set(f.field.name, f.field);
        parts.push(f);
        offset = f.end;
        if (offset > MAX_RECORD_BYTES) {
          refuse(m, Code.arrayTooLarge, `record '${decl.name?.text}' would need more than ${MAX_RECORD_BYTES} bytes with field '${f.field.name}' (the native target's memory)`);
          break;
        }
      } else if (ts.isMethodDeclaration(m)) {
        const problem = methodProblem(m);
        if (problem) refuse(problem.at, Code.recordForm, problem.message);
        else if (m.body && ts.isIdentifier(m.name)) methods.set(m.name.text, m);
      } else if (ts.isConstructorDeclaration(m)) {
        refuse(m, Code.recordForm, 'constructors are not supported: a record is built at compile time from its constant field initialisers; give the fields initial values and set them in a method (init)');
      } else if (ts.isGetAccessor(m) || ts.isSetAccessor(m)) {
        refuse(m.name, Code.recordForm, 'getters and setters are not supported; use a method');
      } else if (ts.isIndexSignatureDeclaration(m)) {
        refuse(m, Code.recordForm, 'index signatures are not supported in a record');
      } else if (ts.isClassStaticBlockDeclaration(m)) {
        refuse(m, Code.recordForm, 'static blocks are not supported: module code does not run at start-up');
      } else if (!ts.isSemicolonClassElement(m)) {
        refuse(m, Code.recordForm, 'this class member is not supported in a record');
      }
    }
    if (ok && fields.size === 0) {
      refuse(at, Code.recordForm, `record class '${decl.name?.text}' has no fields: a record needs at least one (TypeScript would let any other record stand for an empty one); use module-level functions instead`);
    }
    if (!ok) return undefined;
    const size = offset;
    const image = new Uint8Array(size);
    const view = new DataView(image.buffer);
    for (const p of parts) writePart(view, image, p);
    const name = decl.name!.text;
    const label = this.ctx.labels.unique(name);
    return { decl, name, label, type: { kind: 'record', name: label }, size, stride: strideOf(size), fields, methods, image };
  }

  /** One field: its layout and image, or undefined after reporting. `end`: the offset after it. */
  private fieldOf(
    m: ts.PropertyDeclaration,
    offset: number,
    refuse: (node: ts.Node, code: string, message: string) => void,
  ): { field: Field; end: number; image: Uint8Array | null; lengthWord?: number; copies?: number; stride?: number } | undefined {
    const mods = ts.getModifiers(m) ?? [];
    const has = (k: ts.SyntaxKind): boolean => mods.some((x) => x.kind === k);
    if (has(ts.SyntaxKind.StaticKeyword)) return void refuse(m, Code.recordForm, 'static members are not supported: declare a module-level variable or constant');
    if (has(ts.SyntaxKind.DeclareKeyword) || has(ts.SyntaxKind.AbstractKeyword) || has(ts.SyntaxKind.AccessorKeyword)) {
      return void refuse(m, Code.recordForm, `'${mods.find((x) => x.kind !== ts.SyntaxKind.ReadonlyKeyword && x.kind !== ts.SyntaxKind.PrivateKeyword && x.kind !== ts.SyntaxKind.ProtectedKeyword && x.kind !== ts.SyntaxKind.PublicKeyword)?.getText()}' fields are not supported`);
    }
    if (ts.isPrivateIdentifier(m.name)) return void refuse(m.name, Code.recordForm, "private names ('#x') are not supported; use the private keyword");
    if (!ts.isIdentifier(m.name)) return void refuse(m.name, Code.recordForm, 'record field names must be identifiers');
    const name = m.name.text;
    if (m.questionToken) return void refuse(m, Code.recordField, `optional field '${name}' is not supported: null and undefined are outside the subset`);
    if (!m.initializer) {
      return void refuse(m, Code.recordField, `record field '${name}' needs a constant initialiser: there is no constructor, every instance is built at compile time`);
    }
    const init = skip(m.initializer);
    const readonly = has(ts.SyntaxKind.ReadonlyKeyword);
    const needReadonly = (what: string): undefined => void refuse(m, Code.recordField, `field '${name}' holds ${what}, which is part of the record: declare it readonly (assigning another would share it in JavaScript)`);
    if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) {
      return void refuse(init, Code.closure, `closures are not supported (a function-valued field '${name}'); use a method, or a module-level function table`);
    }
    if (ts.isNewExpression(init)) {
      const cls = this.classOfName(init.expression);
      if (cls) {
        if (init.arguments?.length) return void refuse(init, Code.recordAllocation, `'new ${cls.name?.text}(...)' takes no arguments: records have no constructor`);
        if (!readonly) return needReadonly('an embedded record');
        const inner = this.embedded(cls, m, refuse);
        if (!inner) return undefined;
        return { field: { kind: 'record', name, offset, layout: inner }, end: offset + inner.size, image: inner.image };
      }
      const arr = this.typedArrayInit(init, m, refuse);
      if (!arr) return undefined;
      if (!readonly) return needReadonly('a typed array');
      const bytes = align4(arr.length * ELEM_BYTES[arr.elem]);
      return { field: { kind: 'array', name, offset: offset + 4, ...arr }, end: offset + 4 + bytes, image: null, lengthWord: arr.length };
    }
    if (this.isRecordArrayCall(init)) {
      const r = this.recordArrayArgs(init, refuse);
      if (!r) return undefined;
      if (!readonly) return needReadonly('an array of records');
      return {
        field: { kind: 'records', name, offset: offset + 4, layout: r.layout, length: r.length },
        end: offset + 4 + r.length * r.layout.stride,
        image: r.layout.image,
        lengthWord: r.length,
        copies: r.length,
        stride: r.layout.stride,
      };
    }
    const t = this.ctx.classifyQuiet(this.ctx.checker.getTypeAtLocation(m.name));
    if (typeof t === 'string' || (t.kind !== 'int' && t.kind !== 'bool')) {
      const shown = this.ctx.checker.typeToString(this.ctx.checker.getTypeAtLocation(m.name));
      const why =
        typeof t !== 'string' && t.kind === 'record'
          ? 'a field cannot refer to another record (records have no null, and static records are built before any code runs): embed it (readonly x = new C()), or keep an index into a record array'
          : typeof t !== 'string' && t.kind === 'func'
            ? 'function-valued fields are not supported; use a module-level function table'
            : 'a record field is a number, a boolean, a typed array, a record or an array of records';
      return void refuse(m, Code.recordField, `field '${name}' of type '${shown}' is not supported: ${why}`);
    }
    const v = this.ctx.constValue(init);
    if (!v || v.kind !== 'num') return void refuse(init, Code.recordField, `the initialiser of field '${name}' must be a constant expression: every instance is built at compile time`);
    if (v.unsigned) {
      return void refuse(init, Code.recordField, `field '${name}' would start above 2147483647, but a field holds a signed 32-bit number: write (value) | 0 for its signed bits`);
    }
    return { field: { kind: 'scalar', name, offset, type: t.kind === 'bool' ? BOOL : INT, init: v.value }, end: offset + 4, image: null };
  }

  private embedded(cls: ts.ClassDeclaration, at: ts.Node, refuse: (node: ts.Node, code: string, message: string) => void): RecordLayout | undefined {
    if (this.computing.has(cls)) return void refuse(at, Code.recordField, `record '${cls.name?.text}' would contain itself`);
    return this.layoutOf(cls); // an invalid class was reported at its declaration
  }

  /** `new Uint8Array(16)` or `new Int32Array([1, 2])`: element kind, length and elements. */
  private typedArrayInit(
    init: ts.NewExpression,
    at: ts.Node,
    refuse: (node: ts.Node, code: string, message: string) => void,
  ): { elem: ElemKind; length: number; init: number[] | null } | undefined {
    const ctorName = init.expression.getText();
    const elem = (Object.keys(ELEM_TYPE_NAMES) as ElemKind[]).find((k) => ELEM_TYPE_NAMES[k] === ctorName);
    const ctorDecl = this.ctx.declarationOf(init.expression);
    if (!elem || !ctorDecl || !this.ctx.isGuestStdDecl(ctorDecl)) {
      return void refuse(init, Code.recordField, `'new ${ctorName}' is not supported in a field: only typed arrays (${Object.values(ELEM_TYPE_NAMES).join(', ')}) and record classes`);
    }
    const arg = init.arguments?.length === 1 ? skip(init.arguments[0]!) : undefined;
    if (arg && ts.isArrayLiteralExpression(arg)) {
      const elements: number[] = [];
      for (const el of arg.elements) {
        const v = this.ctx.constValue(el);
        if (!v || v.kind !== 'num') return void refuse(el, Code.nonConstInit, 'typed array elements must be constant expressions');
        elements.push(wrap(v.value, elem));
      }
      if (elements.length === 0) return void refuse(arg, Code.arrayLength, 'a typed array field needs at least one element');
      return { elem, length: elements.length, init: elements.every((x) => x === 0) ? null : elements };
    }
    const v = arg ? this.ctx.constValue(arg) : undefined;
    if (!v || v.kind !== 'num' || v.value <= 0 || v.value > MAX_LENGTH) {
      return void refuse(arg ?? at, Code.arrayLength, `typed array length must be a constant between 1 and ${MAX_LENGTH} (or a list of constant elements)`);
    }
    return { elem, length: v.value, init: null };
  }

  /** `recordArray(C, n)`: the layout of C and n, or undefined after reporting. */
  recordArrayArgs(call: ts.CallExpression, refuse: (node: ts.Node, code: string, message: string) => void): { layout: RecordLayout; length: number } | undefined {
    const [clsArg, lenArg] = call.arguments;
    const cls = clsArg ? this.classOfName(skip(clsArg)) : undefined;
    if (!cls || call.arguments.length !== 2) return void refuse(call, Code.recordAllocation, 'recordArray takes a record class and a constant length: recordArray(Task, 64)');
    const layout = this.computing.has(cls) ? this.embedded(cls, call, refuse) : this.layoutOf(cls);
    if (!layout) return undefined;
    const v = this.ctx.constValue(lenArg!);
    if (!v || v.kind !== 'num' || v.value <= 0 || v.value > MAX_LENGTH) {
      return void refuse(lenArg!, Code.arrayLength, `the length of a record array must be a constant between 1 and ${MAX_LENGTH}`);
    }
    return { layout, length: v.value };
  }

  // -------------------------------------------------------------------------------------------
  // Methods

  /** The function a method compiles to: `this` arrives first (r0), then the parameters. */
  methodInfo(layout: RecordLayout, decl: ts.MethodDeclaration): FunctionInfo {
    const known = this.methodInfos.get(decl);
    if (known) return known;
    const name = (decl.name as ts.Identifier).text;
    const params: ParamInfo[] = decl.parameters.map((p) => ({
      name: p.name.getText(),
      type: this.ctx.classify(this.ctx.checker.getTypeAtLocation(p), p, 'parameter') ?? INT,
      decl: p,
    }));
    const sig = this.ctx.checker.getSignatureFromDeclaration(decl);
    const ret = sig ? this.ctx.classify(this.ctx.checker.getReturnTypeOfSignature(sig), decl.type ?? decl.name, 'return', true) : VOID;
    const info: FunctionInfo = { decl, name: `${layout.name}.${name}`, label: this.ctx.labels.unique(`${layout.label}.${name}`), params, ret: ret ?? INT, self: layout.type };
    this.methodInfos.set(decl, info);
    this.ctx.worklist.push(info);
    return info;
  }

  /** Queue every method of a valid record class (so that all are compiled and their errors reported). */
  compileMethods(decl: ts.ClassDeclaration): void {
    const layout = this.layoutOf(decl);
    if (layout) for (const m of layout.methods.values()) this.methodInfo(layout, m);
  }

  // -------------------------------------------------------------------------------------------
  // Module variables

  /**
   * The entity of a module-level variable whose initialiser this module understands, or
   * undefined (context.ts handles it). Reports and returns `error` for a form it refuses.
   */
  moduleVar(decl: ts.VariableDeclaration, init: ts.Expression, isConst: boolean): Entity | undefined {
    const name = decl.name.getText();
    const bag = this.ctx.bag;
    const refuse = (node: ts.Node, code: string, message: string): void => bag.at(node, code, message);
    if (ts.isNewExpression(init)) {
      const cls = this.classOfName(init.expression);
      if (!cls) return undefined;
      if (init.arguments?.length) {
        bag.at(init, Code.recordAllocation, `'new ${cls.name?.text}(...)' takes no arguments: records have no constructor`);
        return { kind: 'error' };
      }
      const layout = this.layoutOf(cls);
      if (!layout) return { kind: 'error' };
      const room = targetMemory(this.ctx.target);
      if (layout.size > room.bytes) {
        bag.at(decl, Code.arrayTooLarge, `static record '${name}' needs ${layout.size} bytes; ${room.what} is ${room.bytes} bytes`);
        return { kind: 'error' };
      }
      const s: StaticObject = { kind: 'record', label: this.ctx.labels.unique(name), decl, layout, length: 1 };
      if (isConst) return { kind: 'static', s };
      this.place(s);
      return { kind: 'global', g: { decl, label: this.ctx.labels.unique(`${name}.ptr`), type: layout.type, init: { label: s.label } } };
    }
    if (this.isRecordArrayCall(init)) {
      const r = this.recordArrayArgs(init, refuse);
      if (!r) return { kind: 'error' };
      if (!isConst) {
        bag.at(decl, Code.recordAllocation, `record array '${name}' must be declared const (its storage is static)`);
        return { kind: 'error' };
      }
      const bytes = 4 + r.length * r.layout.stride;
      const room = targetMemory(this.ctx.target);
      if (bytes > room.bytes) {
        bag.at(decl, Code.arrayTooLarge, `static array '${name}' needs ${bytes} bytes; ${room.what} is ${room.bytes} bytes`);
        return { kind: 'error' };
      }
      return { kind: 'static', s: { kind: 'records', label: this.ctx.labels.unique(name), decl, layout: r.layout, length: r.length } };
    }
    const type = this.ctx.classifyQuiet(this.ctx.checker.getTypeAtLocation(decl.name));
    if (typeof type === 'string' || !['record', 'records', 'func', 'funcs'].includes(type.kind)) return undefined;
    if (type.kind === 'funcs' && ts.isArrayLiteralExpression(init)) return this.functionTable(decl, init, isConst);
    // A name for a static object or a function, or (let) a pointer to one.
    const target = this.constTarget(init);
    if (!target) {
      const what = type.kind === 'func' ? 'a function declared at module level' : type.kind === 'record' ? 'a static record (a module-level const, new C(), or a constant element of a record array)' : `a static ${type.kind === 'records' ? 'record array' : 'function table'}`;
      bag.at(init, Code.nonConstInit, `module-level variable '${name}' must be initialised with ${what}: module code does not run at start-up`);
      return { kind: 'error' };
    }
    if (target.kind === 'error') return target;
    if (isConst && (target.kind === 'static' || target.kind === 'function')) return target;
    if (target.kind === 'static' && (target.s.kind !== 'record' || isConst)) {
      bag.at(decl, Code.recordAllocation, `'${name}' must be declared const: a ${target.s.kind === 'records' ? 'record array' : 'function table'} cannot be replaced`);
      return { kind: 'error' };
    }
    if (target.kind === 'function') {
      const g = { decl, label: this.ctx.labels.unique(name), type, init: { label: target.fn.label } };
      return { kind: 'global', g };
    }
    // `let cur = tasks[3]` / `let cur = idle`, or a const element `const first = tasks[0]`.
    const s = target.kind === 'static' ? target.s : target.element.s;
    this.place(s);
    const at = target.kind === 'static' ? s.label : `${s.label}+${target.element.index * s.layout!.stride}`;
    return { kind: 'global', g: { decl, label: this.ctx.labels.unique(name), type, init: { label: at } } };
  }

  /** What a constant initialiser names: a static object, a function, or element k of a static record array. */
  private constTarget(
    init: ts.Expression,
  ): Extract<Entity, { kind: 'static' | 'function' | 'error' }> | { kind: 'element'; element: { s: StaticObject; index: number } } | undefined {
    if (ts.isIdentifier(init) || ts.isPropertyAccessExpression(init)) {
      if (ts.isPropertyAccessExpression(init) && !this.ctx.isModuleMember(init)) return undefined;
      const ent = this.ctx.resolve(init);
      if (ent?.kind === 'static' || ent?.kind === 'function' || ent?.kind === 'error') return ent;
      return undefined;
    }
    if (ts.isElementAccessExpression(init) && ts.isIdentifier(skip(init.expression))) {
      const ent = this.ctx.resolve(skip(init.expression) as ts.Identifier);
      const k = this.ctx.constValue(init.argumentExpression);
      if (ent?.kind !== 'static' || ent.s.kind !== 'records' || !k || k.kind !== 'num') return undefined;
      if (k.value < 0 || k.value >= ent.s.length) {
        this.ctx.bag.at(init.argumentExpression, Code.recordAllocation, `index ${k.value} is outside record array '${ent.s.decl.name.getText()}' (length ${ent.s.length})`);
        return { kind: 'error' };
      }
      return { kind: 'element', element: { s: ent.s, index: k.value } };
    }
    return undefined;
  }

  /** `const syscalls = [sysExit, sysWrite]`: a read-only table of function addresses. */
  private functionTable(decl: ts.VariableDeclaration, init: ts.ArrayLiteralExpression, isConst: boolean): Entity {
    const bag = this.ctx.bag;
    const name = decl.name.getText();
    if (!isConst) {
      bag.at(decl, Code.functionTable, `function table '${name}' must be declared const (it is read-only data)`);
      return { kind: 'error' };
    }
    if (init.elements.length === 0) {
      bag.at(init, Code.functionTable, `function table '${name}' needs at least one function`);
      return { kind: 'error' };
    }
    const entries: string[] = [];
    for (const el of init.elements) {
      const e = skip(el);
      const ent = ts.isIdentifier(e) || (ts.isPropertyAccessExpression(e) && this.ctx.isModuleMember(e)) ? this.ctx.resolve(e) : undefined;
      if (ent?.kind !== 'function') {
        if (ent?.kind !== 'error') bag.at(el, Code.functionTable, 'a function table holds names of functions declared at module level');
        return { kind: 'error' };
      }
      entries.push(ent.fn.label);
    }
    return { kind: 'static', s: { kind: 'funcs', label: this.ctx.labels.unique(name), decl, length: entries.length, entries } };
  }

  // -------------------------------------------------------------------------------------------
  // Static data

  /** Place a static object's storage (once, on first use). */
  place(s: StaticObject): void {
    if (this.placed.has(s)) return;
    this.placed.add(s);
    const what = `const ${s.decl.name.getText()}`;
    if (s.kind === 'funcs') {
      this.ctx.data.tables.push({ label: s.label, entries: s.entries!, comment: `${what}: function table` });
      return;
    }
    const layout = s.layout!;
    const count = s.kind === 'records' ? s.length : 1;
    const stride = s.kind === 'records' ? layout.stride : layout.size;
    const zero = layout.image.every((b) => b === 0);
    let init: number[] | null = null;
    if (!zero) {
      const bytes = new Uint8Array(count * stride);
      for (let k = 0; k < count; k++) bytes.set(layout.image, k * stride);
      const view = new DataView(bytes.buffer);
      init = [];
      for (let k = 0; k < bytes.length; k += 4) init.push(view.getInt32(k, true));
    }
    this.ctx.data.arrays.push({
      kind: 'array',
      label: s.label,
      elem: 'i32',
      length: (count * stride) / 4,
      init,
      lengthWord: s.kind === 'records' ? s.length : null,
      comment: s.kind === 'records' ? `${what} = recordArray(${layout.name}, ${s.length})` : `${what} = new ${layout.name}()`,
    });
  }
}

/** Why a method cannot be compiled, or undefined. */
function methodProblem(m: ts.MethodDeclaration): { at: ts.Node; message: string } | undefined {
  const mods = ts.getModifiers(m) ?? [];
  if (mods.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) return { at: m.name, message: 'static methods are not supported: declare a module-level function' };
  if (mods.some((x) => x.kind === ts.SyntaxKind.AsyncKeyword)) return { at: m.name, message: 'async methods are not supported' };
  if (mods.some((x) => x.kind === ts.SyntaxKind.AbstractKeyword)) return { at: m.name, message: 'abstract methods are not supported' };
  if (ts.isPrivateIdentifier(m.name)) return { at: m.name, message: "private names ('#x') are not supported; use the private keyword" };
  if (!ts.isIdentifier(m.name)) return { at: m.name, message: 'method names must be identifiers' };
  if (m.asteriskToken) return { at: m.name, message: 'generator methods are not supported' };
  if (m.questionToken) return { at: m.name, message: 'optional methods are not supported' };
  if (m.typeParameters?.length) return { at: m.typeParameters[0]!, message: 'generic methods are not supported' };
  if (!m.body) return { at: m.name, message: 'method overloads are not supported' };
  if (m.parameters.length > MAX_PARAMS - 1) return { at: m.parameters[MAX_PARAMS - 1]!, message: `methods take at most ${MAX_PARAMS - 1} parameters ('this' is the first argument)` };
  return undefined;
}

function writePart(view: DataView, image: Uint8Array, p: { field: Field; image: Uint8Array | null; lengthWord?: number; copies?: number; stride?: number }): void {
  const f = p.field;
  if (p.lengthWord !== undefined) view.setInt32(f.offset - 4, p.lengthWord, true);
  switch (f.kind) {
    case 'scalar':
      view.setInt32(f.offset, f.init, true);
      return;
    case 'array': {
      const size = ELEM_BYTES[f.elem];
      (f.init ?? []).forEach((v, k) => {
        if (size === 1) view.setUint8(f.offset + k, v & 0xff);
        else if (size === 2) view.setUint16(f.offset + 2 * k, v & 0xffff, true);
        else view.setInt32(f.offset + 4 * k, v, true);
      });
      return;
    }
    case 'record':
      image.set(p.image!, f.offset);
      return;
    case 'records':
      for (let k = 0; k < p.copies!; k++) image.set(p.image!, f.offset + k * p.stride!);
      return;
  }
}

/** The size, or the next power of two when that adds at most a quarter (a shift instead of a multiply). */
export function strideOf(size: number): number {
  let p = 4;
  while (p < size) p *= 2;
  return p * 4 <= size * 5 ? p : size;
}

const align4 = (n: number): number => (n + 3) & ~3;
