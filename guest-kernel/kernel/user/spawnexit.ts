/**
 * spawnexit [N=20]: N times, spawns `true` and waits for it, checking the pid and the status 0;
 * prints `spawnexit: N spawns ok` (or FAILED, status 1).
 */
import { benchCount } from './lib/bench.ts';
import { print, printNum, println } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { spawn, wait } from './lib/sys.ts';

const status = new Int32Array(1);

function fail(i: number, what: string): number {
  print('spawnexit: FAILED at spawn ');
  printNum(i);
  print(': ');
  println(what);
  return 1;
}

export function main(): number {
  const n = benchCount('spawnexit', 20, 10000000);
  if (n < 0) return 2;
  for (let i = 0; i < n; i++) {
    const pid = spawn('true', '');
    if (pid < 0) return fail(i, errorText(pid));
    status[0] = -12345;
    const w = wait(status);
    if (w < 0) return fail(i, errorText(w));
    if (w !== pid) return fail(i, 'wait gave another pid');
    if (status[0] !== 0) return fail(i, 'status is not 0');
  }
  print('spawnexit: ');
  printNum(n);
  println(' spawns ok');
  return 0;
}
