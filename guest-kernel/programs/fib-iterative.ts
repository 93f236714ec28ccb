/** Iterative Fibonacci with wrapping addition: fib(n) mod 2^32 as an int32. */
import { printKV, printlnNumber } from '../lib/console.ts';

function fib(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) {
    const t = (a + b) | 0;
    a = b;
    b = t;
  }
  return a;
}

export function main(): number {
  for (let n = 0; n <= 10; n++) printlnNumber(fib(n));
  printKV('fib(46) = ', fib(46));
  printKV('fib(47) wraps to ', fib(47));
  printKV('fib(1000) mod 2^32 = ', fib(1000));
  return fib(12);
}
