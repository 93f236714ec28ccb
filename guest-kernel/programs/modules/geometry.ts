/** Shapes over a module-private point store (module 2 of the three-module program). */
import { square } from './stats.ts';

const MAX_POINTS = 64;
const xs = new Int32Array(MAX_POINTS);
const ys = new Int32Array(MAX_POINTS);
let used = 0;

export function addPoint(x: number, y: number): number {
  xs[used] = x;
  ys[used] = y;
  used++;
  return used - 1;
}

export function pointCount(): number {
  return used;
}

/** Twice the signed area of the polygon of points first..first+n-1 (shoelace formula). */
export function area2(first: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const a = first + i;
    const b = first + ((i + 1) % n);
    s += xs[a] * ys[b] - xs[b] * ys[a];
  }
  return s < 0 ? -s : s;
}

/** Sum of the squared edge lengths. */
export function perimeter2(first: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const a = first + i;
    const b = first + ((i + 1) % n);
    s += square(xs[b] - xs[a]) + square(ys[b] - ys[a]);
  }
  return s;
}
