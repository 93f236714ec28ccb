/** The shutdown code is main's full 32-bit result: here 0xcafebabe. */
import { println } from '../lib/console.ts';

function code(): number {
  return 0xcafe0000 | 0xbabe;
}

export function main(): number {
  println('exiting with 0xcafebabe');
  return code();
}
