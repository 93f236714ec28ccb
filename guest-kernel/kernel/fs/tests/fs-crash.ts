/** Crash consistency on the machine: 60 crash points spread over the workload (crash-workload.ts). */
import { crashTest } from './crash-workload.ts';

export function main(): number {
  return crashTest(60);
}
