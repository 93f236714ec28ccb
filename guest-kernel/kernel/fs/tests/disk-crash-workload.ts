/**
 * The crash test's workload (disk-crash-ops.ts) through file.ts on the machine's disk: the test
 * (test/guest-kernel/disk-crash.test.ts) stops it after various instruction counts, then boots
 * disk-crash-check.ts on what the disk holds.
 */
import { platformInit } from '../../platform/platform.ts';
import { procInit } from '../../proc/proc.ts';
import { O_CREATE, O_TRUNC, O_WRONLY } from '../../syscall-abi.ts';
import { diskInit } from '../disk.ts';
import { fileClose, fileOpen, fileUnlink, fileWrite } from '../file.ts';
import { contentOf, itemName, NOPS, opAt } from './disk-crash-ops.ts';

const TASK = 1;
const name = new Uint8Array(4);
const buf = new Uint8Array(32768);
const op = new Int32Array(2);

export function main(): number {
  platformInit();
  procInit(20000);
  const d = diskInit();
  if (d < 0) return 2;
  for (let k = 0; k < NOPS; k++) {
    opAt(k, op);
    const item = op[0];
    const len = itemName(item, name);
    let r = 0;
    if (op[1] === -2) r = fileUnlink(addressOf(name), len);
    else if (op[1] === -1) {
      r = fileOpen(TASK, addressOf(name), len, O_WRONLY | O_CREATE);
      if (r >= 0) r = fileClose(TASK, r);
    } else {
      const fd = fileOpen(TASK, addressOf(name), len, O_WRONLY | O_TRUNC);
      const n = contentOf(item, op[1], buf);
      r = fd < 0 ? fd : fileWrite(TASK, fd, addressOf(buf), n);
      if (fd >= 0) fileClose(TASK, fd);
      if (r === n) r = 0;
    }
    if (r !== 0) {
      console.log('FAIL op', k, r);
      return 1;
    }
  }
  console.log('workload done', NOPS);
  return 0;
}
