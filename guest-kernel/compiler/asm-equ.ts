/**
 * The assembler's `.equ` resolution, without recursion.
 *
 * A `.equ` may name symbols defined further down, including other `.equ`s, so resolving one
 * means resolving what it uses first. Done recursively, a chain of a few thousand (`.equ a1,
 * a0+1`, `.equ a2, a1+1`, ... in any order) overflows the host's stack; here a depth-first walk
 * with an explicit stack puts the definitions in dependency order, and each is evaluated once its
 * uses have results, so evaluating it never recurses into another definition.
 *
 * Results are cached on the definition: a value for good; "undefined symbol" and errors also for
 * good (the symbol table is complete after pass 0, and values never change); "defined later" for
 * as long as what blocks it (a label not yet reached in pass 1, or a `.equ` whose own position is
 * not yet known) stays unknown. So a long chain is walked once per change of what blocks it, not
 * once per use.
 */
import type { Eval, EquDef, Expr, SymbolDef } from './assembler.ts';

/** What the resolver needs of the assembly: its symbols and the evaluation of one definition. */
export interface EquContext {
  readonly symbols: ReadonlyMap<string, SymbolDef>;
  /** Evaluate `def.expr` with `.` = def.dot; its `.equ` uses all have cached results by now. */
  evaluateDefinition(def: EquDef): Eval;
}

/** The cached result of `def`, if it still holds. */
export function cachedResult(def: EquDef): Eval | undefined {
  if (def.value !== undefined) return { kind: 'value', value: def.value };
  const r = def.result;
  if (r?.kind === 'later' && r.blocker && isKnown(r.blocker)) return undefined;
  return r;
}

/** Resolve `root` and every `.equ` it depends on, deepest first; returns root's result. */
export function resolveEqu(a: EquContext, root: EquDef): Eval {
  const stack: { def: EquDef; uses: EquDef[]; next: number }[] = [];
  const enter = (def: EquDef): void => {
    def.resolving = true;
    stack.push({ def, uses: equUses(a, def.expr), next: 0 });
  };
  enter(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.uses.length) {
      const use = top.uses[top.next++]!;
      // One already on the stack is a cycle: evaluating `top` reports it at the use.
      if (!use.resolving && cachedResult(use) === undefined) enter(use);
      continue;
    }
    stack.pop();
    const def = top.def;
    let v = a.evaluateDefinition(def);
    def.resolving = false;
    if (v.kind === 'value') {
      def.value = v.value;
      def.result = undefined;
      continue;
    }
    // A problem inside the definition is reported on the definition's line, where its column points.
    if (v.line === undefined) v = { ...v, line: def.line };
    // `.` unknown: the definition itself waits for pass 1 to reach it.
    if (v.kind === 'later' && !v.blocker) v = { ...v, blocker: def };
    def.result = v;
  }
  return root.value !== undefined ? { kind: 'value', value: root.value } : root.result!;
}

/** A label has its address, or a `.equ` its position: a "defined later" waiting on it is over. */
function isKnown(blocker: SymbolDef): boolean {
  return blocker.kind === 'label' ? blocker.value !== undefined : blocker.dot !== undefined;
}

/** The `.equ` definitions `e` names, in order of appearance. */
function equUses(a: EquContext, e: Expr): EquDef[] {
  const uses: EquDef[] = [];
  const work: Expr[] = [e];
  while (work.length > 0) {
    const x = work.pop()!;
    if (x.k === 'sym') {
      const def = a.symbols.get(x.name);
      if (def?.kind === 'equ') uses.push(def);
    } else if (x.k === 'unary') {
      work.push(x.arg);
    } else if (x.k === 'binary') {
      work.push(x.right, x.left);
    }
  }
  return uses;
}
