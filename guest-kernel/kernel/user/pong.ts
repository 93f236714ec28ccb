/** pong [N=100]: pingpong's partner: N × SYS_YIELD, then exits 0 (2 when N is not a count). */
import { argIntIn } from './lib/args.ts';
import { NOT_A_NUMBER } from './lib/str.ts';
import { yieldCpu } from './lib/sys.ts';

export function main(): number {
  const n = argIntIn(0, 100, 100000000);
  if (n === NOT_A_NUMBER) return 2;
  for (let i = 0; i < n; i++) yieldCpu();
  return 0;
}
