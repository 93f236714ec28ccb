/** Integer square roots: Newton's method and bit-by-bit, checked against each other. */
import { printKV, print, printNumber, putc } from '../lib/console.ts';

function isqrtNewton(n: number): number {
  if (n < 2) return n;
  let x = n;
  let y = (x + 1) >> 1;
  while (y < x) {
    x = y;
    y = (x + ((n / x) | 0)) >> 1;
  }
  return x;
}

function isqrtBits(n: number): number {
  let result = 0;
  let bit = 1 << 30;
  while (bit > n) bit >>= 2;
  while (bit !== 0) {
    if (n >= result + bit) {
      n -= result + bit;
      result = (result >> 1) + bit;
    } else {
      result >>= 1;
    }
    bit >>= 2;
  }
  return result;
}

export function main(): number {
  let mismatches = 0;
  let sum = 0;
  for (let n = 0; n < 20000; n += 7) {
    const a = isqrtNewton(n);
    if (a !== isqrtBits(n)) mismatches++;
    sum += a;
  }
  const big = 2147483647;
  print('isqrt(2147483647) = ');
  printNumber(isqrtNewton(big));
  print(' / ');
  printNumber(isqrtBits(big));
  putc(10);
  printKV('isqrt(1000000) = ', isqrtNewton(1000000));
  printKV('sum = ', sum);
  printKV('mismatches = ', mismatches);
  return mismatches;
}
