/**
 * Crash consistency, simulated: a file-writing workload runs against the RAM disk, which drops
 * every write after the K-th (the machine stopped there); a fresh mount of the bytes left (what
 * the next boot sees) must pass the boot-time check, and the files must be the state after some
 * prefix of the workload's operations — each file wholly its old or its new content, never a mix,
 * and no operation seen without the ones before it.
 *
 * The workload (p = operations completed):
 *   0 rewrite a (8 KiB -> 6 KiB)   1 overwrite b (2 KiB)   2 create d   3 write d (3000 bytes)
 *   4 unlink c (40 KiB)            5 append to b (1 KiB)   6 create e
 *   7, 8, 9 one 80 KiB write to e (three CHUNK transactions: the store promises CHUNK at a time)
 *   10 truncate a to 1000 bytes
 */
import { printCheckFailure } from '../check.ts';
import { fsCreate, fsFormat, fsMount, fsOpen, fsRead, fsRewrite, fsSize, fsTruncate, fsUnlink, fsWrite } from '../fs.ts';
import { attachRamDisk, disk, isPattern, nameOf, pattern, ram } from './ramdisk.ts';

/** The store's size for this test: small, so that saving and restoring it stays cheap. */
const STORE = 640;
const NOPS = 11;
const base = new Uint8Array(STORE * 512);
const buf = new Uint8Array(81920);
const name = new Uint8Array(32);

function file(s: string): number {
  return fsOpen(name, nameOf(s, name));
}

/** Which of its states (sizes, with the seed of each) file s is in; -1 for none, 0 when absent if absentFirst. */
function stateOf(s: string, absentState: number, sizes: Int32Array, seeds: Int32Array): number {
  const inum = file(s);
  if (inum < 0) return absentState;
  const size = fsSize(inum);
  if (size < 0 || size > buf.length || fsRead(inum, 0, buf, 0, size) !== size) return -1;
  for (let i = 0; i < sizes.length; i++) if (sizes[i] === size && isPattern(buf, size, seeds[i], 0)) return i;
  return -1;
}

const aSizes = new Int32Array([8192, 6144, 1000]);
const aSeeds = new Int32Array([1, 11, 11]);
const bSizes = new Int32Array([2048, 2048, 3072]);
const bSeeds = new Int32Array([2, 12, 12]);
const cSizes = new Int32Array([40960]);
const cSeeds = new Int32Array([3]);
// d: 0 absent, 1 empty, 2 written; e: 0 absent, 1 empty, 2..4 after each chunk.
const dSizes = new Int32Array([-1, 0, 3000]);
const dSeeds = new Int32Array([0, 14, 14]);
const eSizes = new Int32Array([-1, 0, 32768, 65536, 81920]);
const eSeeds = new Int32Array([0, 15, 15, 15, 15]);

/** The state each file is in after p operations. */
function expected(p: number, f: number): number {
  if (f === 0) return p < 1 ? 0 : p < 11 ? 1 : 2;
  if (f === 1) return p < 2 ? 0 : p < 6 ? 1 : 2;
  if (f === 2) return p < 5 ? 0 : 1;
  if (f === 3) return p < 3 ? 0 : p < 4 ? 1 : 2;
  return p < 7 ? 0 : Math.min(p - 6, 4);
}

/** The files' states (into obs) and the prefix p they agree on, or -1. */
const obs = new Int32Array(5);
function observe(): number {
  obs[0] = stateOf('a', -1, aSizes, aSeeds);
  obs[1] = stateOf('b', -1, bSizes, bSeeds);
  obs[2] = stateOf('c', 1, cSizes, cSeeds);
  obs[3] = stateOf('d', 0, dSizes, dSeeds);
  obs[4] = stateOf('e', 0, eSizes, eSeeds);
  for (let p = 0; p <= NOPS; p++) {
    let all = true;
    for (let f = 0; f < 5; f++) if (obs[f] !== expected(p, f)) all = false;
    if (all) return p;
  }
  return -1;
}

function setUp(): void {
  attachRamDisk();
  fsFormat(STORE);
  fsMount();
  pattern(buf, 8192, 1, 0);
  fsWrite(fsCreate(name, nameOf('a', name)), 0, buf, 0, 8192);
  pattern(buf, 2048, 2, 0);
  fsWrite(fsCreate(name, nameOf('b', name)), 0, buf, 0, 2048);
  pattern(buf, 40960, 3, 0);
  fsWrite(fsCreate(name, nameOf('c', name)), 0, buf, 0, 40960);
  for (let i = 0; i < base.length; i++) base[i] = disk[i];
}

/** The workload; its errors are ignored, as writes after the crash are lost anyway. */
function workload(): void {
  pattern(buf, 6144, 11, 0);
  fsRewrite(file('a'), buf, 6144);
  pattern(buf, 3072, 12, 0);
  fsWrite(file('b'), 0, buf, 0, 2048);
  const d = fsCreate(name, nameOf('d', name));
  pattern(buf, 3000, 14, 0);
  fsWrite(d, 0, buf, 0, 3000);
  fsUnlink(name, nameOf('c', name));
  pattern(buf, 3072, 12, 0);
  fsWrite(file('b'), 2048, buf, 2048, 1024);
  const e = fsCreate(name, nameOf('e', name));
  pattern(buf, 81920, 15, 0);
  fsWrite(e, 0, buf, 0, 81920);
  fsTruncate(file('a'), 1000);
}

/** Crash after k writes, reboot, check. The prefix of operations found, or -1 (reported). */
function crashAt(k: number): number {
  for (let i = 0; i < base.length; i++) disk[i] = base[i];
  ram.writes = 0;
  ram.crashAfter = k;
  workload();
  ram.crashAfter = -1;
  const m = fsMount();
  if (m !== 0) {
    console.log('FAIL crash after', k, 'writes: mount', m);
    printCheckFailure();
    return -1;
  }
  const p = observe();
  if (p < 0) console.log('FAIL crash after', k, 'writes: files', obs[0], obs[1], obs[2], obs[3], obs[4]);
  return p;
}

/**
 * Run the workload once to count its writes W, then crash it after k writes for `samples` values
 * of k spread over 0..W (every k when samples is 0). Prints the prefix seen at each; the failures.
 */
export function crashTest(samples: number): number {
  setUp();
  ram.writes = 0;
  workload();
  const total = ram.writes;
  console.log('workload writes', total, 'final state', observe());
  let failures = 0;
  let last = 0;
  const n = samples === 0 ? total : samples;
  const seen = new Int32Array(NOPS + 1);
  for (let i = 0; i <= n; i++) {
    const k = samples === 0 ? i : ((i * total) / n) | 0;
    const p = crashAt(k);
    if (p < 0) failures++;
    else {
      seen[p]++;
      // More writes reach the disk, so never fewer operations survive.
      if (p < last) {
        console.log('FAIL crash after', k, 'writes: prefix went back from', last, 'to', p);
        failures++;
      }
      last = p;
    }
    if (samples !== 0) console.log('k', k, 'prefix', p);
  }
  for (let p = 0; p <= NOPS; p++) console.log('prefix', p, 'seen', seen[p]);
  console.log('crashes', n + 1, 'failures', failures);
  console.log(failures === 0 ? 'crash consistency: ok' : 'crash consistency: FAILED');
  return failures;
}
