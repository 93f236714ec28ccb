/**
 * The bare "native" platform: one CPU, physical memory and the emulated devices of
 * abi/platform.ts, with no hypervisor. It is the baseline every other mode is compared with.
 * The devices and the loop around the CPU are the Board's (board.ts), which the
 * full-virtualization monitors share; here the guest owns the real CPU, so its IF is the CPU's,
 * interrupts go straight through the CPU's vector table, and an exit cannot happen.
 */
import type { GuestImage } from '../../abi/image.ts';
import { DEFAULT_MEMORY_BYTES } from '../../abi/platform.ts';
import { Board, Outcome } from './board.ts';
import { Stop, type CpuTracer } from './cpu.ts';
import { PhysicalMemory, type GuestMemory } from './memory.ts';
import type { ConsoleSink } from '../devices/console-log.ts';

export interface MachineOptions {
  memoryBytes?: number;
  /** Disk image used in place by the block device (its writes land in this array). */
  disk?: Uint8Array;
  /**
   * Called when the guest flushes the block device (ATA FLUSH, virtio-blk FLUSH): make the disk
   * durable. Throwing fails the flush for the guest; the run goes on.
   */
  onFlush?: (disk: Uint8Array) => void;
  /** Called with each byte range the guest wrote into the disk (so the host writes back only those). */
  onDiskWrite?: (byteOffset: number, length: number) => void;
  /** The disk is read-only: the block device fails the guest's writes and leaves the disk as it is. */
  diskReadOnly?: boolean;
  /** Bytes the UART will hand the guest, one per IN. */
  input?: Uint8Array;
  /** Called with console bytes as the guest writes them (a view valid during the call). */
  onConsoleOutput?: ConsoleSink;
  tracer?: CpuTracer;
}

/** Why a run ended. */
export type StopKind = 'shutdown' | 'limit' | 'triple-fault' | 'halted' | 'crashed';

export interface MachineRun {
  /** 'paused': `pauseAt` was reached; calling `run` again goes on as if it had never stopped. */
  stop: StopKind | 'paused';
  /** The guest's 32-bit shutdown code (unsigned), or null when it did not shut down. */
  exitCode: number | null;
  /** One line explaining a stop other than shutdown. */
  message?: string;
  /**
   * With 'paused': the guest is halted with nothing but console input to wake it, and live input
   * is open (`setInputOpen`); virtual time stands still until `feedInput` or `setInputOpen(false)`.
   */
  waitingForInput?: boolean;
}

/** What a run measured, common to every mode (hypervisor/run.ts adds mode, stop and host time). */
export interface PlatformReport {
  /** The console as UTF-8 text: all of it, or its last CONSOLE_KEEP_BYTES (hypervisor/limits.ts). */
  console: string;
  /** Bytes the guest wrote to its console in all (more than `console` holds when the bound was hit). */
  consoleBytes: number;
  /** The kept console bytes exactly, in base64, only when they are not valid UTF-8. */
  consoleBase64?: string;
  /** Bounds of hypervisor/limits.ts the guest reached, by resource, each with one line saying what happened. */
  boundsHit?: Record<string, string>;
  /** Instructions retired by the guest. */
  instructions: number;
  /** Virtual time spent idle in HLT, in instructions. */
  idleInstructions: number;
  /** Exceptions, interrupts and system calls the guest took, by name. */
  events: Record<string, number>;
  disk: { sectorsRead: number; sectorsWritten: number; errors: number };
  /** pv: hypercalls made, by name ('event_channel_op' commands by their own names). */
  hypercalls?: Record<string, number>;
  /** pv: hypercalls refused, by error name (EINVAL, EPERM, ...). */
  hypercallErrors?: Record<string, number>;
  /** pv: events sent by this domain, pending edges that asked for an upcall, upcalls entered. */
  eventChannels?: { sent: number; notified: number; upcalls: number };
  /** pv: virtio devices that were used: kicks, requests, notifications sent and suppressed, ring errors. */
  devices?: Record<string, { kicks: number; requests: number; notifications: number; suppressed: number; errors: number }>;
  /** trap, hw: virtualization exits by reason (hypervisor/vmm/exits.ts); hostNs is not deterministic. */
  exits?: Record<string, { count: number; modelledCycles: number; hostNs: number }>;
}

/** A machine a mode runs guests on: load an image, run it, report. */
export interface Platform {
  load(image: GuestImage): string | null;
  /**
   * Run until the guest stops or `limit` instructions of virtual time have passed. With
   * `pauseAt`, return 'paused' at the first point at or after that virtual time where stopping
   * changes nothing the guest can observe, so a caller can run a guest in slices (to let Node's
   * event loop in) with exactly the result of one call.
   */
  run(limit: number, pauseAt?: number): MachineRun;
  /** Virtual time so far: instructions retired plus idled (pv: summed over its domains). */
  virtualTime(): number;
  /** The part of virtualTime spent idle (HLT, pv: blocked). */
  idleTime(): number;
  /** Live console input (between runs): append bytes for the guest (UART; pv: console_io read, VIRQ_CONSOLE). */
  feedInput(bytes: Uint8Array): void;
  /**
   * Whether more live input may come (default false). While open, a guest halted with nothing
   * else to wake it pauses with `waitingForInput` instead of stopping 'halted'.
   */
  setInputOpen(open: boolean): void;
  /** Console input given and not yet read by the guest, in bytes. */
  inputWaiting(): number;
  report(): PlatformReport;
}

export class NativeMachine extends Board {
  readonly mem: PhysicalMemory;

  constructor(opts: MachineOptions = {}) {
    const mem = new PhysicalMemory(opts.memoryBytes ?? DEFAULT_MEMORY_BYTES);
    super(mem, opts);
    this.mem = mem;
  }

  protected ram(): GuestMemory {
    return this.mem;
  }

  protected resetGuest(entry: number): void {
    this.cpu.reset(entry);
  }

  protected handleExit(): Outcome {
    throw new Error('native platform: the CPU reported a virtualization exit with no hypervisor');
  }

  protected injectInterrupt(vector: number): Outcome {
    return this.cpu.interrupt(vector) === Stop.TripleFault ? this.cpuTripleFault() : Outcome.Resume;
  }

}
