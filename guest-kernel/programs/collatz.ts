/** Collatz sequences: the longest chain below a limit. */
import { printKV } from '../lib/console.ts';

function steps(n: number): number {
  let count = 0;
  while (n !== 1) {
    n = n % 2 === 0 ? n >> 1 : (3 * n + 1) | 0;
    count++;
  }
  return count;
}

export function main(): number {
  let best = 0;
  let bestN = 0;
  for (let n = 1; n < 30000; n++) {
    const s = steps(n);
    if (s > best) {
      best = s;
      bestN = n;
    }
  }
  printKV('longest chain below 30000 starts at ', bestN);
  printKV('steps: ', best);
  printKV('steps(27) = ', steps(27));
  return best;
}
