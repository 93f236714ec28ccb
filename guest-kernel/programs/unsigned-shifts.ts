/** Unsigned shifts and unsigned comparisons through `>>> 0`, printing unsigned and hex values. */
import { print, printHex, printKV, printUnsigned, putc } from '../lib/console.ts';

function highBit(x: number): number {
  return x >>> 31;
}

function ltu(a: number, b: number): boolean {
  return (a >>> 0) < (b >>> 0);
}

function maxu(a: number, b: number): number {
  return (a >>> 0) >= (b >>> 0) ? a : b;
}

export function main(): number {
  printKV('-1 >>> 28 = ', -1 >>> 28);
  printKV('-8 >> 1 = ', -8 >> 1);
  printKV('-8 >>> 1 = ', -8 >>> 1);
  printKV('highBit(-5) = ', highBit(-5));
  printKV('highBit(5) = ', highBit(5));
  printKV('ltu(-1, 1) = ', ltu(-1, 1) ? 1 : 0);
  printKV('ltu(1, -1) = ', ltu(1, -1) ? 1 : 0);
  printKV('-1 < 1 = ', -1 < 1 ? 1 : 0);
  print('maxu(-2, 7) = ');
  printUnsigned(maxu(-2, 7));
  putc(10);
  print('unsigned -1 = ');
  printUnsigned(-1);
  putc(10);
  print('hex -559038737 = ');
  printHex(-559038737);
  putc(10);
  let v = 0x80000000 | 0;
  let n = 0;
  while (v !== 0) {
    v >>>= 1;
    n++;
  }
  printKV('shifts to clear bit 31: ', n);
  const x = -100;
  printKV('(x >>> 0) % 7 = ', (x >>> 0) % 7);
  printKV('((x >>> 0) / 3) | 0 = ', ((x >>> 0) / 3) | 0);
  printKV('(x >>> 0) > 5 = ', (x >>> 0) > 5 ? 1 : 0);
  printKV('(x >>> 0) === 4294967196 = ', (x >>> 0) === 4294967196 ? 1 : 0);
  let shifted = 0;
  for (let s = 0; s < 40; s++) shifted ^= -12345 >>> s;
  printKV('xor of -12345 >>> s: ', shifted);
  return 0xdeadbeef | 0;
}
