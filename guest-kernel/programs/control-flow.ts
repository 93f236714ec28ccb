/** Labelled break and continue, do/while, nested loops, early returns and empty bodies. */
import { printKV } from '../lib/console.ts';

function findPair(target: number): number {
  let found = -1;
  outer: for (let i = 1; i < 50; i++) {
    for (let j = i; j < 50; j++) {
      if (i * j > target) continue outer;
      if (i * j === target && i + j > 20) {
        found = i * 100 + j;
        break outer;
      }
    }
  }
  return found;
}

function digitsSum(n: number): number {
  let s = 0;
  do {
    s += n % 10;
    n = (n / 10) | 0;
  } while (n > 0);
  return s;
}

function skipOdd(n: number): number {
  let s = 0;
  let i = 0;
  while (true) {
    i++;
    if (i > n) break;
    if (i % 2) continue;
    s += i;
  }
  return s;
}

function firstSquareAbove(n: number): number {
  for (let i = 0; ; i++) {
    if (i * i > n) return i * i;
  }
}

function countDown(n: number): number {
  let steps = 0;
  for (; n > 0; n -= 3) steps++;
  return steps;
}

function block(n: number): number {
  let r = 0;
  done: {
    if (n < 0) break done;
    r = n * 2;
    if (r > 10) break done;
    r += 1000;
  }
  return r;
}

export function main(): number {
  printKV('findPair(96) = ', findPair(96));
  printKV('digitsSum(987654321) = ', digitsSum(987654321));
  printKV('skipOdd(100) = ', skipOdd(100));
  printKV('firstSquareAbove(50) = ', firstSquareAbove(50));
  printKV('countDown(20) = ', countDown(20));
  printKV('block(-1) = ', block(-1));
  printKV('block(3) = ', block(3));
  printKV('block(30) = ', block(30));
  let nested = 0;
  for (let a = 0; a < 10; a++) for (let b = 0; b < a; b++) for (let c = 0; c < b; c++) nested++;
  printKV('nested = ', nested);
  let w = 0;
  while (w < 1000) w = w * 2 + 1;
  printKV('w = ', w);
  return nested & 0xff;
}
