/** ls: each file's name and size, one per line (`NAME` padded to 16 columns, then the size in bytes). */
import { ENOENT } from '../syscall-abi.ts';
import { eprint, eprintln, pad, printBytes, printUnsigned, putc } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { list } from './lib/sys.ts';

/** The size word, then a name of up to 28 bytes (the file store's limit) and some room. */
const entry = new Uint8Array(4 + 64);

export function main(): number {
  for (let i = 0; i < 100000; i++) {
    const r = list(i, entry, entry.length);
    if (r === -ENOENT) break;
    if (r < 0) {
      eprint('ls: ');
      eprintln(errorText(r));
      return 1;
    }
    if (r === 0) continue;
    const n = Math.min(r, entry.length - 4);
    printBytes(entry, 4, n);
    pad(n, 16);
    printUnsigned(load32(addressOf(entry)));
    putc(10);
  }
  return 0;
}
