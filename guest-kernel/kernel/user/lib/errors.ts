/**
 * Error numbers (syscall-abi.ts's, Linux's) as words for messages: `errorText(-ENOENT)` is
 * 'no such file', `errorCode(-ENOENT)` is 'ENOENT'. Both take the negative result of a system
 * call (or the positive number).
 */
import {
  E2BIG,
  EAGAIN,
  EBADF,
  EBUSY,
  ECHILD,
  EEXIST,
  EFAULT,
  EFBIG,
  EINTR,
  EINVAL,
  EMFILE,
  ENAMETOOLONG,
  ENOENT,
  ENOEXEC,
  ENOMEM,
  ENOSPC,
  ENOSYS,
  EPERM,
  ESRCH,
} from '../../syscall-abi.ts';
import { eprint, print } from './io.ts';

/** fs.ts's codes that the ABI does not list (the kernel may pass them through). */
const EIO = 5;
const ENFILE = 23;
const ECORRUPT = 117;

/** The positive error number (0 for INT_MIN, which negates to no int32). */
function errno(e: number): number {
  if (e === -2147483648) return 0;
  return e < 0 ? -e : e;
}

export function errorText(e: number): string {
  switch (errno(e)) {
    case EPERM:
      return 'not permitted';
    case ENOENT:
      return 'no such file';
    case ESRCH:
      return 'no such task';
    case EINTR:
      return 'interrupted';
    case EIO:
      return 'i/o error';
    case E2BIG:
      return 'argument list too long';
    case ENOEXEC:
      return 'not an executable';
    case EBADF:
      return 'bad file descriptor';
    case ECHILD:
      return 'no child';
    case EAGAIN:
      return 'task table full';
    case ENOMEM:
      return 'out of memory';
    case EFAULT:
      return 'bad address';
    case EBUSY:
      return 'busy';
    case EEXIST:
      return 'exists';
    case EINVAL:
      return 'invalid argument';
    case ENFILE:
      return 'too many files';
    case EMFILE:
      return 'too many open files';
    case EFBIG:
      return 'file too large';
    case ENOSPC:
      return 'no space left';
    case ENAMETOOLONG:
      return 'name too long';
    case ENOSYS:
      return 'no such system call';
    case ECORRUPT:
      return 'file store corrupt';
    default:
      return 'unknown error';
  }
}

export function errorCode(e: number): string {
  switch (errno(e)) {
    case EPERM:
      return 'EPERM';
    case ENOENT:
      return 'ENOENT';
    case ESRCH:
      return 'ESRCH';
    case EINTR:
      return 'EINTR';
    case EIO:
      return 'EIO';
    case E2BIG:
      return 'E2BIG';
    case ENOEXEC:
      return 'ENOEXEC';
    case EBADF:
      return 'EBADF';
    case ECHILD:
      return 'ECHILD';
    case EAGAIN:
      return 'EAGAIN';
    case ENOMEM:
      return 'ENOMEM';
    case EFAULT:
      return 'EFAULT';
    case EBUSY:
      return 'EBUSY';
    case EEXIST:
      return 'EEXIST';
    case EINVAL:
      return 'EINVAL';
    case ENFILE:
      return 'ENFILE';
    case EMFILE:
      return 'EMFILE';
    case EFBIG:
      return 'EFBIG';
    case ENOSPC:
      return 'ENOSPC';
    case ENAMETOOLONG:
      return 'ENAMETOOLONG';
    case ENOSYS:
      return 'ENOSYS';
    case ECORRUPT:
      return 'ECORRUPT';
    default:
      return 'E?';
  }
}

/** Print errorText(e) to fd 1 (e.g. after 'sh: NAME: '); a number when unknown. */
export function printError(e: number): void {
  print(errorText(e));
}

/** Print errorText(e) to fd 2. */
export function eprintError(e: number): void {
  eprint(errorText(e));
}
