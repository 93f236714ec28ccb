/**
 * cat [FILE...]: copies each file to fd 1, or fd 0 to fd 1 (until the end of input) when there is
 * none. `cat: NAME: no such file` on stderr for a file it cannot open or read; status 1 if any.
 */
import { FD_STDIN, FD_STDOUT, O_RDONLY } from '../syscall-abi.ts';

/** A write that moved nothing: reported as an I/O error (fs.ts's E_IO). */
const EIO = 5;
import { argBuf, argCount, argLen, argStart } from './lib/args.ts';
import { eprint, eprintBytes, eprintln } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { close, openb, read, writeAt } from './lib/sys.ts';

const buf = new Uint8Array(4096);

/** Copy fd to fd 1: 0, or the failing call's -errno. */
function copyOut(fd: number): number {
  for (;;) {
    const n = read(fd, buf, buf.length);
    if (n <= 0) return n;
    let off = 0;
    while (off < n) {
      const w = writeAt(FD_STDOUT, buf, off, n - off);
      if (w <= 0) return w < 0 ? w : -EIO;
      off += w;
    }
  }
}

function complain(i: number, e: number): void {
  eprint('cat: ');
  eprintBytes(argBuf, argStart(i), argLen(i));
  eprint(': ');
  eprintln(errorText(e));
}

export function main(): number {
  if (argCount() === 0) return copyOut(FD_STDIN) < 0 ? 1 : 0;
  let status = 0;
  for (let i = 0; i < argCount(); i++) {
    const fd = openb(argBuf, argStart(i), argLen(i), O_RDONLY);
    if (fd < 0) {
      complain(i, fd);
      status = 1;
      continue;
    }
    const r = copyOut(fd);
    close(fd);
    if (r < 0) {
      complain(i, r);
      status = 1;
    }
  }
  return status;
}
