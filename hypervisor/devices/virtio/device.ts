/**
 * What every virtio device shares: its identity (type, name, offered features), the status
 * handshake, its queues, kicks, notifications, and what happens when a ring is malformed.
 *
 * Life cycle (virtio 1.2 §3.1.1 "Driver Requirements: Device Initialization"):
 *   reset (status 0) → ACKNOWLEDGE → DRIVER → driver features → FEATURES_OK (refused when the
 *   driver asked for bits not offered, §2.2.2) → configure queues → DRIVER_OK → kicks ...
 *   A malformed ring: DEVICE_NEEDS_RESET, every queue stops, a configuration-change notification
 *   (§2.1.2), the error counted by kind and kept as one line for traces. Only a reset (status 0)
 *   brings the device back; it forgets the configuration, features, queues and the error, and
 *   keeps the counters (they are the host's record, not device state).
 *
 * Entry points a hypercall layer calls are total: a bad argument is a SetupError value (with an
 * errno, setupErrno), a malformed ring is a RingError value handled here; nothing a guest does
 * throws. Work per call is bounded by the queues' batch budgets; a call that stops on its budget
 * leaves the queue pending (`hasPendingWork`), for `poll()`.
 */
import * as E from '../../../abi/errors.ts';
import {
  VIRTIO_F_INDIRECT_DESC_MASK,
  VIRTIO_RING_F_EVENT_IDX_MASK,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
  VIRTQ_DEFAULT_SIZE,
} from '../../../abi/ring.ts';
import {
  assertNever,
  DescriptorChain,
  formatRingError,
  RING_ERROR_KINDS,
  Virtqueue,
  type Budget,
  type QueueConfig,
  type QueueConfigError,
  type RingError,
  type RingErrorKind,
  type RingMemory,
} from './virtqueue.ts';

/** 'used': buffers came back on a queue (second argument); 'config': the configuration (here:
 *  the status, now DEVICE_NEEDS_RESET) changed. The pv layer sends an event for each. */
export type NotifyKind = 'used' | 'config';
export type Notify = (kind: NotifyKind, queue?: number) => void;

export interface VirtioDeviceOptions {
  /** Names the device in errors and traces, e.g. 'dom1.blk'. Queues are '<name>.<queue>'. */
  readonly name: string;
  /** The domain's memory, as the device may touch it. */
  readonly mem: RingMemory;
  readonly notify: Notify;
  /** Largest queue size offered, a power of two up to 32768. Default VIRTQ_DEFAULT_SIZE. */
  readonly queueMaxSize?: number;
  /** Feature bits not to offer (e.g. VIRTIO_RING_F_EVENT_IDX_MASK, to measure without it). */
  readonly withhold?: number;
  /** Per batch (one kick, one poll, one delivery): default 4·Q descriptors, 16 MiB. */
  readonly budget?: Budget;
  /** Receives the one-line message of each ring error. */
  readonly trace?: (line: string) => void;
}

/** Refusals of the set-up calls. Nothing changes when one is returned. */
export type SetupError =
  | QueueConfigError
  | { readonly kind: 'no-such-queue'; readonly device: string; readonly index: number; readonly count: number }
  | { readonly kind: 'wrong-state'; readonly device: string; readonly op: string; readonly status: number }
  | { readonly kind: 'status-bits'; readonly device: string; readonly value: number; readonly why: string }
  | { readonly kind: 'features-not-offered'; readonly device: string; readonly requested: number; readonly offered: number };

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export function formatSetupError(e: SetupError): string {
  switch (e.kind) {
    case 'queue-size':
      return `${e.queue}: queue size ${e.size} is not a power of two from 1 to ${e.max}`;
    case 'misaligned':
      return `${e.queue}: ${e.part} at ${hex(e.addr)} is not ${e.align}-byte aligned`;
    case 'ring-outside':
      return `${e.queue}: ${e.part} ${hex(e.addr)}+${e.len} is outside the domain's memory`;
    case 'no-such-queue':
      return `${e.device}: no queue ${e.index} (the device has ${e.count})`;
    case 'wrong-state':
      return `${e.device}: ${e.op} is not allowed with status ${hex(e.status)}`;
    case 'status-bits':
      return `${e.device}: status ${hex(e.value)}: ${e.why}`;
    case 'features-not-offered':
      return `${e.device}: features ${hex(e.requested)} ask for ${hex(e.requested & ~e.offered)}, which the device does not offer (${hex(e.offered)})`;
    default:
      return assertNever(e);
  }
}

/** The errno (positive, abi/errors.ts) a hypercall returns for a refusal. */
export function setupErrno(e: SetupError): number {
  return e.kind === 'ring-outside' ? E.EFAULT : E.EINVAL;
}

/** What a kick or a poll of one queue did. */
export type KickOutcome =
  | { readonly kind: 'done'; readonly used: number; readonly notified: boolean; readonly more: boolean }
  | { readonly kind: 'ignored'; readonly reason: 'not-live' | 'queue-not-ready' }
  | { readonly kind: 'failed'; readonly error: RingError }
  | { readonly kind: 'refused'; readonly error: SetupError };

export interface VirtioStats {
  /** kick() calls on an existing queue, and those that found nothing to do with (not live,
   *  queue not configured). */
  readonly kicks: number;
  readonly kicksIgnored: number;
  readonly polls: number;
  /** Chains taken from the available rings, and returned in the used rings. */
  readonly chains: number;
  readonly requests: number;
  readonly descriptors: number;
  /** Bytes the device read from the driver's buffers and wrote into them. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Used-buffer notifications sent and suppressed (by NO_INTERRUPT or used_event), and
   *  configuration-change notifications sent. */
  readonly usedNotifications: number;
  readonly suppressedNotifications: number;
  readonly configNotifications: number;
  readonly errors: Readonly<Record<RingErrorKind, number>>;
}

const STATUS_BITS =
  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED;
/** Ring features every tsvisor device offers. */
const RING_FEATURES = VIRTIO_F_INDIRECT_DESC_MASK | VIRTIO_RING_F_EVENT_IDX_MASK;
const ERROR_LOG = 16;

export abstract class VirtioDevice {
  readonly name: string;
  /** VIRTIO_ID_*. */
  readonly deviceType: number;
  readonly offeredFeatures: number;
  readonly queueNames: readonly string[];
  protected readonly mem: RingMemory;
  private readonly notify: Notify;
  private readonly trace?: (line: string) => void;
  private readonly budget?: Budget;
  private readonly queues: Virtqueue[];

  private statusBits = 0;
  private driverBits = 0;
  private error: RingError | null = null;
  private readonly pending = new Set<number>();
  private readonly log: string[] = [];
  private readonly counts = {
    kicks: 0,
    kicksIgnored: 0,
    polls: 0,
    usedNotifications: 0,
    suppressedNotifications: 0,
    configNotifications: 0,
    errors: Object.fromEntries(RING_ERROR_KINDS.map((k) => [k, 0])) as Record<RingErrorKind, number>,
  };

  protected constructor(opts: VirtioDeviceOptions, deviceType: number, queueNames: readonly string[], deviceFeatures: number) {
    this.name = opts.name;
    this.deviceType = deviceType;
    this.mem = opts.mem;
    this.notify = opts.notify;
    this.trace = opts.trace;
    this.budget = opts.budget;
    this.offeredFeatures = ((RING_FEATURES | deviceFeatures) & ~(opts.withhold ?? 0)) >>> 0;
    this.queueNames = queueNames;
    const max = opts.queueMaxSize ?? VIRTQ_DEFAULT_SIZE;
    this.queues = queueNames.map((q) => new Virtqueue(`${opts.name}.${q}`, opts.mem, max));
  }

  // --- what a backend provides

  /** Take and complete the work a kick (or a poll) of queue `index` asks for. */
  protected abstract service(index: number): RingError | null;
  /** The device-specific configuration space (abi/ring.ts *_CFG_*). */
  abstract config(): Uint8Array;
  /** After DRIVER_OK: start work that waited for it (input that arrived early). */
  protected onDriverOk(): void {}
  /** Reset: forget device-specific state. */
  protected onReset(): void {}

  // --- state

  get status(): number {
    return this.statusBits;
  }

  /** What the driver wrote; the features in force once FEATURES_OK is set. */
  get driverFeatures(): number {
    return this.driverBits;
  }

  get negotiatedFeatures(): number {
    return this.statusBits & VIRTIO_STATUS_FEATURES_OK ? this.driverBits : 0;
  }

  /** DRIVER_OK set, and neither DEVICE_NEEDS_RESET nor FAILED: the queues work. */
  get live(): boolean {
    return (this.statusBits & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)) === VIRTIO_STATUS_DRIVER_OK;
  }

  /** The ring error that stopped the device, until a reset. */
  get ringError(): RingError | null {
    return this.error;
  }

  /** The last ring errors, one line each (at most 16 kept). */
  get errorLines(): readonly string[] {
    return this.log;
  }

  get queueCount(): number {
    return this.queues.length;
  }

  /** A queue, for inspection (tests, traces). Throws on a bad index: callers check first. */
  queue(index: number): Virtqueue {
    const q = this.queues[index];
    if (!q) throw new RangeError(`${this.name}: no queue ${index}`);
    return q;
  }

  queueMaxSize(index: number): number | SetupError {
    return this.queues[index]?.maxSize ?? this.noSuchQueue(index);
  }

  /** Queues with work left by a call that spent its budget. */
  get hasPendingWork(): boolean {
    return this.pending.size > 0;
  }

  get stats(): VirtioStats {
    const sum = (k: keyof Virtqueue['counters']): number => this.queues.reduce((s, q) => s + q.counters[k], 0);
    return {
      kicks: this.counts.kicks,
      kicksIgnored: this.counts.kicksIgnored,
      polls: this.counts.polls,
      chains: sum('chains'),
      requests: sum('used'),
      descriptors: sum('descriptors'),
      bytesRead: sum('bytesRead'),
      bytesWritten: sum('bytesWritten'),
      usedNotifications: this.counts.usedNotifications,
      suppressedNotifications: this.counts.suppressedNotifications,
      configNotifications: this.counts.configNotifications,
      errors: { ...this.counts.errors },
    };
  }

  // --- the handshake

  /** The driver's feature bits (u32): only between DRIVER and FEATURES_OK. Checked at FEATURES_OK. */
  setDriverFeatures(bits: number): SetupError | null {
    const s = this.statusBits;
    if (!(s & VIRTIO_STATUS_DRIVER) || s & VIRTIO_STATUS_FEATURES_OK) return { kind: 'wrong-state', device: this.name, op: 'setting driver features', status: s };
    if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) return { kind: 'features-not-offered', device: this.name, requested: bits >>> 0, offered: this.offeredFeatures };
    this.driverBits = bits;
    return null;
  }

  /**
   * The driver writes the status (§2.1, §3.1.1). 0 resets. Otherwise bits are only added, in
   * order (DRIVER needs ACKNOWLEDGE, FEATURES_OK needs DRIVER, DRIVER_OK needs FEATURES_OK;
   * FAILED at any time); DEVICE_NEEDS_RESET is the device's, and the driver's value for it is
   * ignored. FEATURES_OK with bits not offered is not set (the rest of the write is), and the
   * refusal is returned: the driver sees it by reading the status back, as the spec has it.
   */
  setStatus(value: number): SetupError | null {
    const refuse = (why: string): SetupError => ({ kind: 'status-bits', device: this.name, value, why });
    if (!Number.isInteger(value) || value < 0 || value > 0xff || value & ~STATUS_BITS) return refuse('unknown bits');
    if (value === 0) {
      this.reset();
      return null;
    }
    const want = value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    const cur = this.statusBits & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (cur & ~want) return refuse(`clears ${hex(cur & ~want)}: only a reset clears status bits`);
    if (want & VIRTIO_STATUS_DRIVER && !(want & VIRTIO_STATUS_ACKNOWLEDGE)) return refuse('DRIVER before ACKNOWLEDGE');
    if (want & VIRTIO_STATUS_FEATURES_OK && !(want & VIRTIO_STATUS_DRIVER)) return refuse('FEATURES_OK before DRIVER');
    if (want & VIRTIO_STATUS_DRIVER_OK && !(want & VIRTIO_STATUS_FEATURES_OK)) return refuse('DRIVER_OK before FEATURES_OK');
    const added = want & ~cur;
    if (added & VIRTIO_STATUS_FEATURES_OK && this.driverBits & ~this.offeredFeatures) {
      this.statusBits |= added & ~(VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
      return { kind: 'features-not-offered', device: this.name, requested: this.driverBits, offered: this.offeredFeatures };
    }
    this.statusBits |= added;
    if (added & VIRTIO_STATUS_DRIVER_OK && this.live) {
      for (const q of this.queues) {
        const e = q.ready ? q.activate() : null;
        if (e) {
          this.fail(e);
          return null;
        }
      }
      this.onDriverOk();
    }
    return null;
  }

  /** Set up queue `index` (between FEATURES_OK and DRIVER_OK, §3.1.1 step 7). */
  configureQueue(index: number, cfg: QueueConfig): SetupError | null {
    const q = this.queues[index];
    if (!q) return this.noSuchQueue(index);
    const s = this.statusBits;
    if (!(s & VIRTIO_STATUS_FEATURES_OK) || s & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
      return { kind: 'wrong-state', device: this.name, op: `configuring queue ${index}`, status: s };
    }
    return q.configure(cfg, this.negotiatedFeatures, this.budget);
  }

  /** Back to status 0: configuration, features, queues, held chains and the error forgotten. */
  reset(): void {
    this.statusBits = 0;
    this.driverBits = 0;
    this.error = null;
    this.pending.clear();
    for (const q of this.queues) q.reset();
    this.onReset();
  }

  // --- work

  /** The driver notified queue `index` (the kick hypercall). */
  kick(index: number): KickOutcome {
    if (!this.queues[index]) return { kind: 'refused', error: this.noSuchQueue(index) };
    this.counts.kicks++;
    const r = this.run(index);
    if (r.kind === 'ignored') this.counts.kicksIgnored++;
    return r;
  }

  /** Continue work that a call left for later (its budget ran out). True: still more to do. */
  poll(): boolean {
    if (this.pending.size === 0) return false;
    this.counts.polls++;
    for (const i of [...this.pending].sort((a, b) => a - b)) this.run(i);
    return this.pending.size > 0;
  }

  /**
   * Service queue `index` within one batch budget, then (if `signal`) decide the used-buffer
   * notification. Every path into a queue goes through here.
   */
  protected run(index: number, signal = true): KickOutcome {
    const q = this.queues[index]!;
    if (!this.live) return { kind: 'ignored', reason: 'not-live' };
    if (!q.ready) return { kind: 'ignored', reason: 'queue-not-ready' };
    const before = q.counters.used;
    q.beginBatch();
    const err = this.service(index);
    if (err) this.fail(err);
    if (this.error) return { kind: 'failed', error: this.error };
    if (q.starved) this.pending.add(index);
    else this.pending.delete(index);
    const notified = signal && this.signalUsed(index);
    if (this.error) return { kind: 'failed', error: this.error };
    return { kind: 'done', used: q.counters.used - before, notified, more: q.starved };
  }

  /**
   * The loop of a queue the driver fills with requests: kicks off while working, each chain
   * to `handle` (which returns the bytes it wrote, or what was wrong), returned in the used
   * ring; kicks back on, and one more look (§2.7.10). Stops, still polling, when the batch
   * budget is spent.
   */
  protected drain(index: number, handle: (chain: DescriptorChain) => number | RingError): RingError | null {
    const q = this.queues[index]!;
    let e = q.suppressKicks();
    if (e) return e;
    for (;;) {
      for (;;) {
        const c = q.pop();
        if (c === null) break;
        if (!(c instanceof DescriptorChain)) return c;
        const r = handle(c);
        if (typeof r !== 'number') return r;
        if (this.error) return null; // the handler's side effects stopped this device (net loopback)
        e = q.push(c, r);
        if (e) return e;
      }
      if (q.starved) return null;
      const more = q.allowKicks();
      if (typeof more !== 'boolean') return more;
      if (!more) return null;
      e = q.suppressKicks();
      if (e) return e;
    }
  }

  /** Decide and send the used-buffer notification of queue `index`. True when sent. */
  protected signalUsed(index: number): boolean {
    if (!this.live) return false;
    const d = this.queues[index]!.interruptDecision();
    if (typeof d !== 'string') {
      this.fail(d);
      return false;
    }
    if (d === 'suppress') this.counts.suppressedNotifications++;
    if (d !== 'notify') return false;
    this.counts.usedNotifications++;
    this.notify('used', index);
    return true;
  }

  /** A malformed ring: DEVICE_NEEDS_RESET, stop, count, keep the line, tell the driver. */
  protected fail(err: RingError): void {
    if (this.error) return;
    this.error = err;
    this.statusBits |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    this.counts.errors[err.kind]++;
    const line = formatRingError(err);
    this.log.push(line);
    if (this.log.length > ERROR_LOG) this.log.shift();
    this.trace?.(line);
    this.pending.clear();
    if (this.statusBits & VIRTIO_STATUS_DRIVER_OK) {
      this.counts.configNotifications++;
      this.notify('config');
    }
  }

  private noSuchQueue(index: number): SetupError {
    return { kind: 'no-such-queue', device: this.name, index, count: this.queues.length };
  }
}
