/**
 * `--mode pv` for one image: a PvHost with a single domain, seen through the Platform interface
 * every mode implements, so `tsvisor run` reports pv runs in the same shape as the others plus
 * the hypercall and event-channel counters.
 */
import type { GuestImage } from '../../abi/image.ts';
import type { MachineRun, Platform, PlatformReport } from '../machine/native.ts';
import type { Domain } from './domain.ts';
import { errorName } from '../../abi/errors.ts';
import { CALL_NAMES } from './dispatch.ts';
import { PvHost } from './pv-host.ts';
import { MAX_MEMORY_MIB } from '../limits.ts';
import { consoleReport, type ConsoleSink } from '../devices/console-log.ts';
import { VirtioBlock } from '../devices/virtio/block.ts';
import { VIRTIO_BLOCK_DEV, virtioReport } from './virtio.ts';
import { VIRQ_CONSOLE } from '../../abi/hypercall-numbers.ts';

export interface PvPlatformOptions {
  memoryBytes?: number;
  onConsoleOutput?: ConsoleSink;
  /** Console input (`--input`): the guest reads it with console_io read, VIRQ_CONSOLE says it is there. */
  input?: Uint8Array;
  trace?: (line: string) => void;
  cmdline?: string;
  /** The block device's disk, used in place (after the run it holds what the guest wrote). */
  disk?: Uint8Array;
  /** Called on a virtio-blk FLUSH: make the disk durable. */
  onFlush?: (disk: Uint8Array) => void;
  /** Called with each byte range the guest wrote into the disk. */
  onDiskWrite?: (byteOffset: number, length: number) => void;
  /** The disk is read-only: the guest's writes fail. */
  diskReadOnly?: boolean;
  /** Offer EVENT_IDX on the virtio devices (default true). */
  eventIdx?: boolean;
}

/** Default memory of a pv domain: 4 MiB, as small guests need little and tests boot many. */
export const PV_DEFAULT_MEMORY = 4 * 1024 * 1024;

export class PvPlatform implements Platform {
  readonly host: PvHost;
  private dom?: Domain;
  private inputOpen = false;

  constructor(private readonly opts: PvPlatformOptions) {
    // Room for the balloon (quota: twice the start size, but never past the memory every mode may
    // have) and frame 0, which the hypervisor keeps.
    this.host = new PvHost({ machineBytes: this.quota() + 64 * 1024, ...(opts.trace ? { trace: opts.trace } : {}) });
  }

  private quota(): number {
    const mem = this.opts.memoryBytes ?? PV_DEFAULT_MEMORY;
    return Math.max(mem, Math.min(2 * mem, MAX_MEMORY_MIB * 1024 * 1024));
  }

  load(image: GuestImage): string | null {
    const d = this.host.createDomain(image, {
      memoryBytes: this.opts.memoryBytes ?? PV_DEFAULT_MEMORY,
      maxBytes: this.quota(),
      ...(this.opts.cmdline ? { cmdline: this.opts.cmdline } : {}),
      ...(this.opts.onConsoleOutput ? { onConsoleOutput: this.opts.onConsoleOutput } : {}),
      ...(this.opts.input ? { consoleInput: this.opts.input } : {}),
      virtio: { ...(this.opts.disk ? { disk: this.opts.disk } : {}), ...(this.opts.onFlush ? { onFlush: this.opts.onFlush } : {}), ...(this.opts.onDiskWrite ? { onDiskWrite: this.opts.onDiskWrite } : {}), ...(this.opts.diskReadOnly ? { diskReadOnly: true } : {}), ...(this.opts.eventIdx === false ? { eventIdx: false } : {}) },
    });
    if (typeof d === 'string') return d;
    this.dom = d;
    return null;
  }

  run(limit: number, pauseAt?: number): MachineRun {
    const r = this.host.run(limit, pauseAt);
    if (r.stop === 'paused') return { stop: 'paused', exitCode: null };
    const d = this.dom!;
    // Blocked with no event and no timer, but the terminal may still type: wait for it. The host's
    // loop keeps no state across this stop, so running again goes on from the same point.
    if (r.stop === 'halted' && this.inputOpen && d.live && d.evtchn.virqPort[VIRQ_CONSOLE] !== 0) return { stop: 'paused', exitCode: null, waitingForInput: true };
    if (d.state === 'crashed') return { stop: 'crashed', exitCode: null, message: d.crashMessage! };
    if (r.stop === 'shutdown') return { stop: 'shutdown', exitCode: d.exitCode };
    return { stop: r.stop, exitCode: null, message: `${r.message} at pc 0x${(d.cpu.pc >>> 0).toString(16)}` };
  }

  virtualTime(): number {
    return this.host.virtualTime();
  }

  idleTime(): number {
    return this.dom?.cpu.idle ?? 0;
  }

  /**
   * Live console input: appended to what console_io read hands the domain, and VIRQ_CONSOLE
   * raised on its port, as for input given up front (boot.ts), waking the domain if it blocked.
   */
  feedInput(bytes: Uint8Array): void {
    const d = this.dom;
    if (!d || bytes.length === 0) return;
    const rest = d.consoleInput.subarray(d.consoleInputPos);
    const next = new Uint8Array(rest.length + bytes.length);
    next.set(rest, 0);
    next.set(bytes, rest.length);
    d.consoleInput = next;
    d.consoleInputPos = 0;
    const port = d.evtchn.virqPort[VIRQ_CONSOLE]!;
    if (port !== 0) this.host.raiseEvent(d, port);
  }

  setInputOpen(open: boolean): void {
    this.inputOpen = open;
  }

  inputWaiting(): number {
    const d = this.dom;
    return d ? d.consoleInput.length - d.consoleInputPos : 0;
  }

  report(): PlatformReport {
    return domainReport(this.dom!);
  }
}

export function domainReport(d: Domain): PlatformReport {
  const con = consoleReport(d.console);
  const boundsHit = { ...con.boundsHit, ...(d.unknownCalls.full ? { unknownHypercalls: `counted ${d.unknownCalls.capacity} distinct unknown hypercalls by name, ${d.unknownCalls.other} more under 'other-unknown' (UNKNOWN_CALL_KEYS)` } : {}) };
  return {
    ...con,
    ...(Object.keys(boundsHit).length > 0 ? { boundsHit } : {}),
    instructions: d.cpu.icount - d.cpu.idle,
    idleInstructions: d.cpu.idle,
    events: PvHost.counts(d.bounces),
    disk: blockDisk(d),
    hypercalls: hypercallCounts(d),
    hypercallErrors: errorCounts(d),
    eventChannels: { sent: d.evtchn.sent, notified: d.evtchn.notified, upcalls: d.upcalls },
    devices: virtioReport(d),
  };
}

function blockDisk(d: Domain): PlatformReport['disk'] {
  const blk = d.virtio[VIRTIO_BLOCK_DEV];
  if (!(blk instanceof VirtioBlock)) return { sectorsRead: 0, sectorsWritten: 0, errors: 0 };
  const s = blk.blockStats;
  return { sectorsRead: s.sectorsRead, sectorsWritten: s.sectorsWritten, errors: s.ioErrors };
}

/** Hypercalls made, by name, only those made. */
export function hypercallCounts(d: Domain): Record<string, number> {
  const out = new Map(d.unknownCalls.entries());
  d.hcCounts.forEach((n, i) => {
    if (n > 0) out.set(CALL_NAMES[i]!, n);
  });
  return PvHost.counts(out);
}

/** Refused hypercalls, by error name. */
export function errorCounts(d: Domain): Record<string, number> {
  const out = new Map<string, number>();
  d.errCounts.forEach((n, e) => {
    if (n > 0) out.set(errorName(-e), n);
  });
  return PvHost.counts(out);
}
