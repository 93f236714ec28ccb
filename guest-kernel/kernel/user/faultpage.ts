/** faultpage: loads a word from an unmapped page of the map region: a page fault, exit FAULT_STATUS. */
import { USER_MAP_BASE } from '../syscall-abi.ts';

export function main(): number {
  return load32(USER_MAP_BASE + 0x00800000);
}
