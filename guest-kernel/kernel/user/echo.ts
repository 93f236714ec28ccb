/** echo [WORDS...]: its arguments separated by one space, then a newline. */
import { argBuf, argCount, argLen, argStart } from './lib/args.ts';
import { printBytes, putc } from './lib/io.ts';

export function main(): number {
  for (let i = 0; i < argCount(); i++) {
    if (i > 0) putc(32);
    printBytes(argBuf, argStart(i), argLen(i));
  }
  putc(10);
  return 0;
}
