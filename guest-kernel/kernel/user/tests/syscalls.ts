/**
 * usertests: system calls given bad arguments. Every one must come back as an error to the task
 * (-ENOSYS, -EFAULT, -EBADF, -EINVAL, ...), never a fault in the kernel nor a write to memory the
 * task does not own. Files used: ut-args.
 */
import {
  ARGS_MAX,
  E2BIG,
  EBADF,
  EFAULT,
  EINVAL,
  ENAMETOOLONG,
  ENOSYS,
  NFD,
  O_CREATE,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  O_TRUNC,
  SYS_ARGS,
  SYS_CLOSE,
  SYS_COUNT,
  SYS_OPEN,
  SYS_PS,
  SYS_READ,
  SYS_SPAWN,
  SYS_STATNAME,
  SYS_STATS,
  SYS_TRAP,
  SYS_UNLINK,
  SYS_WRITE,
  USER_MAP_BASE,
  USER_STACK_PAGES,
  USER_STACK_TOP,
} from '../../syscall-abi.ts';
import { close, open, read, spawn, spawnb, unlink, waitAny, write, writeStr } from '../lib/sys.ts';
import { copyLit } from '../lib/str.ts';
import { expectErr, expectEq, expectFail, expectOk, fail } from './check.ts';

const buf = new Uint8Array(64);
const big = new Uint8Array(ARGS_MAX + 8);

/** A kernel address: below USER_BASE, mapped for the kernel, not for the task. */
const KERNEL_ADDR = 0x1000;
/** Nothing is mapped here unless a test maps it. */
const UNMAPPED = USER_MAP_BASE + 0x00400000;
/** The guard page below the user stack. */
const GUARD = USER_STACK_TOP - (USER_STACK_PAGES + 1) * 4096;

/** A scratch file holding "0123456789", open O_RDWR: its fd (negative on failure). */
function scratch(): number {
  const fd = open('ut-args', O_RDWR | O_CREATE | O_TRUNC);
  if (fd < 0) return fd;
  writeStr(fd, '0123456789');
  return fd;
}

function done(fd: number, ok: boolean): boolean {
  close(fd);
  unlink('ut-args');
  return ok;
}

/** Unknown system-call numbers: -ENOSYS. */
export function testSyscallNumbers(): boolean {
  return (
    expectErr(syscall(0), ENOSYS, 'syscall 0') &&
    expectErr(syscall(999), ENOSYS, 'syscall 999') &&
    expectErr(syscall(-1), ENOSYS, 'syscall -1') &&
    expectErr(syscall(SYS_COUNT), ENOSYS, 'syscall SYS_COUNT') &&
    expectErr(syscall(0x7fffffff), ENOSYS, 'syscall 0x7fffffff') &&
    expectErr(syscall(-2147483648), ENOSYS, 'syscall INT_MIN')
  );
}

/** Pointers into the kernel: -EFAULT from every call that takes one. */
export function testKernelPointers(): boolean {
  const fd = scratch();
  if (fd < 0) return expectOk(fd, 'create ut-args');
  const ok =
    expectErr(syscall(SYS_WRITE, fd, KERNEL_ADDR, 16), EFAULT, 'write from 0x1000') &&
    expectErr(syscall(SYS_READ, fd, KERNEL_ADDR, 16), EFAULT, 'read into 0x1000') &&
    expectErr(syscall(SYS_OPEN, KERNEL_ADDR, 4, 0), EFAULT, 'open name at 0x1000') &&
    expectErr(syscall(SYS_UNLINK, KERNEL_ADDR, 4), EFAULT, 'unlink name at 0x1000') &&
    expectErr(syscall(SYS_SPAWN, KERNEL_ADDR, 4, 0, 0, 1), EFAULT, 'spawn name at 0x1000') &&
    expectErr(syscall(SYS_PS, 0, KERNEL_ADDR), EFAULT, 'ps into 0x1000') &&
    expectErr(syscall(SYS_STATS, KERNEL_ADDR, 4), EFAULT, 'stats into 0x1000') &&
    expectErr(syscall(SYS_STATNAME, 0, KERNEL_ADDR, 16), EFAULT, 'statname into 0x1000');
  return done(fd, ok);
}

/** Pointers to nothing (the map region, the stack's guard page): -EFAULT. */
export function testUnmappedPointers(): boolean {
  const fd = scratch();
  if (fd < 0) return expectOk(fd, 'create ut-args');
  const ok =
    expectErr(syscall(SYS_WRITE, fd, UNMAPPED, 16), EFAULT, 'write from an unmapped page') &&
    expectErr(syscall(SYS_READ, fd, UNMAPPED, 16), EFAULT, 'read into an unmapped page') &&
    expectErr(syscall(SYS_WRITE, fd, GUARD, 16), EFAULT, 'write from the stack guard page') &&
    expectErr(syscall(SYS_OPEN, UNMAPPED, 4, 0), EFAULT, 'open name in an unmapped page') &&
    expectErr(syscall(SYS_PS, 0, UNMAPPED), EFAULT, 'ps into an unmapped page') &&
    expectErr(syscall(SYS_ARGS, UNMAPPED, 8), EFAULT, 'args into an unmapped page') &&
    // The last bytes of the stack, then past its top: the range is checked as a whole.
    expectErr(syscall(SYS_WRITE, fd, USER_STACK_TOP - 8, 16), EFAULT, 'write across the stack top');
  return done(fd, ok);
}

/** Read-only memory (a string literal): the kernel must not write it. */
export function testReadOnlyPointer(): boolean {
  const fd = scratch();
  if (fd < 0) return expectOk(fd, 'create ut-args');
  close(fd);
  const rfd = open('ut-args', O_RDONLY);
  const lit = 'a read-only string literal';
  const ok =
    expectOk(rfd, 'reopen ut-args') &&
    expectErr(syscall(SYS_READ, rfd, addressOf(lit), 8), EFAULT, 'read into a string literal') &&
    expectErr(syscall(SYS_STATS, addressOf(lit), 2), EFAULT, 'stats into a string literal') &&
    expectErr(syscall(SYS_PS, 0, addressOf(lit)), EFAULT, 'ps into a string literal') &&
    expectEq(lit.charCodeAt(0), 97, 'the literal changed');
  return done(rfd, ok);
}

/** Lengths that are negative, huge, or wrap the address space: errors, nothing moved. */
export function testHugeLengths(): boolean {
  const fd = scratch();
  if (fd < 0) return expectOk(fd, 'create ut-args');
  const ok =
    expectFail(syscall(SYS_WRITE, fd, addressOf(buf), -1), 'write of length -1') &&
    expectFail(syscall(SYS_READ, fd, addressOf(buf), -1), 'read of length -1') &&
    expectFail(syscall(SYS_WRITE, fd, USER_STACK_TOP - 16, 0x7fffffff), 'write of length 0x7fffffff') &&
    // 0xfffff000 + 0x2000 wraps past 2^32 to 0x1000, a kernel address.
    expectFail(syscall(SYS_WRITE, fd, -4096, 0x2000), 'write whose end wraps around') &&
    expectFail(syscall(SYS_READ, fd, -4096, 0x2000), 'read whose end wraps around') &&
    expectFail(syscall(SYS_OPEN, addressOf(buf), -1, 0), 'open with name length -1') &&
    expectFail(syscall(SYS_OPEN, addressOf(buf), 0x7fffffff, 0), 'open with a huge name length') &&
    expectFail(syscall(SYS_SPAWN, addressOf(buf), 4, addressOf(buf), -1, 1), 'spawn with args length -1');
  return done(fd, ok);
}

/** Descriptors that are not open, or out of range: -EBADF. */
export function testBadDescriptors(): boolean {
  const fd = scratch();
  if (fd < 0) return expectOk(fd, 'create ut-args');
  const ok =
    expectErr(syscall(SYS_WRITE, NFD - 1, addressOf(buf), 4), EBADF, 'write to a closed fd') &&
    expectErr(syscall(SYS_WRITE, NFD, addressOf(buf), 4), EBADF, 'write to fd NFD') &&
    expectErr(syscall(SYS_WRITE, -1, addressOf(buf), 4), EBADF, 'write to fd -1') &&
    expectErr(syscall(SYS_READ, 1000, addressOf(buf), 4), EBADF, 'read from fd 1000') &&
    expectErr(syscall(SYS_CLOSE, NFD - 1), EBADF, 'close a closed fd') &&
    expectErr(syscall(SYS_CLOSE, -5), EBADF, 'close fd -5') &&
    expectErr(spawn('true', '', NFD - 1), EBADF, 'spawn with a closed stdout') &&
    expectErr(spawn('true', '', 99), EBADF, 'spawn with stdout 99');
  const c1 = close(fd);
  const c2 = close(fd);
  const w = write(fd, buf, 4);
  unlink('ut-args');
  return ok && expectEq(c1, 0, 'close') && expectErr(c2, EBADF, 'close twice') && expectErr(w, EBADF, 'write after close');
}

/** Reading a write-only descriptor, writing a read-only one: -EBADF. */
export function testAccessModes(): boolean {
  const fd = scratch();
  if (fd < 0) return expectOk(fd, 'create ut-args');
  close(fd);
  const r = open('ut-args', O_RDONLY);
  const w = open('ut-args', O_WRONLY);
  const ok =
    expectOk(r, 'open O_RDONLY') &&
    expectOk(w, 'open O_WRONLY') &&
    expectErr(write(r, buf, 4), EBADF, 'write to an O_RDONLY fd') &&
    expectErr(read(w, buf, 4), EBADF, 'read from an O_WRONLY fd') &&
    expectEq(write(w, buf, 0), 0, 'write of 0 bytes') &&
    expectEq(read(r, buf, 0), 0, 'read of 0 bytes');
  close(w);
  return done(r, ok);
}

/** Names and argument texts past the limits: -ENAMETOOLONG, -E2BIG. */
export function testLongNames(): boolean {
  const n = copyLit(buf, 0, 'a-file-name-of-forty-bytes-0123456789abc');
  const s = spawn('a-program-name-too-long', '');
  if (s > 0) {
    waitAny();
    return fail('spawn of a 23-byte name started something');
  }
  for (let i = 0; i < big.length; i++) big[i] = 97;
  const p = copyLit(buf, 48, 'true');
  const ok =
    expectErr(syscall(SYS_OPEN, addressOf(buf), n, O_CREATE | O_RDWR), ENAMETOOLONG, 'open of a 40-byte name') &&
    expectErr(syscall(SYS_UNLINK, addressOf(buf), n), ENAMETOOLONG, 'unlink of a 40-byte name') &&
    expectFail(s, 'spawn of a 23-byte name') &&
    expectFail(syscall(SYS_OPEN, addressOf(buf), 0, 0), 'open of an empty name') &&
    expectFail(spawnb(big, 0, big, 0), 'spawn of an empty name') &&
    expectErr(syscall(SYS_SPAWN, addressOf(buf) + 48, p, addressOf(big), ARGS_MAX + 1, 1), E2BIG, 'spawn with ARGS_MAX + 1 bytes of arguments');
  return ok;
}

/**
 * SYS_TRAP with an entry that is unaligned or in the kernel: -EINVAL (and the start-up's
 * registration kept: later fault tests depend on it).
 */
export function testTrapArgs(): boolean {
  return (
    expectErr(syscall(SYS_TRAP, USER_MAP_BASE + 2, USER_STACK_TOP), EINVAL, 'trap entry unaligned') &&
    expectErr(syscall(SYS_TRAP, KERNEL_ADDR, USER_STACK_TOP), EINVAL, 'trap entry in the kernel')
  );
}
