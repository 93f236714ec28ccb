/**
 * The file system calls (xv6's sysfile.c): arguments checked here (pointers against the task's
 * page tables, lengths against IO_MAX), the work done by ../fs/file.ts.
 *
 * The store is one resource: a task that is in the middle of a store operation may be switched
 * away from (pv's block driver enables events while it waits for the device, and a tick can
 * come), so store operations take a sleep lock, as xv6's inode locks do. Console reads do not:
 * a shell blocked on input must not hold the store while its child writes a file.
 */
import { fdCloseAll, fdInherit, fdInitConsole, fdKind, FILE_CONSOLE, fileClose, fileList, fileOpen, fileRead, fileUnlink, fileWrite } from '../fs/file.ts';
import { currentSlot, procSetExitHook, sleep, wakeup } from '../proc/proc.ts';
import { irqRestore, irqSave } from '../platform/platform.ts';
import { vmCheck } from '../mm/vm.ts';
import { EFAULT, EINVAL, ENAMETOOLONG, IO_MAX } from '../syscall-abi.ts';

/** The longest name a call may pass (the store's own limit, 28, is checked by file.ts). */
const NAME_ARG_MAX = 64;
const LOCK_CHAN = 0x66736c6b; // 'fslk'
let storeBusy = false;

function lockStore(): void {
  const f = irqSave();
  while (storeBusy) sleep(LOCK_CHAN);
  storeBusy = true;
  irqRestore(f);
}

function unlockStore(): void {
  storeBusy = false;
  wakeup(LOCK_CHAN);
}

function nameOk(name: number, len: number): number {
  if (len <= 0) return -EINVAL;
  if (len > NAME_ARG_MAX) return -ENAMETOOLONG;
  return vmCheck(currentSlot(), name, len, false) ? 0 : -EFAULT;
}

function ioOk(buf: number, len: number, write: boolean): number {
  if (len < 0 || len > IO_MAX) return -EINVAL;
  return vmCheck(currentSlot(), buf, len, write) ? 0 : -EFAULT;
}

export function sysWrite(fd: number, buf: number, len: number, d: number, e: number): number {
  const bad = ioOk(buf, len, false);
  if (bad < 0) return bad;
  const task = currentSlot();
  if (fdKind(task, fd) === FILE_CONSOLE) return fileWrite(task, fd, buf, len);
  lockStore();
  const r = fileWrite(task, fd, buf, len);
  unlockStore();
  return r;
}

export function sysRead(fd: number, buf: number, len: number, d: number, e: number): number {
  const bad = ioOk(buf, len, true);
  if (bad < 0) return bad;
  const task = currentSlot();
  if (fdKind(task, fd) === FILE_CONSOLE) return fileRead(task, fd, buf, len);
  lockStore();
  const r = fileRead(task, fd, buf, len);
  unlockStore();
  return r;
}

export function sysOpen(name: number, nameLen: number, flags: number, d: number, e: number): number {
  const bad = nameOk(name, nameLen);
  if (bad < 0) return bad;
  lockStore();
  const r = fileOpen(currentSlot(), name, nameLen, flags);
  unlockStore();
  return r;
}

export function sysClose(fd: number, b: number, c: number, d: number, e: number): number {
  lockStore();
  const r = fileClose(currentSlot(), fd);
  unlockStore();
  return r;
}

export function sysUnlink(name: number, nameLen: number, c: number, d: number, e: number): number {
  const bad = nameOk(name, nameLen);
  if (bad < 0) return bad;
  lockStore();
  const r = fileUnlink(name, nameLen);
  unlockStore();
  return r;
}

export function sysList(index: number, buf: number, len: number, d: number, e: number): number {
  const bad = ioOk(buf, len, true);
  if (bad < 0) return bad;
  lockStore();
  const r = fileList(index, buf, len);
  unlockStore();
  return r;
}

/** A new task's descriptors: from its parent (SYS_SPAWN), or the console for the first. */
export function spawnFiles(child: number, parent: number, stdout: number): number {
  return fdInherit(child, parent, stdout);
}

/** The first user task's descriptors: the console. */
export function consoleFiles(task: number): number {
  return fdInitConsole(task);
}

/** A task's exit closes its descriptors (the store's lock, since closing may write). */
function onExit(slot: number): void {
  lockStore();
  fdCloseAll(slot);
  unlockStore();
}

export function fileSyscallInit(): void {
  procSetExitHook(onExit);
}
