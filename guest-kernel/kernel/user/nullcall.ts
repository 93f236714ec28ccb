/** nullcall [N=1000]: N × SYS_UPTIME (the cheapest call: no argument, no work); prints `nullcall: N calls`. */
import { benchCount } from './lib/bench.ts';
import { print, printNum, println } from './lib/io.ts';
import { uptime } from './lib/sys.ts';

export function main(): number {
  const n = benchCount('nullcall', 1000, 100000000);
  if (n < 0) return 2;
  for (let i = 0; i < n; i++) uptime();
  print('nullcall: ');
  printNum(n);
  println(' calls');
  return 0;
}
