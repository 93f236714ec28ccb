/** The Ackermann function: recursion that is not primitive recursive. */
import { print, printNumber, putc } from '../lib/console.ts';

function ack(m: number, n: number): number {
  if (m === 0) return n + 1;
  if (n === 0) return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

export function main(): number {
  for (let m = 0; m <= 2; m++) {
    for (let n = 0; n <= 4; n++) {
      print('ack(');
      printNumber(m);
      putc(44);
      printNumber(n);
      print(')=');
      printNumber(ack(m, n));
      putc(n === 4 ? 10 : 32);
    }
  }
  print('ack(3,5)=');
  printNumber(ack(3, 5));
  putc(10);
  return ack(2, 3);
}
