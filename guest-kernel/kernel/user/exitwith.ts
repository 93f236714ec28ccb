/** exitwith [N]: exits with status N (default 0), to test that statuses reach wait. */
import { NOT_A_NUMBER } from './lib/str.ts';
import { argInt } from './lib/args.ts';

export function main(): number {
  const v = argInt(0, 0);
  return v === NOT_A_NUMBER ? 255 : v;
}
