/**
 * Issue 11: a program the compiler accepts gives Node's answer, or it is refused with a named
 * diagnostic; never a silent difference.
 */
import { describe, expect, it } from 'vitest';
import { runInNode } from '../../guest-kernel/compiler/node-shim.ts';
import { compileFile, compileSource as compileSourceOk, errorsOf, run, withProgramFiles } from './helpers.ts';

/** Write `src` (CONSOLE stands for the console library's path) to a temporary file and run it in Node and on the machine, both targets. */
async function both(src: string): Promise<void> {
  await withProgramFiles({ 'main.ts': src }, async (file) => {
    const node = await runInNode(file);
    for (const target of ['native', 'pv'] as const) {
      const r = run(compileFile(file, target).image, target);
      expect(r.stop).toBe('shutdown');
      expect(r.console).toBe(node.console);
      expect(r.exitCode).toBe(node.exitCode);
    }
  });
}

describe('values above 0x7fffffff stay unsigned or are refused', () => {
  it('a folded local const compares, divides and prints as in Node', async () => {
    await both(`import { printUnsigned, printlnNumber } from 'CONSOLE';
export function main(): number {
  const u = 4294967291;
  printlnNumber(u > 1000 ? 1 : 0);
  printlnNumber((u / 10) | 0);
  printlnNumber(u % 7);
  printUnsigned(u | 0);
  return u > 1000 ? 1 : 0;
}`);
  });

  it('a module-level const and a const holding x >>> 0 compare as in Node', async () => {
    await both(`const U = 4294967291;
function f(x: number): number { const u = x >>> 0; return u > 1000 ? 1 : 0; }
export function main(): number { return (U > 1000 ? 10 : 0) + f(-5); }`);
  });

  it('a let local or module variable that would hold one is refused', () => {
    expect(errorsOf(`export function main(): number { let u = 4294967291; return u > 1000 ? 1 : 0; }`)).toEqual([
      "guest-kernel/programs/__test__/main.ts:1:42: error TSG3010: 'u' would hold an unsigned value above 2147483647, but a let variable holds a signed 32-bit number, so comparing, dividing or printing it would differ from JavaScript: declare it const, or write (value) | 0 for its signed bits",
    ]);
    expect(errorsOf(`function f(x: number): number { let u = x >>> 0; return u > 1000 ? 1 : 0; }\nexport function main(): number { return f(-5); }`)[0]).toContain(':1:41: error TSG3010: ');
    expect(errorsOf(`function f(x: number): number { let u = 0; u = x >>> 0; return u > 1000 ? 1 : 0; }\nexport function main(): number { return f(-5); }`)[0]).toContain(':1:44: error TSG3010: ');
    expect(errorsOf(`function p(n: number): number { return n > 0 ? 1 : 0; }\nexport function main(): number { let x = -5; return p(x >>> 0); }`)).toEqual([
      "guest-kernel/programs/__test__/main.ts:2:55: error TSG3010: argument 1 of 'p' is an unsigned value that may be above 2147483647, but a parameter holds a signed 32-bit number, so the callee would compare, divide or print it differently from JavaScript: write (value) | 0 to pass its signed bits",
    ]);
    expect(errorsOf(`function g(x: number): number { return x >>> 0; }\nexport function main(): number { return g(-5) > 1000 ? 1 : 0; }`)[0]).toContain(":1:40: error TSG3010: 'g' would return an unsigned value");
    expect(errorsOf(`let g = 0xfffffffb;\nexport function main(): number { return g > 1000 ? 1 : 0; }`)[0]).toContain(':1:9: error TSG3010: ');
  });
});

describe('inexact constant division', () => {
  it('is refused without | 0', () => {
    expect(errorsOf(`const THIRD = 100 / 3;\nexport function main(): number { let n = 0; for (let i = 0; i < THIRD; i++) n++; return n; }`)).toEqual([
      'guest-kernel/programs/__test__/main.ts:1:15: error TSG3009: inexact division 100 / 3 = 33.333...: a number holds integers only; write (100 / 3) | 0 for the integer part',
    ]);
  });

  it('is fine when exact or truncated by a bitwise operator', () => {
    const r = run(compileSourceOk(`const Q = 100 / 4;\nconst T = (100 / 3) | 0;\nexport function main(): number { return Q * 100 + T; }`).image);
    expect(r.exitCode).toBe(25 * 100 + 33);
  });
});

describe('static arrays larger than the target', () => {
  it('are refused at compile time, naming the array and its size', () => {
    const src = `const big = new Int32Array(5000000);\nexport function main(): number { big[1] = 2; return big[1]; }`;
    expect(errorsOf(src)).toEqual([
      "guest-kernel/programs/__test__/main.ts:1:7: error TSG3011: static array 'big' needs 20000000 bytes; the native target's memory is 16777216 bytes",
    ]);
    expect(errorsOf(`const big = new Int32Array(2000000);\nexport function main(): number { return big[1]; }`, 'pv')).toEqual([
      "guest-kernel/programs/__test__/main.ts:1:7: error TSG3011: static array 'big' needs 8000000 bytes; the pv target's image area is 4124672 bytes",
    ]);
  });
});
