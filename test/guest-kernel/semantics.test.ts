/**
 * Small programs at the corners of the subset's semantics, each with the result JavaScript gives
 * (the exit code is main's value as an unsigned 32-bit number).
 */
import { describe, expect, it } from 'vitest';
import { compileSource, run } from './helpers.ts';

const cases: [string, string, number][] = [
  ['do/while(false) runs once', `export function main(): number { let i = 0; do { i++; } while (false); return i; }`, 1],
  ['an empty switch', `export function main(): number { switch (3) {} return 1; }`, 1],
  ['a switch with only a default', `export function main(): number { let x = 2; switch (x) { default: x = 5; } return x; }`, 5],
  ['nested conditional returns', `function f(a: number): number { return a < 0 ? -1 : a > 0 ? (a > 10 ? 2 : 1) : 0; }\nexport function main(): number { return f(-5) + f(0) * 10 + f(5) * 100 + f(50) * 1000; }`, 2099],
  ['code after return is dropped', `export function main(): number { return 1; let x = 2; x++; }`, 1],
  ['32-bit constants', `export function main(): number { return 0x12345678 ^ 0xffff0000; }`, (0x12345678 ^ 0xffff0000) >>> 0],
  ['negative constant index folding', `const t = new Int32Array([1, 2, 3]);\nexport function main(): number { const k = -1; return t[k + 2]; }`, 2],
  ['a boolean-returning predicate', `function p(x: number): boolean { return x > 3; }\nexport function main(): number { let n = 0; for (let i = 0; i < 10; i++) if (p(i)) n++; return n; }`, 6],
  ['nested calls as arguments', `function id(x: number): number { return x; }\nexport function main(): number { return id(id(id(1) + id(2)) * id(3)); }`, 9],
  ['block scopes shadow', `export function main(): number { let x = 1; { let x = 2; x++; } { const x = 10; } return x; }`, 1],
  ['labelled blocks', `export function main(): number { let r = 0; a: { b: { r = 1; break b; } r += 10; break a; } return r; }`, 11],
  ['comma in a for loop', `export function main(): number { let s = 0; for (let i = 0, j = 10; i < j; i++, j--) s += j - i; return s; }`, 30],
  ['chained assignment', `let g = 0;\nexport function main(): number { let a = 0; let b = 0; a = b = g = 7; return a + b + g; }`, 21],
  ['string identity of literals', `function f(s: string): number { return s === 'x' ? 1 : s !== 'y' ? 2 : 3; }\nexport function main(): number { return f('x') * 100 + f('y') * 10 + f('z'); }`, 132],
  ['a typed array parameter and its length', `const a = new Uint16Array([65535, 1]);\nfunction g(t: Uint16Array): number { return t[0] + t.length; }\nexport function main(): number { return g(a); }`, 65537],
  ['a 300-case switch', `function f(x: number): number { switch (x) { ${Array.from({ length: 300 }, (_, i) => `case ${i}: return ${i * 3};`).join(' ')} } return -1; }\nexport function main(): number { return f(299) + f(5) + f(1000); }`, 911],
  ['twelve nested loops', `export function main(): number { let s = 0; ${'for (let i = 0; i < 2; i++) {'.repeat(12)} s++; ${'}'.repeat(12)} return s; }`, 4096],
  ['left operand read before the right assigns it', `export function main(): number { let y = 3; return y * (y = 4) + y; }`, 16],
  ['arguments evaluated left to right', `function f(a: number, b: number, c: number): number { return a * 100 + b * 10 + c; }\nexport function main(): number { let i = 1; return f(i, i++, i); }`, 112],
  ['&& and || return an operand', `function v(x: number): number { return x; }\nexport function main(): number { return (v(0) || v(5)) * 10 + (v(3) && v(4)); }`, 54],
  ['remainder has the sign of the dividend', `function r(a: number, b: number): number { return a % b; }\nexport function main(): number { return (r(-7, 3) + 10) * 100 + r(7, -3) + 10; }`, 911],
  ['INT_MIN / -1 and INT_MIN % -1', `function d(a: number, b: number): number { return (a / b) | 0; }\nfunction m(a: number, b: number): number { return a % b; }\nexport function main(): number { return (d(-2147483648, -1) === -2147483648 ? 1 : 0) + m(-2147483648, -1); }`, 1],
  ['shift counts use their low five bits', `function s(x: number, n: number): number { return (x << n) + (x >> n) + (x >>> n); }\nexport function main(): number { return s(12, 33); }`, 24 + 6 + 6],
  ['unsigned remainder and division', `function f(x: number): number { return ((x >>> 0) % 1000) + (((x >>> 0) / 1000000) | 0); }\nexport function main(): number { return f(-1); }`, 295 + 4294],
  ['a spinning main stops at the instruction limit', `export function main(): number { while (true) {} }`, -1],
];

describe('semantics', () => {
  it.each(cases)('%s', (_name, src, expected) => {
    const r = run(compileSource(src).image, 'native', 1_000_000);
    if (expected === -1) {
      expect(r.stop).toBe('limit');
      return;
    }
    expect(r.stop).toBe('shutdown');
    expect(r.exitCode).toBe(expected);
  });
});
