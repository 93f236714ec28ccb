/** touchunmap: maps a page, writes it, unmaps it, writes it again: a page fault, exit FAULT_STATUS (2 if map/unmap fail). */
import { USER_MAP_BASE } from '../syscall-abi.ts';
import { map, unmap } from './lib/sys.ts';

const VA = USER_MAP_BASE + 0x00200000;

export function main(): number {
  if (map(VA, 1) !== 0) return 2;
  store32(VA, 1);
  if (unmap(VA, 1) !== 0) return 2;
  store32(VA, 2);
  return 3;
}
