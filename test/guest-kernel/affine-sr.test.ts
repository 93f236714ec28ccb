/**
 * Strength reduction of addresses affine in an induction variable with an invariant part
 * (compiler/affine-sr.ts): the matrix multiply's inner loop, and a property test of random
 * two-dimensional loops compiled and computed in JavaScript.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource, loopsOf, run } from './helpers.ts';

const MATMUL = (n: number): string => `
const N = ${n};
const A = new Int32Array(N * N);
const B = new Int32Array(N * N);
const C = new Int32Array(N * N);
function multiply(): void {
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < N; k++) s = (s + Math.imul(A[i * N + k], B[k * N + j])) | 0;
      C[i * N + j] = s;
    }
  }
}
export function main(): number {
  for (let i = 0; i < N * N; i++) { A[i] = (i % 7) - 3; B[i] = (i % 5) - 2; }
  multiply();
  let h = 0;
  for (let i = 0; i < N * N; i++) h = (Math.imul(h, 31) + C[i]) | 0;
  return h;
}`;

function matmulInJs(n: number): number {
  const A = new Int32Array(n * n);
  const B = new Int32Array(n * n);
  const C = new Int32Array(n * n);
  for (let i = 0; i < n * n; i++) {
    A[i] = (i % 7) - 3;
    B[i] = (i % 5) - 2;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s = (s + Math.imul(A[i * n + k]!, B[k * n + j]!)) | 0;
    C[i * n + j] = s;
  }
  let h = 0;
  for (let i = 0; i < n * n; i++) h = (Math.imul(h, 31) + C[i]!) | 0;
  return h;
}

describe('a 64x64 matrix multiply', () => {
  const compiled = compileSource(MATMUL(64));
  const loops = loopsOf(compiled.asm, 'multiply');

  it('computes what JavaScript computes', () => {
    expect(run(compiled.image).exitCode! | 0).toBe(matmulInJs(64));
  });

  it('walks one pointer along a row of A and one down a column of B: no index arithmetic in the inner loop', () => {
    for (const loop of loops.slice(0, -2)) {
      expect(loop.filter((l) => /^(muli|shli|mul r\d+, r\d+, r\d+$)/.test(l) && !/^mul /.test(l)), loop.join('\n')).toEqual([]);
    }
    // The loop that finishes the last few iterations: two loads, the product, the sum, two bumps
    // and the test on the pointer (k is gone): at most 8 instructions per iteration.
    const inner = loops.find((l) => l.filter((x) => x.startsWith('ldw')).length === 2)!;
    expect(inner.length, inner.join('\n')).toBeLessThanOrEqual(8);
    expect(inner).toContainEqual(expect.stringMatching(/^addi (r\d+), \1, 256$/)); // B: 4 * 64 bytes per k
    expect(inner).toContainEqual(expect.stringMatching(/^addi (r\d+), \1, 4$/)); //   A: one word per k
  });

  it('runs about five instructions per inner iteration once unrolled', () => {
    const r = run(compiled.image);
    expect(r.instructions / 64 ** 3).toBeLessThan(8);
  });
});

/** A loop over a 2-D array with an affine index: `t[r * W + c * S + D]`, the outer variable invariant. */
interface Case {
  w: number;
  rows: number;
  cols: number;
  colStep: number;
  disp: number;
  byColumn: boolean;
  elem: 'Int32Array' | 'Int16Array' | 'Uint8Array';
  write: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    w: fc.integer({ min: 1, max: 12 }),
    rows: fc.integer({ min: 0, max: 8 }),
    cols: fc.integer({ min: 0, max: 8 }),
    colStep: fc.constantFrom(1, 2, 3),
    disp: fc.integer({ min: 0, max: 5 }),
    byColumn: fc.boolean(),
    elem: fc.constantFrom<Case['elem']>('Int32Array', 'Int16Array', 'Uint8Array'),
    write: fc.boolean(),
  })
  .map((c) => c);

const SIZE = 256;

function sourceOf(c: Case): string {
  // Index = r * W + c * S + D stays within [0, SIZE) for the ranges drawn (8*12 + 8*3*... bounded below).
  const idx = c.byColumn ? `c * ${c.w} + r * ${c.colStep} + ${c.disp}` : `r * ${c.w} + c * ${c.colStep} + ${c.disp}`;
  const body = c.write ? `t[${idx}] = t[${idx}] + r - c;` : `s = (s * 3 + t[${idx}]) | 0;`;
  return `
const t = new ${c.elem}(${SIZE});
export function main(): number {
  for (let i = 0; i < ${SIZE}; i++) t[i] = (i * 7) & 63;
  let s = 0;
  for (let r = 0; r < ${c.rows}; r++) {
    for (let c = 0; c < ${c.cols}; c++) ${body}
  }
  for (let i = 0; i < ${SIZE}; i++) s = (Math.imul(s, 33) + t[i]) | 0;
  return s;
}`;
}

function inJs(c: Case): number {
  const T = c.elem === 'Int32Array' ? Int32Array : c.elem === 'Int16Array' ? Int16Array : Uint8Array;
  const t = new T(SIZE);
  for (let i = 0; i < SIZE; i++) t[i] = (i * 7) & 63;
  let s = 0;
  for (let r = 0; r < c.rows; r++) {
    for (let k = 0; k < c.cols; k++) {
      const idx = c.byColumn ? k * c.w + r * c.colStep + c.disp : r * c.w + k * c.colStep + c.disp;
      if (c.write) t[idx] = t[idx]! + r - k;
      else s = (s * 3 + t[idx]!) | 0;
    }
  }
  for (let i = 0; i < SIZE; i++) s = (Math.imul(s, 33) + t[i]!) | 0;
  return s;
}

describe('random loops over two-dimensional arrays', () => {
  it('give the same result compiled as in JavaScript', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        expect(run(compileSource(sourceOf(c)).image).exitCode! | 0, sourceOf(c)).toBe(inJs(c));
      }),
      { numRuns: 40, seed: 11 },
    );
  });
});
