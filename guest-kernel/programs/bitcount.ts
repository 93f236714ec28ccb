/** Population count three ways (loop, Kernighan, SWAR), leading zeros, and bit reversal. */
import { printKV } from '../lib/console.ts';

function popLoop(x: number): number {
  let n = 0;
  for (let i = 0; i < 32; i++) n += (x >>> i) & 1;
  return n;
}

function popKernighan(x: number): number {
  let n = 0;
  while (x !== 0) {
    x &= x - 1;
    n++;
  }
  return n;
}

function popSwar(x: number): number {
  x = (x - ((x >>> 1) & 0x55555555)) | 0; // below -2^31 for some x: wrap, as the next line does
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function clz(x: number): number {
  if (x === 0) return 32;
  let n = 0;
  while ((x & 0x80000000) === 0) {
    x <<= 1;
    n++;
  }
  return n;
}

function reverse(x: number): number {
  let r = 0;
  for (let i = 0; i < 32; i++) {
    r = (r << 1) | (x & 1);
    x >>>= 1;
  }
  return r;
}

export function main(): number {
  let disagree = 0;
  let total = 0;
  let x = 0x12345678;
  for (let i = 0; i < 3000; i++) {
    x = (Math.imul(x, 69069) + 1) | 0;
    const a = popLoop(x);
    if (a !== popKernighan(x) || a !== popSwar(x)) disagree++;
    total += a;
  }
  printKV('total bits: ', total);
  printKV('disagreements: ', disagree);
  printKV('clz(1) = ', clz(1));
  printKV('clz(0x00f00000) = ', clz(0x00f00000));
  printKV('clz(-1) = ', clz(-1));
  printKV('reverse(1) = ', reverse(1));
  printKV('reverse(0x0000ffff) = ', reverse(0x0000ffff));
  printKV('popSwar(-1) = ', popSwar(-1));
  return disagree;
}
