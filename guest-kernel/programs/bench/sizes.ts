/**
 * How much each benchmark workload does. The bench (hypervisor/bench/modes.ts) compiles these
 * values; the workload test (test/hypervisor/bench-workloads.test.ts) compiles smaller ones in
 * place of this file (the compiler's `sources` option), so both targets, and every mode, always
 * see the same sizes within one build. hypervisor/bench/workloads.ts writes this text
 * (sizesSource), and a test keeps this file equal to it.
 */

/** Bytes of text the console workload prints (a multiple of 64, the line length). */
export const CONSOLE_BYTES = 16 * 1024;

/** Bytes the block workload writes and reads back (a multiple of 64 KiB, its run). */
export const BLOCK_BYTES = 256 * 1024;

/** System calls the syscall workload makes. */
export const SYSCALLS = 4096;
