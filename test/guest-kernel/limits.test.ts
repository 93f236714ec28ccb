/**
 * Limits (issue 10): whatever guest source or assembly a user passes ends in one diagnostic line
 * or a correct result, never a host stack trace, and compile time stays near-linear.
 *
 * - Nesting deeper than the compiler accepts (guest-kernel/compiler/limits.ts) is TSG3008, once,
 *   at the place it goes too deep: from the compile() API and from `tsvisor compile`.
 * - Nesting within the limits, and code that is long rather than deep (thousands of live locals,
 *   long operator chains), compiles and gives Node's answer. Compile times are not asserted
 *   (2-core machines shared with others); guest-kernel/README.md (Limits) gives measured ones.
 * - The assembler: deep expressions are one error naming file:line:col; a long `.equ` chain,
 *   in any order, resolves without recursion; a cycle is still an error.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble, formatAsmError, MAX_EXPR_DEPTH } from '../../guest-kernel/compiler/assembler.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import { MAX_DEPTH, MAX_NESTING } from '../../guest-kernel/compiler/limits.ts';
import { main } from '../../hypervisor/cli.ts';
import { compileSource, compileSources, ROOT, run } from './helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-limits-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The formatted diagnostics of a source that must not compile; never an exception. */
function diagnostics(src: string): string[] {
  const r = compileSources({ 'main.ts': src });
  if (r.ok) throw new Error('expected a compile error, but it compiled');
  return r.diagnostics.map(formatDiagnostic);
}

/** Exactly one diagnostic, TSG3008, naming the construct; returned for more checks. */
function oneNestingError(src: string, construct: string): string {
  const all = diagnostics(src);
  expect(all).toHaveLength(1);
  expect(all[0]).toMatch(new RegExp(`^guest-kernel/programs/__test__/main\\.ts:\\d+:\\d+: error TSG3008: \\w+ nested too deeply at this ${construct} \\(more than ${MAX_NESTING} levels\\)$`));
  return all[0]!;
}

/** Node's answer for a guest program that needs no intrinsics: its JavaScript, run here. */
function nodeAnswer(src: string): number {
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const exports: { main?: () => number } = {};
  new Function('exports', js)(exports);
  return exports.main!() >>> 0;
}

/** Compiles, runs on the machine, and agrees with Node. */
function expectNodesAnswer(src: string): void {
  const r = run(compileSource(src).image);
  expect(r.stop).toBe('shutdown');
  expect(r.exitCode).toBe(nodeAnswer(src));
}

const parens = (n: number): string => `export function main(): number {\n  const x = ${'('.repeat(n)}7${')'.repeat(n)};\n  return x;\n}\n`;
const ifs = (n: number): string => `export function main(): number {\n  let x = 0;\n${'if (x < 5) {\n'.repeat(n)}x = 3;\n${'}\n'.repeat(n)}  return x;\n}\n`;
const calls = (n: number): string => `function f(a: number): number { return (a + 1) | 0; }\nexport function main(): number {\n  return ${'f('.repeat(n)}0${')'.repeat(n)};\n}\n`;

describe('nesting limits (TSG3008)', () => {
  it.each([1_000, 100_000])('%i nested parentheses: one diagnostic, at the parenthesis that goes too deep', (n) => {
    const d = oneNestingError(parens(n), 'parenthesis');
    // The expression starts at 2:13; the first parentheses beyond the limit come a little later.
    const col = Number(/^[^:]+:2:(\d+):/.exec(d)?.[1]);
    expect(col).toBeGreaterThan(13 + MAX_NESTING - 16);
    expect(col).toBeLessThanOrEqual(13 + MAX_NESTING);
  });

  it.each([2_000, 50_000])('%i nested ifs: one diagnostic, at an if', (n) => {
    const d = oneNestingError(ifs(n), 'if');
    const line = Number(/^[^:]+:(\d+):1:/.exec(d)?.[1]);
    expect(line).toBeGreaterThan(MAX_NESTING - 16);
    expect(line).toBeLessThanOrEqual(MAX_NESTING + 3);
  });

  it.each([1_000, 100_000])('%i nested calls: one diagnostic, at a call', (n) => {
    oneNestingError(calls(n), 'call');
  });

  it.each([
    ['an else-if chain', `export function main(): number {\n  let x = 1;\n  ${'if (x === 0) x = 2; else '.repeat(5_000)}x = 3;\n  return x;\n}\n`, '(if|else|assignment)'],
    ['nested loops', `export function main(): number {\n  let x = 0;\n${'while (x < 1) {\n'.repeat(5_000)}x++;\n${'}\n'.repeat(5_000)}  return x;\n}\n`, 'while'],
    ['a unary chain', `export function main(): number {\n  const x = 1;\n  return ${'- '.repeat(50_000)}x;\n}\n`, 'unary operator'],
    ['a conditional chain', `export function main(): number {\n  const x = 1;\n  return ${'x ? 1 : '.repeat(50_000)}2;\n}\n`, 'conditional'],
    ['an assignment chain', `export function main(): number {\n  let x = 1;\n  ${'x = '.repeat(50_000)}2;\n  return x;\n}\n`, 'assignment'],
    ['nested blocks', `export function main(): number {\n  let x = 1;\n${'{\n'.repeat(50_000)}x = 2;\n${'}\n'.repeat(50_000)}  return x;\n}\n`, 'block'],
    ['nested indexing', `const a = new Int32Array(4);\nexport function main(): number {\n  return ${'a['.repeat(50_000)}0${']'.repeat(50_000)};\n}\n`, 'index'],
    // Not nested in brackets, so found in the syntax tree rather than by the scan before parsing.
    ['a chain of && (TypeScript binds it by recursion)', `export function main(): number {\n  const x = 1;\n  return ${Array(20_000).fill('x').join(' && ')};\n}\n`, "'&&'"],
    ['a chain of indexing', `const a = new Int32Array(4);\nexport function main(): number {\n  return a${'[0]'.repeat(20_000)};\n}\n`, 'index'],
  ])('%s: one diagnostic', (_name, src, construct) => {
    oneNestingError(src, construct);
  });

  it(`a chain of operators deeper than ${MAX_DEPTH}: one diagnostic asking to split it`, () => {
    const all = diagnostics(`export function main(): number {\n  const x = 1;\n  return ${Array(100_000).fill('x').join(' + ')};\n}\n`);
    expect(all).toHaveLength(1);
    expect(all[0]).toMatch(/main\.ts:3:10: error TSG3008: expression too deep at this '\+' \(more than 4096 levels.*\); split it into several statements$/);
  });

  it('a deep file imported by the entry is reported in that file, once', () => {
    const r = compileSources({
      'main.ts': `import { f } from './deep.ts';\nexport function main(): number { return f(); }\n`,
      'deep.ts': `export function f(): number { return ${'('.repeat(5_000)}1${')'.repeat(5_000)}; }\n`,
    });
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([expect.stringMatching(/^guest-kernel\/programs\/__test__\/deep\.ts:1:\d+: error TSG3008: expression nested too deeply at this parenthesis/)]);
  });

  it('a refused file can be fixed and compiled in the same process (nothing stale is cached)', () => {
    oneNestingError(parens(1_000), 'parenthesis');
    expectNodesAnswer(parens(200));
  });
});

describe('within the limits', () => {
  it.each([
    ['200 nested parentheses', parens(200)],
    ['240 nested ifs', ifs(240)],
    ['120 nested calls', calls(120)],
    ['an else-if chain of 240', `export function main(): number {\n  let x = 239;\n  let r = 0;\n  ${Array.from({ length: 240 }, (_, i) => `if (x === ${i}) r = ${i * 2};`).join(' else ')}\n  return r;\n}\n`],
    ['a 2,000-term sum of locals', `export function main(): number {\n  let x = 3;\n  const y = (x * 7) | 0;\n  return (${Array.from({ length: 2_000 }, (_, i) => (i % 2 ? 'x' : 'y')).join(' + ')}) | 0;\n}\n`],
    ['a 200-term && chain in a condition and as a value', `function t(x: number): number { return x + 1; }\nexport function main(): number {\n  let s = 0;\n  for (let i = 0; i < 3; i++) if (${Array.from({ length: 200 }, (_, k) => `t(i) > ${k % 3}`).join(' && ')}) s++;\n  return s * 10 + (${Array(200).fill('t(1)').join(' && ')});\n}\n`],
  ])('%s compiles and gives Node\'s answer', (_name, src) => {
    expectNodesAnswer(src);
  });
});

// Issue 10's acceptance: 3,000 live locals compile in under 10 s. The bound is the test's own
// time-out (compile, run on the machine and in Node included), not an assertion on a timing:
// before, the subset checker made this cubic (over 500 s); it takes about 3 s here.
describe('thousands of simultaneously live locals', { timeout: 10_000 }, () => {
  const N = 3_000;
  const defs = Array.from({ length: N }, (_, i) => `  let v${i} = f(${i});`).join('\n');
  const f = 'function f(a: number): number { return (Math.imul(a, 2654435761) ^ (a >>> 3)) | 0; }';

  it(`${N} locals summed in one expression at the end`, () => {
    const all = Array.from({ length: N }, (_, i) => `v${i}`).join(' + ');
    expectNodesAnswer(`${f}\nexport function main(): number {\n${defs}\n  return (${all}) | 0;\n}\n`);
  });

  it(`${N} locals summed statement by statement at the end`, () => {
    const sums = Array.from({ length: N }, (_, i) => `  s = (s + v${i}) | 0;`).join('\n');
    expectNodesAnswer(`${f}\nexport function main(): number {\n${defs}\n  let s = 0;\n${sums}\n  return s;\n}\n`);
  });
});

// ---------------------------------------------------------------------------------------------
// `tsvisor compile` and `tsvisor asm`: one line, the verdict, exit code 2, no stack trace

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const lines = (into: string[]) => (s: string) => void into.push(...s.replace(/\n$/, '').split('\n'));
  return { io: { out: lines(out), err: lines(err) }, out, err };
}

describe('tsvisor compile on deep sources', () => {
  it.each([
    ['parens', parens(100_000), 'parenthesis'],
    ['ifs', ifs(50_000), 'if'],
    ['calls', calls(100_000), 'call'],
  ])('%s: one diagnostic line and the verdict, exit code 2, no image', async (name, src, construct) => {
    const file = path.join(dir, `${name}.ts`);
    const img = path.join(dir, `${name}.img`);
    fs.writeFileSync(file, src);
    const { io, err } = capture();
    const code = await main(['compile', file, '--target', 'native', '-o', img], io);
    expect(code).toBe(2);
    expect(err).toHaveLength(2);
    expect(err[0]).toMatch(new RegExp(`${name}\\.ts:\\d+:\\d+: error TSG3008: \\w+ nested too deeply at this ${construct} \\(more than ${MAX_NESTING} levels\\)$`));
    expect(err[1]).toBe('tsvisor: compile: 1 error, no image written');
    for (const l of err) expect(l).not.toMatch(/^\s+at /);
    expect(fs.existsSync(img)).toBe(false);
  });
});

describe('the last resort', () => {
  it('with a stack too small even for the limits, tsvisor compile still prints a diagnostic, not a stack trace', () => {
    // 120 nested calls are within the limits, but not within 150 KB of stack: compile() turns
    // the overflow into TSG3008 (and `tsvisor` is run as users run it, in a process of its own).
    const file = path.join(dir, 'small-stack.ts');
    fs.writeFileSync(file, calls(120));
    const r = spawnSync(process.execPath, ['--stack-size=150', 'hypervisor/bin/tsvisor.mjs', 'compile', file, '-o', path.join(dir, 'small-stack.img')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/small-stack\.ts:1:1: error TSG3008: program nested too deeply to compile \(the compiler ran out of stack; keep nesting within 256 levels\)$/),
      'tsvisor: compile: 1 error, no image written',
    ]);
  });
});

describe('assembler limits', () => {
  /** The errors of a source that must not assemble; never an exception. */
  function asmErrors(src: string): string[] {
    const r = assemble(src, { fileName: 't.s' });
    if (r.ok) throw new Error('expected errors, but it assembled');
    return r.errors.map(formatAsmError);
  }
  const tooDeep = `expression nested too deeply (more than ${MAX_EXPR_DEPTH} levels of operators and parentheses)`;

  it.each([
    ['parentheses', (n: number) => `${'('.repeat(n)}1${')'.repeat(n)}`],
    ['a unary chain', (n: number) => '- '.repeat(n) + '1'],
    ['a chain of +', (n: number) => Array(n).fill('1').join('+')],
  ])('%s 1,000 and 100,000 deep: one error naming file:line:col', (_name, expr) => {
    for (const n of [1_000, 100_000]) {
      const all = asmErrors(`nop\nli r1, ${expr(n)}\nhlt\n`);
      expect(all).toHaveLength(1);
      expect(all[0]).toMatch(new RegExp(`^t\\.s:2:\\d+: ${tooDeep.replace(/[()]/g, '\\$&')}$`));
    }
  });

  it(`accepts ${MAX_EXPR_DEPTH} levels`, () => {
    const r = assemble(`.word ${'('.repeat(MAX_EXPR_DEPTH)}7${')'.repeat(MAX_EXPR_DEPTH)}\n.word ${'- '.repeat(MAX_EXPR_DEPTH)}7\nhlt\n`, { fileName: 't.s' });
    // An even number of minus signs: 7 again.
    expect(r.ok && Array.from(r.image.segments[0]!.data.subarray(0, 8))).toEqual([7, 0, 0, 0, 7, 0, 0, 0]);
  });

  const chain = (n: number): string[] => Array.from({ length: n }, (_, i) => (i === 0 ? '.equ a0, 1' : `.equ a${i}, a${i - 1} + 1`));
  /** The first word of a source that must assemble (it gets an instruction to run). */
  const wordAt = (src: string): number => {
    const r = assemble(`${src}\nhlt\n`, { fileName: 't.s' });
    if (!r.ok) throw new Error(r.errors.map(formatAsmError).join('\n'));
    const d = r.image.segments[0]!.data;
    return new DataView(d.buffer, d.byteOffset).getUint32(0, true);
  };

  it('a .equ chain of 100,000, used before it is defined and defined in reverse order, resolves', () => {
    const n = 100_000;
    expect(wordAt(`.word a${n - 1}\n${chain(n).reverse().join('\n')}\n`)).toBe(n);
    expect(wordAt(`.word a${n - 1}\n${chain(n).join('\n')}\n`)).toBe(n);
  });

  it('a .equ chain waiting for a label defined after its uses resolves once the label is known', () => {
    const n = 20_000;
    const defs = chain(n).slice(1).reverse().join('\n');
    const uses = Array.from({ length: 500 }, (_, i) => `l${i}: .word a${n - 1}`).join('\n');
    expect(wordAt(`${uses}\n${defs}\n.equ a0, end - end + 1\nend: nop\n`)).toBe(n);
  });

  it('a cycle through a long .equ chain is still one error, at the use that closes it', () => {
    const n = 100_000;
    const all = asmErrors(`.word a${n - 1}\n${chain(n).slice(1).join('\n')}\n.equ a0, a${n - 1}\n`);
    expect(all).toEqual([`t.s:${n + 1}:10: symbol 'a${n - 1}' is defined in terms of itself`]);
  });

  it('tsvisor asm: one line, exit code 2, no stack trace', async () => {
    const file = path.join(dir, 'deep.s');
    const img = path.join(dir, 'deep.img');
    fs.writeFileSync(file, `nop\nli r1, ${'('.repeat(100_000)}1${')'.repeat(100_000)}\n`);
    const { io, err } = capture();
    expect(await main(['asm', file, '-o', img], io)).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^tsvisor: .*deep\.s:2:\d+: expression nested too deeply/)]);
    expect(fs.existsSync(img)).toBe(false);
  });
});
