/**
 * pingpong [N=100]: two tasks taking turns. It spawns `pong N`; both then call SYS_YIELD N times,
 * so with the two of them runnable the CPU passes from one to the other about 2N times (a
 * context switch per yield: xv6's and lmbench's lat_ctx measure). The ABI has no pipe, so the
 * turns are not checked one by one; the output depends only on N: `pingpong: N turns, partner
 * exit 0`. Before its turns it checks through SYS_PS that the partner is its child.
 */
import { PS_NAME, PS_PARENT, PS_PID } from '../syscall-abi.ts';
import { benchCount } from './lib/bench.ts';
import { print, printNum, println } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { getpid, ps, spawnb, wait, yieldCpu } from './lib/sys.ts';
import { copyLit, putDec } from './lib/str.ts';

const name = new Uint8Array(8);
const argText = new Uint8Array(16);
const rec = new Int32Array(PS_NAME + 4);
const status = new Int32Array(1);

/** Whether task `pid` is in the table with parent `parent`. */
function isChild(pid: number, parent: number): boolean {
  for (let slot = 0; slot < 1024; slot++) {
    const r = ps(slot, rec);
    if (r < 0) return false;
    if (r === 1 && rec[PS_PID] === pid) return rec[PS_PARENT] === parent;
  }
  return false;
}

export function main(): number {
  const n = benchCount('pingpong', 100, 100000000);
  if (n < 0) return 2;
  const nameLen = copyLit(name, 0, 'pong');
  const argLen = putDec(argText, 0, n);
  const pid = spawnb(name, nameLen, argText, argLen);
  if (pid < 0) {
    print('pingpong: FAILED spawn: ');
    println(errorText(pid));
    return 1;
  }
  // The partner may have finished already (n small and a scheduler that runs children first),
  // in which case it is a zombie, still in the table.
  const partner = isChild(pid, getpid());
  for (let i = 0; i < n; i++) yieldCpu();
  const w = wait(status);
  if (w !== pid || !partner) {
    print('pingpong: FAILED ');
    println(w !== pid ? 'wait' : 'the partner is not in the task table as our child');
    return 1;
  }
  print('pingpong: ');
  printNum(n);
  print(' turns, partner exit ');
  printNum(status[0]);
  println('');
  return status[0] === 0 ? 0 : 1;
}
