/**
 * Trial division, a prime-counting function and twin primes, with early exits from loops.
 * The loop bound is `d <= n / d`, not `d * d <= n`: for n near 2^31 the product would wrap on the
 * machine (and not in JavaScript).
 */
import { printKV } from '../lib/console.ts';

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d <= ((n / d) | 0); d += 2) if (n % d === 0) return false;
  return true;
}

export function main(): number {
  let count = 0;
  let twins = 0;
  let last = -10;
  let largest = 0;
  for (let n = 0; n < 20000; n++) {
    if (!isPrime(n)) continue;
    count++;
    if (n - last === 2) twins++;
    last = n;
    largest = n;
  }
  printKV('primes below 20000: ', count);
  printKV('twin pairs: ', twins);
  printKV('largest: ', largest);
  printKV('isPrime(2147483647): ', isPrime(2147483647) ? 1 : 0);
  return count & 0xff;
}
