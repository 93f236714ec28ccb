/** Crash consistency at every write of the workload (crash-workload.ts); run in Node, being long. */
import { crashTest } from './crash-workload.ts';

export function main(): number {
  return crashTest(0);
}
