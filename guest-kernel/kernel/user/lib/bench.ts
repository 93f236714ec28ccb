/**
 * What the benchmark workloads share: reading the iteration count N (word 0 of the arguments,
 * `dflt` when absent) and the usage line when it is not a count.
 */
import { argIntIn } from './args.ts';
import { eprint, eprintln, eprintNum } from './io.ts';
import { NOT_A_NUMBER } from './str.ts';

/** N from word 0 (dflt when there is none), or -1 after printing `usage: NAME [N]` (N in 0..max) on fd 2. */
export function benchCount(name: string, dflt: number, max: number): number {
  const n = argIntIn(0, dflt, max);
  if (n !== NOT_A_NUMBER) return n;
  eprint('usage: ');
  eprint(name);
  eprint(' [N], N in 0..');
  eprintNum(max);
  eprintln('');
  return -1;
}
