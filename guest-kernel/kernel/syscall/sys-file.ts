/**
 * The file system calls (xv6's sysfile.c): arguments checked here (pointers against the task's
 * page tables, lengths against IO_MAX), the work done by ../fs/file.ts, which holds the store's
 * sleep lock around each store operation (a task may be switched away from inside one: pv's
 * block driver enables events while it waits for the device) and not around console I/O.
 */
import { fdCloseAll, fdInherit, fdInitConsole, fileClose, fileList, fileOpen, fileRead, fileUnlink, fileWrite } from '../fs/file.ts';
import { currentSlot, procSetExitHook } from '../proc/proc.ts';
import { vmCheck } from '../mm/vm.ts';
import { EFAULT, EINVAL, ENAMETOOLONG, IO_MAX } from '../syscall-abi.ts';

/** The longest name a call may pass (the store's own limit, 28, is checked by file.ts). */
const NAME_ARG_MAX = 64;
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
  return fileWrite(currentSlot(), fd, buf, len);
}

export function sysRead(fd: number, buf: number, len: number, d: number, e: number): number {
  const bad = ioOk(buf, len, true);
  if (bad < 0) return bad;
  return fileRead(currentSlot(), fd, buf, len);
}

export function sysOpen(name: number, nameLen: number, flags: number, d: number, e: number): number {
  const bad = nameOk(name, nameLen);
  if (bad < 0) return bad;
  return fileOpen(currentSlot(), name, nameLen, flags);
}

export function sysClose(fd: number, b: number, c: number, d: number, e: number): number {
  return fileClose(currentSlot(), fd);
}

export function sysUnlink(name: number, nameLen: number, c: number, d: number, e: number): number {
  const bad = nameOk(name, nameLen);
  if (bad < 0) return bad;
  return fileUnlink(name, nameLen);
}

export function sysList(index: number, buf: number, len: number, d: number, e: number): number {
  const bad = ioOk(buf, len, true);
  if (bad < 0) return bad;
  return fileList(index, buf, len);
}

/** A new task's descriptors: from its parent (SYS_SPAWN), or the console for the first. */
export function spawnFiles(child: number, parent: number, stdout: number): number {
  return fdInherit(child, parent, stdout);
}

/** The first user task's descriptors: the console. */
export function consoleFiles(task: number): number {
  return fdInitConsole(task);
}

/** A task's exit closes its descriptors. */
function onExit(slot: number): void {
  fdCloseAll(slot);
}

export function fileSyscallInit(): void {
  procSetExitHook(onExit);
}
