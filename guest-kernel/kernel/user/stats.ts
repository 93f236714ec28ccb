/** stats: every kernel counter's name and value (unsigned), one per line: `NAME VALUE` (SYS_STATS, SYS_STATNAME). */
import { eprint, eprintln, pad, printBytes, printUnsigned, putc } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { statname, stats } from './lib/sys.ts';

const MAX = 256;
const values = new Int32Array(MAX);
const name = new Uint8Array(64);

export function main(): number {
  const n = stats(values, MAX);
  if (n < 0) {
    eprint('stats: ');
    eprintln(errorText(n));
    return 1;
  }
  const shown = Math.min(n, MAX);
  for (let i = 0; i < shown; i++) {
    const len = statname(i, name, name.length);
    if (len < 0) {
      eprint('stats: ');
      eprintln(errorText(len));
      return 1;
    }
    const l = Math.min(len, name.length);
    printBytes(name, 0, l);
    pad(l, 24);
    printUnsigned(values[i]);
    putc(10);
  }
  return 0;
}
