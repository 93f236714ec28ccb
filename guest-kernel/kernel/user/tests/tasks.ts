/** usertests: tasks: spawn, exit statuses, wait, the task table, sleep, kill, ps, stats. */
import {
  EAGAIN,
  ECHILD,
  EINVAL,
  ENOENT,
  ESRCH,
  KILLED_STATUS,
  PS_NAME,
  PS_PARENT,
  PS_PID,
  PS_STATE,
  STATE_RUNNING,
  STATE_ZOMBIE,
} from '../../syscall-abi.ts';
import { getpid, kill, ps, psNameByte, sleep, spawn, statname, stats, uptime, wait, waitAny, yieldCpu } from '../lib/sys.ts';
import { NO_STATUS, expectChild, expectEq, expectErr, expectOk, fail, failGot, waitFor } from './check.ts';

const rec = new Int32Array(PS_NAME + 4);
const pids = new Int32Array(64);
const counters = new Int32Array(64);
const name = new Uint8Array(64);
const status = new Int32Array(1);

/** Exit statuses reach the parent's wait unchanged; the argument text reaches the child. */
export function testExitStatus(): boolean {
  return (
    expectChild('true', '', 0, 'true') &&
    expectChild('exitwith', '0', 0, 'exitwith 0') &&
    expectChild('exitwith', '1', 1, 'exitwith 1') &&
    expectChild('exitwith', '42', 42, 'exitwith 42') &&
    expectChild('exitwith', '255', 255, 'exitwith 255') &&
    expectChild('exitwith', '-7', -7, 'exitwith -7') &&
    expectChild('exitwith', '100000', 100000, 'exitwith 100000') &&
    expectChild('exitwith', '   9   ', 9, "exitwith '   9   '")
  );
}

/** wait with no children: -ECHILD (with and without a status pointer). */
export function testWaitNoChild(): boolean {
  status[0] = 77;
  return (
    expectErr(wait(status), ECHILD, 'wait') &&
    expectEq(status[0], 77, 'status written by a failed wait') &&
    expectErr(waitAny(), ECHILD, 'wait without a status')
  );
}

/** Spawn of a program that is not there: -ENOENT, and no child. */
export function testSpawnMissing(): boolean {
  return (
    expectErr(spawn('nosuchprogram', ''), ENOENT, 'spawn nosuchprogram') &&
    expectErr(spawn('sh2', ''), ENOENT, 'spawn sh2') &&
    expectErr(waitAny(), ECHILD, 'wait after failed spawns')
  );
}

/** Spawn `true` until the task table is full (-EAGAIN), then reap every one. */
export function testManyTasks(): boolean {
  let n = 0;
  let last = 0;
  while (n < pids.length) {
    last = spawn('true', '');
    if (last < 0) break;
    pids[n++] = last;
  }
  let reaped = 0;
  for (let i = 0; i < n; i++) {
    const w = wait(status);
    if (w < 0) break;
    if (status[0] !== 0) return failGot('status of a true', status[0]);
    reaped++;
  }
  if (n === pids.length) return fail('the task table never filled (64 spawns)');
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (pids[i] === pids[j]) return failGot('pid given twice', pids[i]);
  return (
    expectErr(last, EAGAIN, 'spawn into a full table') &&
    expectEq(n > 1 ? 1 : 0, 1, 'more than one child at once') &&
    expectEq(reaped, n, 'children reaped') &&
    expectErr(waitAny(), ECHILD, 'wait after reaping all') &&
    expectChild('true', '', 0, 'spawn after the table emptied')
  );
}

/** sleep(n): uptime advances by at least n ticks. */
export function testSleep(): boolean {
  const t0 = uptime();
  const r = sleep(3);
  const t1 = uptime();
  const z = sleep(0);
  return (
    expectEq(r, 0, 'sleep 3') &&
    expectEq(t1 - t0 >= 3 ? 1 : 0, 1, 'ticks slept') &&
    expectEq(z, 0, 'sleep 0') &&
    expectEq(uptime() >= t1 ? 1 : 0, 1, 'uptime went backwards')
  );
}

/** kill a task that loops forever without a system call: wait gives KILLED_STATUS. */
export function testKillSpinner(): boolean {
  const pid = spawn('spin', '');
  if (pid < 0) return failGot('spawn spin', pid);
  sleep(2); // let it run (it is preempted by the timer)
  const k = kill(pid);
  if (k !== 0) return failGot('kill', k); // not waited for: it would never exit
  const s = waitFor(pid);
  return s !== NO_STATUS && expectEq(s, KILLED_STATUS, 'status of the killed spinner');
}

/** kill a task asleep in SYS_SLEEP: it wakes and exits with KILLED_STATUS. */
export function testKillSleeper(): boolean {
  const pid = spawn('sleepy', '');
  if (pid < 0) return failGot('spawn sleepy', pid);
  sleep(2); // let it fall asleep
  const k = kill(pid);
  if (k !== 0) return failGot('kill', k); // not waited for: it sleeps for a long time
  const s = waitFor(pid);
  return (
    s !== NO_STATUS &&
    expectEq(s, KILLED_STATUS, 'status of the killed sleeper') &&
    expectErr(kill(pid), ESRCH, 'kill of a reaped pid') &&
    expectErr(kill(99999), ESRCH, 'kill 99999') &&
    expectErr(kill(-1), ESRCH, 'kill -1')
  );
}

/** getpid: positive, stable; children get other pids. */
export function testGetpid(): boolean {
  const me = getpid();
  const a = spawn('true', '');
  const sa = waitFor(a);
  const b = spawn('true', '');
  const sb = waitFor(b);
  return (
    expectEq(me > 0 ? 1 : 0, 1, 'getpid positive') &&
    expectEq(getpid(), me, 'getpid twice') &&
    expectOk(a, 'spawn') &&
    expectEq(sa, 0, 'child status') &&
    expectEq(sb, 0, 'child status') &&
    expectEq(a !== me && b !== me && a !== b ? 1 : 0, 1, 'distinct pids')
  );
}

/** The slot holding `pid` into rec: true when found. */
function findTask(pid: number): boolean {
  for (let slot = 0; slot < 1024; slot++) {
    const r = ps(slot, rec);
    if (r < 0) return false;
    if (r === 1 && rec[PS_PID] === pid) return true;
  }
  return false;
}

/** SYS_PS shows us running under our name; the table ends with -EINVAL. */
export function testPsSelf(): boolean {
  if (!findTask(getpid())) return fail('our pid is not in the table');
  const lit = 'usertests';
  for (let i = 0; i < lit.length; i++) if (psNameByte(rec, i) !== lit.charCodeAt(i)) return failGot('name byte', i);
  let slots = 0;
  while (ps(slots, rec) >= 0 && slots < 1024) slots++;
  return (
    expectEq(psNameByte(rec, lit.length), 0, 'name not NUL-terminated') &&
    expectErr(ps(slots, rec), EINVAL, 'ps past the table') &&
    expectErr(ps(-1, rec), EINVAL, 'ps of slot -1') &&
    findTask(getpid()) &&
    expectEq(rec[PS_STATE], STATE_RUNNING, 'our state')
  );
}

/** A child that has exited and is not yet waited for is a zombie, our child, in the table. */
export function testPsZombie(): boolean {
  const pid = spawn('true', '');
  if (pid < 0) return failGot('spawn true', pid);
  let zombie = false;
  for (let i = 0; i < 200 && !zombie; i++) {
    if (!findTask(pid)) break;
    zombie = rec[PS_STATE] === STATE_ZOMBIE;
    if (!zombie) yieldCpu();
  }
  const parent = rec[PS_PARENT];
  const s = waitFor(pid);
  return (
    expectEq(zombie ? 1 : 0, 1, 'the exited child is a zombie') &&
    expectEq(parent, getpid(), 'the zombie is our child') &&
    expectEq(s, 0, 'its status') &&
    expectEq(findTask(pid) ? 1 : 0, 0, 'the reaped child is still in the table')
  );
}

/** SYS_STATS and SYS_STATNAME agree on the number of counters. */
export function testStats(): boolean {
  const n = stats(counters, counters.length);
  if (!expectOk(n, 'stats')) return false;
  if (n === 0) return fail('no counters');
  const l0 = statname(0, name, name.length);
  return (
    expectEq(l0 > 0 ? 1 : 0, 1, 'statname 0 is empty') &&
    expectOk(statname(n - 1, name, name.length), 'statname of the last counter') &&
    expectErr(statname(n, name, name.length), EINVAL, 'statname past the last') &&
    expectErr(statname(-1, name, name.length), EINVAL, 'statname -1')
  );
}
