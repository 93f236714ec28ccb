/**
 * One entry point for running a guest image in any mode, used by the CLI, the tests and the
 * benchmarks. Every mode reports the same RunResult, so results can be compared field by field.
 */
import type { GuestImage } from '../abi/image.ts';
import { ABI_MAJOR } from '../abi/version.ts';
import type { CpuTracer } from './machine/cpu.ts';
import { NativeMachine, type StopKind } from './machine/native.ts';

export const MODES = ['native', 'trap', 'bt', 'hw', 'pv'] as const;
export type Mode = (typeof MODES)[number];

/** Modes this build can run; the others are refused with a clear message (see README). */
export const IMPLEMENTED_MODES: readonly Mode[] = ['native'];

export const DEFAULT_MAX_INSTRUCTIONS = 2_000_000_000;

export interface RunOptions {
  mode: Mode;
  /** Bound on virtual time (instructions retired plus idled); a runaway guest stops there. */
  maxInstructions?: number;
  memoryBytes?: number;
  /** Disk image, used in place: after the run it holds what the guest wrote. */
  disk?: Uint8Array;
  input?: Uint8Array;
  onConsoleByte?: (byte: number) => void;
  tracer?: CpuTracer;
}

export interface RunResult {
  mode: Mode;
  /** 'refused': the image was not started (wrong target, too new an ABI, does not fit). */
  stop: StopKind | 'refused';
  /** The guest's full 32-bit shutdown code, unsigned; null when it did not shut down. */
  exitCode: number | null;
  message?: string;
  console: string;
  /** Instructions retired. */
  instructions: number;
  /** Virtual time spent idle in HLT, in instructions. */
  idleInstructions: number;
  /** Exceptions, interrupts and system calls taken, by name. */
  events: Record<string, number>;
  disk: { sectorsRead: number; sectorsWritten: number; errors: number };
  hostNs: number;
}

const decoder = new TextDecoder();

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
  if (image.abi.major > ABI_MAJOR) {
    return `image needs ABI ${image.abi.major}.${image.abi.minor}, this host speaks ABI ${ABI_MAJOR}.x`;
  }
  return null;
}

export function runImage(image: GuestImage, opts: RunOptions): RunResult {
  const why = checkBootable(image, opts.mode);
  if (why) return refused(opts.mode, why);
  const m = new NativeMachine(opts);
  const loadError = m.load(image);
  if (loadError) return refused(opts.mode, loadError);
  const t0 = process.hrtime.bigint();
  const r = m.run(opts.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS);
  const hostNs = Number(process.hrtime.bigint() - t0);
  return {
    mode: opts.mode,
    stop: r.stop,
    exitCode: r.exitCode,
    ...(r.message ? { message: r.message } : {}),
    console: decoder.decode(m.uart.output()),
    instructions: m.cpu.icount - m.cpu.idle,
    idleInstructions: m.cpu.idle,
    events: m.events(),
    disk: { ...m.block.stats },
    hostNs,
  };
}
