/**
 * faultpriv [cli|in|out|hlt|cr]: runs a privileged instruction at privilege 3: a general-protection
 * fault, exit FAULT_STATUS. Default cli; 2 for an unknown word.
 */
import { argIs, argCount } from './lib/args.ts';

export function main(): number {
  if (argCount() === 0 || argIs(0, 'cli')) cli();
  else if (argIs(0, 'in')) return portIn(0x3f8);
  else if (argIs(0, 'out')) portOut(0x3f8, 65);
  else if (argIs(0, 'hlt')) hlt();
  else if (argIs(0, 'cr')) writeCr(0, 0);
  else return 2;
  return 3;
}
