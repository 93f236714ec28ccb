/**
 * Property test: random integer expression trees over random inputs evaluate the same compiled
 * for the machine and run by Node (int32 semantics). Each run compiles one program holding a
 * batch of expressions as functions of (a, b, c), calls each on every input triple, and prints the
 * results; Node evaluates the same expression text with `new Function`.
 *
 * The expressions are written the portable way the README asks for: `(x + y) | 0`, Math.imul,
 * `(x / y) | 0` (divisors forced odd, so never zero), `x >>> y` compared only with `>>> 0` values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource, run } from './helpers.ts';

type Expr =
  | { k: 'var'; name: 'a' | 'b' | 'c' }
  | { k: 'lit'; v: number }
  | { k: 'un'; op: '-' | '~' | '!'; e: Expr }
  | { k: 'bin'; op: string; l: Expr; r: Expr }
  | { k: 'cmp'; op: string; unsigned: boolean; l: Expr; r: Expr; t: Expr; f: Expr }
  | { k: 'logic'; op: '&&' | '||'; l: Expr; r: Expr };

const BIN_OPS = ['+', '-', '*', '/', '%', '&', '|', '^', '<<', '>>', '>>>'] as const;
const CMP_OPS = ['<', '<=', '>', '>=', '===', '!=='] as const;
const EDGES = [0, 1, -1, 2, 31, 32, 0x7fffffff, -0x80000000, 0xffff, -0x10000, 7, -9];

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.constantFrom('a', 'b', 'c').map((name) => ({ k: 'var', name }) as Expr),
  fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(...EDGES), fc.integer({ min: -40, max: 40 })).map((v) => ({ k: 'lit', v }) as Expr),
);

const { expr } = fc.letrec<{ expr: Expr; un: Expr; bin: Expr; cmp: Expr; logic: Expr }>((tie) => ({
  expr: fc.oneof({ maxDepth: 4, depthSize: 'small' }, leaf, tie('bin'), tie('un'), tie('cmp'), tie('logic')),
  un: fc.record({ k: fc.constant('un' as const), op: fc.constantFrom('-' as const, '~' as const, '!' as const), e: tie('expr') }),
  bin: fc.record({ k: fc.constant('bin' as const), op: fc.constantFrom(...BIN_OPS), l: tie('expr'), r: tie('expr') }),
  cmp: fc.record({
    k: fc.constant('cmp' as const),
    op: fc.constantFrom(...CMP_OPS),
    unsigned: fc.boolean(),
    l: tie('expr'),
    r: tie('expr'),
    t: tie('expr'),
    f: tie('expr'),
  }),
  logic: fc.record({ k: fc.constant('logic' as const), op: fc.constantFrom('&&' as const, '||' as const), l: tie('expr'), r: tie('expr') }),
}));

/**
 * Text of an expression whose value is an int32 in both worlds: TypeScript for the compiler
 * (literals typed `as number`, so the checker does not refuse `3 && x` as always truthy), or
 * plain JavaScript for Node.
 */
function render(e: Expr, tsText: boolean): string {
  const render_ = (x: Expr): string => render(x, tsText);
  // TypeScript refuses an operand whose truthiness it can see (`2 && x`, `!0`, `(c ? 1 : 2) && x`),
  // even `as number`; `x | (a & 0)` is the same value and hides it.
  const truthy = (x: Expr): string => (x.k === 'var' ? x.name : `(${render_(x)} | (a & 0))`);
  switch (e.k) {
    case 'var':
      return e.name;
    case 'lit':
      return tsText ? `(${e.v} as number)` : `(${e.v})`;
    case 'un':
      if (e.op === '-') return `(-${render_(e.e)} | 0)`;
      if (e.op === '~') return `(~${render_(e.e)})`;
      return `(!${truthy(e.e)} ? 1 : 0)`;
    case 'bin': {
      const l = render_(e.l);
      const r = render_(e.r);
      switch (e.op) {
        case '+':
        case '-':
          return `((${l} ${e.op} ${r}) | 0)`;
        case '*':
          return `Math.imul(${l}, ${r})`;
        case '/':
          return `((${l} / (${r} | 1)) | 0)`;
        case '%':
          return `((${l} % (${r} | 1)) | 0)`;
        case '>>>':
          return `((${l} >>> ${r}) | 0)`;
        case '<<':
          // TypeScript may rescan `<<` as the `<` of type arguments (`x << (a > b ...)`); a count
          // starting with `~~` (the same int32) cannot begin a type.
          return tsText ? `(${l} << ~~${r})` : `(${l} << ${r})`;
        default:
          return `(${l} ${e.op} ${r})`;
      }
    }
    case 'cmp': {
      const l = e.unsigned ? `(${render_(e.l)} >>> 0)` : render_(e.l);
      const r = e.unsigned ? `(${render_(e.r)} >>> 0)` : render_(e.r);
      // TypeScript reads `x < (y) ... > (z)` as a call with type arguments, which JavaScript
      // never does; so the TypeScript text has no `<` at all: `l < r` is written `r > l`.
      if (tsText && (e.op === '<' || e.op === '<=')) return `(${r} ${e.op === '<' ? '>' : '>='} ${l} ? ${render_(e.t)} : ${render_(e.f)})`;
      return `(${l} ${e.op} ${r} ? ${render_(e.t)} : ${render_(e.f)})`;
    }
    case 'logic':
      return `(${truthy(e.l)} ${e.op} ${render_(e.r)})`;
  }
}

const input = fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(...EDGES));
const triple = fc.tuple(input, input, input);

function program(exprs: string[], inputs: [number, number, number][]): string {
  const fns = exprs.map((x, i) => `function f${i}(a: number, b: number, c: number): number {\n  return ${x};\n}\n`).join('');
  const flat = inputs.flat().join(', ');
  const calls = exprs.map((_, i) => `    printlnNumber(f${i}(inputs[k], inputs[k + 1], inputs[k + 2]));\n`).join('');
  return `import { printlnNumber } from '../../lib/console.ts';
const inputs = new Int32Array([${flat}]);
${fns}
export function main(): number {
  for (let k = 0; k < inputs.length; k += 3) {
${calls}  }
  return 0;
}
`;
}

function evaluateInNode(exprs: string[], inputs: [number, number, number][]): string {
  const fns = exprs.map((x) => new Function('a', 'b', 'c', `return ${x};`) as (a: number, b: number, c: number) => number);
  let out = '';
  for (const [a, b, c] of inputs) for (const f of fns) out += `${f(a, b, c) | 0}\n`;
  return out;
}

describe('random int32 expression trees', () => {
  it('evaluate the same compiled and in Node', () => {
    fc.assert(
      fc.property(fc.array(expr, { minLength: 3, maxLength: 6 }), fc.array(triple, { minLength: 3, maxLength: 5 }), (trees, inputs) => {
        const exprs = trees.map((t) => render(t, true));
        const expected = evaluateInNode(trees.map((t) => render(t, false)), inputs);
        // Every expression is already an int32 in JavaScript: check that before blaming the compiler.
        expect(expected.split('\n').filter(Boolean).every((l) => String(Number(l) | 0) === l)).toBe(true);
        const source = program(exprs, inputs);
        const result = run(compileSource(source).image);
        expect(result.stop).toBe('shutdown');
        expect(result.console, source).toBe(expected);
      }),
      { numRuns: 30 },
    );
  });

  it('also without optimisation (a straightforward translation agrees too)', () => {
    fc.assert(
      fc.property(fc.array(expr, { minLength: 4, maxLength: 8 }), fc.array(triple, { minLength: 2, maxLength: 3 }), (trees, inputs) => {
        const source = program(trees.map((t) => render(t, true)), inputs);
        const result = run(compileSource(source, 'native', { optimize: false }).image);
        expect(result.console, source).toBe(evaluateInNode(trees.map((t) => render(t, false)), inputs));
      }),
      { numRuns: 10 },
    );
  });
});
