/**
 * Run-time checks (compiler/checks.ts, compiler/range.ts): integer arithmetic whose exact result
 * leaves int32 where JavaScript would keep the larger number, a quotient with a fraction, and a
 * typed-array index outside the array each stop the program with the error, its source line and
 * column and text, where Node would go on with a different number; where the program asks for
 * wrapping, or the range analysis proves a check cannot fire, the code is Node's answer without
 * one. `--unchecked` builds without them, for comparison.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RUNTIME_ERROR_EXIT_CODE } from '../../abi/platform.ts';
import { runInNode } from '../../guest-kernel/compiler/node-shim.ts';
import { main as cliMain } from '../../hypervisor/cli.ts';
import type { BootTarget as Target } from '../../guest-kernel/compiler/types.ts';
import { compileFile, compileSource, compileSources, errorsOf, functionAsm, loopsOf as loopsOfFunction, PROGRAMS, run, withProgramFiles } from './helpers.ts';

const FILE = 'guest-kernel/programs/__test__/main.ts';
const TARGETS: readonly Target[] = ['native', 'pv'];
const CONSOLE = "import { printlnNumber } from '../../lib/console.ts';";

/** Run `src` on both targets: it must stop with `file:<where>` as its last line, after `before`. */
function expectError(src: string, where: string, before = ''): void {
  for (const target of TARGETS) {
    const r = run(compileSource(src, target).image, target);
    expect(r.stop, `${target}: ${r.message ?? ''}`).toBe('shutdown');
    expect(r.console, target).toBe(`${before}${FILE}:${where}\n`);
    expect(r.exitCode, target).toBe(RUNTIME_ERROR_EXIT_CODE);
  }
}

/** Run `src` in Node and on the machine (both targets): the same console and exit code. */
async function expectNode(src: string): Promise<string> {
  return withProgramFiles({ 'main.ts': src }, async (file) => {
    const node = await runInNode(file);
    for (const target of TARGETS) {
      const r = run(compileFile(file, target).image, target);
      expect(r.stop, `${target}: ${r.console}`).toBe('shutdown');
      expect(r.console, target).toBe(node.console);
      expect(r.exitCode, target).toBe(node.exitCode);
    }
    return node.console;
  });
}

/** Loops closed by a conditional branch or a `jmp` back (helpers.ts). */
const loopsOf = (asm: string, fn: string): string[][] => loopsOfFunction(asm, fn, true);

const CHECKING = /^(addo|subo|mulo|addio|chk|chki|mulh) /;
const BOUNDS = /^chki? /;
const checksIn = (lines: string[]): string[] => lines.filter((l) => CHECKING.test(l));

describe('integer overflow stops the program, naming the expression', () => {
  it("the sieve with `j = i * i` stops at the product (not a triple fault), with its line and column", async () => {
    const sieve = (limit: number): string =>
      [
        CONSOLE,
        `const LIMIT = ${limit};`,
        `const composite = new Uint8Array(${limit});`,
        'export function main(): number {',
        '  let count = 0;',
        '  for (let i = 2; i < LIMIT; i++) {',
        '    if (composite[i] === 0) {',
        '      count++;',
        '      for (let j = i * i; j < LIMIT; j += i) composite[j] = 1;',
        '    }',
        '  }',
        '  printlnNumber(count);',
        '  return count & 0xff;',
        '}',
      ].join('\n');
    expectError(sieve(100000), "9:20: integer overflow in 'i * i'");
    // Where i * i stays an int32, Node's answer.
    expect(await expectNode(sieve(10000))).toBe('1229\n');
  });

  it('+, - and * of parameters', () => {
    const src = (body: string, args: string): string => `${CONSOLE}\nfunction f(a: number, b: number): number {\n  return ${body};\n}\nexport function main(): number {\n  printlnNumber(f(3, 4));\n  printlnNumber(f(${args}));\n  return 0;\n}`;
    expectError(src('a + b', '2147483647, 1'), "3:10: integer overflow in 'a + b'", '7\n');
    expectError(src('a - b', '-2147483647, 2'), "3:10: integer overflow in 'a - b'", '-1\n');
    expectError(src('a * b', '65536, 32768'), "3:10: integer overflow in 'a * b'", '12\n');
    expectError(src('-a + b', '-2147483648, 0'), "3:10: integer overflow in '-a'", '1\n');
  });

  it('++, -- and compound assignments on locals and module variables', () => {
    const local = `${CONSOLE}\nfunction up(n: number): number {\n  let x = 2147483646 + n;\n  x++;\n  return x;\n}\nexport function main(): number {\n  printlnNumber(up(0));\n  printlnNumber(up(1));\n  return 0;\n}`;
    expectError(local, "4:3: integer overflow in 'x++'", '2147483647\n');
    const down = `${CONSOLE}\nfunction down(n: number): number {\n  let x = -2147483647 - n;\n  return --x;\n}\nexport function main(): number {\n  printlnNumber(down(0));\n  printlnNumber(down(1));\n  return 0;\n}`;
    expectError(down, "4:10: integer overflow in '--x'", '-2147483648\n');
    const moduleVar = `${CONSOLE}\nlet total = 0;\nfunction add(n: number): void {\n  total += n;\n}\nexport function main(): number {\n  add(2000000000);\n  printlnNumber(total);\n  add(2000000000);\n  return 0;\n}`;
    expectError(moduleVar, "4:3: integer overflow in 'total += n'", '2000000000\n');
  });

  it('wraps silently where JavaScript wraps too: | 0, >>> 0, bitwise operators, Math.imul, typed-array stores', async () => {
    const out = await expectNode(`${CONSOLE}
const t = new Int32Array(4);
function mix(a: number, b: number, c: number): number {
  const x = (a + b) | 0;
  const y = (a - b - c) ^ 5;
  const z = Math.imul(a + b, c);
  t[0] = a * 3;
  t[1] = a + b + c;
  t[2] += b;
  t[3] = -a;
  const w = ((a << 1) + b) >>> 0;
  return (x + y + z + t[0] + t[1] + t[2] + t[3] + (w & 0xff)) | 0;
}
export function main(): number {
  printlnNumber(mix(2000000000, 2000000000, 7));
  printlnNumber(mix(-2147483648, 1, -1));
  return 0;
}`);
    expect(out.split('\n')).toHaveLength(3);
  });

  it('checks a wrapping product whose JavaScript value passes 2^53 (it would round there)', async () => {
    const src = (h: number): string => `${CONSOLE}\nfunction step(h: number): number {\n  return (h * 16777619) | 0;\n}\nexport function main(): number {\n  printlnNumber(step(1000));\n  printlnNumber(step(${h}));\n  return 0;\n}`;
    await expectNode(src(500000000)); // below 2^53 / 16777619: exact in Node, wraps the same
    expectError(src(0x7fffffff), "3:11: integer overflow in 'h * 16777619'", `${(1000 * 16777619) | 0}\n`);
    // Math.imul is the portable way to say it.
    await expectNode(`${CONSOLE}\nexport function main(): number {\n  let h = 0x7fffffff;\n  for (let i = 0; i < 3; i++) h = Math.imul(h, 16777619) ^ i;\n  printlnNumber(h);\n  return 0;\n}`);
  });

  it('an operand above 2^31 - 1 (x >>> 0) in exact arithmetic is checked', async () => {
    const src = (x: number): string => `${CONSOLE}\nfunction next(x: number): number {\n  const u = x >>> 0;\n  const v = u + 1;\n  return v > 100 ? 1 : 0;\n}\nexport function main(): number {\n  printlnNumber(next(${x}));\n  return 0;\n}`;
    await expectNode(src(5));
    expectError(src(-1), "4:13: unsigned value out of range in 'u + 1'");
  });

  it('a constant above 0x7fffffff passed as an argument is refused (its bits would print signed)', async () => {
    expect(errorsOf(`${CONSOLE}\nexport function main(): number {\n  printlnNumber(0xffffffff);\n  return 0;\n}`)).toEqual([
      `${FILE}:3:17: error TSG3010: argument 1 of 'printlnNumber' is 4294967295, above 2147483647, but a parameter holds a signed 32-bit number, so the callee would compare, divide or print it differently from JavaScript: write (value) | 0 to pass its signed bits`,
    ]);
    expect(await expectNode(`${CONSOLE}\nexport function main(): number {\n  printlnNumber(0xffffffff | 0);\n  return 0;\n}`)).toBe('-1\n');
  });

  it('a constant expression that leaves the 32-bit range is a compile error unless wrapped', async () => {
    expect(errorsOf(`const BIG = 2147483647 * 2 * 2;\nexport function main(): number { return BIG & 1; }`)).toEqual([
      `${FILE}:1:13: error TSG3020: integer overflow in a constant expression: 2147483647 * 2 * 2 is 8589934588, outside the 32-bit range; write (2147483647 * 2 * 2) | 0 if it should wrap`,
    ]);
    expect(errorsOf(`export function main(): number { const k = 3; return k * 2000000000 > 0 ? 1 : 0; }`)[0]).toContain('error TSG3020');
    await expectNode(`${CONSOLE}\nconst H = (0x7fffffff * 31) | 0;\nconst U = 0x7fffffff + 1;\nexport function main(): number {\n  printlnNumber(H);\n  printlnNumber(U > 5 ? 1 : 0);\n  printlnNumber(U | 0);\n  return 0;\n}`);
  });
});

describe('division', () => {
  const src = (body: string, args: string): string =>
    `${CONSOLE}\nfunction f(a: number, b: number): number {\n  return ${body};\n}\nexport function main(): number {\n  printlnNumber(f(12, 3));\n  printlnNumber(f(${args}));\n  return 0;\n}`;

  it('a quotient with a fraction stops the program unless it is truncated (| 0)', async () => {
    expectError(src('a / b', '7, 2'), "3:10: inexact division in 'a / b'", '4\n');
    await expectNode(src('(a / b) | 0', '-7, 2'));
    expect(errorsOf(`export function main(): number { let x = 7 / 2; return x; }`)[0]).toContain('error TSG3009: inexact division 7 / 2');
  });

  it('INT_MIN / -1 is an overflow unless truncated', async () => {
    expectError(src('a / b', '-2147483648, -1'), "3:10: integer overflow in 'a / b'", '4\n');
    await expectNode(src('(a / b) | 0', '-2147483648, -1'));
  });

  it('a division or remainder by zero names the expression', () => {
    expectError(src('a % b', '7, 0'), "3:10: division by zero in 'a % b'", '0\n');
    expectError(src('(a / b) | 0', '7, 0'), "3:11: division by zero in 'a / b'", '4\n');
  });
});

describe('typed-array bounds', () => {
  it('a read and a write outside a static array', () => {
    const read = `${CONSOLE}\nconst t = new Int32Array([5, 6, 7, 8]);\nfunction get(i: number): number {\n  return t[i];\n}\nexport function main(): number {\n  printlnNumber(get(3));\n  printlnNumber(get(4));\n  return 0;\n}`;
    expectError(read, "4:10: index out of bounds in 't[i]'", '8\n');
    const negative = read.replace('get(4)', 'get(-1)');
    expectError(negative, "4:10: index out of bounds in 't[i]'", '8\n');
    const write = `${CONSOLE}\nconst t = new Uint8Array(100000);\nfunction put(i: number, v: number): void {\n  t[i] = v;\n}\nexport function main(): number {\n  put(99999, 1);\n  printlnNumber(t[99999]);\n  put(100000, 1);\n  return 0;\n}`;
    expectError(write, "4:3: index out of bounds in 't[i]'", '1\n');
  });

  it('an array passed as a parameter, checked against its length word', async () => {
    const sum = (n: number): string =>
      `${CONSOLE}\nconst data = new Int32Array([1, 2, 3, 4, 5]);\nfunction sum(a: Int32Array, n: number): number {\n  let s = 0;\n  for (let i = 0; i < n; i++) s += a[i];\n  return s;\n}\nexport function main(): number {\n  printlnNumber(sum(data, ${n}));\n  return 0;\n}`;
    expect(await expectNode(sum(5))).toBe('15\n');
    expectError(sum(6), "5:36: index out of bounds in 'a[i]'");
  });

  it('a check moved before its loop fires only when the loop would have failed', async () => {
    // A do/while runs once whatever its bound; a loop that leaves early never reaches the bad index.
    await expectNode(`${CONSOLE}
const t = new Uint8Array(4);
function once(n: number): number { let i = 0; do { t[i] = 7; i++; } while (i < n); return t[0]; }
function find(a: Uint8Array, n: number, v: number): number { for (let i = 0; i < n; i++) if (a[i] === v) return i; return -1; }
export function main(): number {
  printlnNumber(once(-5));
  t[2] = 9;
  printlnNumber(find(t, 100, 9));
  return 0;
}`);
  });
});

describe('the range analysis keeps hot loops free of checks', () => {
  const corpus = (name: string, opts = {}) => compileFile(path.join(PROGRAMS, `${name}.ts`), 'native', opts);

  it('sieve: none at all in sieve()', () => {
    expect(checksIn(functionAsm(corpus('sieve').asm, 'sieve'))).toEqual([]);
  });

  it('crc32: one check of the last index, before the loop', () => {
    const asm = corpus('crc32').asm;
    expect(checksIn(functionAsm(asm, 'crc32'))).toEqual([expect.stringMatching(/^chk r\d+, r\d+$/)]);
    for (const loop of loopsOf(asm, 'crc32')) expect(checksIn(loop)).toEqual([]);
    for (const fn of ['makeTable', 'fill']) expect(checksIn(functionAsm(asm, fn)), fn).toEqual([]);
  });

  it('matmul: no bounds checks; the product and the sum of elements are checked (their values are unknown)', () => {
    const asm = corpus('matmul').asm;
    for (const fn of ['init', 'multiply', 'main']) expect(functionAsm(asm, fn).filter((l) => BOUNDS.test(l)), fn).toEqual([]);
    expect(checksIn(functionAsm(asm, 'init'))).toEqual([]);
    // The product and the sum, in each of the four unrolled copies and in the loop that finishes.
    const kinds = checksIn(functionAsm(asm, 'multiply')).map((l) => l.split(' ')[0]);
    expect(new Set(kinds)).toEqual(new Set(['mulo', 'addo']));
    expect(kinds.filter((k) => k === 'mulo').length).toBe(kinds.filter((k) => k === 'addo').length);
  });

  it("sort: insertion sort's inner loop is proven by the outer loop's check", () => {
    const asm = corpus('sort').asm;
    expect(checksIn(functionAsm(asm, 'insertionSort'))).toEqual([expect.stringMatching(/^chk /)]);
    const loops = loopsOf(asm, 'insertionSort');
    expect(loops.length).toBeGreaterThan(1);
    expect(checksIn(loops[0]!)).toEqual([]); // the innermost loop comes first in the layout
  });

  it('checks cost under 10% of the instructions on the corpus (measured against --unchecked)', () => {
    for (const name of ['sieve', 'crc32', 'matmul', 'sort']) {
      const checked = run(corpus(name).image);
      const unchecked = run(corpus(name, { unchecked: true }).image);
      expect(checked.console, name).toBe(unchecked.console);
      expect(checked.instructions / unchecked.instructions, name).toBeLessThan(1.1);
    }
  });

  it('counts the checks a program keeps, and those in loops', () => {
    const c = compileSource(`const data = new Int32Array([1, -2, 3]);
function sum(a: Int32Array, n: number): number { let s = 0; for (let i = 0; i < n; i++) s = (s + a[i]) | 0; return s; }
function positive(a: Int32Array, n: number): number { let s = 0; for (let i = 0; i < n; i++) if (a[i] > 0) s += a[i]; return s; }
export function main(): number { return sum(data, 3) ^ positive(data, 3); }`);
    // sum: one bounds check, moved before the loop. positive: \`s += a[i]\` and the bounds check
    // stay in the loop (moving the bounds check before it could change which check fires first).
    expect(c.stats).toMatchObject({ checks: 3, checksInLoops: 2 });
    expect(run(c.image).exitCode).toBe(2 ^ 4);
  });
});

describe('--unchecked', () => {
  it('removes overflow, bounds and inexact-division checks; division by zero still traps', () => {
    for (const name of ['sieve', 'crc32', 'matmul', 'sort']) {
      const c = compileFile(path.join(PROGRAMS, `${name}.ts`), 'native', { unchecked: true });
      expect(c.asm.split('\n').filter((l) => CHECKING.test(l.trim())), name).toEqual([]);
      expect(c.stats).toMatchObject({ checks: 0, checksInLoops: 0 });
    }
    const div = compileSource(`function f(a: number, b: number): number { return a / b; }\nexport function main(): number { return f(7, 0); }`, 'native', { unchecked: true });
    expect(functionAsm(div.asm, 'f').filter((l) => !l.endsWith(':'))).toEqual([expect.stringMatching(/^div /), 'ret']);
    expect(run(div.image).console).toBe(`${FILE}:1:51: division by zero in 'a / b'\n`);
  });

  it('is a flag of tsvisor compile', async () => {
    const capture = () => {
      const out: string[] = [];
      const err: string[] = [];
      return { out, err, io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) } };
    };
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-checks-'));
    onTestFinished(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const img = path.join(tmp, 'sieve.img');
    const a = capture();
    expect(await cliMain(['compile', path.join(PROGRAMS, 'sieve.ts'), '-o', img], a.io)).toBe(0);
    expect(a.out.join('')).toMatch(/, \d+ run-time checks \(\d+ in loops\)\n$/);
    const b = capture();
    expect(await cliMain(['compile', path.join(PROGRAMS, 'sieve.ts'), '-o', img, '--unchecked'], b.io)).toBe(0);
    expect(b.out.join('')).toMatch(/, no run-time checks \(--unchecked\)\n$/);
    const c = capture();
    expect(await cliMain(['compile', path.join(PROGRAMS, 'sieve.ts'), '-o', img, '--unchecked=yes'], c.io)).toBe(2);
    expect(c.err.join('').trim().split('\n')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random straight-line and loop programs over int32, with sums and products that
// overflow, either give Node's console exactly or stop at an integer-overflow check (having
// printed what Node printed up to there), or are refused for a constant that overflows.

type Expr = { k: 'var'; i: number } | { k: 'lit'; v: number } | { k: 'bin'; op: '+' | '-' | '*'; l: Expr; r: Expr };
type Stmt =
  | { k: 'assign'; to: number; e: Expr; wrap: 'none' | 'or0' | 'imul' }
  | { k: 'print'; v: number }
  | { k: 'loop'; n: number; to: number; op: '+' | '-' | '*'; from: number; wrap: boolean };

const VARS = 4;
const int32 = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.integer({ min: -70000, max: 70000 }),
  fc.constantFrom(0, 1, -1, 2, 46341, 65536, 0x7fffffff, -0x80000000, 16777619),
);
const { expr } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    fc.integer({ min: 0, max: VARS - 1 }).map((i): Expr => ({ k: 'var', i })),
    int32.map((v): Expr => ({ k: 'lit', v })),
    fc.record({ k: fc.constant('bin' as const), op: fc.constantFrom('+' as const, '-' as const, '*' as const), l: tie('expr'), r: tie('expr') }),
  ),
}));
const stmt: fc.Arbitrary<Stmt> = fc.oneof(
  fc.record({ k: fc.constant('assign' as const), to: fc.integer({ min: 0, max: VARS - 1 }), e: expr, wrap: fc.constantFrom('none' as const, 'none' as const, 'or0' as const, 'imul' as const) }),
  fc.record({ k: fc.constant('print' as const), v: fc.integer({ min: 0, max: VARS - 1 }) }),
  fc.record({
    k: fc.constant('loop' as const),
    n: fc.integer({ min: 1, max: 40 }),
    to: fc.integer({ min: 0, max: VARS - 1 }),
    op: fc.constantFrom('+' as const, '-' as const, '*' as const),
    from: fc.integer({ min: 0, max: VARS - 1 }),
    wrap: fc.boolean(),
  }),
);
const program = fc.record({ inputs: fc.array(int32, { minLength: VARS, maxLength: VARS }), body: fc.array(stmt, { minLength: 1, maxLength: 8 }) });

const exprText = (e: Expr): string => (e.k === 'var' ? `v${e.i}` : e.k === 'lit' ? `(${e.v})` : `(${exprText(e.l)} ${e.op} ${exprText(e.r)})`);

function bodyText(body: Stmt[]): string[] {
  return body.map((s) => {
    switch (s.k) {
      case 'assign': {
        if (s.wrap === 'imul' && s.e.k === 'bin') return `v${s.to} = Math.imul(${exprText(s.e.l)}, ${exprText(s.e.r)});`;
        return `v${s.to} = ${s.wrap === 'or0' ? `${exprText(s.e)} | 0` : exprText(s.e)};`;
      }
      case 'print':
        return `printlnNumber(v${s.v});`;
      case 'loop': {
        const e = `v${s.to} ${s.op} v${s.from} ${s.op === '*' ? '+' : '-'} i`;
        return `for (let i = 0; i < ${s.n}; i++) v${s.to} = ${s.wrap ? `(${e}) | 0` : e};`;
      }
    }
  });
}

describe('property: random int32 programs give Node\'s answer or stop at an overflow check', () => {
  it('never differ silently (native and pv)', () => {
    const seen = { node: 0, trap: 0, refused: 0 };
    fc.assert(
      fc.property(program, ({ inputs, body }) => {
        const lines = bodyText(body);
        const params = Array.from({ length: VARS }, (_, i) => `v${i}`);
        const src = [
          CONSOLE,
          `function run(${params.map((p) => `${p}: number`).join(', ')}): void {`,
          ...lines.map((l) => `  ${l}`),
          ...params.map((p) => `  printlnNumber(${p});`),
          '}',
          `export function main(): number {\n  run(${inputs.join(', ')});\n  return 0;\n}`,
        ].join('\n');
        // Node: the same statements as JavaScript.
        const printed: string[] = [];
        new Function(...params, 'printlnNumber', [...lines, ...params.map((p) => `printlnNumber(${p});`)].join('\n'))(...inputs, (x: number) => void printed.push(String(x)));
        const nodeConsole = printed.map((l) => `${l}\n`).join('');
        for (const target of TARGETS) {
          const c = compileSources({ 'main.ts': src }, target);
          if (!c.ok) {
            // Refused: only for a constant expression that leaves the 32-bit range.
            expect(c.diagnostics.map((d) => d.code), src).toEqual(c.diagnostics.map(() => 'TSG3020'));
            seen.refused++;
            continue;
          }
          const r = run(c.image, target, 50_000_000);
          expect(r.stop, src).toBe('shutdown');
          if (r.exitCode === RUNTIME_ERROR_EXIT_CODE) {
            const out = r.console.split('\n');
            out.pop();
            const last = out.pop()!;
            expect(last, src).toMatch(new RegExp(`^${FILE}:\\d+:\\d+: integer overflow in '.+'$`));
            expect(nodeConsole.startsWith(out.map((l) => `${l}\n`).join('')), src).toBe(true);
            seen.trap++;
          } else {
            expect(r.console, src).toBe(nodeConsole);
            expect(r.exitCode, src).toBe(0);
            seen.node++;
          }
        }
      }),
      { numRuns: 40, seed: 11 },
    );
    // Both outcomes occur: the programs do overflow, and the checks do not stop the ones that do not.
    expect(seen.node).toBeGreaterThan(0);
    expect(seen.trap).toBeGreaterThan(0);
  }, 300_000);
});
