/**
 * The workloads of `npm run bench:modes` (modes.ts): guest programs written once in the
 * TypeScript subset, compiled for the native target (run in native, trap and hw) and for the pv
 * target (run in pv), and the check that every mode gave the same observable result. The test
 * test/hypervisor/bench-workloads.test.ts builds the same workloads at smaller sizes.
 *
 * Sizes live in guest-kernel/programs/bench/sizes.ts; a build always compiles that module from
 * `sizesSource(sizes)` (the compiler's in-memory `sources`), so the host knows what the guest
 * was built with — the block workload's disk is sized from it — and a test can shrink a build
 * without touching the file. The test keeps the file equal to sizesSource(BENCH_SIZES).
 *
 * It lives on the hypervisor side because it drives both the compiler and the machine.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuestImage } from '../../abi/image.ts';
import { compile } from '../../guest-kernel/compiler/compile.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import { runImage, type Mode, type RunResult } from '../run.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_DIR = 'guest-kernel/programs/bench';
export const SIZES_FILE = path.join(ROOT, BENCH_DIR, 'sizes.ts');

/** The modes every workload runs in, baseline first. bt is not built yet (README, Status). */
export const BENCH_MODES = ['native', 'trap', 'hw', 'pv'] as const satisfies readonly Mode[];
export type BenchMode = (typeof BENCH_MODES)[number];

export interface WorkloadSizes {
  consoleBytes: number;
  blockBytes: number;
  syscalls: number;
}

export const BENCH_SIZES: WorkloadSizes = { consoleBytes: 16 * 1024, blockBytes: 256 * 1024, syscalls: 4096 };

/** The text of sizes.ts for `s`; the file in the tree is sizesSource(BENCH_SIZES). */
export function sizesSource(s: WorkloadSizes): string {
  const kib = (n: number): string => (n % 1024 === 0 ? `${n / 1024} * 1024` : String(n));
  return `/**
 * How much each benchmark workload does. The bench (hypervisor/bench/modes.ts) compiles these
 * values; the workload test (test/hypervisor/bench-workloads.test.ts) compiles smaller ones in
 * place of this file (the compiler's \`sources\` option), so both targets, and every mode, always
 * see the same sizes within one build. hypervisor/bench/workloads.ts writes this text
 * (sizesSource), and a test keeps this file equal to it.
 */

/** Bytes of text the console workload prints (a multiple of 64, the line length). */
export const CONSOLE_BYTES = ${kib(s.consoleBytes)};

/** Bytes the block workload writes and reads back (a multiple of 64 KiB, its run). */
export const BLOCK_BYTES = ${kib(s.blockBytes)};

/** System calls the syscall workload makes. */
export const SYSCALLS = ${s.syscalls};
`;
}

export interface Workload {
  name: string;
  /** Entry file, relative to the repository root. */
  file: string;
  /** What the guest program does, one line (modes.ts prints it). */
  about: string;
  /** The shutdown code of a run that did its work. */
  exitCode: number;
}

export const WORKLOADS: readonly Workload[] = [
  { name: 'compute', file: 'guest-kernel/programs/sieve.ts', about: 'sieve of Eratosthenes below 100,000 (corpus program): no I/O but two lines', exitCode: 120 },
  { name: 'console', file: `${BENCH_DIR}/console-text.ts`, about: 'print CONSOLE_BYTES of text through a 1 KiB buffer: UART byte by byte / console_io per KiB', exitCode: 0 },
  { name: 'block', file: `${BENCH_DIR}/block-io.ts`, about: 'write BLOCK_BYTES in 4 KiB requests, flush, read back, compare: ATA PIO / virtio-blk', exitCode: 0 },
  { name: 'syscall', file: `${BENCH_DIR}/syscalls.ts`, about: 'SYSCALLS system-call round trips into the kernel: vector table + IRET / bounce + iret hypercall', exitCode: 0 },
];

/** Disk given to every run: the block workload's data and 64 KiB that must stay zero. */
export function diskBytes(s: WorkloadSizes): number {
  return s.blockBytes + 64 * 1024;
}

export interface BuiltWorkload extends Workload {
  native: GuestImage;
  pv: GuestImage;
  sizes: WorkloadSizes;
}

/** Compile `w` for both targets with `sizes`. Throws with the compiler's diagnostics. */
export function build(w: Workload, sizes: WorkloadSizes = BENCH_SIZES): BuiltWorkload {
  const sources = new Map([[SIZES_FILE, sizesSource(sizes)]]);
  const one = (target: 'native' | 'pv'): GuestImage => {
    const r = compile(path.join(ROOT, w.file), { target, rootDir: ROOT, sources });
    if (!r.ok) throw new Error(`${w.file} (${target}): ${r.diagnostics.map(formatDiagnostic).join('\n')}`);
    return r.image;
  };
  return { ...w, native: one('native'), pv: one('pv'), sizes };
}

export interface WorkloadRun {
  result: RunResult;
  /** The disk after the run (it starts zeroed). */
  disk: Uint8Array;
}

/** Run `w` in `mode` on a fresh zeroed disk. */
export function runWorkload(w: BuiltWorkload, mode: BenchMode): WorkloadRun {
  const disk = new Uint8Array(diskBytes(w.sizes));
  const result = runImage(mode === 'pv' ? w.pv : w.native, { mode, disk, maxInstructions: 500_000_000 });
  return { result, disk };
}

/**
 * Why `run` is not the same observable result as `baseline` (console, exit code, disk bytes), or
 * is not a clean shutdown with the workload's exit code; null when it is. The costs may differ,
 * nothing else.
 */
export function differs(w: Workload, run: WorkloadRun, baseline: WorkloadRun): string | null {
  const r = run.result;
  if (r.stop !== 'shutdown') return `${w.name} in ${r.mode}: stopped (${r.stop}) ${r.message ?? ''}`;
  if (r.exitCode !== w.exitCode) return `${w.name} in ${r.mode}: exit code ${r.exitCode}, expected ${w.exitCode}`;
  if (r.console !== baseline.result.console) return `${w.name} in ${r.mode}: console differs from ${baseline.result.mode}`;
  if (Buffer.compare(run.disk, baseline.disk) !== 0) return `${w.name} in ${r.mode}: disk differs from ${baseline.result.mode}`;
  return null;
}
