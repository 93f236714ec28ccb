/** sleepy [TICKS=1000000]: sleeps TICKS ticks, then exits 0 (usertests kills it while asleep). */
import { argIntIn } from './lib/args.ts';
import { NOT_A_NUMBER } from './lib/str.ts';
import { sleep } from './lib/sys.ts';

export function main(): number {
  const n = argIntIn(0, 1000000, 0x7fffffff);
  if (n === NOT_A_NUMBER) return 2;
  return sleep(n) === 0 ? 0 : 1;
}
