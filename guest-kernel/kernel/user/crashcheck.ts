/**
 * crashcheck: after crashwork was stopped anywhere, check what the store holds. Each of cw0..cw3
 * must be missing or empty (never written: crashwork's first round creates it, then writes it) or wholly one version (its length and every byte); and the
 * versions must be a prefix of crashwork's writes, which go v = 1, 2, ... and within a round
 * cw0..cw3: f0 >= f1 >= f2 >= f3 >= f0 - 1. `cwtmp` may exist (created, not yet unlinked) only
 * empty. Prints `versions A B C D` and `crashcheck: ok` (status 0), or what is wrong (status 1).
 */
import { O_RDONLY } from '../syscall-abi.ts';
import { print, printNum, println } from './lib/io.ts';
import { close, open, openb, read, readAt } from './lib/sys.ts';
import { FILES, fillVersion, name, setName } from './lib/versioned.ts';

const got = new Uint8Array(32768 + 1);
const want = new Uint8Array(32768);
const versions = new Int32Array(FILES);

function bad(what: string, i: number): number {
  print('crashcheck: FAILED ');
  print(what);
  print(' cw');
  printNum(i);
  println('');
  return 1;
}

export function main(): number {
  for (let i = 0; i < FILES; i++) {
    setName(i);
    const fd = openb(name, 0, 3, O_RDONLY);
    if (fd < 0) {
      versions[i] = 0;
      continue;
    }
    let n = 0;
    for (;;) {
      const r = readAt(fd, got, n, got.length - n);
      if (r <= 0) break;
      n += r;
    }
    close(fd);
    // Created in round 1 but not yet written: the create and the write are two operations.
    if (n === 0) {
      versions[i] = 0;
      continue;
    }
    if (n < 4 || got[2] !== i || got[3] !== 0x5a) return bad('header of', i);
    const v = got[0] | (got[1] << 8);
    const len = fillVersion(want, i, v);
    if (n !== len) return bad('length of', i);
    for (let k = 0; k < len; k++) if (got[k] !== want[k]) return bad('bytes of', i);
    versions[i] = v;
  }
  print('versions');
  for (let i = 0; i < FILES; i++) {
    print(' ');
    printNum(versions[i]);
  }
  println('');
  for (let i = 1; i < FILES; i++) if (versions[i] > versions[i - 1] || versions[i] < versions[0] - 1) return bad('order at', i);
  const t = open('cwtmp', O_RDONLY);
  if (t >= 0) {
    const r = read(t, got, 16);
    close(t);
    if (r !== 0) return bad('cwtmp not empty, after', 0);
  }
  println('crashcheck: ok');
  return 0;
}
