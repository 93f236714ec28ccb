/** Logical operators on numbers and booleans: && and || return an operand, !, ?:, comparisons. */
import { printKV } from '../lib/console.ts';

let calls = 0;

function side(v: number): number {
  calls++;
  return v;
}

function between(x: number, lo: number, hi: number): boolean {
  return x >= lo && x <= hi;
}

function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

export function main(): number {
  const three = side(3);
  const zero = side(0);
  printKV('3 && 4 = ', three && 4);
  printKV('0 && 4 = ', zero && 4);
  printKV('0 || 7 = ', zero || 7);
  printKV('3 || 7 = ', three || 7);
  const a = side(0) && side(1);
  const b = side(2) || side(3);
  printKV('a = ', a);
  printKV('b = ', b);
  printKV('calls = ', calls);
  printKV('!zero = ', !zero ? 1 : 0);
  printKV('!three = ', !three ? 1 : 0);
  let inRange = 0;
  for (let x = -20; x <= 20; x++) if (between(x, -3, 7)) inRange++;
  printKV('in range = ', inRange);
  printKV('sign(-9) = ', sign(-9));
  printKV('sign(0) = ', sign(0));
  printKV('sign(12) = ', sign(12));
  const t = between(5, 0, 9);
  const f = between(50, 0, 9);
  printKV('t && !f = ', t && !f ? 1 : 0);
  printKV('t === f = ', t === f ? 1 : 0);
  let bools = 0;
  for (let i = 0; i < 16; i++) {
    const p = (i & 1) !== 0;
    const q = (i & 2) !== 0;
    const r = (i & 4) !== 0;
    if ((p || q) && !(q && r)) bools += i;
  }
  printKV('bools = ', bools);
  let n = 10;
  let m = 0;
  n ||= 99;
  m ||= 42;
  n &&= n + 1;
  printKV('n = ', n);
  printKV('m = ', m);
  const cmp = (1 < 2) === (3 > 2);
  printKV('cmp = ', cmp ? 1 : 0);
  return calls;
}
