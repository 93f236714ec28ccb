/** Typed arrays of every supported kind: wrapping stores, sign extension, lengths, parameters. */
import { print, printKV, printNumber, putc } from '../lib/console.ts';

const i8 = new Int8Array(8);
const u8 = new Uint8Array(8);
const i16 = new Int16Array(8);
const u16 = new Uint16Array(8);
const i32 = new Int32Array(8);
const primes = new Int16Array([2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
const bytes = new Uint8Array([255, 256, -1, 0x1234]);

function sum8(a: Int8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

function sumU8(a: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

function show(label: string, a: Int32Array): void {
  print(label);
  for (let i = 0; i < a.length; i++) {
    putc(32);
    printNumber(a[i]);
  }
  putc(10);
}

export function main(): number {
  const values = 300;
  for (let i = 0; i < 8; i++) {
    const v = (i - 4) * values * 37;
    i8[i] = v;
    u8[i] = v;
    i16[i] = v * 100;
    u16[i] = v * 100;
    i32[i] = v * 100;
  }
  printKV('i8[0] = ', i8[0]);
  printKV('u8[0] = ', u8[0]);
  printKV('i16[1] = ', i16[1]);
  printKV('u16[1] = ', u16[1]);
  printKV('i32[1] = ', i32[1]);
  printKV('sum8 = ', sum8(i8));
  printKV('sumU8 = ', sumU8(u8));
  show('i32:', i32);
  printKV('primes.length = ', primes.length);
  let ps = 0;
  for (let i = 0; i < primes.length; i++) ps += primes[i];
  printKV('sum of primes = ', ps);
  printKV('bytes = ', bytes[0] * 1000000 + bytes[1] * 10000 + bytes[2] * 100 + bytes[3]);
  u8[3] += 250;
  u8[3] += 250;
  printKV('u8[3] after += 500 = ', u8[3]);
  i8[2]++;
  i8[2] = i8[2] + 200;
  printKV('i8[2] = ', i8[2]);
  const alias = i32;
  alias[7] = -7;
  printKV('i32[7] via alias = ', i32[7]);
  return u8.length + i16.length;
}
