/** Module-level variables: counters, flags, compound assignment, ++/-- as values. */
import { printKV } from '../lib/console.ts';

let counter = 0;
let total = 100;
let flag = false;
let product = 1;
const LIMIT = 50;

function bump(by: number): number {
  counter += by;
  return counter;
}

function toggle(): boolean {
  flag = !flag;
  return flag;
}

export function main(): number {
  for (let i = 0; i < LIMIT; i++) bump(i);
  printKV('counter = ', counter);
  total -= 7;
  total *= 3;
  total <<= 2;
  total >>= 1;
  total |= 1;
  total ^= 0xff;
  total &= 0xfff;
  total %= 1000;
  printKV('total = ', total);
  const a = counter++;
  const b = ++counter;
  const c = counter--;
  const d = --counter;
  printKV('a = ', a);
  printKV('b = ', b);
  printKV('c = ', c);
  printKV('d = ', d);
  let toggles = 0;
  for (let i = 0; i < 7; i++) if (toggle()) toggles++;
  printKV('toggles = ', toggles);
  printKV('flag = ', flag ? 1 : 0);
  for (let i = 1; i <= 10; i++) product = (product * i) | 0;
  printKV('10! = ', product);
  let x = 5;
  x += x++ + ++x;
  printKV('x = ', x);
  let y = 3;
  const z = y * (y = 4) + y;
  printKV('z = ', z);
  return counter & 0xff;
}
