/** Sieve of Eratosthenes over a static Uint8Array: count and sum the primes below N. */
import { printKV } from '../lib/console.ts';

const N = 100000;
const composite = new Uint8Array(N);

function sieve(): number {
  for (let i = 0; i < N; i++) composite[i] = 0;
  let count = 0;
  for (let i = 2; i < N; i++) {
    if (composite[i] === 0) {
      count++;
      for (let j = i * 2; j < N; j += i) composite[j] = 1;
    }
  }
  return count;
}

export function main(): number {
  const count = sieve();
  let sum = 0;
  for (let i = 2; i < N; i++) if (!composite[i]) sum = (sum + i) | 0;
  printKV('primes below 100000: ', count);
  printKV('their sum: ', sum);
  return count & 0xff;
}
