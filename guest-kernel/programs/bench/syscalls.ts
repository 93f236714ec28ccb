/**
 * System-call workload: SYSCALLS null-ish system calls from the kernel to its own entry (there
 * are no tasks yet; the round trip is what is measured). Each adds its two arguments in the
 * handler and returns the sum in the saved r0. Native: the CPU takes SYSCALL through the vector
 * table and the handler returns with IRET; trap: both are exits (the syscall reflected, the IRET
 * emulated); hw: SYSCALL is taken in guest mode, IRET exits; pv: each is a bounce through the
 * hypervisor to the registered entry and an iret hypercall back — the cost of a deprivileged
 * kernel that DESIGN.md says the benchmark shows. Prints the sum; shuts down with 0, or 10 when
 * the entry could not be registered, 1 when the sum is wrong.
 */
import { printKV } from '../../lib/console.ts';
import { savedReg, setSavedReg } from '../../lib/trap-frame.ts';
import { SYSCALLS } from './sizes.ts';
import { setSyscallEntry } from './traps.ts';

const SYS_ADD = 1;
const ENOSYS = -38;
let calls = 0;

function onSyscall(frame: number): void {
  calls++;
  const nr = savedReg(frame, 0);
  setSavedReg(frame, 0, nr === SYS_ADD ? (savedReg(frame, 1) + savedReg(frame, 2)) | 0 : ENOSYS);
}

export function main(): number {
  if (setSyscallEntry(interruptEntry(onSyscall)) < 0) return 10;
  let sum = 0;
  for (let i = 0; i < SYSCALLS; i++) sum = syscall(SYS_ADD, sum, i);
  printKV('syscalls: calls ', calls);
  printKV('syscalls: sum ', sum);
  // sum of 0..n-1, computed without a system call
  return sum === ((Math.imul(SYSCALLS, SYSCALLS - 1) / 2) | 0) && calls === SYSCALLS ? 0 : 1;
}
