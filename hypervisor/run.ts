/**
 * One entry point for running a guest image in any mode, used by the CLI, the tests and the
 * benchmarks. Every mode reports the same RunResult, so results can be compared field by field.
 */
import type { GuestImage } from '../abi/image.ts';
import type { CpuTracer } from './machine/cpu.ts';
import { NativeMachine, type Platform, type PlatformReport, type StopKind } from './machine/native.ts';
import { PvPlatform } from './pv/platform.ts';
import { modelledCycles } from './costs.ts';
import { abiRefusal } from './machine/abi-check.ts';
import { HwMachine } from './vmm/hw.ts';
import { TrapMachine } from './vmm/trap.ts';

export const MODES = ['native', 'trap', 'bt', 'hw', 'pv'] as const;
export type Mode = (typeof MODES)[number];

/** The platform each implemented mode runs on; a mode missing here is refused (see README). */
const PLATFORMS: Partial<Record<Mode, (opts: RunOptions) => Platform>> = {
  native: (opts) => new NativeMachine(opts),
  trap: (opts) => new TrapMachine(opts),
  hw: (opts) => new HwMachine(opts),
  pv: (opts) =>
    new PvPlatform({
      ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}),
      ...(opts.onConsoleByte ? { onConsoleByte: opts.onConsoleByte } : {}),
      ...(opts.input ? { input: opts.input } : {}),
      ...(opts.trace ? { trace: opts.trace } : {}),
      ...(opts.cmdline !== undefined ? { cmdline: opts.cmdline } : {}),
      ...(opts.disk ? { disk: opts.disk } : {}),
      ...(opts.onFlush ? { onFlush: opts.onFlush } : {}),
      ...(opts.eventIdx === false ? { eventIdx: false } : {}),
    }),
};

export const IMPLEMENTED_MODES: readonly Mode[] = MODES.filter((m) => PLATFORMS[m] !== undefined);

export const DEFAULT_MAX_INSTRUCTIONS = 2_000_000_000;

export interface RunOptions {
  mode: Mode;
  /** Bound on virtual time (instructions retired plus idled); a runaway guest stops there. */
  maxInstructions?: number;
  memoryBytes?: number;
  /** Disk image, used in place: after the run it holds what the guest wrote. */
  disk?: Uint8Array;
  /** The guest flushed the block device: make the disk durable; throwing fails the flush for the guest. */
  onFlush?: (disk: Uint8Array) => void;
  /** Console input: the UART's receive side (native, trap, hw), console_io read (pv). */
  input?: Uint8Array;
  onConsoleByte?: (byte: number) => void;
  tracer?: CpuTracer;
  /** pv: one line per hypercall, bounce and crash. */
  trace?: (line: string) => void;
  /** pv: the command line in the start-of-day page. */
  cmdline?: string;
  /** pv: offer EVENT_IDX on the virtio devices (default true). */
  eventIdx?: boolean;
}

export interface RunResult extends PlatformReport {
  mode: Mode;
  /** 'refused': the image was not started (wrong target, too new an ABI, does not fit). */
  stop: StopKind | 'refused';
  /** The guest's full 32-bit shutdown code, unsigned; null when it did not shut down. */
  exitCode: number | null;
  message?: string;
  /** Modelled cycles of the run (hypervisor/costs.ts): deterministic, comparable across modes. */
  modelledCycles: number;
  /** Host wall-clock time of the run, in nanoseconds: the only field that differs between runs. */
  hostNs: number;
}

function refused(mode: Mode, message: string): RunResult {
  return {
    mode,
    stop: 'refused',
    exitCode: null,
    message,
    console: '',
    instructions: 0,
    idleInstructions: 0,
    events: {},
    disk: { sectorsRead: 0, sectorsWritten: 0, errors: 0 },
    modelledCycles: 0,
    hostNs: 0,
  };
}

/** Why `image` cannot run in `mode`, or null. */
export function checkBootable(image: GuestImage, mode: Mode): string | null {
  if (!IMPLEMENTED_MODES.includes(mode)) return `mode '${mode}' is not implemented yet (this build runs: ${IMPLEMENTED_MODES.join(', ')})`;
  const wanted = mode === 'pv' ? 'pv' : 'native';
  if (image.target !== wanted) {
    return `image is built for target '${image.target}', mode '${mode}' needs a '${wanted}' image`;
  }
  return abiRefusal(image.abi.major, image.abi.minor);
}

export function runImage(image: GuestImage, opts: RunOptions): RunResult {
  const why = checkBootable(image, opts.mode);
  if (why) return refused(opts.mode, why);
  const m = PLATFORMS[opts.mode]!(opts);
  const loadError = m.load(image);
  if (loadError) return refused(opts.mode, loadError);
  const t0 = process.hrtime.bigint();
  const r = m.run(opts.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS);
  const hostNs = Number(process.hrtime.bigint() - t0);
  const report = m.report();
  return {
    mode: opts.mode,
    stop: r.stop,
    exitCode: r.exitCode,
    ...(r.message ? { message: r.message } : {}),
    ...report,
    modelledCycles: modelledCycles(opts.mode, report),
    hostNs,
  };
}
