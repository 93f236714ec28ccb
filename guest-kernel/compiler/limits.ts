/**
 * How deeply guest code may nest, checked before anything recursive runs over it.
 *
 * TypeScript's parser, binder and checker, and this compiler's subset check, constant folding
 * and lowering, all recurse once or more per level of nesting. On Node's default stack (about
 * 1 MB) TypeScript's parser gives out at about 750 nested parentheses and its checker at about
 * 400 nested calls; past that a compile ended in a host stack trace, not a diagnostic. So the
 * compiler refuses nesting deeper than MAX_NESTING levels, far beyond real code and well inside
 * the stack (at the limit every construct still compiles with 400 KB of stack), with TSG3008 at
 * the place it goes too deep. Two checks:
 *
 * - `scanNesting`, over the tokens of a file before TypeScript parses it: open parentheses,
 *   brackets and braces, plus runs of constructs that nest without a bracket (`if (a) if (b)`,
 *   `else if`, labels, `- - x`, `a ? b : c ? ...`, `a = b = ...`, `x => y => ...`, type
 *   arguments). It estimates without parsing: a run ends at `;` or `,`, a statement run also at
 *   the end of a block not followed by `else`; what it misses, the next check finds.
 * - `checkNesting`, over the syntax tree of each guest file before TypeScript type-checks it.
 *   Every node with children is a level, a call two (CALL_LEVELS), except that a block which is
 *   the body of a function, `if` or loop (and a switch's cases) belongs to that statement's
 *   level, and that the left operand of a binary operator other than `&&` `||` `??` is at its
 *   operator's level when it is itself a binary expression. A left-deep chain like
 *   `v0 + v1 + ... + v2999` is long, not deep: TypeScript checks it with a loop, and the
 *   compiler's own passes walk such chains with loops too (subset.ts, context.ts, lower-expr.ts).
 *   Its length is bounded separately, by MAX_DEPTH, for time rather than stack.
 *
 * Should something overflow the stack anyway, compile() turns it into TSG3008 as a last resort.
 * Long sequences (thousands of statements, cases or functions) are not nesting; nothing here
 * limits them.
 */
import ts from 'typescript';

/** Deepest nesting accepted, in levels (see above). */
export const MAX_NESTING = 256;

/**
 * Levels a call counts for: TypeScript's checker spends about twice the stack on a nested call
 * (resolving its signature) as on other nesting, so calls nest 128 deep at most.
 */
export const CALL_LEVELS = 2;

/**
 * Deepest syntax tree accepted, counting the operators of a left-deep chain too. TypeScript walks
 * from a name up to its function for every name it resolves, so a chain of n operators costs it
 * time quadratic in n (about 2 s for 3,000 on the machines this was measured on, 4 s for 4,000).
 */
export const MAX_DEPTH = 4096;

export interface TooDeep {
  /** Where the limit was passed: an offset in the file's text. */
  pos: number;
  message: string;
}

function tooDeep(pos: number, category: 'expression' | 'statement' | 'type', construct: string): TooDeep {
  return { pos, message: `${category} nested too deeply at this ${construct} (more than ${MAX_NESTING} levels)` };
}

// ---------------------------------------------------------------------------------------------
// Before parsing: tokens

interface Level {
  /** Statement keywords and labels in a run at this level (`if (a) if (b) ...`, `else if`). */
  stmt: number;
  /** Prefix operators, `?`, `=`, `=>`, `**` in a run at this level. */
  expr: number;
  /** Type arguments open at this level (`Array<Array<`): a `<` after a name, until its `>`. */
  angle: number;
  /** A brace that opened a block (its end may end the statement run around it). */
  block: boolean;
  /** A `${` of a template literal. */
  template: boolean;
  /**
   * Levels the bracket itself counts: 1; 0 for the parentheses of a statement (`if (...)`),
   * whose keyword counted; CALL_LEVELS for the parentheses of a call.
   */
  weight: number;
}

const S = ts.SyntaxKind;

/** Keywords whose parentheses belong to them. */
const HEADER_KEYWORDS = new Set([S.IfKeyword, S.WhileKeyword, S.ForKeyword, S.WithKeyword, S.SwitchKeyword, S.CatchKeyword]);

/** Statement constructs that nest without a bracket of their own. */
const STATEMENT_KEYWORDS: ReadonlyMap<ts.SyntaxKind, string> = new Map([
  [S.IfKeyword, 'if'],
  [S.ElseKeyword, 'else'],
  [S.WhileKeyword, 'while'],
  [S.ForKeyword, 'for'],
  [S.DoKeyword, 'do'],
  [S.WithKeyword, 'with'],
]);

/** Prefix operators: nested when one follows another (`- - x`, `!!x`, `new new X`). */
const PREFIX_OPERATORS: ReadonlyMap<ts.SyntaxKind, string> = new Map([
  [S.ExclamationToken, 'unary operator'],
  [S.TildeToken, 'unary operator'],
  [S.MinusToken, 'unary operator'],
  [S.PlusToken, 'unary operator'],
  [S.PlusPlusToken, 'unary operator'],
  [S.MinusMinusToken, 'unary operator'],
  [S.TypeOfKeyword, 'typeof'],
  [S.VoidKeyword, 'void'],
  [S.DeleteKeyword, 'delete'],
  [S.AwaitKeyword, 'await'],
  [S.YieldKeyword, 'yield'],
  [S.NewKeyword, 'new'],
  [S.LessThanToken, 'type assertion'],
  [S.KeyOfKeyword, 'type operator'],
  [S.InferKeyword, 'type operator'],
  [S.ReadonlyKeyword, 'type operator'],
  [S.UniqueKeyword, 'type operator'],
]);

/**
 * Tokens that end an operand: after one, `-` or `/` is a binary operator. (`++` and `--` end one
 * when they follow one: postfix.)
 */
function endsOperand(k: ts.SyntaxKind): boolean {
  return (
    k === S.Identifier ||
    k === S.PrivateIdentifier ||
    k === S.NumericLiteral ||
    k === S.BigIntLiteral ||
    k === S.StringLiteral ||
    k === S.RegularExpressionLiteral ||
    k === S.NoSubstitutionTemplateLiteral ||
    k === S.TemplateTail ||
    k === S.CloseParenToken ||
    k === S.CloseBracketToken ||
    k === S.CloseBraceToken ||
    k === S.TrueKeyword ||
    k === S.FalseKeyword ||
    k === S.NullKeyword ||
    k === S.ThisKeyword ||
    k === S.SuperKeyword
  );
}

/** Tokens after which `{` opens a block (otherwise it is an object literal or a type). */
function opensBlock(prev: ts.SyntaxKind): boolean {
  return (
    prev === S.Unknown || // start of file
    prev === S.CloseParenToken ||
    prev === S.ElseKeyword ||
    prev === S.DoKeyword ||
    prev === S.TryKeyword ||
    prev === S.FinallyKeyword ||
    prev === S.EqualsGreaterThanToken ||
    prev === S.SemicolonToken ||
    prev === S.OpenBraceToken ||
    prev === S.CloseBraceToken ||
    prev === S.Identifier || // enum E {, function f(): T {, class C {
    prev === S.GreaterThanToken // class C<T> {
  );
}

/** Tokens after which `name:` is a label. */
function startsStatement(prev: ts.SyntaxKind): boolean {
  return (
    prev === S.Unknown ||
    prev === S.SemicolonToken ||
    prev === S.OpenBraceToken ||
    prev === S.CloseBraceToken ||
    prev === S.CloseParenToken ||
    prev === S.ColonToken ||
    prev === S.ElseKeyword ||
    prev === S.DoKeyword
  );
}

function isAssignment(k: ts.SyntaxKind): boolean {
  return k >= S.FirstAssignment && k <= S.LastAssignment;
}

/**
 * Scan `text` for nesting deeper than MAX_NESTING without parsing it; the first place that goes
 * too deep, or undefined. Linear in the text; never recursive.
 */
export function scanNesting(text: string): TooDeep | undefined {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, /*skipTrivia*/ true, ts.LanguageVariant.Standard, text);
  const levels: Level[] = [{ stmt: 0, expr: 0, angle: 0, block: true, template: false, weight: 0 }];
  /** Open levels beyond the file's plus every run on the stack: the nesting at this token. */
  let total = 0;
  let prev: ts.SyntaxKind = S.Unknown;
  let prev2: ts.SyntaxKind = S.Unknown;
  /** The previous token ended an operand. */
  let afterOperand = false;
  /** A statement run that ends unless the next token is `else`. */
  let ending: Level | undefined;
  const top = (): Level => levels[levels.length - 1]!;
  const endRun = (l: Level, kind: 'stmt' | 'expr' | 'angle'): void => {
    total -= l[kind];
    l[kind] = 0;
  };
  const deeper = (l: Level, kind: 'stmt' | 'expr' | 'angle'): boolean => {
    l[kind]++;
    return ++total > MAX_NESTING;
  };

  for (let tok = scanner.scan(); tok !== S.EndOfFileToken; tok = scanner.scan()) {
    const pos = scanner.getTokenStart();
    if ((tok === S.SlashToken || tok === S.SlashEqualsToken) && !afterOperand) tok = scanner.reScanSlashToken();
    // The scanner stops at `>` (it may close type arguments); unless it does, it is `>=`, `>>`, ...
    if (tok === S.GreaterThanToken && top().angle === 0) tok = scanner.reScanGreaterToken();
    // The end of a `${...}`: the template goes on (a middle part) or ends here (its tail).
    if (tok === S.CloseBraceToken && top().template) tok = scanner.reScanTemplateToken(/*isTaggedTemplate*/ false);
    const problem = scanToken(tok, pos);
    if (problem) return problem;
    afterOperand = tok === S.PlusPlusToken || tok === S.MinusMinusToken ? afterOperand : endsOperand(tok);
    prev2 = prev;
    prev = tok;
  }
  return undefined;

  function scanToken(tok: ts.SyntaxKind, pos: number): TooDeep | undefined {
    if (ending) {
      if (tok !== S.ElseKeyword && levels.includes(ending)) endRun(ending, 'stmt');
      ending = undefined;
    }
    switch (tok) {
      case S.OpenParenToken:
      case S.OpenBracketToken:
      case S.OpenBraceToken:
      case S.TemplateHead: {
        const block = tok === S.OpenBraceToken && opensBlock(prev);
        const weight = tok !== S.OpenParenToken ? 1 : HEADER_KEYWORDS.has(prev) ? 0 : afterOperand ? CALL_LEVELS : 1;
        // A body (`if (a) {`, `else {`, `l: {`): the statement and its block are one level, not two.
        const parent = top();
        if (block && parent.stmt > 0) {
          parent.stmt--;
          total--;
        }
        levels.push({ stmt: 0, expr: 0, angle: 0, block, template: tok === S.TemplateHead, weight });
        total += weight;
        if (weight > 0 && total > MAX_NESTING) {
          if (tok === S.OpenParenToken) return tooDeep(pos, 'expression', afterOperand ? 'call' : 'parenthesis');
          if (tok === S.OpenBracketToken) return tooDeep(pos, 'expression', afterOperand ? 'index' : 'bracket');
          if (tok === S.TemplateHead) return tooDeep(pos, 'expression', 'template literal');
          return block ? tooDeep(pos, 'statement', 'block') : tooDeep(pos, 'expression', 'brace');
        }
        break;
      }
      case S.TemplateMiddle:
        endRun(top(), 'stmt');
        endRun(top(), 'expr');
        break;
      case S.CloseParenToken:
      case S.CloseBracketToken:
      case S.CloseBraceToken:
      case S.TemplateTail: {
        if (levels.length === 1) break; // unbalanced: TypeScript reports it
        const closed = levels.pop()!;
        total -= closed.weight + closed.stmt + closed.expr + closed.angle;
        if (closed.block) ending = top();
        break;
      }
      case S.SemicolonToken:
        ending = top();
        endRun(top(), 'expr');
        endRun(top(), 'angle');
        break;
      case S.CommaToken:
        endRun(top(), 'expr');
        break;
      case S.ColonToken:
        // `name:` at the start of a statement is a label, which nests the statement after it.
        if (prev === S.Identifier && startsStatement(prev2) && deeper(top(), 'stmt')) return tooDeep(pos, 'statement', 'label');
        break;
      case S.QuestionToken:
        if (deeper(top(), 'expr')) return tooDeep(pos, 'expression', 'conditional');
        break;
      case S.EqualsGreaterThanToken:
        if (deeper(top(), 'expr')) return tooDeep(pos, 'expression', 'arrow function');
        break;
      case S.AsteriskAsteriskToken:
        if (deeper(top(), 'expr')) return tooDeep(pos, 'expression', "'**'");
        break;
      case S.GreaterThanToken:
        // The end of type arguments, or a comparison or shift (which this may undercount).
        if (top().angle > 0) {
          top().angle--;
          total--;
        }
        break;
      default: {
        // As in the syntax tree, an else-part is as deep as its then-part: after `if (a) x;` the
        // `if` still counts, after `if (a) { }` its block took it, and `else` counts it again.
        // So `else if` is one level deeper than the `if` before, like an `if` inside the else.
        const keyword = STATEMENT_KEYWORDS.get(tok);
        if (keyword && !(tok === S.ElseKeyword && prev !== S.CloseBraceToken)) {
          if (deeper(top(), 'stmt')) return tooDeep(pos, 'statement', keyword);
          break;
        }
        // Type arguments that nest, `A<B<...`: a `<` after a name, followed by a name and `<`.
        // (A comparison `a < b` is not followed so; one that is counts until its statement ends.)
        if (tok === S.LessThanToken && afterOperand && scanner.lookAhead(() => scanner.scan() === S.Identifier && scanner.scan() === S.LessThanToken)) {
          if (deeper(top(), 'angle')) return tooDeep(pos, 'type', 'type argument');
          break;
        }
        const prefix = PREFIX_OPERATORS.get(tok);
        if (prefix && !afterOperand) {
          if (deeper(top(), 'expr')) return tooDeep(pos, prefix === 'type operator' ? 'type' : 'expression', prefix);
          break;
        }
        if (isAssignment(tok) && deeper(top(), 'expr')) return tooDeep(pos, 'expression', 'assignment');
      }
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// After parsing: the syntax tree

/** Bodies that belong to their statement's level. */
function isBodyOf(parent: ts.Node, child: ts.Node): boolean {
  if (ts.isCaseBlock(child) || ts.isCaseOrDefaultClause(child)) return true; // a switch's cases
  if (!ts.isBlock(child)) return false;
  return (
    ts.isFunctionLike(parent) ||
    ts.isIfStatement(parent) ||
    ts.isIterationStatement(parent, false) ||
    ts.isLabeledStatement(parent) ||
    ts.isTryStatement(parent) ||
    ts.isCatchClause(parent) ||
    ts.isCaseOrDefaultClause(parent)
  );
}

/**
 * The first node of `sf`, in source order, nested deeper than MAX_NESTING levels or MAX_DEPTH
 * deep (see the top), or undefined. Leaves (names, literals) are no level of their own.
 * Iterative.
 */
export function checkNesting(sf: ts.SourceFile): TooDeep | undefined {
  const stack: { node: ts.Node; level: number; depth: number }[] = [{ node: sf, level: 0, depth: 0 }];
  const children: ts.Node[] = [];
  while (stack.length > 0) {
    const { node, level, depth } = stack.pop()!;
    children.length = 0;
    ts.forEachChild(node, (c) => {
      children.push(c);
    });
    if (children.length === 0) continue;
    if (level > MAX_NESTING) return tooDeep(node.getStart(sf), categoryOf(node), construct(node));
    if (depth > MAX_DEPTH) {
      const message = `expression too deep at this ${construct(node)} (more than ${MAX_DEPTH} levels, counting each operator of a chain like a + b + c + ...); split it into several statements`;
      return { pos: node.getStart(sf), message };
    }
    // Pushed last to first, so the first child is visited first: the report is the first in the file.
    for (let i = children.length - 1; i >= 0; i--) {
      const c = children[i]!;
      const same = isBodyOf(node, c) || (ts.isBinaryExpression(node) && c === node.left && ts.isBinaryExpression(c) && !isLogical(node));
      const levels = same ? 0 : ts.isCallExpression(c) || ts.isNewExpression(c) ? CALL_LEVELS : 1;
      stack.push({ node: c, level: level + levels, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * `&&`, `||` and `??`: TypeScript's binder follows the control flow of a chain of them by
 * recursion, so each counts as a level even on the left.
 */
function isLogical(e: ts.BinaryExpression): boolean {
  const op = e.operatorToken.kind;
  return op === S.AmpersandAmpersandToken || op === S.BarBarToken || op === S.QuestionQuestionToken;
}

function categoryOf(node: ts.Node): 'expression' | 'statement' | 'type' {
  if (ts.isStatement(node) || ts.isCaseBlock(node) || ts.isCaseOrDefaultClause(node)) return 'statement';
  return ts.isTypeNode(node) ? 'type' : 'expression';
}

/** "call", "if statement", "parenthesized expression": the node's kind in words. */
function construct(node: ts.Node): string {
  if (ts.isCallExpression(node)) return 'call';
  if (ts.isElementAccessExpression(node)) return 'index';
  if (ts.isPropertyAccessExpression(node)) return 'property access';
  if (ts.isParenthesizedExpression(node)) return 'parenthesis';
  if (ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) return 'unary operator';
  if (ts.isConditionalExpression(node)) return 'conditional';
  if (ts.isBinaryExpression(node)) return `'${node.operatorToken.getText()}'`;
  return (KIND_NAMES.get(node.kind) ?? 'construct').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

/** Syntax kinds by name, without the range markers that share their numbers (FirstStatement). */
const KIND_NAMES = new Map(
  Object.entries(ts.SyntaxKind).flatMap(([name, kind]) => (typeof kind === 'number' && !/^(First|Last)/.test(name) ? [[kind, name] as const] : [])),
);
