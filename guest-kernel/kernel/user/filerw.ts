/**
 * filerw [N=16]: writes N KiB to the file `filerw.tmp` in 1 KiB writes, closes it, reads it back
 * in 1 KiB reads, compares an FNV-1a checksum of what was written and what was read, unlinks it;
 * prints `filerw: N KiB ok checksum 0x........` (or `filerw: FAILED ...`, status 1).
 */
import { O_CREATE, O_RDONLY, O_TRUNC, O_WRONLY } from '../syscall-abi.ts';
import { benchCount } from './lib/bench.ts';
import { print, printHex, printNum, println } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { close, open, read, unlink, write } from './lib/sys.ts';

const KIB = 1024;
const buf = new Uint8Array(KIB);

function fnv(h: number, buf: Uint8Array, len: number): number {
  let x = h;
  for (let i = 0; i < len; i++) x = Math.imul(x ^ buf[i], 16777619);
  return x;
}

function fail(what: string, e: number): number {
  print('filerw: FAILED ');
  print(what);
  print(': ');
  println(errorText(e));
  unlink('filerw.tmp');
  return 1;
}

export function main(): number {
  const n = benchCount('filerw', 16, 512);
  if (n < 0) return 2;
  let fd = open('filerw.tmp', O_WRONLY | O_CREATE | O_TRUNC);
  if (fd < 0) return fail('open', fd);
  let sumOut = -2128831035;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < KIB; i++) buf[i] = (Math.imul(k, 31) + i + (i >> 5)) & 255;
    sumOut = fnv(sumOut, buf, KIB);
    const w = write(fd, buf, KIB);
    if (w !== KIB) return fail('write', w < 0 ? w : -5);
  }
  close(fd);
  fd = open('filerw.tmp', O_RDONLY);
  if (fd < 0) return fail('reopen', fd);
  let sumIn = -2128831035;
  let total = 0;
  for (;;) {
    const r = read(fd, buf, KIB);
    if (r < 0) return fail('read', r);
    if (r === 0) break;
    sumIn = fnv(sumIn, buf, r);
    total += r;
  }
  close(fd);
  const u = unlink('filerw.tmp');
  if (u < 0) return fail('unlink', u);
  if (total !== n * KIB || sumIn !== sumOut) {
    print('filerw: FAILED read back ');
    printNum(total);
    println(total !== n * KIB ? ' bytes' : ' bytes, checksum differs');
    return 1;
  }
  print('filerw: ');
  printNum(n);
  print(' KiB ok checksum ');
  printHex(sumOut);
  println('');
  return 0;
}
