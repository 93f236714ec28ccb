/** hello [ARGS...]: prints `hello, world`, then each argument on its own line as `arg N: WORD`. */
import { argBuf, argCount, argLen, argStart } from './lib/args.ts';
import { printBytes, printNum, print, println } from './lib/io.ts';

export function main(): number {
  println('hello, world');
  for (let i = 0; i < argCount(); i++) {
    print('arg ');
    printNum(i + 1);
    print(': ');
    printBytes(argBuf, argStart(i), argLen(i));
    println('');
  }
  return 0;
}
