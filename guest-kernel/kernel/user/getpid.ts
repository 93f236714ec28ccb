/** getpid [N=1000]: N × SYS_GETPID, checking each gives the same pid; prints `getpid: N calls ok`. */
import { benchCount } from './lib/bench.ts';
import { print, printNum, println } from './lib/io.ts';
import { getpid } from './lib/sys.ts';

export function main(): number {
  const n = benchCount('getpid', 1000, 100000000);
  if (n < 0) return 2;
  const pid = getpid();
  let bad = 0;
  for (let i = 0; i < n; i++) if (getpid() !== pid) bad++;
  print('getpid: ');
  printNum(n);
  println(bad === 0 && pid > 0 ? ' calls ok' : ' calls, pid changed');
  return bad === 0 && pid > 0 ? 0 : 1;
}
