/**
 * faultdiv [D=0]: returns 100 / D, with D read from the arguments so the compiler cannot see it is
 * zero: division by zero, exit FAULT_STATUS (for D = 5, exit 20).
 */
import { argInt } from './lib/args.ts';

export function main(): number {
  const d = argInt(0, 0);
  return (100 / d) | 0;
}
