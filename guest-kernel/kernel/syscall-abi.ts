/**
 * The kernel's system-call ABI: what a user program and the kernel agree on (xv6's syscall.h,
 * memlayout.h and fcntl.h in one file). Numbers only, no imports, so that the kernel, the user
 * library (user/lib/) and the compiler's `user` target read the same constants.
 *
 * Calling convention: `syscall(nr, a1, a2, a3, a4, a5)` puts nr in r0 and the arguments in r1..r5;
 * the result comes back in r0: 0 or more on success, -errno on failure (the numbers of
 * abi/errors.ts and fs/fs.ts, Linux's). Every pointer a task passes is checked against the task's
 * own page tables (present, user, writable where the kernel writes) before the kernel touches it,
 * and every length against a limit below: a bad argument is an error to the task, never a fault
 * in the kernel.
 */

// The address space of a task (the same in the native and the pv build) ----------------------

/**
 * User programs are linked here (`tsvisor compile --target user`); their image's segments must lie
 * in [USER_BASE, USER_MAP_BASE). Below USER_BASE is the kernel's: not mapped for the task (native:
 * the kernel's pages have no U bit; pv: the task runs on a user page directory that holds only its
 * own pages, as Xen's 64-bit PV guests do).
 */
export const USER_BASE = 0x40000000;
/** Where SYS_MAP may map pages: [USER_MAP_BASE, USER_MAP_END). */
export const USER_MAP_BASE = 0x50000000;
export const USER_MAP_END = 0x60000000;
/** The user stack: USER_STACK_PAGES pages below USER_STACK_TOP, with an unmapped guard page below them. */
export const USER_STACK_TOP = 0x7fff0000;
export const USER_STACK_PAGES = 8;
/** The largest user image the kernel loads: segments end below USER_BASE + USER_IMAGE_MAX. */
export const USER_IMAGE_MAX = 0x01000000;

// System-call numbers ------------------------------------------------------------------------

/** exit(status): end the task; its parent's wait collects status. Never returns. */
export const SYS_EXIT = 1;
/**
 * spawn(name, nameLen, args, argsLen, stdout): start the embedded program `name` as a child with
 * the argument text `args` (words separated by spaces, at most ARGS_MAX bytes). The child's fd 0
 * and 2 are the parent's; its fd 1 is the parent's fd `stdout` (cat > f: the shell opens f and
 * passes its descriptor). Returns the child's pid; -ENOENT (no such program), -EAGAIN (task table
 * full), -ENOMEM, -EBADF (stdout), -EFAULT, -E2BIG.
 */
export const SYS_SPAWN = 2;
/** wait(status): a child's exit; its pid, with its status stored at `status` (0: not stored); -ECHILD when none. */
export const SYS_WAIT = 3;
/** kill(pid): the task exits with KILLED_STATUS the next time it would return to user mode. 0, -ESRCH. */
export const SYS_KILL = 4;
export const SYS_GETPID = 5;
export const SYS_YIELD = 6;
/** sleep(ticks): at least `ticks` timer ticks. 0, or -EINTR when killed. */
export const SYS_SLEEP = 7;
/** uptime(): timer ticks since boot. */
export const SYS_UPTIME = 8;
/** write(fd, buf, len): bytes written, or -errno. len at most IO_MAX. */
export const SYS_WRITE = 9;
/** read(fd, buf, len): bytes read (0 at the end of a file), or -errno. The console's fd blocks for a line. */
export const SYS_READ = 10;
/** open(name, nameLen, flags): a descriptor, or -errno. */
export const SYS_OPEN = 11;
export const SYS_CLOSE = 12;
/** unlink(name, nameLen): 0, -ENOENT, -EBUSY (open). */
export const SYS_UNLINK = 13;
/**
 * list(index, buf, len): directory entry `index` (0..): its name's length, with the file's size
 * (u32) at buf and the name after it; 0 for a free slot; -ENOENT past the last slot.
 */
export const SYS_LIST = 14;
/** map(va, pages): map `pages` fresh zeroed writable pages at va (page-aligned, inside the map region, none mapped yet). 0 or -errno. */
export const SYS_MAP = 15;
/** unmap(va, pages): unmap pages that map mapped (a page not mapped is -EINVAL, and nothing is unmapped). 0 or -errno. */
export const SYS_UNMAP = 16;
/** stats(buf, count): copy up to count counters (words) to buf; the number of counters. */
export const SYS_STATS = 17;
/** statname(i, buf, len): counter i's name (`cpu.halt`, `proc.switches`, ...); its length, -EINVAL past the last. */
export const SYS_STATNAME = 18;
/** args(buf, len): copy the task's argument text; its length. */
export const SYS_ARGS = 19;
/**
 * ps(slot, buf): task-table slot `slot`: 1 with a TaskInfo record at buf (PS_* word offsets), 0
 * when the slot is unused, -EINVAL past the table.
 */
export const SYS_PS = 20;
/** clock(): virtual time in instructions, low 32 bits (the platform's clock). */
export const SYS_CLOCK = 21;
/**
 * trap(entry, stackTop): where the kernel sends this task on a fault (the compiler's user start-up
 * registers its run-time error reporter): pc = entry, sp = stackTop, r0 = vector, r1 = the faulting
 * pc, r2 = the fault address. Once delivered, the registration is dropped, so a fault in the
 * reporter kills the task. 0, or -EINVAL (unaligned, or outside the user range).
 */
export const SYS_TRAP = 22;
/** Numbers run 1..SYS_COUNT-1. */
export const SYS_COUNT = 23;

// Limits and layouts ----------------------------------------------------------------------------

/** Descriptors per task; 0 = console input, 1 = output, 2 = console output (errors). */
export const NFD = 8;
export const FD_STDIN = 0;
export const FD_STDOUT = 1;
export const FD_STDERR = 2;
/** open flags. */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREATE = 0x100;
export const O_TRUNC = 0x200;
export const O_APPEND = 0x400;
/** The most one read or write moves. */
export const IO_MAX = 65536;
/** The longest argument text, and program name. */
export const ARGS_MAX = 128;
export const NAME_MAX = 15;
/** SYS_MAP / SYS_UNMAP: the most pages in one call. */
export const MAP_MAX_PAGES = 256;
/** Exit status of a task ended by kill. */
export const KILLED_STATUS = -1;
/** Exit status of a task ended by a fault (abi/platform.ts RUNTIME_ERROR_EXIT_CODE, 128 + SIGABRT). */
export const FAULT_STATUS = 134;

/** SYS_PS's record, word offsets; the name is NUL-padded bytes at PS_NAME (NAME_MAX + 1 bytes). */
export const PS_PID = 0;
export const PS_PARENT = 1;
export const PS_STATE = 2;
export const PS_RUNS = 3;
export const PS_PAGES = 4;
export const PS_NAME = 5;
export const PS_BYTES = 20 + NAME_MAX + 1;
/** Task states, as xv6's. */
export const STATE_UNUSED = 0;
export const STATE_RUNNABLE = 1;
export const STATE_RUNNING = 2;
export const STATE_SLEEPING = 3;
export const STATE_ZOMBIE = 4;

/** Error numbers a system call returns, negated (Linux's, as abi/errors.ts). */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const EMFILE = 24;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
