/** faultovf [N=2147483647]: returns N + 1 unwrapped: integer overflow for N = 2^31 - 1, exit FAULT_STATUS. */
import { argInt } from './lib/args.ts';

export function main(): number {
  const n = argInt(0, 2147483647);
  return n + 1;
}
