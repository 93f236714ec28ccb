/** Division and remainder: truncation toward zero, signs, INT_MIN, powers of two. */
import { print, printNumber, putc, printKV } from '../lib/console.ts';

const nums = new Int32Array([7, -7, 7, -7, 100, -2147483648, -2147483648, 2147483647, 5, -5, 1, 0]);
const dens = new Int32Array([2, 2, -2, -2, 7, -1, 2, 16, 8, 8, 3, 9]);

export function main(): number {
  for (let i = 0; i < nums.length; i++) {
    const a = nums[i];
    const b = dens[i];
    printNumber(a);
    print(' / ');
    printNumber(b);
    print(' = ');
    printNumber((a / b) | 0);
    print(', % = ');
    printNumber(a % b | 0);
    putc(10);
  }
  let x = -1000;
  printKV('x / 8 = ', (x / 8) | 0);
  printKV('x % 8 = ', x % 8);
  printKV('x >> 3 = ', x >> 3);
  printKV('(x * 3) / 7 = ', ((x * 3) / 7) | 0);
  let y = 12345;
  y /= 5; // exact: a quotient with a fraction would stop the program (write (y / 10) | 0)
  y |= 0;
  printKV('y = ', y);
  y %= 7;
  printKV('y % 7 = ', y);
  return (-17 / 5) | 0;
}
