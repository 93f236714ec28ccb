/** faultstack: recurses without end, 1 KiB a frame, into the guard page below the user stack: exit FAULT_STATUS. */
import { argCount } from './lib/args.ts';

function deep(n: number): number {
  const pad = new Uint8Array(1024);
  pad[n & 1023] = n & 255;
  return deep(n + 1) + pad[(n * 7) & 1023];
}

export function main(): number {
  return deep(argCount());
}
