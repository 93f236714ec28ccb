/** kill PID...: kills each task; `kill: PID: no such task` on stderr for each failure; status 1 if any. */
import { argBuf, argCount, argInt, argLen, argStart } from './lib/args.ts';
import { eprint, eprintBytes, eprintln } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { NOT_A_NUMBER } from './lib/str.ts';
import { kill } from './lib/sys.ts';

export function main(): number {
  if (argCount() === 0) {
    eprintln('usage: kill PID...');
    return 1;
  }
  let status = 0;
  for (let i = 0; i < argCount(); i++) {
    const pid = argInt(i, 0);
    const r = pid === NOT_A_NUMBER ? -22 : kill(pid);
    if (r < 0) {
      eprint('kill: ');
      eprintBytes(argBuf, argStart(i), argLen(i));
      eprint(': ');
      eprintln(pid === NOT_A_NUMBER ? 'not a pid' : errorText(r));
      status = 1;
    }
  }
  return status;
}
