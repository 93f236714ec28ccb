/**
 * The system-call table (xv6's syscall.c and sysproc.c): SYSCALL from privilege 3 arrives here
 * through proc.ts with the entry's frame; r0 holds the number, r1..r5 the arguments, and the
 * result goes back in r0 (../syscall-abi.ts is the contract).
 *
 * One table of handlers, `table[nr]`, all of one type, so that dispatch is one bounds check and
 * one indirect call (the compiler checks the index too). Every pointer is checked against the
 * task's own page tables (vmCheck) and every length against its limit before anything is read
 * or written: a bad argument is -errno to the task, never a fault in the kernel.
 *
 * Handlers run with interrupts off, as the entry left them (the kernel is not preemptible; a
 * task that blocks sleeps, and the others run). The file calls are in sys-file.ts.
 */
import {
  currentArgs,
  currentIsKilled,
  currentSlot,
  exit,
  getpid,
  kill,
  procSetUserSyscall,
  setCurrentTrap,
  sleepTicks,
  taskInfo,
  taskRelease,
  taskStartUser,
  uptime,
  wait,
  yieldTask,
} from '../proc/proc.ts';
import { savedReg } from '../../lib/trap-frame.ts';
import { pageFreeCount, PAGE_SIZE } from '../mm/page-alloc.ts';
import { vmCheck, vmMap, vmMapped, vmPages, vmUnmap } from '../mm/vm.ts';
import { clockRead, mmuBegin, mmuEnd } from '../platform/platform.ts';
import { findProgram, loadProgram, programEntry } from '../exec/exec.ts';
import { statCount, statName, statsInto } from './stats.ts';
import { fileSyscallInit, spawnFiles, sysClose, sysList, sysOpen, sysRead, sysUnlink, sysWrite } from './sys-file.ts';
import {
  ARGS_MAX,
  E2BIG,
  ECHILD,
  EEXIST,
  EFAULT,
  EINVAL,
  ENAMETOOLONG,
  ENOENT,
  ENOMEM,
  ENOSYS,
  ESRCH,
  IO_MAX,
  KILLED_STATUS,
  MAP_MAX_PAGES,
  NAME_MAX,
  PS_BYTES,
  PS_NAME,
  PS_PAGES,
  SYS_COUNT,
  USER_BASE,
  USER_MAP_BASE,
  USER_MAP_END,
  USER_STACK_TOP,
} from '../syscall-abi.ts';

/** A handler: the five argument registers in, the result (or -errno) out. */
type Handler = (a1: number, a2: number, a3: number, a4: number, a5: number) => number;

/** Counters: system calls made, and those refused with -ENOSYS. */
export const SC_CALLS = 0;
export const SC_BAD_NUMBER = 1;
const counts = new Int32Array(2);

export function syscallCounts(out: Int32Array): void {
  out[0] = counts[0];
  out[1] = counts[1];
}

// processes ------------------------------------------------------------------------------------

function sysExit(status: number, b: number, c: number, d: number, e: number): number {
  exit(status);
  return 0;
}

const argsBuf = new Uint8Array(ARGS_MAX);

function sysSpawn(name: number, nameLen: number, args: number, argsLen: number, stdout: number): number {
  if (nameLen <= 0 || nameLen > NAME_MAX) return nameLen <= 0 ? -ENOENT : -ENAMETOOLONG;
  if (argsLen < 0 || argsLen > ARGS_MAX) return -E2BIG;
  if (!vmCheck(currentSlot(), name, nameLen, false) || !vmCheck(currentSlot(), args, argsLen, false)) return -EFAULT;
  const index = findProgram(name, nameLen);
  if (index < 0) return -ENOENT;
  const slot = loadProgram(index, args, argsLen);
  if (slot < 0) return slot;
  const r = spawnFiles(slot, currentSlot(), stdout);
  if (r < 0) {
    taskRelease(slot);
    return r;
  }
  return taskStartUser(slot, programEntry(index), USER_STACK_TOP);
}

const waitStatus = new Int32Array(1);

function sysWait(status: number, b: number, c: number, d: number, e: number): number {
  if (status !== 0 && !vmCheck(currentSlot(), status, 4, true)) return -EFAULT;
  const pid = wait(waitStatus);
  if (pid < 0) return -ECHILD;
  if (status !== 0) store32(status, waitStatus[0]);
  return pid;
}

function sysKill(pid: number, b: number, c: number, d: number, e: number): number {
  return kill(pid) < 0 ? -ESRCH : 0;
}

function sysGetpid(a: number, b: number, c: number, d: number, e: number): number {
  return getpid();
}

function sysYield(a: number, b: number, c: number, d: number, e: number): number {
  yieldTask();
  return 0;
}

function sysSleep(ticks: number, b: number, c: number, d: number, e: number): number {
  if (ticks < 0) return -EINVAL;
  sleepTicks(ticks);
  return 0;
}

function sysUptime(a: number, b: number, c: number, d: number, e: number): number {
  return uptime();
}

function sysArgs(buf: number, len: number, c: number, d: number, e: number): number {
  if (len < 0 || len > IO_MAX) return -EINVAL;
  if (!vmCheck(currentSlot(), buf, len, true)) return -EFAULT;
  const n = currentArgs(argsBuf);
  const copy = n < len ? n : len;
  for (let k = 0; k < copy; k++) store8(buf + k, argsBuf[k]);
  return n;
}

const psRec = new Int32Array(4);
const psName = new Uint8Array(NAME_MAX + 1);

function sysPs(slot: number, buf: number, c: number, d: number, e: number): number {
  if (!vmCheck(currentSlot(), buf, PS_BYTES, true)) return -EFAULT;
  const used = taskInfo(slot, psRec, psName);
  if (used < 0) return -EINVAL;
  if (used === 0) return 0;
  for (let k = 0; k < 4; k++) store32(buf + k * 4, psRec[k]);
  store32(buf + PS_PAGES * 4, vmPages(slot));
  for (let k = 0; k <= NAME_MAX; k++) store8(buf + PS_NAME * 4 + k, psName[k]);
  return 1;
}

function sysClock(a: number, b: number, c: number, d: number, e: number): number {
  return clockRead();
}

function sysTrap(entry: number, stack: number, c: number, d: number, e: number): number {
  if (entry === 0) {
    setCurrentTrap(0, 0);
    return 0;
  }
  if (entry < USER_BASE || stack < USER_BASE || (entry & 3) !== 0 || (stack & 3) !== 0) return -EINVAL;
  setCurrentTrap(entry, stack);
  return 0;
}

// memory ----------------------------------------------------------------------------------------

/** Whether [va, va + pages) is a run of whole pages inside the map region. */
function mapRange(va: number, pages: number): boolean {
  if (pages <= 0 || pages > MAP_MAX_PAGES || (va & (PAGE_SIZE - 1)) !== 0) return false;
  return va >= USER_MAP_BASE && va <= USER_MAP_END - pages * PAGE_SIZE;
}

function sysMap(va: number, pages: number, c: number, d: number, e: number): number {
  if (!mapRange(va, pages)) return -EINVAL;
  const slot = currentSlot();
  for (let p = 0; p < pages; p++) if (vmMapped(slot, va + p * PAGE_SIZE)) return -EEXIST;
  // A page table and its shadow per 4 MiB touched, at most two of each for 256 pages.
  if (pageFreeCount() < pages + 4) return -ENOMEM;
  mmuBegin();
  let done = 0;
  while (done < pages && vmMap(slot, va + done * PAGE_SIZE, true) !== 0) done++;
  if (done < pages) for (let p = 0; p < done; p++) vmUnmap(slot, va + p * PAGE_SIZE);
  mmuEnd();
  return done < pages ? -ENOMEM : 0;
}

function sysUnmap(va: number, pages: number, c: number, d: number, e: number): number {
  if (!mapRange(va, pages)) return -EINVAL;
  const slot = currentSlot();
  for (let p = 0; p < pages; p++) if (!vmMapped(slot, va + p * PAGE_SIZE)) return -EINVAL;
  mmuBegin();
  for (let p = 0; p < pages; p++) vmUnmap(slot, va + p * PAGE_SIZE);
  mmuEnd();
  return 0;
}

// statistics ------------------------------------------------------------------------------------

const statBuf = new Int32Array(128);
const nameBuf = new Uint8Array(32);

function sysStats(buf: number, count: number, c: number, d: number, e: number): number {
  const n = statCount();
  if (count < 0 || count > IO_MAX / 4) return -EINVAL;
  if (!vmCheck(currentSlot(), buf, count * 4, true)) return -EFAULT;
  const copy = count < n ? count : n;
  statsInto(statBuf);
  for (let i = 0; i < copy; i++) store32(buf + i * 4, statBuf[i]);
  return n;
}

function sysStatName(i: number, buf: number, len: number, d: number, e: number): number {
  if (len < 0 || len > IO_MAX) return -EINVAL;
  if (!vmCheck(currentSlot(), buf, len, true)) return -EFAULT;
  const n = statName(i, nameBuf);
  if (n < 0) return -EINVAL;
  const copy = n < len ? n : len;
  for (let k = 0; k < copy; k++) store8(buf + k, nameBuf[k]);
  return n;
}

function sysNone(a: number, b: number, c: number, d: number, e: number): number {
  return -ENOSYS;
}

/** Indexed by system-call number (../syscall-abi.ts SYS_*); 0 is not a call. */
const table: Handler[] = [
  sysNone,
  sysExit,
  sysSpawn,
  sysWait,
  sysKill,
  sysGetpid,
  sysYield,
  sysSleep,
  sysUptime,
  sysWrite,
  sysRead,
  sysOpen,
  sysClose,
  sysUnlink,
  sysList,
  sysMap,
  sysUnmap,
  sysStats,
  sysStatName,
  sysArgs,
  sysPs,
  sysClock,
  sysTrap,
];

/** The SYSCALL entry from a user task (proc.ts routes privilege-3 calls here). */
function dispatch(frame: number): void {
  const nr = savedReg(frame, 0);
  counts[SC_CALLS]++;
  let r = -ENOSYS;
  if (nr > 0 && nr < SYS_COUNT) r = table[nr](savedReg(frame, 1), savedReg(frame, 2), savedReg(frame, 3), savedReg(frame, 4), savedReg(frame, 5));
  else counts[SC_BAD_NUMBER]++;
  store32(frame, r);
  // xv6's check on the way back to user mode: a task killed meanwhile (by itself, or while the
  // call ran) does not return to user code.
  if (currentIsKilled()) exit(KILLED_STATUS);
}

/** Take system calls from user tasks (once, after procInit). */
export function syscallInit(): void {
  fileSyscallInit();
  procSetUserSyscall(dispatch);
}

export const SYSCALL_TABLE_SIZE = SYS_COUNT;
