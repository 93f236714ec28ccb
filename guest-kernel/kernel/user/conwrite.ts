/**
 * conwrite [N=4096]: N bytes to fd 1 in writes of 1 KiB (the last one shorter): lines of 63
 * characters 'a'..'z' cycling, each ended by a newline (the last line may be cut short); then
 * `conwrite: N bytes in W writes` on a line of its own.
 */
import { benchCount } from './lib/bench.ts';
import { flush, print, printNum, println, putc } from './lib/io.ts';
import { writeAt } from './lib/sys.ts';

const CHUNK = 1024;
const buf = new Uint8Array(CHUNK);

export function main(): number {
  const n = benchCount('conwrite', 4096, 1 << 30);
  if (n < 0) return 2;
  for (let i = 0; i < CHUNK; i++) buf[i] = (i & 63) === 63 ? 10 : 97 + ((i & 63) % 26);
  let left = n;
  let writes = 0;
  let ended = true;
  while (left > 0) {
    const len = Math.min(left, CHUNK);
    let off = 0;
    while (off < len) {
      const w = writeAt(1, buf, off, len - off);
      writes++;
      if (w <= 0) return 1;
      off += w;
    }
    ended = buf[len - 1] === 10;
    left -= len;
  }
  if (!ended) putc(10);
  print('conwrite: ');
  printNum(n);
  print(' bytes in ');
  printNum(writes);
  println(' writes');
  flush();
  return 0;
}
