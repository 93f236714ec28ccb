/**
 * Error codes a hypercall returns to the guest, in r0, as negative numbers (Xen's -errno, which
 * is Linux's errno). Numbers only, no imports: the guest build imports this file directly.
 * Defined once, as a list; a code keeps its meaning forever.
 */
export const EPERM = 1; //      operation not permitted (someone else's frame, a privileged op)
export const ENOENT = 2; //     no such entry (unknown grant reference, unknown device)
export const ESRCH = 3; //      no such domain
export const EFAULT = 14; //    a guest address that is not mapped, or not writable where written
export const EBUSY = 16; //     in use (unpinning a table still referenced, closing a busy grant)
export const EEXIST = 17; //    already done (pinning a pinned table)
export const EINVAL = 22; //    an argument out of range or of the wrong shape
export const ENOSPC = 28; //    no free slot (event-channel ports, grant handles)
export const ENOMEM = 12; //    out of memory (reservation beyond the domain's quota)
export const E2BIG = 7; //      a batch or buffer longer than the ABI allows
export const EACCES = 13; //    a grant that does not permit this access (read-only, wrong domain, revoked)
export const ENOSYS = 38; //    no such hypercall or sub-command
export const EBADF = 9; //      a bad event-channel port (not bound, wrong state)
export const ENOEXEC = 8; //    an image the hypervisor will not boot
export const EIO = 5; //        a device found its ring malformed and now needs a reset

/** Names for reports: `errorName(-22)` is 'EINVAL'. */
export const ERROR_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [EINVAL]: 'EINVAL',
  [ENOSPC]: 'ENOSPC',
  [ENOMEM]: 'ENOMEM',
  [E2BIG]: 'E2BIG',
  [EACCES]: 'EACCES',
  [ENOSYS]: 'ENOSYS',
  [EBADF]: 'EBADF',
  [ENOEXEC]: 'ENOEXEC',
  [EIO]: 'EIO',
};

export function errorName(code: number): string {
  return ERROR_NAMES[-code] ?? ERROR_NAMES[code] ?? `E${Math.abs(code)}`;
}
