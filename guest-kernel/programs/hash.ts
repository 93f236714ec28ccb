/** String hashing: FNV-1a and djb2 over literals, and a small open-addressing hash set. */
import { print, printHex, printKV, putc } from '../lib/console.ts';

const TABLE_SIZE = 256;
const keys = new Int32Array(TABLE_SIZE);
const used = new Uint8Array(TABLE_SIZE);

function fnv1a(s: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

function djb2(s: string): number {
  let h = 5381;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 33) + s.charCodeAt(i)) | 0;
  return h;
}

function insert(k: number): boolean {
  let slot = k & (TABLE_SIZE - 1);
  while (used[slot]) {
    if (keys[slot] === k) return false;
    slot = (slot + 1) & (TABLE_SIZE - 1);
  }
  used[slot] = 1;
  keys[slot] = k;
  return true;
}

function show(s: string): void {
  print(s);
  print(': fnv1a=');
  printHex(fnv1a(s));
  print(' djb2=');
  printHex(djb2(s));
  putc(10);
}

export function main(): number {
  show('');
  show('a');
  show('hello');
  show('tsvisor');
  let inserted = 0;
  let x = 7;
  for (let i = 0; i < 200; i++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x3ff;
    if (insert(x)) inserted++;
  }
  printKV('distinct inserted: ', inserted);
  return inserted;
}
