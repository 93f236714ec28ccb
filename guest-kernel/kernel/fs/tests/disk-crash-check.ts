/**
 * Boot after the crash test's workload (disk-crash-workload.ts) was stopped: diskInit must mount
 * (recovering the log; a disk whose format was cut short is blank and formatted again), every file
 * must be wholly one version of itself, and the items' states together must be the state after
 * some prefix of the operations. Prints `prefix p` (exit 0), or FAIL lines (exit 1; diskInit's
 * refusal prints the check's line, exit 2).
 */
import { platformInit } from '../../platform/platform.ts';
import { procInit } from '../../proc/proc.ts';
import { O_RDONLY } from '../../syscall-abi.ts';
import { diskInit } from '../disk.ts';
import { fileClose, fileOpen, fileRead } from '../file.ts';
import { ITEMS, NOPS, itemName, opAt, versionOf } from './disk-crash-ops.ts';

const TASK = 1;
const name = new Uint8Array(4);
const buf = new Uint8Array(40000);
const op = new Int32Array(2);
const seen = new Int32Array(ITEMS);
const state = new Int32Array(ITEMS);

function observe(item: number): number {
  const fd = fileOpen(TASK, addressOf(name), itemName(item, name), O_RDONLY);
  if (fd === -2) return -2;
  if (fd < 0) return -4;
  const n = fileRead(TASK, fd, addressOf(buf), buf.length);
  fileClose(TASK, fd);
  return n < 0 ? -4 : versionOf(item, buf, n);
}

export function main(): number {
  platformInit();
  procInit(20000);
  const d = diskInit();
  if (d < 0) {
    console.log('FAIL diskInit', d);
    return 2;
  }
  let bad = false;
  for (let i = 0; i < ITEMS; i++) {
    seen[i] = observe(i);
    state[i] = -2;
    if (seen[i] < -2) bad = true;
  }
  console.log('disk', d, 'items', seen[0], seen[1], seen[2], seen[3]);
  if (bad) {
    console.log('FAIL a file is no version of itself');
    return 1;
  }
  for (let p = 0; p <= NOPS; p++) {
    if (p > 0) {
      opAt(p - 1, op);
      state[op[0]] = op[1];
    }
    let same = true;
    for (let i = 0; i < ITEMS; i++) if (state[i] !== seen[i]) same = false;
    if (same) {
      console.log('prefix', p);
      return 0;
    }
  }
  console.log('FAIL no prefix of the operations gives these files');
  return 1;
}
