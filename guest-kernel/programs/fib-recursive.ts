/** Recursive Fibonacci: deep call trees, callee-saved registers. */
import { printKV } from '../lib/console.ts';

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export function main(): number {
  printKV('fib(20) = ', fib(20));
  return fib(10);
}
