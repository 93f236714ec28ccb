/** Binary search over a sorted static table, lower bound, and a search counting probes. */
import { printKV } from '../lib/console.ts';

const squares = new Int32Array(1000);
let probes = 0;

function lowerBound(a: Int32Array, n: number, key: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    probes++;
    if (a[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function contains(a: Int32Array, n: number, key: number): boolean {
  const i = lowerBound(a, n, key);
  return i < n && a[i] === key;
}

export function main(): number {
  for (let i = 0; i < squares.length; i++) squares[i] = i * i;
  let found = 0;
  for (let k = 0; k < 5000; k += 3) if (contains(squares, squares.length, k)) found++;
  printKV('squares below 5000 divisible by 3 steps: ', found);
  printKV('lowerBound(500000) = ', lowerBound(squares, squares.length, 500000));
  printKV('lowerBound(-5) = ', lowerBound(squares, squares.length, -5));
  printKV('lowerBound(10^9) = ', lowerBound(squares, squares.length, 1000000000));
  printKV('probes = ', probes);
  return found;
}
