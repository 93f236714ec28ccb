/**
 * mapchurn [N=100]: N times, maps 4 pages at USER_MAP_BASE, checks each reads zero, writes a word
 * on each and reads it back, unmaps them; prints `mapchurn: N rounds ok` (or FAILED, status 1).
 */
import { USER_MAP_BASE } from '../syscall-abi.ts';
import { benchCount } from './lib/bench.ts';
import { print, printNum, println } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { map, unmap } from './lib/sys.ts';

const PAGES = 4;
const PAGE = 4096;

function fail(round: number, what: string): number {
  print('mapchurn: FAILED at round ');
  printNum(round);
  print(': ');
  println(what);
  return 1;
}

export function main(): number {
  const n = benchCount('mapchurn', 100, 10000000);
  if (n < 0) return 2;
  for (let r = 0; r < n; r++) {
    const m = map(USER_MAP_BASE, PAGES);
    if (m < 0) return fail(r, errorText(m));
    for (let p = 0; p < PAGES; p++) {
      const va = USER_MAP_BASE + p * PAGE + ((r & 1023) << 2);
      if (load32(va) !== 0) return fail(r, 'a fresh page is not zero');
      store32(va, r + p);
      if (load32(va) !== r + p) return fail(r, 'a word did not read back');
    }
    const u = unmap(USER_MAP_BASE, PAGES);
    if (u < 0) return fail(r, errorText(u));
  }
  print('mapchurn: ');
  printNum(n);
  println(' rounds ok');
  return 0;
}
