/**
 * Every construct outside the subset is a compile error that names the construct and its
 * file:line:col; none compiles silently. One test per construct.
 */
import { describe, expect, it } from 'vitest';
import { errorsOf } from './helpers.ts';

const MAIN = 'export function main(): number { return 0; }\n';

interface Case {
  /** The construct, as the test's name. */
  name: string;
  source: string;
  /** Code and a piece of the message of the error expected... */
  code: string;
  message: string | RegExp;
  /** ...at this line:col of __test__/main.ts. */
  at: string;
}

const cases: Case[] = [
  { name: 'arrow function (closure)', source: `export function main(): number {\n  const f = (x: number) => x + 1;\n  return 0;\n}\n`, code: 'TSG2001', message: 'closures are not supported (arrow function)', at: '2:13' },
  { name: 'function expression', source: `export function main(): number {\n  const f = function (x: number) { return x; };\n  return 0;\n}\n`, code: 'TSG2001', message: 'closures are not supported (function expression)', at: '2:13' },
  { name: 'nested function declaration', source: `export function main(): number {\n  function inner(): number { return 1; }\n  return inner();\n}\n`, code: 'TSG2001', message: 'closures are not supported', at: '2:12' },
  { name: 'class inside a function', source: `export function main(): number {\n  class P { x = 0; }\n  return 0;\n}\n`, code: 'TSG2002', message: 'classes must be declared at module level', at: '2:3' },
  { name: 'class expression', source: `export function main(): number {\n  const C = class {};\n  return 0;\n}\n`, code: 'TSG2002', message: 'class expression', at: '2:13' },
  { name: 'this', source: `export function main(): number {\n  return this.x;\n}\n`, code: 'TSG2002', message: "'this' is not supported outside the methods of a record class", at: '2:10' },
  { name: 'object literal', source: `export function main(): number {\n  const o = { a: 1 };\n  return 0;\n}\n`, code: 'TSG2003', message: 'objects are not supported (object literal)', at: '2:13' },
  { name: 'interface-typed parameter (object)', source: `interface P { x: number }\nfunction f(p: P): number { return 1; }\n${MAIN}`, code: 'TSG2003', message: "interface 'P' is an object type: objects are outside the subset", at: '1:11' },
  { name: 'array literal (dynamic array)', source: `export function main(): number {\n  const a = [1, 2, 3];\n  return 0;\n}\n`, code: 'TSG2004', message: 'dynamic arrays are not supported (array literal)', at: '2:13' },
  { name: 'array type parameter', source: `function sum(a: number[]): number { return 0; }\n${MAIN}`, code: 'TSG2004', message: "type 'number[]' of this parameter is not supported: dynamic arrays", at: '1:14' },
  { name: 'new Array', source: `export function main(): number {\n  const a = new Array<number>(4);\n  return 0;\n}\n`, code: 'TSG2004', message: 'dynamic arrays are not supported', at: '2:13' },
  { name: 'floating-point literal', source: `export function main(): number {\n  return 1.5;\n}\n`, code: 'TSG2005', message: "floating-point literals are not supported ('1.5')", at: '2:10' },
  { name: 'floating-point literal in exponent form', source: `export function main(): number {\n  return 2.5e-3;\n}\n`, code: 'TSG2005', message: 'floating-point literals are not supported', at: '2:10' },
  { name: 'explicit any', source: `export function main(): number {\n  let x: any = 1;\n  return x;\n}\n`, code: 'TSG2006', message: "'any' and 'unknown' are outside the subset", at: '2:7' },
  { name: 'as any', source: `export function main(): number {\n  return 1 as any;\n}\n`, code: 'TSG2006', message: "'any' is not supported", at: '2:15' },
  { name: 'unknown', source: `function f(x: unknown): number { return 0; }\n${MAIN}`, code: 'TSG2006', message: "type 'unknown' of this parameter", at: '1:12' },
  { name: 'string concatenation', source: `import { print } from '../../lib/console.ts';\nexport function main(): number {\n  print('a' + 'b');\n  return 0;\n}\n`, code: 'TSG2007', message: "strings as values are not supported ('+' on a string)", at: '3:9' },
  { name: 'template literal with substitutions', source: `export function main(): number {\n  const n = 1;\n  const s = \`n=\${n}\`;\n  return 0;\n}\n`, code: 'TSG2007', message: 'template literal with substitutions', at: '3:13' },
  { name: 'indexing a string', source: `export function main(): number {\n  const s = 'abc';\n  return s[0] === 'a' ? 1 : 0;\n}\n`, code: 'TSG2007', message: 'indexing a string gives a string', at: '3:10' },
  { name: 'string method', source: `export function main(): number {\n  const s = 'abc';\n  return s.indexOf('b');\n}\n`, code: 'TSG2007', message: "strings as values are not supported (string member 'indexOf')", at: '3:12' },
  { name: 'string ordering', source: `function f(a: string, b: string): boolean { return a < b; }\n${MAIN}`, code: 'TSG2007', message: "('<' on a string)", at: '1:52' },
  { name: 'non-ASCII string literal', source: `import { print } from '../../lib/console.ts';\nexport function main(): number {\n  print('caf\u00e9');\n  return 0;\n}\n`, code: 'TSG2007', message: 'non-ASCII string literals are not supported (U+00E9)', at: '3:9' },
  { name: 'a string tested for truth', source: `function f(s: string): number { return s ? 1 : 0; }\n${MAIN}`, code: 'TSG2007', message: 'testing a string for truth is not supported', at: '1:40' },
  { name: 'main returning void', source: `export function main(): void {}\n`, code: 'TSG1003', message: 'main must take no parameters and return a number', at: '1:17' },
  { name: 'throw', source: `export function main(): number {\n  throw 1;\n}\n`, code: 'TSG2008', message: "exceptions are not supported ('throw')", at: '2:3' },
  { name: 'try/catch', source: `export function main(): number {\n  try {\n    return 1;\n  } catch {\n    return 2;\n  }\n}\n`, code: 'TSG2008', message: "exceptions are not supported ('try')", at: '2:3' },
  { name: 'for...of over a string', source: `export function main(): number {\n  let n = 0;\n  for (const c of 'abc') n++;\n  return n;\n}\n`, code: 'TSG2007', message: "'for...of' over a string is not supported", at: '3:19' },
  { name: 'for...of without its own variable', source: `const t = new Int32Array(4);\nexport function main(): number {\n  let x = 0;\n  for (x of t) x++;\n  return x;\n}\n`, code: 'TSG2009', message: "'for...of' needs its own const or let variable", at: '4:8' },
  { name: 'for...in', source: `export function main(): number {\n  for (const k in 'abc') {}\n  return 0;\n}\n`, code: 'TSG2009', message: "'for...in' is not supported", at: '2:3' },
  { name: 'debugger', source: `export function main(): number {\n  debugger;\n  return 0;\n}\n`, code: 'TSG2009', message: "'debugger' is not supported", at: '2:3' },
  { name: 'bigint literal', source: `export function main(): number {\n  const b = 10n;\n  return 0;\n}\n`, code: 'TSG2010', message: 'bigint literals are not supported', at: '2:13' },
  { name: 'regular expression', source: `export function main(): number {\n  const r = /a+/;\n  return 0;\n}\n`, code: 'TSG2010', message: 'regular expressions are not supported', at: '2:13' },
  { name: 'typeof', source: `export function main(): number {\n  const x = 1;\n  return typeof x === 'number' ? 1 : 0;\n}\n`, code: 'TSG2010', message: "'typeof' is not supported", at: '3:10' },
  { name: 'delete', source: `const t = new Int32Array(4);\nexport function main(): number {\n  delete t[0];\n  return 0;\n}\n`, code: 'TSG2010', message: "'delete' is not supported", at: '3:3' },
  { name: 'void operator', source: `export function main(): number {\n  void 0;\n  return 0;\n}\n`, code: 'TSG2010', message: "'void' is not supported", at: '2:3' },
  { name: 'exponent operator', source: `export function main(): number {\n  const x = 3;\n  return x ** 2;\n}\n`, code: 'TSG2010', message: "the exponent operator '**' is not supported", at: '3:12' },
  { name: 'in operator', source: `export function main(): number {\n  return 'a' in {} ? 1 : 0;\n}\n`, code: 'TSG2003', message: "'in' is not supported", at: '2:14' },
  { name: 'instanceof', source: `function f(x: Int32Array): boolean { return x instanceof Int32Array; }\n${MAIN}`, code: 'TSG2002', message: "'instanceof' is not supported", at: '1:47' },
  { name: 'spread argument', source: `function f(a: number, b: number): number { return a + b; }\nconst t = new Int32Array(2);\nexport function main(): number {\n  return f(...t);\n}\n`, code: 'TSG2010', message: 'spread arguments are not supported', at: '4:12' },
  { name: 'null', source: `export function main(): number {\n  const x: number | null = null;\n  return 0;\n}\n`, code: 'TSG2019', message: "'null' is not supported", at: '2:28' },
  { name: 'undefined', source: `export function main(): number {\n  const x = undefined;\n  return 0;\n}\n`, code: 'TSG2019', message: "'undefined' is not supported", at: '2:13' },
  { name: 'nullish coalescing', source: `function f(a: number, b: number): number { return a ?? b; }\n${MAIN}`, code: 'TSG2019', message: "'??' is not supported", at: '1:53' },
  { name: 'optional chaining', source: `const t = new Int32Array(2);\nexport function main(): number {\n  return t?.length;\n}\n`, code: 'TSG2019', message: "optional chaining ('?.') is not supported", at: '3:10' },
  { name: 'var', source: `export function main(): number {\n  var x = 1;\n  return x;\n}\n`, code: 'TSG2012', message: "'var' is not supported; use let or const", at: '2:3' },
  { name: 'destructuring', source: `export function main(): number {\n  const [a, b] = [1, 2];\n  return a + b;\n}\n`, code: 'TSG2012', message: 'destructuring declarations are not supported', at: '2:9' },
  { name: 'non-constant default parameter', source: `let k = 1;\nfunction f(x: number = k): number { return x; }\n${MAIN}`, code: 'TSG3001', message: "the default value of parameter 'x' must be a constant expression", at: '2:24' },
  { name: 'optional parameter', source: `function f(x?: number): number { return 0; }\n${MAIN}`, code: 'TSG2012', message: 'optional parameters are not supported', at: '1:12' },
  { name: 'rest parameter', source: `function f(...xs: number[]): number { return 0; }\n${MAIN}`, code: 'TSG2012', message: 'rest parameters are not supported', at: '1:12' },
  { name: 'generator', source: `function* g(): Generator<number> { yield 1; }\n${MAIN}`, code: 'TSG2012', message: 'generator functions are not supported', at: '1:11' },
  { name: 'async function', source: `async function f(): Promise<number> { return 1; }\n${MAIN}`, code: 'TSG2012', message: 'async functions are not supported', at: '1:16' },
  { name: 'generic function', source: `function id<T>(x: T): T { return x; }\n${MAIN}`, code: 'TSG2012', message: 'generic functions are not supported', at: '1:13' },
  { name: 'namespace', source: `namespace N { export const a = 1; }\n${MAIN}`, code: 'TSG2012', message: 'namespaces are not supported', at: '1:1' },
  { name: 'ambient declaration', source: `declare function external(): number;\n${MAIN}`, code: 'TSG2012', message: 'ambient function declarations are not supported', at: '1:18' },
  { name: 'enum inside a function', source: `export function main(): number {\n  enum E { A }\n  return E.A;\n}\n`, code: 'TSG2012', message: 'enums must be declared at module level', at: '2:3' },
  { name: 'string enum', source: `enum S { A = 'a' }\n${MAIN}`, code: 'TSG2011', message: "enum member 'A' must have a constant number value", at: '1:10' },
  { name: 'top-level statement', source: `let x = 0;\nx = 5;\n${MAIN}`, code: 'TSG2013', message: 'top-level statements are not supported', at: '2:1' },
  { name: 'typed array inside a function declared with let', source: `export function main(): number {\n  let t = new Int32Array(4);\n  return t[0];\n}\n`, code: 'TSG2014', message: "typed array 't' must be declared const", at: '2:7' },
  { name: 'typed array inside a function without a name', source: `function f(a: Int32Array): number { return a.length; }\nexport function main(): number {\n  return f(new Int32Array(4));\n}\n`, code: 'TSG2014', message: 'a typed array inside a function must be declared by name', at: '3:12' },
  { name: 'typed array inside a function with a computed length', source: `export function main(): number {\n  let n = 4;\n  const t = new Int32Array(n);\n  return t[0];\n}\n`, code: 'TSG3006', message: "the length of typed array 't' must be a constant", at: '3:28' },
  { name: 'local typed arrays past 64 KiB in one function', source: `export function main(): number {\n  const a = new Int32Array(10000);\n  const b = new Int32Array(10000);\n  return a[0] + b[0];\n}\n`, code: 'TSG3011', message: "local typed array 'b' (new Int32Array(10000), 40000 bytes) takes 'main' past 65536 bytes", at: '3:9' },
  { name: 'returning a local typed array', source: `function make(): Uint8Array {\n  const b = new Uint8Array(4);\n  return b;\n}\nexport function main(): number {\n  return make()[0];\n}\n`, code: 'TSG2014', message: "'b' is a typed array in this function's stack frame: it cannot be returned", at: '3:10' },
  { name: 'a local typed array declared in a loop, held after it', source: `const g = new Uint8Array(4);\nexport function main(): number {\n  let keep = g;\n  for (let i = 0; i < 3; i++) {\n    const b = new Uint8Array(4);\n    keep = b;\n  }\n  return keep[0];\n}\n`, code: 'TSG2014', message: "'b' is declared in a loop", at: '6:5' },
  { name: 'typed array declared with let', source: `let t = new Int32Array(4);\n${MAIN}`, code: 'TSG2014', message: "typed array 't' must be declared const", at: '1:5' },
  { name: 'Float64Array', source: `const t = new Float64Array(4);\n${MAIN}`, code: 'TSG2015', message: 'Float64Array is not supported', at: '1:11' },
  { name: 'seventeen parameters', source: `function f(${Array.from({ length: 17 }, (_, i) => `a${i}: number`).join(', ')}): number { return a0; }\n${MAIN}`, code: 'TSG2016', message: 'functions take at most 16 parameters', at: '1:210' },
  { name: 'unsupported Math function', source: `export function main(): number {\n  return Math.sqrt(16);\n}\n`, code: 'TSG2020', message: "'Math.sqrt' is not supported", at: '2:10' },
  { name: 'Math.min of nothing', source: `export function main(): number {\n  return Math.min();\n}\n`, code: 'TSG2020', message: "'Math.min()' needs at least one argument", at: '2:10' },
  { name: 'console.log with a format conversion', source: `export function main(): number {\n  console.log('%d items', 3);\n  return 0;\n}\n`, code: 'TSG2010', message: 'has a format conversion (%d)', at: '2:15' },
  { name: 'other console methods', source: `export function main(): number {\n  console.error('x');\n  return 0;\n}\n`, code: 'TSG2003', message: "'console.error' is not supported", at: '2:3' },
  { name: 'function with a default parameter as a value', source: `function f(x = 1): number { return x; }\nfunction call(g: () => number): number { return g(); }\nexport function main(): number {\n  return call(f);\n}\n`, code: 'TSG2017', message: "function 'f' has default or optional parameters, so it cannot be a function value", at: '4:15' },
  { name: 'call through a variable', source: `declare const g: () => number;\n${MAIN}`, code: 'TSG2012', message: 'ambient variable declarations are not supported', at: '1:1' },
  { name: 'dynamic import', source: `export function main(): number {\n  import('./x.ts');\n  return 0;\n}\n`, code: 'TSG2018', message: "dynamic 'import()' is not supported", at: '2:3' },
  { name: 'export default expression', source: `export default 5;\n${MAIN}`, code: 'TSG2018', message: "'export =' and 'export default <expression>' are not supported", at: '1:1' },
  { name: 'non-constant module initialiser', source: `function f(): number { return 1; }\nconst k = f();\n${MAIN}`, code: 'TSG3001', message: "module-level initialiser of 'k' must be a constant expression", at: '2:11' },
  { name: 'module variable without initialiser', source: `let k: number;\n${MAIN}`, code: 'TSG3001', message: "module-level variable 'k' needs an initialiser", at: '1:5' },
  { name: 'integer literal too large', source: `export function main(): number {\n  return 0x100000000;\n}\n`, code: 'TSG3002', message: "integer literal '0x100000000' does not fit in 32 bits", at: '2:10' },
  { name: 'constant division by zero', source: `const K = 1 / 0;\n${MAIN}`, code: 'TSG3003', message: 'division by zero in a constant expression', at: '1:11' },
  { name: 'non-constant case label', source: `export function main(): number {\n  const x = 1;\n  let y = 2;\n  switch (x) {\n    case y:\n      return 1;\n  }\n  return 0;\n}\n`, code: 'TSG3004', message: 'case labels must be constant numbers', at: '5:10' },
  { name: 'switch on a string', source: `function f(s: string): number {\n  switch (s) {\n    case 'a':\n      return 1;\n  }\n  return 0;\n}\n${MAIN}`, code: 'TSG2007', message: 'switch on a string is not supported', at: '2:11' },
  { name: 'non-constant control register', source: `export function main(): number {\n  let c = 1;\n  return readCr(c);\n}\n`, code: 'TSG3005', message: 'the control register of readCr must be a constant', at: '3:17' },
  { name: 'interrupt handler with the wrong signature', source: `function h(): number { return 0; }\nexport function main(): number {\n  return interruptEntry(h);\n}\n`, code: 'TSG3005', message: 'an interrupt handler must be declared as function h(frame: number): void', at: '3:25' },
  { name: 'comparing unsigned with signed', source: `function f(a: number, b: number): boolean { return (a >>> 0) < b; }\n${MAIN}`, code: 'TSG3012', message: 'comparing an unsigned value (x >>> 0) and a value that may be negative', at: '1:52' },
  { name: 'no main', source: `export function start(): number { return 0; }\n`, code: 'TSG1002', message: 'the entry module must export a function main(): number', at: '1:1' },
  { name: 'main with parameters', source: `export function main(x: number): number { return x; }\n`, code: 'TSG1003', message: 'main must take no parameters', at: '1:17' },
  { name: 'a type error', source: `export function main(): number {\n  const s: number = 'x';\n  return s;\n}\n`, code: 'TS2322', message: "Type 'string' is not assignable to type 'number'", at: '2:9' },
];

describe('unsupported constructs are compile errors naming the construct and its position', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const errors = errorsOf(c.source);
    const want = errors.find((e) => e.startsWith(`guest-kernel/programs/__test__/main.ts:${c.at}: error ${c.code}: `));
    expect(want, `expected ${c.code} at ${c.at}, got:\n${errors.join('\n')}`).toBeDefined();
    if (typeof c.message === 'string') expect(want).toContain(c.message);
    else expect(want).toMatch(c.message);
  });
});

describe('one error per construct: no TypeScript lib noise beside the compiler\'s own', () => {
  it('throw new Error, new Map and Math.floor give the subset errors only', () => {
    const errors = errorsOf(`export function main(): number {\n  if (1 > 2) throw new Error('x');\n  const m = new Map<number, number>();\n  return Math.floor(3);\n}\n`);
    expect(errors.map((e) => e.split(': error ')[1]!.slice(0, 7))).toEqual(['TSG2008', 'TSG2002', errors[2]!.split(': error ')[1]!.slice(0, 7)]);
    expect(errors.join('\n')).not.toMatch(/TS2304|TS2583|TS2339/);
  });

  it('a missing name with no subset error beside it is still reported', () => {
    expect(errorsOf(`export function main(): number {\n  return undefinedName;\n}\n`).join('\n')).toMatch(/error TS2552: Cannot find name 'undefinedName'/);
  });
});

describe('one error per unsupported declaration, none at its uses', () => {
  const cases: [string, string, string[]][] = [
    [
      'an interface used by three functions',
      `interface P { x: number }\nfunction f(p: P): number { return p.x; }\nfunction g(p: P): number { return p.x + 1; }\nfunction h(p: P): number { return p.x + 2; }\n${MAIN}`,
      ["1:11: error TSG2003: interface 'P' is an object type"],
    ],
    ['a generic function called three times', `function id<T>(x: T): T { return x; }\nexport function main(): number { return id(1) + id(2) + id(3); }\n`, ['1:13: error TSG2012: generic functions are not supported']],
    ['a namespace and its uses', `namespace N { export const a = 1; }\nexport function main(): number { return N.a + N.a; }\n`, ['1:1: error TSG2012: namespaces are not supported']],
    ['a string enum and its uses', `enum S { A = 'a', B = 'b' }\nexport function main(): number { const s = S.A; return s === S.B ? 1 : 0; }\n`, ["1:10: error TSG2011: enum member 'A' must have a constant number value"]],
    ['a static member and its use', `class Box { x = 0; static z = 2; }\nconst b = new Box();\nexport function main(): number { return b.x + Box.z + Box.z; }\n`, ['1:20: error TSG2030: static members are not supported']],
  ];
  it.each(cases)('%s', (_name, source, want) => {
    const errors = errorsOf(source).filter((e) => !/error TS\d/.test(e));
    expect(errors.map((e) => e.replace('guest-kernel/programs/__test__/main.ts:', ''))).toEqual(want.map((w) => expect.stringContaining(w)));
  });
});
