/**
 * One wrapper per system call (kernel/syscall-abi.ts), each returning the kernel's raw result:
 * 0 or more on success, -errno on failure. Names and buffers come in two forms: a string literal
 * (its bytes at `addressOf(s)`, `s.length` of them) or a Uint8Array with a length (clamped to the
 * array's length, so a wrapper never hands the kernel bytes past the end of the caller's array).
 * Tests that want to pass the kernel a bad pointer call `syscall(...)` directly.
 */
import {
  FD_STDOUT,
  SYS_ARGS,
  SYS_CLOCK,
  SYS_CLOSE,
  SYS_EXIT,
  SYS_GETPID,
  SYS_KILL,
  SYS_LIST,
  SYS_MAP,
  SYS_OPEN,
  SYS_PS,
  SYS_READ,
  SYS_SLEEP,
  SYS_SPAWN,
  SYS_STATNAME,
  SYS_STATS,
  SYS_TRAP,
  SYS_UNLINK,
  SYS_UNMAP,
  SYS_UPTIME,
  SYS_WAIT,
  SYS_WRITE,
  SYS_YIELD,
} from '../../syscall-abi.ts';

/** min(len, buf.length), never negative: the bytes of `buf` a wrapper may pass. */
function clampLen(buf: Uint8Array, len: number): number {
  if (len < 0) return 0;
  return len < buf.length ? len : buf.length;
}

// Tasks -----------------------------------------------------------------------------------------

/** End the task with `status` (flush io first: lib/io.ts `flush()`). Does not return. */
export function exit(status: number): void {
  for (;;) syscall(SYS_EXIT, status);
}

/** Start program `name` with argument text `args`; its fd 1 is our fd `stdout`. The child's pid, or -errno. */
export function spawn(name: string, args: string, stdout = FD_STDOUT): number {
  return syscall(SYS_SPAWN, addressOf(name), name.length, addressOf(args), args.length, stdout);
}

/** spawn with the name and the argument text in byte buffers. */
export function spawnb(name: Uint8Array, nameLen: number, args: Uint8Array, argsLen: number, stdout = FD_STDOUT): number {
  return syscall(SYS_SPAWN, addressOf(name), clampLen(name, nameLen), addressOf(args), clampLen(args, argsLen), stdout);
}

/** Wait for a child's exit: its pid, with its exit status in status[0]; -ECHILD when none. */
export function wait(status: Int32Array): number {
  if (status.length < 1) return syscall(SYS_WAIT, 0);
  return syscall(SYS_WAIT, addressOf(status));
}

/** wait without collecting the status. */
export function waitAny(): number {
  return syscall(SYS_WAIT, 0);
}

/** Kill task `pid` (it exits with KILLED_STATUS): 0 or -ESRCH. */
export function kill(pid: number): number {
  return syscall(SYS_KILL, pid);
}

export function getpid(): number {
  return syscall(SYS_GETPID);
}

/** Give up the CPU (`yield` is a reserved word in a module). */
export function yieldCpu(): number {
  return syscall(SYS_YIELD);
}

/** Sleep at least `ticks` timer ticks: 0, or -EINTR when killed. */
export function sleep(ticks: number): number {
  return syscall(SYS_SLEEP, ticks);
}

/** Timer ticks since boot. */
export function uptime(): number {
  return syscall(SYS_UPTIME);
}

/** Virtual time in instructions, low 32 bits. */
export function clock(): number {
  return syscall(SYS_CLOCK);
}

/** Copy the task's argument text into buf: its length. */
export function args(buf: Uint8Array, len: number): number {
  return syscall(SYS_ARGS, addressOf(buf), clampLen(buf, len));
}

/** Register the fault entry (the compiler's start-up does this; programs should not). */
export function trap(entry: number, stackTop: number): number {
  return syscall(SYS_TRAP, entry, stackTop);
}

// Files -----------------------------------------------------------------------------------------

/** Write len bytes of buf to fd: the count written, or -errno. */
export function write(fd: number, buf: Uint8Array, len: number): number {
  return syscall(SYS_WRITE, fd, addressOf(buf), clampLen(buf, len));
}

/** Write the bytes buf[off .. off+len) (clamped to the array). */
export function writeAt(fd: number, buf: Uint8Array, off: number, len: number): number {
  if (off < 0 || off > buf.length) return syscall(SYS_WRITE, fd, addressOf(buf), 0);
  const n = len < 0 ? 0 : len < buf.length - off ? len : buf.length - off;
  return syscall(SYS_WRITE, fd, addressOf(buf) + off, n);
}

/** Write a string literal to fd. */
export function writeStr(fd: number, s: string): number {
  return syscall(SYS_WRITE, fd, addressOf(s), s.length);
}

/** Read up to len bytes into buf: the count (0 at the end), or -errno. fd 0 blocks for a line. */
export function read(fd: number, buf: Uint8Array, len: number): number {
  return syscall(SYS_READ, fd, addressOf(buf), clampLen(buf, len));
}

/** Read into buf[off .. off+len) (clamped to the array). */
export function readAt(fd: number, buf: Uint8Array, off: number, len: number): number {
  if (off < 0 || off > buf.length) return syscall(SYS_READ, fd, addressOf(buf), 0);
  const n = len < 0 ? 0 : len < buf.length - off ? len : buf.length - off;
  return syscall(SYS_READ, fd, addressOf(buf) + off, n);
}

/** Open a file by a literal name with O_* flags: a descriptor, or -errno. */
export function open(name: string, flags: number): number {
  return syscall(SYS_OPEN, addressOf(name), name.length, flags);
}

/** Open a file whose name is the bytes name[off .. off+len). */
export function openb(name: Uint8Array, off: number, len: number, flags: number): number {
  if (off < 0 || off > name.length) return syscall(SYS_OPEN, addressOf(name), 0, flags);
  const n = len < 0 ? 0 : len < name.length - off ? len : name.length - off;
  return syscall(SYS_OPEN, addressOf(name) + off, n, flags);
}

export function close(fd: number): number {
  return syscall(SYS_CLOSE, fd);
}

/** Remove a file: 0, -ENOENT, -EBUSY (open). */
export function unlink(name: string): number {
  return syscall(SYS_UNLINK, addressOf(name), name.length);
}

/** Remove the file named by name[off .. off+len). */
export function unlinkb(name: Uint8Array, off: number, len: number): number {
  if (off < 0 || off > name.length) return syscall(SYS_UNLINK, addressOf(name), 0);
  const n = len < 0 ? 0 : len < name.length - off ? len : name.length - off;
  return syscall(SYS_UNLINK, addressOf(name) + off, n);
}

/**
 * Directory entry `index`: its name's length (the size, u32, at buf[0..3], the name from buf[4]);
 * 0 for a free slot; -ENOENT past the last slot.
 */
export function list(index: number, buf: Uint8Array, len: number): number {
  return syscall(SYS_LIST, index, addressOf(buf), clampLen(buf, len));
}

// Memory ----------------------------------------------------------------------------------------

/** Map `pages` zeroed writable pages at va (page-aligned, in [USER_MAP_BASE, USER_MAP_END)). */
export function map(va: number, pages: number): number {
  return syscall(SYS_MAP, va, pages);
}

export function unmap(va: number, pages: number): number {
  return syscall(SYS_UNMAP, va, pages);
}

// Introspection ---------------------------------------------------------------------------------

/** Copy up to min(count, buf.length) counters into buf: the number of counters the kernel has. */
export function stats(buf: Int32Array, count: number): number {
  const n = count < 0 ? 0 : count < buf.length ? count : buf.length;
  return syscall(SYS_STATS, addressOf(buf), n);
}

/** Counter i's name into buf: its length; -EINVAL past the last. */
export function statname(i: number, buf: Uint8Array, len: number): number {
  return syscall(SYS_STATNAME, i, addressOf(buf), clampLen(buf, len));
}

/**
 * Task-table slot `slot` into rec (at least PS_BYTES / 4 = 9 words): 1 with the record, 0 when
 * unused, -EINVAL past the table. Read the fields with rec[PS_PID] etc.; the name with psName.
 */
export function ps(slot: number, rec: Int32Array): number {
  if (rec.length < 9) return syscall(SYS_PS, slot, 0);
  return syscall(SYS_PS, slot, addressOf(rec));
}

/** Byte i (0..15) of the name in a ps record. */
export function psNameByte(rec: Int32Array, i: number): number {
  if (i < 0 || i > 15 || rec.length < 9) return 0;
  return load8(addressOf(rec) + 20 + i);
}
