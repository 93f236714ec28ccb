/**
 * The kernel's command line, as QEMU's -append writes it into a Linux kernel's setup header: the
 * host (tsvisor run, hypervisor/kernel-build.ts) writes NUL-terminated text into this array's
 * bytes in the image before it boots, found by its symbol `kernelCmdline`. Empty: start the shell.
 * Otherwise `PROGRAM ARGS...`: run that program alone and shut down with its exit status.
 */
export const CMDLINE_MAX = 256;
export const kernelCmdline = new Uint8Array(CMDLINE_MAX);

/** The command line's length (up to the first NUL). */
export function cmdlineLength(): number {
  let n = 0;
  while (n < CMDLINE_MAX && kernelCmdline[n] !== 0) n++;
  return n;
}
