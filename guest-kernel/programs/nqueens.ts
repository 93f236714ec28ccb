/** N-queens by backtracking with bit masks: solutions for N = 1..9. */
import { print, printNumber, putc, printKV } from '../lib/console.ts';

function solve(n: number, row: number, cols: number, diag1: number, diag2: number): number {
  if (row === n) return 1;
  let count = 0;
  let free = ~(cols | diag1 | diag2) & ((1 << n) - 1);
  while (free !== 0) {
    const bit = free & -free;
    free ^= bit;
    count += solve(n, row + 1, cols | bit, (diag1 | bit) << 1, (diag2 | bit) >> 1);
  }
  return count;
}

export function main(): number {
  let total = 0;
  for (let n = 1; n <= 9; n++) {
    const s = solve(n, 0, 0, 0, 0);
    print('queens(');
    printNumber(n);
    print(') = ');
    printNumber(s);
    putc(10);
    total += s;
  }
  printKV('total: ', total);
  return solve(8, 0, 0, 0, 0) === 92 ? 0 : 1;
}
