/**
 * Stage 3, lowering: one guest function's statements to IR (ir.ts). Expressions are lowered by
 * lower-expr.ts and intrinsic calls by intrinsics.ts; this file owns the function's blocks, its
 * locals and its control flow.
 *
 * Shapes chosen here matter for speed later:
 * - conditions in if/while/for/do and `&&`/`||`/`!` lower straight to conditional branches
 *   (`lowerCond`), never to a 0/1 value and a compare;
 * - loops are rotated (test at the bottom), so an iteration costs one branch, not a branch and a jump;
 * - a dense switch becomes a jump table, a sparse one a chain of `beq`.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { type Entity, type FunctionInfo, type GuestContext, type LocalScope, skipOuter, unsignedLetMessage } from './context.ts';
import { type Block, type BlockId, type Cond, type Instr, type IrFunction, type Loc, type Term, type VReg, newVreg } from './ir.ts';
import { lowerCondition, lowerExpr, mayExceedInt32, toReg, type Operand } from './lower-expr.ts';
import { displayPath } from './diagnostics.ts';
import { lowerForOf } from './for-of.ts';
import { lowerLocalArray } from './local-arrays.ts';
import { INT } from './types.ts';

interface JumpTarget {
  label: string | undefined;
  brk: BlockId;
  /** Absent for a labelled block or a switch, which `continue` passes through. */
  cont: BlockId | undefined;
}

export class FunctionLowerer implements LocalScope {
  readonly fn: IrFunction;
  private readonly blockById = new Map<BlockId, Block>();
  private readonly locals = new Map<ts.Declaration, Entity>();
  private cur: Block;
  /** Source line of the statement being lowered. */
  loc: Loc;
  private readonly targets: JumpTarget[] = [];
  private pendingLabel: string | undefined;
  /** A method's `this`: its first parameter (records-lower.ts). */
  selfReg: VReg | undefined;
  private tableCount = 0;

  constructor(
    readonly ctx: GuestContext,
    readonly info: FunctionInfo,
  ) {
    this.loc = this.locOf(info.decl);
    this.fn = {
      name: info.name,
      label: info.label,
      params: [],
      blocks: [],
      nextVreg: 0,
      returnsValue: info.ret.kind !== 'void',
      loc: this.loc,
    };
    this.cur = this.newBlock();
  }

  lookup(decl: ts.Declaration): Entity | undefined {
    return this.locals.get(decl);
  }

  /** Name a local (for-of.ts binds its loop variable). */
  bindLocal(decl: ts.Declaration, ent: Entity): void {
    this.locals.set(decl, ent);
  }

  // -------------------------------------------------------------------------------------------
  // Building blocks

  vreg(): VReg {
    return newVreg(this.fn);
  }

  newBlock(): Block {
    const b: Block = { id: this.fn.blocks.length, instrs: [], term: { k: 'unreachable' } };
    this.fn.blocks.push(b);
    this.blockById.set(b.id, b);
    return b;
  }

  /** Continue emitting into block `id`. */
  enter(id: BlockId): void {
    this.cur = this.blockById.get(id)!;
  }

  emit(i: Instr): void {
    i.loc = this.loc;
    this.cur.instrs.push(i);
  }

  /** End the current block; code that follows lands in a fresh block with no predecessor (pruned later). */
  terminate(t: Term): void {
    t.loc = this.loc;
    this.cur.term = t;
    this.cur = this.newBlock();
  }

  li(value: number): VReg {
    const dst = this.vreg();
    this.emit({ k: 'li', dst, value });
    return dst;
  }

  locOf(node: ts.Node): Loc {
    const sf = node.getSourceFile();
    return { file: displayPath(sf.fileName, this.ctx.bag.rootDir), line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 };
  }

  newTableLabel(): string {
    return this.ctx.labels.unique(`${this.fn.label}.T${this.tableCount++}`);
  }

  // -------------------------------------------------------------------------------------------
  // The function

  lower(): IrFunction {
    const decl = this.info.decl;
    if (this.info.self) {
      this.selfReg = this.vreg();
      this.fn.params.push(this.selfReg);
    }
    for (const p of this.info.params) {
      const v = this.vreg();
      this.fn.params.push(v);
      this.locals.set(p.decl, { kind: 'local', vreg: v, type: p.type });
    }
    for (const s of decl.body!.statements) this.lowerStatement(s);
    // Falling off the end returns (TypeScript has already refused a missing `return value`).
    this.loc = { file: this.loc.file, line: decl.body!.getSourceFile().getLineAndCharacterOfPosition(decl.body!.getEnd()).line + 1 };
    this.terminate({ k: 'ret', value: this.fn.returnsValue ? this.li(0) : null });
    return this.fn;
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  lowerStatement(s: ts.Statement): void {
    this.loc = this.locOf(s);
    switch (s.kind) {
      case ts.SyntaxKind.Block:
        for (const st of (s as ts.Block).statements) this.lowerStatement(st);
        return;
      case ts.SyntaxKind.EmptyStatement:
      case ts.SyntaxKind.InterfaceDeclaration:
      case ts.SyntaxKind.TypeAliasDeclaration:
        return;
      case ts.SyntaxKind.VariableStatement:
        return this.lowerDeclarations((s as ts.VariableStatement).declarationList);
      case ts.SyntaxKind.ExpressionStatement:
        lowerExpr(this, (s as ts.ExpressionStatement).expression, true);
        return;
      case ts.SyntaxKind.IfStatement:
        return this.lowerIf(s as ts.IfStatement);
      case ts.SyntaxKind.WhileStatement:
        return this.lowerWhile(s as ts.WhileStatement);
      case ts.SyntaxKind.DoStatement:
        return this.lowerDo(s as ts.DoStatement);
      case ts.SyntaxKind.ForStatement:
        return this.lowerFor(s as ts.ForStatement);
      case ts.SyntaxKind.ForOfStatement:
        return lowerForOf(this, s as ts.ForOfStatement);
      case ts.SyntaxKind.ReturnStatement:
        return this.lowerReturn(s as ts.ReturnStatement);
      case ts.SyntaxKind.BreakStatement:
      case ts.SyntaxKind.ContinueStatement:
        return this.lowerJump(s as ts.BreakOrContinueStatement);
      case ts.SyntaxKind.SwitchStatement:
        return this.lowerSwitch(s as ts.SwitchStatement);
      case ts.SyntaxKind.LabeledStatement:
        return this.lowerLabeled(s as ts.LabeledStatement);
      default:
        // The subset check has reported it; nothing to lower.
        throw new Error(`lower: unexpected ${ts.SyntaxKind[s.kind]} (the subset check should have refused it)`);
    }
  }

  private lowerDeclarations(list: ts.VariableDeclarationList): void {
    const isConst = (list.flags & ts.NodeFlags.Const) !== 0;
    for (const d of list.declarations) {
      this.loc = this.locOf(d);
      const init = d.initializer ? skipOuter(d.initializer) : undefined;
      const array = init && ts.isNewExpression(init) ? lowerLocalArray(this, d, init) : undefined;
      if (array) {
        this.locals.set(d, array); // a typed array in the stack frame
        continue;
      }
      if (isConst && d.initializer) {
        const c = this.ctx.constValue(d.initializer, this);
        if (c) {
          this.locals.set(d, c.kind === 'num' ? { kind: 'const', value: c.value, type: c.type, ...(c.unsigned ? { unsigned: true } : {}) } : { kind: 'string', text: c.text });
          continue;
        }
      }
      const type = this.ctx.classify(this.ctx.checker.getTypeAtLocation(d.name), d.name, 'variable') ?? INT;
      const v = this.vreg();
      if (d.initializer) {
        const val = lowerExpr(this, d.initializer);
        if (!isConst && mayExceedInt32(val)) this.ctx.bag.at(d.initializer, Code.unsignedLocal, unsignedLetMessage(d.name.getText()));
        if (val.k === 'const') this.emit({ k: 'li', dst: v, value: val.v });
        else this.emit({ k: 'mov', dst: v, src: val.r });
        this.locals.set(d, { kind: 'local', vreg: v, type, ...(isConst && val.range ? { range: val.range } : {}) });
      } else {
        this.emit({ k: 'li', dst: v, value: 0 });
        this.locals.set(d, { kind: 'local', vreg: v, type });
      }
    }
  }

  private lowerIf(s: ts.IfStatement): void {
    // `if (TARGET_PV)`, `if (TARGET_USER)` and other constant conditions: the other arm is not
    // compiled at all, so a native build holds no pv code (and pulls in no function only that arm
    // calls), and a user build no privileged instruction of the library's other arms.
    const c = this.ctx.constValue(s.expression, this);
    if (c?.kind === 'num') {
      const taken = c.value !== 0 ? s.thenStatement : s.elseStatement;
      if (taken) this.lowerStatement(taken);
      return;
    }
    const then = this.newBlock();
    const exit = this.newBlock();
    const els = s.elseStatement ? this.newBlock() : exit;
    this.cond(s.expression, then.id, els.id);
    this.enter(then.id);
    this.lowerStatement(s.thenStatement);
    this.terminate({ k: 'jmp', target: exit.id });
    if (s.elseStatement) {
      this.enter(els.id);
      this.lowerStatement(s.elseStatement);
      this.terminate({ k: 'jmp', target: exit.id });
    }
    this.enter(exit.id);
  }

  /** Lower a condition in the current block, branching to t or f. */
  cond(e: ts.Expression, t: BlockId, f: BlockId): void {
    lowerCondition(this, e, t, f);
  }

  takeLabel(): string | undefined {
    const l = this.pendingLabel;
    this.pendingLabel = undefined;
    return l;
  }

  private lowerWhile(s: ts.WhileStatement): void {
    const label = this.takeLabel();
    const body = this.newBlock();
    const cont = this.newBlock();
    const exit = this.newBlock();
    this.cond(s.expression, body.id, exit.id);
    this.loopBody(s.statement, label, body.id, cont.id, exit.id);
    this.loc = this.locOf(s.expression);
    this.cond(s.expression, body.id, exit.id);
    this.enter(exit.id);
  }

  private lowerDo(s: ts.DoStatement): void {
    const label = this.takeLabel();
    const body = this.newBlock();
    const cont = this.newBlock();
    const exit = this.newBlock();
    this.terminate({ k: 'jmp', target: body.id });
    this.loopBody(s.statement, label, body.id, cont.id, exit.id);
    this.loc = this.locOf(s.expression);
    this.cond(s.expression, body.id, exit.id);
    this.enter(exit.id);
  }

  private lowerFor(s: ts.ForStatement): void {
    const label = this.takeLabel();
    if (s.initializer) {
      if (ts.isVariableDeclarationList(s.initializer)) this.lowerDeclarations(s.initializer);
      else lowerExpr(this, s.initializer, true);
    }
    const body = this.newBlock();
    const cont = this.newBlock();
    const exit = this.newBlock();
    if (s.condition) this.cond(s.condition, body.id, exit.id);
    else this.terminate({ k: 'jmp', target: body.id });
    this.loopBody(s.statement, label, body.id, cont.id, exit.id);
    if (s.incrementor) {
      this.loc = this.locOf(s.incrementor);
      lowerExpr(this, s.incrementor, true);
    }
    if (s.condition) {
      this.loc = this.locOf(s.condition);
      this.cond(s.condition, body.id, exit.id);
    } else {
      this.terminate({ k: 'jmp', target: body.id });
    }
    this.enter(exit.id);
  }

  /** Lower a loop body into `body`, ending with a jump to `cont`; leaves `cont` current. */
  loopBody(stmt: ts.Statement, label: string | undefined, body: BlockId, cont: BlockId, exit: BlockId): void {
    this.enter(body);
    this.targets.push({ label, brk: exit, cont });
    this.lowerStatement(stmt);
    this.targets.pop();
    this.terminate({ k: 'jmp', target: cont });
    this.enter(cont);
  }

  /**
   * A returned value. One above 2147483647 (`x >>> 0`) is refused: the caller would read it back
   * signed. main is exempt: the exit code is its 32 bits in Node too.
   */
  private returned(e: ts.Expression): Operand {
    const v = lowerExpr(this, e);
    const isMain = this.info.name === 'main' && (ts.getCombinedModifierFlags(this.info.decl) & ts.ModifierFlags.Export) !== 0;
    if (!isMain && mayExceedInt32(v)) {
      this.ctx.bag.at(e, Code.unsignedLocal, `'${this.info.name}' would return an unsigned value that may be above 2147483647, but a call's result is a signed 32-bit number, so the caller would compare, divide or print it differently from JavaScript: return (value) | 0 for its signed bits, and apply >>> 0 in the caller`);
    }
    return v;
  }

  private lowerReturn(s: ts.ReturnStatement): void {
    const e = s.expression ? skipOuter(s.expression) : undefined;
    if (e && this.fn.returnsValue && ts.isConditionalExpression(e) && this.ctx.constValue(e.condition, this) === undefined) {
      // `return c ? a : b` returns from each arm: no shared result register that would have to
      // live across the calls of one arm (see fib), and each arm can take its own shortcut.
      const t = this.newBlock();
      const f = this.newBlock();
      this.cond(e.condition, t.id, f.id);
      for (const [block, arm] of [[t, e.whenTrue], [f, e.whenFalse]] as const) {
        this.enter(block.id);
        this.terminate({ k: 'ret', value: toReg(this, this.returned(arm)) });
      }
      return;
    }
    if (s.expression && this.fn.returnsValue) {
      this.terminate({ k: 'ret', value: toReg(this, this.returned(s.expression)) });
    } else {
      if (s.expression) lowerExpr(this, s.expression, true);
      this.terminate({ k: 'ret', value: null });
    }
  }

  private lowerJump(s: ts.BreakOrContinueStatement): void {
    const isBreak = s.kind === ts.SyntaxKind.BreakStatement;
    const label = s.label?.text;
    for (let i = this.targets.length - 1; i >= 0; i--) {
      const t = this.targets[i]!;
      if (label !== undefined && t.label !== label) continue;
      if (isBreak) return this.terminate({ k: 'jmp', target: t.brk });
      if (t.cont !== undefined) return this.terminate({ k: 'jmp', target: t.cont });
      if (label !== undefined) break;
    }
    throw new Error(`lower: no target for ${isBreak ? 'break' : 'continue'} ${label ?? ''} (TypeScript should have refused it)`);
  }

  private lowerLabeled(s: ts.LabeledStatement): void {
    const inner = s.statement;
    if (ts.isWhileStatement(inner) || ts.isDoStatement(inner) || ts.isForStatement(inner) || ts.isForOfStatement(inner)) {
      this.pendingLabel = s.label.text;
      this.lowerStatement(inner);
      return;
    }
    const exit = this.newBlock();
    this.targets.push({ label: s.label.text, brk: exit.id, cont: undefined });
    this.lowerStatement(inner);
    this.targets.pop();
    this.terminate({ k: 'jmp', target: exit.id });
    this.enter(exit.id);
  }

  // -------------------------------------------------------------------------------------------
  // switch

  private lowerSwitch(s: ts.SwitchStatement): void {
    const label = this.takeLabel();
    const value = toReg(this, lowerExpr(this, s.expression));
    const clauses = s.caseBlock.clauses;
    const bodies = clauses.map(() => this.newBlock());
    const exit = this.newBlock();
    let defaultBlock = exit.id;
    const cases: { value: number; block: BlockId; at: ts.Node }[] = [];
    const seen = new Set<number>();
    clauses.forEach((c, i) => {
      if (ts.isDefaultClause(c)) {
        defaultBlock = bodies[i]!.id;
        return;
      }
      const v = this.ctx.constValue(c.expression, this);
      if (!v || v.kind !== 'num') {
        this.ctx.bag.at(c.expression, Code.caseLabel, 'case labels must be constant numbers');
        return;
      }
      if (seen.has(v.value)) return; // the first matching clause wins, as in JavaScript
      seen.add(v.value);
      cases.push({ value: v.value, block: bodies[i]!.id, at: c });
    });
    this.dispatch(value, cases, defaultBlock);

    this.targets.push({ label, brk: exit.id, cont: undefined });
    clauses.forEach((c, i) => {
      this.enter(bodies[i]!.id);
      this.loc = this.locOf(c);
      for (const st of c.statements) this.lowerStatement(st);
      // Fall through into the next clause, as JavaScript does.
      this.terminate({ k: 'jmp', target: i + 1 < bodies.length ? bodies[i + 1]!.id : exit.id });
    });
    this.targets.pop();
    this.enter(exit.id);
  }

  /** Branch on `value` to the case blocks: a jump table when dense, else a chain of beq. */
  private dispatch(value: VReg, cases: { value: number; block: BlockId }[], defaultBlock: BlockId): void {
    if (cases.length === 0) return this.terminate({ k: 'jmp', target: defaultBlock });
    const sorted = [...cases].sort((a, b) => a.value - b.value);
    const min = sorted[0]!.value;
    const span = sorted[sorted.length - 1]!.value - min + 1;
    if (cases.length >= 4 && span <= 1024 && span <= cases.length * 3) {
      const table: BlockId[] = new Array<BlockId>(span).fill(defaultBlock);
      for (const c of sorted) table[c.value - min] = c.block;
      const index = min === 0 ? value : this.vreg();
      if (min !== 0) this.emit({ k: 'bin', op: 'sub', dst: index, a: value, b: this.li(min) });
      const inRange = this.newBlock();
      this.branch('geu', index, this.li(span), defaultBlock, inRange.id);
      this.enter(inRange.id);
      const scaled = this.vreg();
      this.emit({ k: 'bin', op: 'shl', dst: scaled, a: index, b: this.li(2) });
      const tableLabel = this.newTableLabel();
      const base = this.vreg();
      this.emit({ k: 'la', dst: base, sym: tableLabel });
      const slot = this.vreg();
      this.emit({ k: 'bin', op: 'add', dst: slot, a: base, b: scaled });
      const target = this.vreg();
      this.emit({ k: 'load', width: 4, signed: false, dst: target, base: slot, offset: 0, mem: { kind: 'const' } });
      this.terminate({ k: 'jr', addr: target, targets: table, table: tableLabel });
      return;
    }
    for (const c of cases) {
      const next = this.newBlock();
      this.branch('eq', value, this.li(c.value), c.block, next.id);
      this.enter(next.id);
    }
    this.terminate({ k: 'jmp', target: defaultBlock });
  }

  branch(cond: Cond, a: VReg, b: VReg, t: BlockId, f: BlockId): void {
    this.terminate({ k: 'br', cond, a, b, t, f });
  }
}

export { skipOuter };
