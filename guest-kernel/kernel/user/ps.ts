/** ps: a header, then each task's pid, state, parent pid and name, one per line (SYS_PS). */
import { EINVAL, PS_NAME, PS_PARENT, PS_PID, PS_STATE, STATE_RUNNABLE, STATE_RUNNING, STATE_SLEEPING, STATE_UNUSED, STATE_ZOMBIE } from '../syscall-abi.ts';
import { eprint, eprintln, pad, print, printNum, println, putc, numWidth } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { ps, psNameByte } from './lib/sys.ts';

const rec = new Int32Array(PS_NAME + 4);

function stateName(s: number): string {
  switch (s) {
    case STATE_UNUSED:
      return 'unused';
    case STATE_RUNNABLE:
      return 'runnable';
    case STATE_RUNNING:
      return 'running';
    case STATE_SLEEPING:
      return 'sleeping';
    case STATE_ZOMBIE:
      return 'zombie';
    default:
      return '?';
  }
}

/** n right-aligned in `width` columns. */
function printRight(n: number, width: number): void {
  for (let w = numWidth(n); w < width; w++) putc(32);
  printNum(n);
}

export function main(): number {
  println('  PID STATE     PARENT NAME');
  for (let slot = 0; slot < 1024; slot++) {
    const r = ps(slot, rec);
    if (r === -EINVAL) break;
    if (r < 0) {
      eprint('ps: ');
      eprintln(errorText(r));
      return 1;
    }
    if (r === 0) continue;
    printRight(rec[PS_PID], 5);
    putc(32);
    const name = stateName(rec[PS_STATE]);
    print(name);
    pad(name.length, 9);
    printRight(rec[PS_PARENT], 6);
    putc(32);
    for (let i = 0; i < 16; i++) {
      const c = psNameByte(rec, i);
      if (c === 0) break;
      putc(c);
    }
    putc(10);
  }
  return 0;
}
