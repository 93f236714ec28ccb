/**
 * Hypercall numbers and sub-commands: numbers only, no imports, so that guest code compiled by our
 * compiler imports this file directly and the guest build and the host cannot drift.
 *
 * Calling convention (KVM's, on our registers): HYPERCALL with the number in r0 and up to five
 * arguments in r1..r5; the result comes back in r0, negative on failure (abi/errors.ts).
 * Numbers follow Xen's xen.h where Xen has the same call; a retired number keeps its slot.
 *
 * This is the start of ABI v1; the full family list (memory, event channels, grant tables,
 * callbacks, virtio) is defined with its zod schemas in abi/hypercalls.ts.
 */

/** console_io(cmd, guestVirtAddr, length): write bytes from a guest buffer. */
export const HC_CONSOLE_IO = 18;
export const CONSOLEIO_WRITE = 0;

/** sched_op(cmd, arg): yield, block, shutdown. */
export const HC_SCHED_OP = 29;
export const SCHEDOP_YIELD = 0;
export const SCHEDOP_BLOCK = 1;
/** sched_op(SCHEDOP_SHUTDOWN, code): end the domain with a 32-bit shutdown code. */
export const SCHEDOP_SHUTDOWN = 2;
