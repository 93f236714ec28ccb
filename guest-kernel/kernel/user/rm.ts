/** rm FILE...: unlinks each file; `rm: NAME: no such file` on stderr for each failure; status 1 if any. */
import { argBuf, argCount, argLen, argStart } from './lib/args.ts';
import { eprint, eprintBytes, eprintln } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { unlinkb } from './lib/sys.ts';

export function main(): number {
  if (argCount() === 0) {
    eprintln('usage: rm FILE...');
    return 1;
  }
  let status = 0;
  for (let i = 0; i < argCount(); i++) {
    const r = unlinkb(argBuf, argStart(i), argLen(i));
    if (r < 0) {
      eprint('rm: ');
      eprintBytes(argBuf, argStart(i), argLen(i));
      eprint(': ');
      eprintln(errorText(r));
      status = 1;
    }
  }
  return status;
}
