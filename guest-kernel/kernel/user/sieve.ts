/**
 * sieve [N=10000]: the number of primes below N by Eratosthenes' sieve (N up to SIEVE_MAX);
 * prints `sieve: P primes below N`. sieveCount is pure: Node gives the same P.
 */
import { benchCount } from './lib/bench.ts';
import { print, printNum, println } from './lib/io.ts';

export const SIEVE_MAX = 1 << 18;
const composite = new Uint8Array(SIEVE_MAX);

/** The number of primes below n (0 <= n <= SIEVE_MAX). */
export function sieveCount(n: number): number {
  if (n < 2 || n > SIEVE_MAX) return 0;
  for (let i = 0; i < n; i++) composite[i] = 0;
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i] !== 0) continue;
    count++;
    if (i <= ((n / i) | 0)) {
      for (let j = i * i; j < n; j += i) composite[j] = 1;
    }
  }
  return count;
}

export function main(): number {
  const n = benchCount('sieve', 10000, SIEVE_MAX);
  if (n < 0) return 2;
  print('sieve: ');
  printNum(sieveCount(n));
  print(' primes below ');
  printNum(n);
  println('');
  return 0;
}
