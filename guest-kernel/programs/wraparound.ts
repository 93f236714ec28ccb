/** Wrap-around arithmetic: 32-bit overflow with | 0 and Math.imul, negation of INT_MIN, shifts. */
import { printKV, printlnNumber } from '../lib/console.ts';

const INT_MAX = 0x7fffffff;
const INT_MIN = -2147483648;
let counter = INT_MAX - 2;

function addWrap(a: number, b: number): number {
  return (a + b) | 0;
}

export function main(): number {
  printKV('INT_MAX + 1 = ', addWrap(INT_MAX, 1));
  printKV('INT_MIN - 1 = ', (INT_MIN - 1) | 0);
  printKV('-INT_MIN = ', -INT_MIN | 0);
  printKV('imul(65537, 65537) = ', Math.imul(65537, 65537));
  printKV('imul(-1, INT_MIN) = ', Math.imul(-1, INT_MIN));
  printKV('0xffffffff | 0 = ', 0xffffffff | 0);
  printKV('~0 = ', ~0);
  printKV('1 << 31 = ', 1 << 31);
  printKV('1 << 32 = ', 1 << 32);
  printKV('-1 >> 40 = ', -1 >> 40);
  for (let i = 0; i < 5; i++) {
    counter = (counter + 1) | 0;
    printlnNumber(counter);
  }
  let h = 0;
  for (let i = 0; i < 1000; i++) h = (Math.imul(h, 0x01000193) ^ i) | 0;
  printKV('fnv-ish = ', h);
  let x = 1;
  for (let i = 0; i < 40; i++) x = (x * 3) | 0;
  printKV('3^40 mod 2^32 (small steps) = ', x);
  let m = 123456789;
  m = Math.imul(m, m);
  printKV('123456789^2 wrapped = ', m);
  return (INT_MAX + 1) | 0 ? 7 : 8;
}
