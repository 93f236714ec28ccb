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
import type { ConsoleSink } from './devices/console-log.ts';
import { DEFAULT_MAX_INSTRUCTIONS } from './limits.ts';
import { LIVE_INPUT_LIMIT, type LiveInput } from './live-input.ts';

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
      ...(opts.onConsoleOutput ? { onConsoleOutput: opts.onConsoleOutput } : {}),
      ...(opts.input ? { input: opts.input } : {}),
      ...(opts.trace ? { trace: opts.trace } : {}),
      ...(opts.cmdline !== undefined ? { cmdline: opts.cmdline } : {}),
      ...(opts.disk ? { disk: opts.disk } : {}),
      ...(opts.onFlush ? { onFlush: opts.onFlush } : {}),
      ...(opts.onDiskWrite ? { onDiskWrite: opts.onDiskWrite } : {}),
      ...(opts.diskReadOnly ? { diskReadOnly: true } : {}),
      ...(opts.eventIdx === false ? { eventIdx: false } : {}),
    }),
};

export const IMPLEMENTED_MODES: readonly Mode[] = MODES.filter((m) => PLATFORMS[m] !== undefined);

export { DEFAULT_MAX_INSTRUCTIONS };

export interface RunOptions {
  mode: Mode;
  /** Bound on virtual time (instructions retired plus idled); a runaway guest stops there. */
  maxInstructions?: number;
  memoryBytes?: number;
  /** Disk image, used in place: after the run it holds what the guest wrote. */
  disk?: Uint8Array;
  /** The guest flushed the block device: make the disk durable; throwing fails the flush for the guest. */
  onFlush?: (disk: Uint8Array) => void;
  /** Called with each byte range the guest wrote into the disk (the CLI's DiskFile writes back only those). */
  onDiskWrite?: (byteOffset: number, length: number) => void;
  /** The disk is read-only (`--disk-readonly`): the block devices fail the guest's writes. */
  diskReadOnly?: boolean;
  /** Console input: the UART's receive side (native, trap, hw), console_io read (pv). */
  input?: Uint8Array;
  /** Console bytes as the guest writes them (a view valid during the call). */
  onConsoleOutput?: ConsoleSink;
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
  /**
   * Why the run ended. 'refused': the image was not started (wrong target, too new an ABI, does
   * not fit); 'timeout': the host-time limit; 'interrupted': the user stopped it (SIGINT, a closed
   * output) — both only from runImageLive, with the report of the run so far.
   */
  stop: StopKind | 'refused' | 'timeout' | 'interrupted';
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
    consoleBytes: 0,
    instructions: 0,
    idleInstructions: 0,
    events: {},
    disk: { sectorsRead: 0, sectorsWritten: 0, errors: 0 },
    modelledCycles: 0,
    hostNs: 0,
  };
}

/**
 * The refusal of an image built for the 'user' target: a program the guest kernel loads into a
 * task (at privilege 3, linked at USER_BASE, talking to the kernel by SYSCALL), which no mode
 * boots by itself. One line, naming the way to run it.
 */
export const USER_IMAGE_REFUSAL = 'a user program for the tsvisor kernel, not a bootable image: run it with tsvisor run --mode M -- NAME';

/** Why `image` cannot run in `mode`, or null. */
export function checkBootable(image: GuestImage, mode: Mode): string | null {
  if (!IMPLEMENTED_MODES.includes(mode)) return `mode '${mode}' is not implemented yet (this build runs: ${IMPLEMENTED_MODES.join(', ')})`;
  if (image.target === 'user') return USER_IMAGE_REFUSAL;
  const wanted = mode === 'pv' ? 'pv' : 'native';
  if (image.target !== wanted) {
    return `image is built for target '${image.target}', mode '${mode}' needs a '${wanted}' image`;
  }
  return abiRefusal(image.abi.major, image.abi.minor);
}

/** The platform for `opts.mode` with `image` loaded, or the refusal. */
function boot(image: GuestImage, opts: RunOptions): Platform | RunResult {
  const why = checkBootable(image, opts.mode);
  if (why) return refused(opts.mode, why);
  const m = PLATFORMS[opts.mode]!(opts);
  const loadError = m.load(image);
  return loadError ? refused(opts.mode, loadError) : m;
}

function result(m: Platform, mode: Mode, r: { stop: RunResult['stop']; exitCode: number | null; message?: string }, hostNs: number): RunResult {
  const report = m.report();
  return {
    mode,
    stop: r.stop,
    exitCode: r.exitCode,
    ...(r.message ? { message: r.message } : {}),
    ...report,
    modelledCycles: modelledCycles(mode, report),
    hostNs,
  };
}

/** Run `image` to its end in one synchronous call (tests, benchmarks). */
export function runImage(image: GuestImage, opts: RunOptions): RunResult {
  const m = boot(image, opts);
  if (!('load' in m)) return m;
  const t0 = process.hrtime.bigint();
  const r = m.run(opts.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS);
  return result(m, opts.mode, r as RunResult, Number(process.hrtime.bigint() - t0));
}

export interface LiveOptions {
  /** Host-time limit in milliseconds: the run stops with 'timeout' after it. */
  timeoutMs?: number;
  /** Aborting ends the run with 'interrupted' (SIGINT, a reader that went away). */
  signal?: AbortSignal;
  /**
   * Called between slices, e.g. to write out streamed console output; a returned promise is
   * awaited before the guest goes on, so a slow reader slows the guest, not the host's memory.
   */
  between?: () => Promise<void> | void;
  /** Host time one slice aims at; the stop checks and `between` run this often (default 10 ms). */
  sliceMs?: number;
  /** A fixed slice in instructions instead (tests: any slicing must give runImage's result). */
  sliceInstructions?: number;
  /**
   * Live console input (the terminal, a pipe): what arrived is handed to the guest between
   * slices, after `input` (UART queue; pv console_io read with VIRQ_CONSOLE). Until it ends, a
   * guest halted with nothing else to wake it waits for it (virtual time stands still), and a
   * slice spent almost all idle waits up to sliceMs for it, so an idling guest does not race
   * through virtual time while no one types. Once it ends, such a guest stops 'halted'.
   */
  liveInput?: LiveInput;
}

/** Slices start small (a first slice with --trace may be slow) and adapt to about `sliceMs`. */
const FIRST_SLICE = 10_000;
const MAX_SLICE = 50_000_000;

/**
 * Run `image` the way the CLI does: in slices of virtual time, yielding to Node's event loop
 * between them so that SIGINT, a closed stdout and the host-time limit stop it promptly, with the
 * report of the run so far. Slicing never changes the result (Platform.run's `pauseAt`): the
 * same image gives exactly what runImage gives, only the host's checks happen in between.
 */
export async function runImageLive(image: GuestImage, opts: RunOptions & LiveOptions): Promise<RunResult> {
  const m = boot(image, opts);
  if (!('load' in m)) return m;
  const limit = opts.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS;
  const sliceMs = opts.sliceMs ?? 10;
  const t0 = performance.now();
  const elapsedNs = (): number => Math.round((performance.now() - t0) * 1e6);
  const live = opts.liveInput;
  /** Hand the guest what arrived (within its queue's bound); true when bytes were given. */
  const feed = (): boolean => {
    if (!live) return false;
    const bytes = live.take(Math.max(0, LIVE_INPUT_LIMIT - m.inputWaiting()));
    if (bytes.length > 0) m.feedInput(bytes);
    if (live.ended) m.setInputOpen(false);
    return bytes.length > 0;
  };
  if (live) m.setInputOpen(true);
  let slice = opts.sliceInstructions ?? FIRST_SLICE;
  for (;;) {
    const s0 = performance.now();
    feed();
    const v0 = m.virtualTime();
    const i0 = m.idleTime();
    const r = m.run(limit, v0 + slice);
    await opts.between?.();
    if (r.stop !== 'paused') return result(m, opts.mode, r as RunResult, elapsedNs());
    // Let Node's event loop run: signal handlers, stream errors (EPIPE) and timers.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (live && !live.ended && !feed()) {
      // The guest waits for input (or idled the whole slice): wait for the terminal rather than
      // spin, still stopping for SIGINT and the time limit.
      const spent = m.virtualTime() - v0;
      const idle = spent > 0 && (m.idleTime() - i0) * 10 >= spent * 9;
      if (r.waitingForInput || idle) {
        const left = opts.timeoutMs === undefined ? Infinity : opts.timeoutMs - (performance.now() - t0);
        await waitForInput(live, r.waitingForInput ? left : Math.min(left, sliceMs), opts.signal);
      }
    }
    const now = performance.now();
    if (opts.signal?.aborted) {
      return result(m, opts.mode, { stop: 'interrupted', exitCode: null, message: `interrupted after ${m.virtualTime()} instructions` }, elapsedNs());
    }
    if (opts.timeoutMs !== undefined && now - t0 >= opts.timeoutMs) {
      return result(m, opts.mode, { stop: 'timeout', exitCode: null, message: `stopped after ${formatSeconds(opts.timeoutMs)} of host time (--timeout), at ${m.virtualTime()} instructions` }, elapsedNs());
    }
    if (opts.sliceInstructions !== undefined) continue;
    const took = Math.max(now - s0, 0.01);
    slice = Math.min(MAX_SLICE, Math.max(FIRST_SLICE, Math.round(slice * Math.min(4, sliceMs / took))));
  }
}

/** Until live input arrives or ends, `ms` pass, or `signal` aborts. */
async function waitForInput(live: LiveInput, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      live.wait(),
      new Promise<void>((resolve) => {
        if (ms !== Infinity) timer = setTimeout(resolve, Math.ceil(ms));
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(3)} s`;
}
