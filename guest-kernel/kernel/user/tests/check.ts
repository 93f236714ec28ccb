/**
 * usertests' assertions: a test returns true when it passed; on the first failed expectation it
 * records why (`reason`, and the value it got) and returns false. The driver prints the reason.
 */
import { errorCode } from '../lib/errors.ts';
import { print, printNum } from '../lib/io.ts';
import { PS_NAME, PS_PARENT, PS_STATE, STATE_ZOMBIE } from '../../syscall-abi.ts';
import { getpid, ps, spawn, wait, waitAny } from '../lib/sys.ts';

let reason = 'no reason';
let got = 0;
let hasGot = false;

/** Record a failure: always false, for `return fail(...)`. */
export function fail(why: string): boolean {
  reason = why;
  hasGot = false;
  return false;
}

/** Record a failure with the value that was wrong. */
export function failGot(why: string, value: number): boolean {
  reason = why;
  got = value;
  hasGot = true;
  return false;
}

/** Print the last failure's reason (`what: got -2 ENOENT`). */
export function printReason(): void {
  print(reason);
  if (!hasGot) return;
  print(': got ');
  printNum(got);
  if (got < 0 && got > -200) {
    const code = errorCode(got);
    if (code.length > 2) {
      print(' ');
      print(code);
    }
  }
}

/** got === want, or a failure naming `what`. */
export function expectEq(value: number, want: number, what: string): boolean {
  if (value === want) return true;
  return failGot(what, value);
}

/** A system call's result is -errno. */
export function expectErr(value: number, errno: number, what: string): boolean {
  return expectEq(value, -errno, what);
}

/** A result is some error (any negative number). */
export function expectFail(value: number, what: string): boolean {
  if (value < 0) return true;
  return failGot(what, value);
}

/** A result is not an error. */
export function expectOk(value: number, what: string): boolean {
  if (value >= 0) return true;
  return failGot(what, value);
}

/** What runChild returns when the child could not be started or waited for (reason recorded). */
export const NO_STATUS = -2147483648;
const status = new Int32Array(1);

/** Wait for child `pid`: its exit status, or NO_STATUS. */
export function waitFor(pid: number): number {
  status[0] = -12345;
  const w = wait(status);
  if (w !== pid) {
    failGot('wait', w);
    return NO_STATUS;
  }
  return status[0];
}

/** Spawn `name args` (output on our fd 1) and wait for it: its exit status, or NO_STATUS. */
export function runChild(name: string, args: string): number {
  const pid = spawn(name, args);
  if (pid < 0) {
    failGot('spawn', pid);
    return NO_STATUS;
  }
  return waitFor(pid);
}

/** A child's status must be `want`. */
export function expectChild(name: string, args: string, want: number, what: string): boolean {
  const s = runChild(name, args);
  if (s === NO_STATUS) return false;
  return expectEq(s, want, what);
}

/** FNV-1a over buf[0 .. len), continuing from h (start with FNV_START). */
export const FNV_START = -2128831035;
export function fnv(h: number, buf: Uint8Array, len: number): number {
  let x = h;
  const n = Math.min(len, buf.length);
  for (let i = 0; i < n; i++) x = Math.imul(x ^ buf[i], 16777619);
  return x;
}

const rec = new Int32Array(PS_NAME + 4);

/**
 * Reap the children a failed test left as zombies (SYS_PS: our children in state zombie), without
 * blocking on a live one (a `spin` that a broken kill left running would block wait forever).
 */
export function reapZombies(): void {
  const me = getpid();
  let zombies = 0;
  for (let slot = 0; slot < 1024; slot++) {
    const r = ps(slot, rec);
    if (r < 0) break;
    if (r === 1 && rec[PS_PARENT] === me && rec[PS_STATE] === STATE_ZOMBIE) zombies++;
  }
  for (let i = 0; i < zombies; i++) waitAny();
}
