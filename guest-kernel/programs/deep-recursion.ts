/** Deep recursion: thousands of frames (as deep as Node's own stack allows, for the differential test) of a non-tail-recursive sum, and mutual recursion. */
import { printKV } from '../lib/console.ts';

function sumTo(n: number): number {
  if (n === 0) return 0;
  return (n + sumTo(n - 1)) | 0;
}

function isEven(n: number): boolean {
  return n === 0 ? true : isOdd(n - 1);
}

function isOdd(n: number): boolean {
  return n === 0 ? false : isEven(n - 1);
}

function depth(n: number, a: number, b: number, c: number, d: number, e: number): number {
  if (n === 0) return (a + b + c + d + e) | 0;
  return (depth(n - 1, b, c, d, e, a + 1) + 1) | 0;
}

export function main(): number {
  printKV('sumTo(6000) = ', sumTo(6000));
  printKV('isEven(4001) = ', isEven(4001) ? 1 : 0);
  printKV('isOdd(3777) = ', isOdd(3777) ? 1 : 0);
  printKV('depth(3000, ...) = ', depth(3000, 1, 2, 3, 4, 5));
  return sumTo(100) & 0xff;
}
