/**
 * Open files and descriptors (xv6's file.c and sysfile.c): a global table of open files (the
 * console, or a file of the store at an offset, with the open flags and a reference count) and,
 * for each task slot (0..NTASK-1 of proc.ts, passed in as a number), NFD descriptors that refer to
 * entries of it. What the system calls SYS_OPEN, SYS_CLOSE, SYS_READ, SYS_WRITE, SYS_UNLINK and
 * SYS_LIST do, after the kernel has checked the user's pointers and lengths: the addresses given
 * here are valid virtual addresses of the current address space for the length given, read and
 * written byte by byte (load8 / store8), through a kernel bounce buffer into the store.
 *
 * Results are the ABI's (syscall-abi.ts): >= 0, or -errno: -EBADF (not an open descriptor, or
 * the wrong direction), -EINVAL, -ENAMETOOLONG, -EMFILE (no free descriptor), -ENOENT, -EBUSY,
 * and the store's own: -EIO (-5), -ENFILE (-23: the directory is full), -EFBIG, -ENOSPC, and
 * -ENODEV (-19) when no store is mounted (the kernel booted without a disk).
 *
 * Choices:
 *   - unlink of an open file is -EBUSY (the ABI's choice): the store frees a file's inode and
 *     blocks at unlink, and has no orphan list to keep them for open descriptors as Unix does.
 *   - O_TRUNC is applied with the first write through the descriptor that asked for it, in the
 *     same transaction (fsRewrite), so `open(O_TRUNC)`, one write of at most CHUNK (32 KiB),
 *     close replaces a file atomically: after a crash it is wholly old or new (what rename-over
 *     gives on Unix). Until then the truncation is pending: it is applied on its own, first, by any
 *     other access to the file (a read, a write through another descriptor), and by the close of
 *     the descriptor; SYS_LIST shows such a file as empty. A crash while it is pending leaves the
 *     old content. O_TRUNC needs write access (-EINVAL otherwise; POSIX leaves it undefined).
 *   - A write at most CHUNK bytes long is one transaction (atomic, durable when it returns);
 *     longer ones are committed CHUNK by CHUNK (fs.ts). The store has no holes: a write past the
 *     end (the file was truncated under this descriptor) first fills the gap with zeros, as the
 *     hole would read on Unix.
 *   - Every operation on the tables and the store holds a sleeping lock (xv6's sleeplock), since
 *     a tick may switch tasks inside a block-device wait; a console read waits without it.
 *     So these functions run in a task (after procInit), or at boot before any other task exists.
 */
import { consoleRead, consoleWrite } from '../dev/console.ts';
import { irqRestore, irqSave } from '../platform/platform.ts';
import { NTASK, sleep, wakeup } from '../proc/proc.ts';
import {
  EBADF, EBUSY, EINVAL, EMFILE, ENAMETOOLONG, ENOENT, IO_MAX, NFD, O_ACCMODE, O_APPEND, O_CREATE, O_RDONLY,
  O_RDWR, O_TRUNC, O_WRONLY,
} from '../syscall-abi.ts';
import { CHUNK, E_NOENT, fsCreate, fsDirEntry, fsOpen, fsRead, fsRewrite, fsSize, fsTruncate, fsUnlink, fsWrite } from './fs.ts';
import { NAME_MAX, NDIRENT } from './layout.ts';

/** Open files: every one is referred to by at least one descriptor, so this many never run out. */
export const NFILE = NTASK * NFD;
export const FILE_NONE = 0;
export const FILE_CONSOLE = 1;
export const FILE_STORE = 2;
/** What the lock's waiters sleep on. */
const FILE_CHAN = 0x66696c; // 'fil'
const E_NFILE = -23;

class OpenFile {
  kind = FILE_NONE;
  inum = 0;
  off = 0;
  flags = 0;
  ref = 0;
  /** O_TRUNC not applied yet (see the header). */
  trunc = false;
}
const files = recordArray(OpenFile, NFILE);
/** Descriptor fd of task t: files index + 1 at [t * NFD + fd]; 0 when closed. */
const fds = new Int32Array(NTASK * NFD);
/** Kernel bounce buffer between user memory and the store: one CHUNK, one transaction. */
const bounce = new Uint8Array(CHUNK);
const nameBuf = new Uint8Array(NAME_MAX);

class LockState {
  busy = false;
}
const ls = new LockState();

function lock(): void {
  const f = irqSave();
  while (ls.busy) sleep(FILE_CHAN);
  ls.busy = true;
  irqRestore(f);
}

function unlock(): void {
  const f = irqSave();
  ls.busy = false;
  irqRestore(f);
  wakeup(FILE_CHAN);
}

function validTask(task: number): boolean {
  return task >= 0 && task < NTASK;
}

/** The open file of task's fd, or -1. */
function fileOf(task: number, fd: number): number {
  if (!validTask(task) || fd < 0 || fd >= NFD) return -1;
  return fds[task * NFD + fd] - 1;
}

function freeFd(task: number): number {
  for (let fd = 0; fd < NFD; fd++) if (fds[task * NFD + fd] === 0) return fd;
  return -1;
}

function allocFile(kind: number, inum: number, flags: number): number {
  for (let i = 0; i < NFILE; i++) {
    const f = files[i];
    if (f.kind === FILE_NONE) {
      f.kind = kind;
      f.inum = inum;
      f.off = 0;
      f.flags = flags;
      f.ref = 1;
      f.trunc = false;
      return i;
    }
  }
  return E_NFILE;
}

/** Whether a truncation is pending on inode inum through some descriptor. */
function pending(inum: number): boolean {
  for (let i = 0; i < NFILE; i++) if (files[i].kind === FILE_STORE && files[i].inum === inum && files[i].trunc) return true;
  return false;
}

function clearPending(inum: number): void {
  for (let i = 0; i < NFILE; i++) if (files[i].kind === FILE_STORE && files[i].inum === inum) files[i].trunc = false;
}

/** Apply a pending truncation of inum on its own (any access but the atomic first write). */
function applyPending(inum: number): number {
  if (!pending(inum)) return 0;
  const r = fsTruncate(inum, 0);
  if (r < 0) return r;
  clearPending(inum);
  return 0;
}

/** Drop one reference to open file i; the last one applies its pending truncation. */
function release(i: number): number {
  const f = files[i];
  f.ref--;
  if (f.ref > 0) return 0;
  let r = 0;
  if (f.kind === FILE_STORE && f.trunc) r = applyPending(f.inum);
  f.kind = FILE_NONE;
  f.trunc = false;
  return r;
}

function closeAll(task: number): void {
  for (let fd = 0; fd < NFD; fd++) {
    const i = fds[task * NFD + fd] - 1;
    if (i >= 0) {
      fds[task * NFD + fd] = 0;
      release(i);
    }
  }
}

// descriptor tables -------------------------------------------------------------------------------

/** Close every descriptor of task (at exit). */
export function fdCloseAll(task: number): void {
  if (!validTask(task)) return;
  lock();
  closeAll(task);
  unlock();
}

/** Make task's table empty (a slot about to be used): the same as fdCloseAll, so nothing leaks. */
export function fdReset(task: number): void {
  fdCloseAll(task);
}

/** Descriptors 0, 1 and 2 of task = one open console (read and write); the rest closed. 0 or -errno. */
export function fdInitConsole(task: number): number {
  if (!validTask(task)) return -EINVAL;
  lock();
  closeAll(task);
  const i = allocFile(FILE_CONSOLE, 0, O_RDWR);
  if (i >= 0) {
    files[i].ref = 3;
    for (let fd = 0; fd < 3; fd++) fds[task * NFD + fd] = i + 1;
  }
  unlock();
  return i < 0 ? i : 0;
}

/**
 * A child's descriptors (SYS_SPAWN): 0 and 2 are the parent's 0 and 2 (when open), 1 is the
 * parent's `stdoutFd`, sharing their open files (and offsets); the rest closed. 0, or -EBADF when
 * stdoutFd is not an open descriptor of the parent (nothing changed), -EINVAL for bad slots.
 */
export function fdInherit(child: number, parent: number, stdoutFd: number): number {
  if (!validTask(child) || !validTask(parent) || child === parent) return -EINVAL;
  lock();
  const out = fileOf(parent, stdoutFd);
  if (out < 0) {
    unlock();
    return -EBADF;
  }
  closeAll(child);
  const inF = fileOf(parent, 0);
  const errF = fileOf(parent, 2);
  if (inF >= 0) files[inF].ref++;
  files[out].ref++;
  if (errF >= 0) files[errF].ref++;
  fds[child * NFD] = inF + 1;
  fds[child * NFD + 1] = out + 1;
  fds[child * NFD + 2] = errF + 1;
  unlock();
  return 0;
}

// names --------------------------------------------------------------------------------------------

/** Copy the user's name into nameBuf: its length, or -EINVAL / -ENAMETOOLONG (fs's rule: 1..28 printable bytes, no space). */
function copyName(addr: number, len: number): number {
  if (len > NAME_MAX) return -ENAMETOOLONG;
  if (len <= 0) return -EINVAL;
  for (let i = 0; i < len; i++) {
    const c = load8(addr + i);
    if (c <= 32 || c >= 127) return -EINVAL;
    nameBuf[i] = c;
  }
  return len;
}

// the calls --------------------------------------------------------------------------------------

/**
 * SYS_OPEN: open file name (nameLen bytes at nameAddr) with O_* flags for task; the new
 * descriptor (the lowest free), or -errno: -EINVAL (flags, name), -ENAMETOOLONG, -ENOENT (no such
 * file and no O_CREATE), -EMFILE, -ENFILE (directory full), -ENODEV (no store), -EIO.
 */
export function fileOpen(task: number, nameAddr: number, nameLen: number, flags: number): number {
  if (!validTask(task)) return -EINVAL;
  if ((flags & ~(O_ACCMODE | O_CREATE | O_TRUNC | O_APPEND)) !== 0 || (flags & O_ACCMODE) === O_ACCMODE) return -EINVAL;
  if ((flags & O_TRUNC) !== 0 && (flags & O_ACCMODE) === O_RDONLY) return -EINVAL;
  const len = copyName(nameAddr, nameLen);
  if (len < 0) return len;
  lock();
  const fd = freeFd(task);
  if (fd < 0) {
    unlock();
    return -EMFILE;
  }
  let inum = fsOpen(nameBuf, len);
  if (inum === E_NOENT && (flags & O_CREATE) !== 0) inum = fsCreate(nameBuf, len);
  if (inum < 0) {
    unlock();
    return inum;
  }
  const i = allocFile(FILE_STORE, inum, flags & (O_ACCMODE | O_APPEND));
  if (i < 0) {
    unlock();
    return i;
  }
  if ((flags & O_TRUNC) !== 0) files[i].trunc = true;
  fds[task * NFD + fd] = i + 1;
  unlock();
  return fd;
}

/** SYS_CLOSE: 0, -EBADF; or the error of applying a pending O_TRUNC (the descriptor is closed anyway). */
export function fileClose(task: number, fd: number): number {
  lock();
  const i = fileOf(task, fd);
  if (i < 0) {
    unlock();
    return -EBADF;
  }
  fds[task * NFD + fd] = 0;
  const r = release(i);
  unlock();
  return r;
}

/**
 * SYS_READ: up to len (0..IO_MAX) bytes into addr; the bytes read, 0 at the end of a file (or of
 * console input), or -errno (-EBADF: not open for reading). The console blocks for a line.
 */
export function fileRead(task: number, fd: number, addr: number, len: number): number {
  const i = fileOf(task, fd);
  if (i < 0) return -EBADF;
  const f = files[i];
  if ((f.flags & O_ACCMODE) === O_WRONLY) return -EBADF;
  if (len < 0 || len > IO_MAX) return -EINVAL;
  if (f.kind === FILE_CONSOLE) return consoleRead(addr, len);
  lock();
  let r = applyPending(f.inum);
  let done = 0;
  while (r >= 0 && done < len) {
    const n = Math.min(CHUNK, len - done);
    r = fsRead(f.inum, f.off, bounce, 0, n);
    if (r <= 0) break;
    for (let k = 0; k < r; k++) store8(addr + done + k, bounce[k]);
    f.off += r;
    done += r;
    if (r < n) break;
  }
  unlock();
  return done > 0 || r >= 0 ? done : r;
}

/** Fill file inum with zeros from its end up to `to` (a write past the end: the store has no holes). */
function zeroFill(inum: number, to: number): number {
  let size = fsSize(inum);
  if (size < 0) return size;
  if (size >= to) return 0;
  for (let k = 0; k < CHUNK; k++) bounce[k] = 0;
  while (size < to) {
    const r = fsWrite(inum, size, bounce, 0, Math.min(CHUNK, to - size));
    if (r < 0) return r;
    size += r;
  }
  return 0;
}

/**
 * SYS_WRITE: len (0..IO_MAX) bytes from addr; the bytes written (fewer only when a later CHUNK
 * failed), or -errno (-EBADF: not open for writing; -EFBIG, -ENOSPC, -EIO from the store).
 * O_APPEND writes at the end. Up to CHUNK bytes are one transaction.
 */
export function fileWrite(task: number, fd: number, addr: number, len: number): number {
  const i = fileOf(task, fd);
  if (i < 0) return -EBADF;
  const f = files[i];
  if ((f.flags & O_ACCMODE) === O_RDONLY) return -EBADF;
  if (len < 0 || len > IO_MAX) return -EINVAL;
  if (f.kind === FILE_CONSOLE) return consoleWrite(addr, len);
  if (len === 0) return 0;
  lock();
  // This descriptor's own O_TRUNC goes with its first write (fsRewrite); another's first.
  const rewrite = f.trunc;
  let r = rewrite ? 0 : applyPending(f.inum);
  if (rewrite) f.off = 0;
  else if (r >= 0 && (f.flags & O_APPEND) !== 0) {
    r = fsSize(f.inum);
    if (r >= 0) f.off = r;
  }
  if (r >= 0 && !rewrite) r = zeroFill(f.inum, f.off);
  let done = 0;
  while (r >= 0 && done < len) {
    const n = Math.min(CHUNK, len - done);
    for (let k = 0; k < n; k++) bounce[k] = load8(addr + done + k);
    if (rewrite && done === 0) {
      r = fsRewrite(f.inum, bounce, n);
      if (r >= 0) clearPending(f.inum);
    } else {
      r = fsWrite(f.inum, f.off, bounce, 0, n);
    }
    if (r < 0) break;
    f.off += r;
    done += r;
  }
  unlock();
  return done > 0 || r >= 0 ? done : r;
}

/** SYS_UNLINK: remove file name; 0, -ENOENT, -EBUSY (open by some descriptor), -EINVAL, -ENAMETOOLONG, -EIO. */
export function fileUnlink(nameAddr: number, nameLen: number): number {
  const len = copyName(nameAddr, nameLen);
  if (len < 0) return len;
  lock();
  let r = fsOpen(nameBuf, len);
  if (r >= 0) {
    for (let i = 0; i < NFILE; i++) if (files[i].kind === FILE_STORE && files[i].inum === r) r = -EBUSY;
  }
  if (r >= 0) r = fsUnlink(nameBuf, len);
  unlock();
  return r;
}

/**
 * SYS_LIST: directory slot `index` (0..NDIRENT-1): the name's length, with the file's size (u32,
 * little-endian) at addr and the name after it (len must hold 4 + its length, else -EINVAL); 0
 * for a free slot (nothing written); -ENOENT past the last slot, -EINVAL for a negative index.
 */
export function fileList(index: number, addr: number, len: number): number {
  if (index < 0) return -EINVAL;
  if (index >= NDIRENT) return -ENOENT;
  lock();
  let r = fsDirEntry(index, nameBuf);
  if (r > 0) {
    const inum = r;
    let n = 0;
    while (n < NAME_MAX && nameBuf[n] !== 0) n++;
    const size = pending(inum) ? 0 : fsSize(inum);
    if (size < 0) r = size;
    else if (len < 4 + n) r = -EINVAL;
    else {
      for (let k = 0; k < 4; k++) store8(addr + k, (size >> (8 * k)) & 255);
      for (let k = 0; k < n; k++) store8(addr + 4 + k, nameBuf[k]);
      r = n;
    }
  }
  unlock();
  return r;
}

/** The open file behind task's fd: FILE_CONSOLE, FILE_STORE, or FILE_NONE when not open. */
export function fdKind(task: number, fd: number): number {
  const i = fileOf(task, fd);
  return i < 0 ? FILE_NONE : files[i].kind;
}

/** Open files in the table (for tests and statistics). */
export function filesOpen(): number {
  let n = 0;
  for (let i = 0; i < NFILE; i++) if (files[i].kind !== FILE_NONE) n++;
  return n;
}
