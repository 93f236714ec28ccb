/** Euclid's algorithm, iterative and recursive, and the least common multiple. */
import { printKV, printNumber, print, putc } from '../lib/console.ts';

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a < 0 ? -a : a;
}

function gcdRec(a: number, b: number): number {
  return b === 0 ? a : gcdRec(b, a % b);
}

function lcm(a: number, b: number): number {
  return ((a / gcd(a, b)) | 0) * b;
}

const pairs = new Int32Array([48, 18, 1071, 462, 17, 5, 0, 9, -12, 18, 270, 192, 1000000007, 998244353]);

export function main(): number {
  for (let i = 0; i < pairs.length; i += 2) {
    const a = pairs[i];
    const b = pairs[i + 1];
    print('gcd(');
    printNumber(a);
    print(', ');
    printNumber(b);
    print(') = ');
    printNumber(gcd(a, b));
    print(' rec ');
    printNumber(gcdRec(a, b));
    putc(10);
  }
  printKV('lcm(21, 6) = ', lcm(21, 6));
  return gcd(84, 36);
}
