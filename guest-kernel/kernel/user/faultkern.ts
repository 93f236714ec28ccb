/**
 * faultkern [write|read]: writes (default) or reads kernel address 0x1000, mapped without the user
 * bit (native) or not at all (pv): a page fault, exit FAULT_STATUS; 2 for an unknown word.
 */
import { argCount, argIs } from './lib/args.ts';

export function main(): number {
  if (argCount() === 0 || argIs(0, 'write')) store32(0x1000, 0x5a5a5a5a);
  else if (argIs(0, 'read')) return load32(0x1000);
  else return 2;
  return 3;
}
