/**
 * One split virtqueue, device side (virtio 1.2 §2.7): take chains the driver made available,
 * walk them into lists of readable and writable buffers, let a backend read and write those
 * buffers, return them in the used ring, and decide notifications in both directions.
 *
 * Everything the driver wrote is hostile, as in rust-vmm's virtio-queue: each descriptor is read
 * once into a local copy (no double fetch), every index is checked against the queue size, the
 * 16-bit ring indices wrap on purpose, an available index more than Q ahead is refused, a chain
 * is bounded (at most Q descriptors, no descriptor twice, none already held by the device), byte
 * totals are bounded before anything is added, and every buffer must lie in the domain's memory
 * (RingMemory.check) before the chain is handed out. A malformed input is a RingError value,
 * never an exception; exceptions are for host bugs (a backend pushing a chain twice).
 *
 * Work is bounded: walking one chain visits at most 2·Q descriptors (Q in the table, Q in one
 * indirect table) with one memory access each (and one check of the indirect table); each
 * batch (beginBatch) hands out chains only until its descriptor and byte budgets are spent, and
 * then reports `starved`, so the caller polls later instead of looping. No input makes a call
 * loop longer than O(Q).
 *
 * Walks allocate nothing in steady state (they run per request): descriptors are decoded from
 * a scratch array, and chains are recycled objects over typed arrays (see DescriptorChain).
 */
import {
  VIRTIO_F_INDIRECT_DESC_MASK,
  VIRTIO_RING_F_EVENT_IDX_MASK,
  VIRTQ_MAX_CHAIN_BYTES,
  VIRTQ_MAX_QUEUE_SIZE,
  VRING_AVAIL_ALIGN,
  VRING_AVAIL_ELEM_BYTES,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_AVAIL_FLAGS,
  VRING_AVAIL_IDX,
  VRING_AVAIL_OVERHEAD,
  VRING_AVAIL_RING,
  VRING_DESC_ADDR_HI,
  VRING_DESC_ADDR_LO,
  VRING_DESC_ALIGN,
  VRING_DESC_BYTES,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_DESC_FLAGS,
  VRING_DESC_LEN,
  VRING_DESC_NEXT,
  VRING_USED_ALIGN,
  VRING_USED_ELEM_BYTES,
  VRING_USED_ELEM_ID,
  VRING_USED_ELEM_LEN,
  VRING_USED_F_NO_NOTIFY,
  VRING_USED_FLAGS,
  VRING_USED_IDX,
  VRING_USED_OVERHEAD,
  VRING_USED_RING,
  vringAvailEventOffset,
  vringUsedEventOffset,
} from '../../../abi/ring.ts';
import { maddr, type MachineAddr } from '../../machine/addr.ts';

// ---------------------------------------------------------------------------------------------
// Memory

/**
 * The domain's memory as a device sees it: checked reads and writes by machine address, each
 * failing with a value (null or false), never an exception, when any byte of the range is not
 * the domain's (or, for a write, not writable by the device: a pinned page table is not).
 * Accesses need no alignment. The pv layer implements it over the frame table; tests use
 * PhysicalRingMemory (ring-memory.ts) on a plain PhysicalMemory.
 */
export interface RingMemory {
  /** True when every byte of [addr, addr+len) may be read (and written, if `write`) by the device. */
  check(addr: MachineAddr, len: number, write: boolean): boolean;
  readU16(addr: MachineAddr): number | null;
  readU32(addr: MachineAddr): number | null;
  writeU16(addr: MachineAddr, value: number): boolean;
  writeU32(addr: MachineAddr, value: number): boolean;
  /**
   * Copy [addr, addr+len) into dst[at, at+len); false (dst untouched) when the range is not
   * allowed. The caller keeps dst in bounds. Into a caller's buffer rather than a new array,
   * because ring walks and backends call it per descriptor and per buffer (hot paths).
   */
  readInto(addr: MachineAddr, dst: Uint8Array, at: number, len: number): boolean;
  /** Copy src[at, at+len) to addr; false (and nothing written) when the range is not allowed. */
  writeFrom(addr: MachineAddr, src: Uint8Array, at: number, len: number): boolean;
  /** Set [addr, addr+len) to `value` (a byte); false (nothing written) when not allowed. */
  fill(addr: MachineAddr, len: number, value: number): boolean;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** What makes a ring malformed. Each puts the device in DEVICE_NEEDS_RESET. */
export const RING_ERROR_KINDS = [
  'avail-ahead',
  'ring-access',
  'descriptor-index',
  'descriptor-loop',
  'descriptor-in-use',
  'chain-too-long',
  'address-outside',
  'length-overflow',
  'write-only-buffer',
  'read-only-buffer',
  'readable-after-writable',
  'nested-indirect',
  'indirect-length',
  'indirect-not-negotiated',
  'indirect-with-next',
] as const;
export type RingErrorKind = (typeof RING_ERROR_KINDS)[number];

/** Where: the queue ('dom1.blk.requestq'), the descriptor (null for the rings themselves), and
 *  the entry of its indirect table when the fault is inside one. */
interface At {
  readonly queue: string;
  readonly desc: number | null;
  readonly indirect?: number;
}

export type RingError = At &
  (
    | { readonly kind: 'avail-ahead'; readonly availIdx: number; readonly lastAvail: number; readonly size: number }
    | { readonly kind: 'ring-access'; readonly part: 'descriptor table' | 'available ring' | 'used ring'; readonly addr: number }
    | { readonly kind: 'descriptor-index'; readonly field: 'head' | 'next'; readonly index: number; readonly limit: number }
    | { readonly kind: 'descriptor-loop'; readonly index: number }
    | { readonly kind: 'descriptor-in-use'; readonly index: number }
    | { readonly kind: 'chain-too-long'; readonly limit: number }
    | { readonly kind: 'address-outside'; readonly addrLo: number; readonly addrHi: number; readonly len: number; readonly write: boolean }
    | { readonly kind: 'length-overflow'; readonly total: number; readonly limit: number }
    | { readonly kind: 'write-only-buffer'; readonly need: string }
    | { readonly kind: 'read-only-buffer'; readonly need: string }
    | { readonly kind: 'readable-after-writable' }
    | { readonly kind: 'nested-indirect' }
    | { readonly kind: 'indirect-length'; readonly len: number; readonly size: number }
    | { readonly kind: 'indirect-not-negotiated' }
    | { readonly kind: 'indirect-with-next' }
  );

export function assertNever(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** One line: the queue, the descriptor, and what was wrong. */
export function formatRingError(e: RingError): string {
  const at = e.desc === null ? 'ring' : e.indirect === undefined ? `descriptor ${e.desc}` : `descriptor ${e.desc} indirect entry ${e.indirect}`;
  return `${e.queue}: ${at}: ${ringErrorText(e)}`;
}

function ringErrorText(e: RingError): string {
  switch (e.kind) {
    case 'avail-ahead':
      return `available idx ${e.availIdx} is ${(e.availIdx - e.lastAvail) & 0xffff} ahead of the device's ${e.lastAvail}, more than the queue size ${e.size}`;
    case 'ring-access':
      return `the ${e.part} at ${hex(e.addr)} is no longer the domain's memory`;
    case 'descriptor-index':
      return e.field === 'head'
        ? `head index ${e.index} from the available ring is not below the queue size ${e.limit}`
        : `next index ${e.index} is not below ${e.limit}, the size of its table`;
    case 'descriptor-loop':
      return `next index ${e.index} goes back to a descriptor of the same chain: a loop`;
    case 'descriptor-in-use':
      return `${e.desc === e.index && e.indirect === undefined ? 'it' : `next index ${e.index}`} belongs to a chain the device has not returned yet`;
    case 'chain-too-long':
      return `the chain is longer than ${e.limit} descriptors, the queue size`;
    case 'address-outside':
      return `buffer ${e.addrHi ? `${hex(e.addrHi)}:${hex(e.addrLo)}` : hex(e.addrLo)}+${e.len} is outside the domain's memory${e.write ? ' (or not writable)' : ''}`;
    case 'length-overflow':
      return `the chain's buffers add up to ${e.total} bytes, more than the limit of ${e.limit}`;
    case 'write-only-buffer':
      return `device-writable buffer where the device must read ${e.need}`;
    case 'read-only-buffer':
      return `device-readable (read-only) buffer where the device must write ${e.need}`;
    case 'readable-after-writable':
      return 'a device-readable buffer after a device-writable one';
    case 'nested-indirect':
      return 'an indirect descriptor inside an indirect table';
    case 'indirect-length':
      return `indirect table of ${e.len} bytes: not a non-zero multiple of ${VRING_DESC_BYTES} of at most ${e.size} descriptors`;
    case 'indirect-not-negotiated':
      return 'an indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated';
    case 'indirect-with-next':
      return 'an indirect descriptor with NEXT set';
    default:
      return assertNever(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** The driver's choice for one queue (abi/ring.ts VIRTQ_CFG_*). */
export interface QueueConfig {
  readonly size: number;
  readonly desc: MachineAddr;
  readonly avail: MachineAddr;
  readonly used: MachineAddr;
}

/** Why a queue configuration was refused (nothing changes). */
export type QueueConfigError =
  | { readonly kind: 'queue-size'; readonly queue: string; readonly size: number; readonly max: number }
  | { readonly kind: 'misaligned'; readonly queue: string; readonly part: string; readonly addr: number; readonly align: number }
  | { readonly kind: 'ring-outside'; readonly queue: string; readonly part: string; readonly addr: number; readonly len: number };

/** Bytes of each ring part for queue size q (§2.7). */
export const descTableBytes = (q: number): number => VRING_DESC_BYTES * q;
export const availRingBytes = (q: number): number => VRING_AVAIL_OVERHEAD + VRING_AVAIL_ELEM_BYTES * q;
export const usedRingBytes = (q: number): number => VRING_USED_OVERHEAD + VRING_USED_ELEM_BYTES * q;

/** How much one batch may walk before it stops and leaves the rest for a later poll. */
export interface Budget {
  readonly descriptors: number;
  readonly bytes: number;
}
/** Default batch budget for a queue of size q: 4·q descriptors (at least 64), 16 MiB. */
export const defaultBudget = (q: number): Budget => ({ descriptors: Math.max(4 * q, 64), bytes: 16 * 1024 * 1024 });

/** The state a snapshot keeps (Firecracker's named fields): the device's two ring cursors. */
export interface QueueIndices {
  /** Next available-ring index the device will read. */
  readonly lastAvail: number;
  /** Next used-ring index the device will write. */
  readonly nextUsed: number;
}

// ---------------------------------------------------------------------------------------------
// Chains

/** One buffer of a chain: where, how long, and which descriptor described it. A snapshot for
 *  tests and traces (DescriptorChain.buffer); the hot path reads the chain's accessors. */
export interface ChainBuffer {
  readonly addr: MachineAddr;
  readonly len: number;
  readonly desc: number;
  /** Entry in the indirect table of `desc`, or undefined for a direct descriptor. */
  readonly indirect?: number;
}

/** Words per buffer in DescriptorChain's table: addr, len, desc, indirect entry + 1 (0: direct). */
const BUF_STRIDE = 4;
const BUF_ADDR = 0;
const BUF_LEN = 1;
const BUF_DESC = 2;
const BUF_INDIRECT = 3;
/** DescriptorChain.transfer's operations. */
const XFER_READ = 0;
const XFER_WRITE = 1;
const XFER_FILL = 2;
const EMPTY = new Uint8Array(0);
/** Buffers (and descriptors) a new chain object has room for before it first grows. */
const CHAIN_INITIAL_CAPACITY = 8;

/**
 * A chain the device took from the available ring. Its readable buffers form one byte stream,
 * its writable ones another: backends read and write by offset in those streams and make no
 * assumption about how the driver split them into descriptors (§2.7.4.1).
 *
 * The queue owns the object and recycles it: ring walks are a hot path, and a chain object, its
 * buffer list and its descriptor list per request would be garbage the collector pays for on
 * every kick. So the buffers live in flat typed arrays that grow (to at most Q entries, the
 * chain's time-to-live) only when a chain is longer than any this object held before, and a
 * chain is valid from pop() until push() or unpop() returns it: a backend must not keep it.
 * Buffers are numbered readable first (0 … readableCount−1), then writable, since a readable
 * buffer after a writable one is refused (§2.7.4.2).
 */
export class DescriptorChain {
  /** False once the chain went back to the driver (push) or to the ring (unpop). */
  held = false;
  private headIndex = 0;
  private nReadable = 0;
  private nWritable = 0;
  private bytesReadable = 0;
  private bytesWritable = 0;
  private nDescriptors = 0;
  private bufs = new Uint32Array(BUF_STRIDE * CHAIN_INITIAL_CAPACITY);
  private descs = new Uint16Array(CHAIN_INITIAL_CAPACITY);

  /** @internal only a Virtqueue makes chains. */
  constructor(private readonly q: Virtqueue) {}

  get head(): number {
    return this.headIndex;
  }
  get readableCount(): number {
    return this.nReadable;
  }
  get writableCount(): number {
    return this.nWritable;
  }
  get bufferCount(): number {
    return this.nReadable + this.nWritable;
  }
  get readableBytes(): number {
    return this.bytesReadable;
  }
  get writableBytes(): number {
    return this.bytesWritable;
  }
  /** Direct descriptors the device holds while it has the chain. */
  get descriptorCount(): number {
    return this.nDescriptors;
  }
  descriptor(k: number): number {
    return this.descs[k]!;
  }

  /** The queue's name, for errors. */
  get queue(): string {
    return this.q.name;
  }

  bufferAddr(i: number): MachineAddr {
    return this.bufs[BUF_STRIDE * i + BUF_ADDR]! as MachineAddr;
  }
  bufferLen(i: number): number {
    return this.bufs[BUF_STRIDE * i + BUF_LEN]!;
  }
  bufferDesc(i: number): number {
    return this.bufs[BUF_STRIDE * i + BUF_DESC]!;
  }
  /** The entry of the indirect table of bufferDesc(i), or −1 for a direct descriptor. */
  bufferIndirect(i: number): number {
    return this.bufs[BUF_STRIDE * i + BUF_INDIRECT]! - 1;
  }

  /** Buffer i as an object (allocates: for tests and traces, not for backends' hot paths). */
  buffer(i: number): ChainBuffer {
    if (!Number.isInteger(i) || i < 0 || i >= this.bufferCount) throw new RangeError(`${this.q.name}: no buffer ${i} in a chain of ${this.bufferCount}`);
    const ind = this.bufferIndirect(i);
    const b = { addr: this.bufferAddr(i), len: this.bufferLen(i), desc: this.bufferDesc(i) };
    return ind < 0 ? b : { ...b, indirect: ind };
  }

  /** The index of the buffer holding byte `offset` of the readable (or writable) stream, or −1. */
  bufferAt(stream: 'readable' | 'writable', offset: number): number {
    let i = stream === 'readable' ? 0 : this.nReadable;
    const end = stream === 'readable' ? this.nReadable : this.nReadable + this.nWritable;
    let o = offset;
    for (; i < end; i++) {
      const len = this.bufs[BUF_STRIDE * i + BUF_LEN]!;
      if (o < len) return i;
      o -= len;
    }
    return -1;
  }

  /**
   * A framing error of this chain: a device-writable buffer where the device must read
   * ('write-only-buffer', naming the first writable buffer unless told which) or a read-only one
   * where it must write ('read-only-buffer', naming the first readable one). Without such a
   * buffer, the head is named.
   */
  misframed(kind: 'write-only-buffer' | 'read-only-buffer', need: string, buffer = -1): RingError {
    let b = buffer;
    if (b < 0) {
      if (kind === 'write-only-buffer') b = this.nWritable > 0 ? this.nReadable : -1;
      else b = this.nReadable > 0 ? 0 : -1;
    }
    if (b < 0) return { queue: this.q.name, desc: this.headIndex, kind, need };
    const ind = this.bufferIndirect(b);
    if (ind < 0) return { queue: this.q.name, desc: this.bufferDesc(b), kind, need };
    return { queue: this.q.name, desc: this.bufferDesc(b), indirect: ind, kind, need };
  }

  /**
   * Copy `len` bytes from `offset` of the readable stream into dst[at, at+len). Both ranges must
   * be in bounds (host bug otherwise). Allocates nothing (RingMemory.readInto).
   */
  readInto(offset: number, dst: Uint8Array, at: number, len: number): RingError | null {
    if (!(offset >= 0 && len >= 0 && offset + len <= this.bytesReadable && at >= 0 && at + len <= dst.length)) {
      throw new RangeError(`${this.q.name}: read of ${offset}+${len} into ${at} of ${dst.length} bytes, past the chain's ${this.bytesReadable} readable bytes or the destination`);
    }
    const e = this.transfer(XFER_READ, offset, len, dst, at, 0);
    if (e === null) this.q.counters.bytesRead += len;
    return e;
  }

  /** `len` bytes from `offset` of the readable stream, in a new array (tests, cold paths). */
  read(offset: number, len: number): Uint8Array | RingError {
    const out = new Uint8Array(Math.max(0, len));
    return this.readInto(offset, out, 0, len) ?? out;
  }

  /**
   * Copy src[at, at+len) (default: all of src) to `offset` of the writable stream. Both ranges
   * must be in bounds (host bug otherwise).
   */
  write(offset: number, src: Uint8Array, at = 0, len = src.length - at): RingError | null {
    if (!(offset >= 0 && len >= 0 && offset + len <= this.bytesWritable && at >= 0 && at + len <= src.length)) {
      throw new RangeError(`${this.q.name}: write of ${at}+${len} of ${src.length} bytes at ${offset}, past the source or the chain's ${this.bytesWritable} writable bytes`);
    }
    const e = this.transfer(XFER_WRITE, offset, len, src, at, 0);
    if (e === null) this.q.counters.bytesWritten += len;
    return e;
  }

  /** Set `len` bytes from `offset` of the writable stream to `value` (padding, a status byte). */
  fill(offset: number, len: number, value: number): RingError | null {
    if (!(offset >= 0 && len >= 0 && offset + len <= this.bytesWritable)) {
      throw new RangeError(`${this.q.name}: fill of ${offset}+${len} past the chain's ${this.bytesWritable} writable bytes`);
    }
    const e = this.transfer(XFER_FILL, offset, len, EMPTY, 0, value);
    if (e === null) this.q.counters.bytesWritten += len;
    return e;
  }

  /**
   * The one walk over a stream's buffers behind readInto, write and fill: skip to `offset`, then
   * move `len` bytes buffer by buffer (`bytes[at…]` for read and write, `value` for fill). The
   * first buffer the domain's memory refuses is the chain's error. One op code rather than a
   * callback, so the walk allocates nothing and stays monomorphic.
   */
  private transfer(op: number, offset: number, len: number, bytes: Uint8Array, at: number, value: number): RingError | null {
    const mem = this.q.mem;
    const bufs = this.bufs;
    let skip = offset;
    let o = 0;
    for (let i = op === XFER_READ ? 0 : this.nReadable; o < len; i++) {
      const blen = bufs[BUF_STRIDE * i + BUF_LEN]!;
      if (skip >= blen) {
        skip -= blen;
        continue;
      }
      const n = Math.min(blen - skip, len - o);
      const addr = maddr(bufs[BUF_STRIDE * i + BUF_ADDR]! + skip);
      const ok =
        op === XFER_READ ? mem.readInto(addr, bytes, at + o, n) : op === XFER_WRITE ? mem.writeFrom(addr, bytes, at + o, n) : mem.fill(addr, n, value);
      if (!ok) return this.q.outside(this, i, op !== XFER_READ);
      o += n;
      skip = 0;
    }
    return null;
  }

  // --- filled by Virtqueue.walk

  /** @internal start the walk of the chain at `head`. */
  begin(head: number): void {
    this.headIndex = head;
    this.nReadable = this.nWritable = this.bytesReadable = this.bytesWritable = this.nDescriptors = 0;
  }

  /** @internal a direct descriptor the walk marked as held. */
  addDescriptor(d: number): void {
    if (this.nDescriptors === this.descs.length) {
      const grown = new Uint16Array(2 * this.descs.length);
      grown.set(this.descs);
      this.descs = grown;
    }
    this.descs[this.nDescriptors++] = d;
  }

  /** @internal a buffer (len > 0, checked); writable ones come after every readable one. */
  addBuffer(addr: number, len: number, desc: number, indirect: number, write: boolean): void {
    const n = this.nReadable + this.nWritable;
    if (BUF_STRIDE * n === this.bufs.length) {
      const grown = new Uint32Array(2 * this.bufs.length);
      grown.set(this.bufs);
      this.bufs = grown;
    }
    const o = BUF_STRIDE * n;
    this.bufs[o + BUF_ADDR] = addr;
    this.bufs[o + BUF_LEN] = len;
    this.bufs[o + BUF_DESC] = desc;
    this.bufs[o + BUF_INDIRECT] = indirect + 1;
    if (write) {
      this.nWritable++;
      this.bytesWritable += len;
    } else {
      this.nReadable++;
      this.bytesReadable += len;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The queue

const u16 = (n: number): number => n & 0xffff;
const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** The result of the used-buffer notification decision (§2.7.7.2). */
export type InterruptDecision = 'none' | 'notify' | 'suppress';

export class Virtqueue {
  /** Largest size the driver may choose. */
  readonly maxSize: number;
  size = 0;
  desc = maddr(0);
  avail = maddr(0);
  used = maddr(0);
  ready = false;
  eventIdx = false;
  indirect = false;
  budget: Budget;

  private lastAvail = 0;
  /** The driver's avail idx when last read: chains before it need no re-read of idx. */
  private availSeen = 0;
  private nextUsed = 0;
  /** Used elements pushed since the last notification decision. */
  private added = 0;
  /** Per direct descriptor: 0 when the driver owns it, else the stamp of the chain holding it. */
  private owner = new Uint32Array(0);
  /** Per entry of the indirect table being walked: the stamp of the last walk that visited it. */
  private seenIndirect = new Uint32Array(0);
  private stamp = 0;
  /** Descriptors the current walk may still take: its time-to-live. */
  private ttl = 0;
  /** The descriptor being decoded: each one is read once, into here (no double fetch). */
  private readonly scratch = new Uint8Array(VRING_DESC_BYTES);
  /** Chain objects not held by anyone, for the next pop; `chains` is every one ever made. In
   *  steady state (a backend returns each chain before it takes the next) this holds one. */
  private readonly free: DescriptorChain[] = [];
  private readonly chains: DescriptorChain[] = [];
  private lastPopped: DescriptorChain | null = null;
  private inFlight = 0;
  /** True while the device asked the driver not to kick (NO_NOTIFY, or avail_event left behind). */
  polling = false;

  private batchDescriptors = 0;
  private batchBytes = 0;
  /** The last pop of this batch was refused because the budget was spent: poll again later. */
  starved = false;

  /** Cumulative, never reset: what this queue has done. */
  readonly counters = { chains: 0, used: 0, descriptors: 0, bytesRead: 0, bytesWritten: 0 };

  constructor(
    /** '<device>.<queue>', e.g. 'dom1.blk.requestq': names the queue in every error. */
    readonly name: string,
    readonly mem: RingMemory,
    maxSize: number,
  ) {
    if (!isPow2(maxSize) || maxSize > VIRTQ_MAX_QUEUE_SIZE) throw new RangeError(`${name}: maximum queue size ${maxSize} is not a power of two up to ${VIRTQ_MAX_QUEUE_SIZE}`);
    this.maxSize = maxSize;
    this.budget = defaultBudget(maxSize);
  }

  /**
   * Take the driver's configuration (§2.7, alignment table; §2.7.5.3.1 for INDIRECT; feature
   * bits as negotiated). Checks the size (a power of two up to maxSize), the alignment of each
   * part, and that each part lies in the domain (the used ring writable). Refused: nothing changes.
   */
  configure(cfg: QueueConfig, features: number, budget?: Budget): QueueConfigError | null {
    const { size } = cfg;
    if (!isPow2(size) || size > this.maxSize) return { kind: 'queue-size', queue: this.name, size, max: this.maxSize };
    const parts = [
      ['descriptor table', cfg.desc, VRING_DESC_ALIGN, descTableBytes(size), false],
      ['available ring', cfg.avail, VRING_AVAIL_ALIGN, availRingBytes(size), false],
      ['used ring', cfg.used, VRING_USED_ALIGN, usedRingBytes(size), true],
    ] as const;
    for (const [part, addr, align, len, write] of parts) {
      if (addr % align !== 0) return { kind: 'misaligned', queue: this.name, part, addr, align };
      if (!this.mem.check(addr, len, write)) return { kind: 'ring-outside', queue: this.name, part, addr, len };
    }
    this.reset();
    this.size = size;
    this.desc = cfg.desc;
    this.avail = cfg.avail;
    this.used = cfg.used;
    this.eventIdx = (features & VIRTIO_RING_F_EVENT_IDX_MASK) !== 0;
    this.indirect = (features & VIRTIO_F_INDIRECT_DESC_MASK) !== 0;
    this.owner = new Uint32Array(size);
    this.seenIndirect = new Uint32Array(size);
    this.budget = budget ?? defaultBudget(size);
    this.ready = true;
    return null;
  }

  /** Forget the configuration and every chain (device reset). */
  reset(): void {
    this.ready = false;
    this.size = 0;
    this.lastAvail = this.availSeen = this.nextUsed = this.added = this.inFlight = 0;
    this.owner = new Uint32Array(0);
    this.seenIndirect = new Uint32Array(0);
    this.lastPopped = null;
    this.polling = this.starved = false;
    // Chains taken before the reset are void: pushing one now is a host bug ('returned twice').
    this.free.length = 0;
    for (const c of this.chains) {
      c.held = false;
      this.free.push(c);
    }
  }

  /** The cursors, for a snapshot. */
  indices(): QueueIndices {
    return { lastAvail: this.lastAvail, nextUsed: this.nextUsed };
  }

  /** Restore the cursors of a snapshot (also how tests start near 65535). No chain may be held. */
  restore(ix: QueueIndices): void {
    if (this.inFlight > 0) throw new Error(`${this.name}: restore with ${this.inFlight} chains held`);
    this.lastAvail = this.availSeen = u16(ix.lastAvail);
    this.nextUsed = u16(ix.nextUsed);
    this.added = 0;
  }

  /** Chains taken and not yet returned. */
  get held(): number {
    return this.inFlight;
  }

  /** DRIVER_OK: write the device's fields of the used ring: kicks welcome (flags 0, avail_event). */
  activate(): RingError | null {
    this.polling = true; // so allowKicks writes both fields
    const r = this.allowKicks();
    return typeof r === 'boolean' ? null : r;
  }

  /** Start a batch: a fresh budget. */
  beginBatch(): void {
    this.batchDescriptors = 0;
    this.batchBytes = 0;
    this.starved = false;
  }

  // --- driver -> device notifications (§2.7.10)

  /** The device is processing: without EVENT_IDX set NO_NOTIFY; with it, avail_event stays at
   *  the next index the device reads, which the driver has already passed, so it does not kick. */
  suppressKicks(): RingError | null {
    if (this.polling) return null;
    this.polling = true;
    if (this.eventIdx) return null;
    return this.mem.writeU16(maddr(this.used + VRING_USED_FLAGS), VRING_USED_F_NO_NOTIFY) ? null : this.ringAccess('used ring', this.used);
  }

  /**
   * The device is done: ask for kicks again (flags 0, or avail_event = its next index), then look
   * once more, since the driver may have added a chain while kicks were off. True: more to do.
   */
  allowKicks(): boolean | RingError {
    if (this.polling) {
      this.polling = false;
      const ok = this.eventIdx
        ? this.mem.writeU16(this.availEventAddr(), this.lastAvail)
        : this.mem.writeU16(maddr(this.used + VRING_USED_FLAGS), 0);
      if (!ok) return this.ringAccess('used ring', this.used);
    }
    const idx = this.mem.readU16(maddr(this.avail + VRING_AVAIL_IDX));
    if (idx === null) return this.ringAccess('available ring', this.avail);
    return idx !== this.lastAvail;
  }

  // --- device -> driver notifications (§2.7.7.2)

  /**
   * After a batch of pushes: notify the driver? Without EVENT_IDX, unless NO_INTERRUPT; with it,
   * when used_event lies in the indices this batch published: (u16)(new − event − 1) < (u16)(new − old).
   */
  interruptDecision(): InterruptDecision | RingError {
    const added = this.added;
    if (added === 0) return 'none';
    this.added = 0;
    if (this.eventIdx) {
      if (added > 0xffff) return 'notify';
      const ev = this.mem.readU16(this.usedEventAddr());
      if (ev === null) return this.ringAccess('available ring', this.avail);
      const now = this.nextUsed;
      const old = u16(now - added);
      return u16(now - ev - 1) < u16(now - old) ? 'notify' : 'suppress';
    }
    const flags = this.mem.readU16(maddr(this.avail + VRING_AVAIL_FLAGS));
    if (flags === null) return this.ringAccess('available ring', this.avail);
    return flags & VRING_AVAIL_F_NO_INTERRUPT ? 'suppress' : 'notify';
  }

  // --- taking and returning chains

  /**
   * The next available chain, null when there is none (or this batch's budget is spent:
   * `starved`), or what is wrong with it. The cursor moves only past a well-formed chain.
   */
  pop(): DescriptorChain | null | RingError {
    if (!this.ready) return null;
    if (this.lastAvail === this.availSeen) {
      const idx = this.mem.readU16(maddr(this.avail + VRING_AVAIL_IDX));
      if (idx === null) return this.ringAccess('available ring', this.avail);
      // rust-vmm's rule: the driver can have at most Q chains outstanding (§2.7.13: the ring is
      // the size of the table), so an idx further ahead is garbage (or a decrement, §2.7.6.1).
      if (u16(idx - this.lastAvail) > this.size) {
        return { kind: 'avail-ahead', queue: this.name, desc: null, availIdx: idx, lastAvail: this.lastAvail, size: this.size };
      }
      this.availSeen = idx;
      if (idx === this.lastAvail) return null;
    }
    // There is a chain: take it only if this batch may still work.
    if (this.batchDescriptors >= this.budget.descriptors || this.batchBytes >= this.budget.bytes) {
      this.starved = true;
      return null;
    }
    const slot = this.lastAvail & (this.size - 1);
    const head = this.mem.readU16(maddr(this.avail + VRING_AVAIL_RING + VRING_AVAIL_ELEM_BYTES * slot));
    if (head === null) return this.ringAccess('available ring', this.avail);
    if (head >= this.size) return { kind: 'descriptor-index', queue: this.name, desc: head, field: 'head', index: head, limit: this.size };
    const chain = this.free.pop() ?? this.newChain();
    const e = this.walk(head, chain);
    if (e !== null) {
      this.unmark(chain);
      this.free.push(chain);
      return e;
    }
    chain.held = true;
    this.lastAvail = u16(this.lastAvail + 1);
    this.counters.chains++;
    this.inFlight++;
    this.lastPopped = chain;
    this.batchBytes += chain.readableBytes + chain.writableBytes;
    // While processing, avail_event follows the device's next index (§2.7.10).
    if (this.eventIdx && !this.mem.writeU16(this.availEventAddr(), this.lastAvail)) {
      this.release(chain);
      return this.ringAccess('used ring', this.used);
    }
    return chain;
  }

  /** Give the last chain popped back to the ring untouched (net: a frame too big for it). */
  unpop(chain: DescriptorChain): void {
    if (chain !== this.lastPopped || !chain.held) throw new Error(`${this.name}: unpop of a chain that is not the last one taken`);
    this.release(chain);
    this.lastPopped = null;
    this.lastAvail = u16(this.lastAvail - 1);
    this.counters.chains--;
  }

  /**
   * Return a chain in the used ring with `len` bytes written from the start of its writable
   * stream: the element (id, len) first, then used idx (§2.7.8.2).
   */
  push(chain: DescriptorChain, len: number): RingError | null {
    if (!chain.held) throw new Error(`${this.name}: chain ${chain.head} returned twice`);
    if (!Number.isInteger(len) || len < 0 || len > chain.writableBytes) {
      throw new RangeError(`${this.name}: used len ${len} for a chain of ${chain.writableBytes} writable bytes`);
    }
    const head = chain.head;
    this.release(chain);
    if (this.lastPopped === chain) this.lastPopped = null;
    const elem = this.used + VRING_USED_RING + VRING_USED_ELEM_BYTES * (this.nextUsed & (this.size - 1));
    const ok =
      this.mem.writeU32(maddr(elem + VRING_USED_ELEM_ID), head) &&
      this.mem.writeU32(maddr(elem + VRING_USED_ELEM_LEN), len) &&
      this.mem.writeU16(maddr(this.used + VRING_USED_IDX), u16(this.nextUsed + 1));
    if (!ok) return this.ringAccess('used ring', this.used);
    this.nextUsed = u16(this.nextUsed + 1);
    this.added++;
    this.counters.used++;
    return null;
  }

  // --- internals

  /** @internal the error for a buffer that failed a read or write after it passed the walk. */
  outside(c: DescriptorChain, i: number, write: boolean): RingError {
    const ind = c.bufferIndirect(i);
    return { kind: 'address-outside', queue: this.name, desc: c.bufferDesc(i), indirect: ind < 0 ? undefined : ind, addrLo: c.bufferAddr(i), addrHi: 0, len: c.bufferLen(i), write };
  }

  private ringAccess(part: 'descriptor table' | 'available ring' | 'used ring', addr: number): RingError {
    return { kind: 'ring-access', queue: this.name, desc: null, part, addr };
  }

  private usedEventAddr(): MachineAddr {
    return maddr(this.avail + vringUsedEventOffset(this.size));
  }

  private availEventAddr(): MachineAddr {
    return maddr(this.used + vringAvailEventOffset(this.size));
  }

  private newChain(): DescriptorChain {
    const c = new DescriptorChain(this);
    this.chains.push(c);
    return c;
  }

  /** Give the chain's direct descriptors back to the driver. */
  private unmark(chain: DescriptorChain): void {
    for (let k = 0, n = chain.descriptorCount; k < n; k++) this.owner[chain.descriptor(k)] = 0;
  }

  private release(chain: DescriptorChain): void {
    this.unmark(chain);
    chain.held = false;
    this.inFlight--;
    this.free.push(chain);
  }

  /** One descriptor read: what the budget and the counters measure. */
  private visit(): void {
    this.batchDescriptors++;
    this.counters.descriptors++;
  }

  private nextStamp(): number {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      // After 2^32 walks: stale visit marks could match again. Held chains keep their marks.
      this.seenIndirect.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  /** Where a fault is: a direct descriptor (indirect < 0) or an entry of its indirect table. */
  private at(desc: number, indirect: number): At {
    return indirect < 0 ? { queue: this.name, desc } : { queue: this.name, desc, indirect };
  }

  /**
   * Walk the chain at `head` into `c` (§2.7.5, §2.7.5.3). At most Q direct descriptors (each is
   * marked with this walk's stamp: meeting the stamp again is a loop, meeting another is a
   * descriptor the device already holds), then at most one indirect table of at most Q entries,
   * walked the same way. The chain's time-to-live is Q buffers (rust-vmm's rule; the table's
   * entries count instead of the descriptor that points to it). On an error the caller unmarks
   * what `c` recorded. Methods, not closures, and fields, not arrays: this runs per request.
   */
  private walk(head: number, c: DescriptorChain): RingError | null {
    const stamp = this.nextStamp();
    const q = this.size;
    const d = this.scratch;
    this.ttl = q;
    c.begin(head);
    // Each descriptor of the table at most once per chain, and never one another chain holds.
    if (this.owner[head] !== 0) return { queue: this.name, desc: head, kind: 'descriptor-in-use', index: head };
    let i = head;
    for (;;) {
      this.visit();
      this.owner[i] = stamp;
      c.addDescriptor(i);
      const addr = maddr(this.desc + VRING_DESC_BYTES * i);
      if (!this.mem.readInto(addr, d, 0, VRING_DESC_BYTES)) return this.ringAccess('descriptor table', addr);
      const flags = le16(d, VRING_DESC_FLAGS);
      if (flags & VRING_DESC_F_INDIRECT) return this.walkIndirect(c, i, stamp); // it ends the chain (no NEXT)
      const e = this.take(c, i, -1);
      if (e) return e;
      if (!(flags & VRING_DESC_F_NEXT)) return null;
      const next = le16(d, VRING_DESC_NEXT);
      if (next >= q) return { ...this.at(i, -1), kind: 'descriptor-index', field: 'next', index: next, limit: q };
      const o = this.owner[next]!;
      if (o === stamp) return { ...this.at(i, -1), kind: 'descriptor-loop', index: next };
      if (o !== 0) return { ...this.at(i, -1), kind: 'descriptor-in-use', index: next };
      i = next;
    }
  }

  /**
   * Account the buffer descriptor in `scratch` (direct descriptor `desc`, or entry `indirect`
   * of its table): TTL, order, byte total, then the address, before the chain records it.
   */
  private take(c: DescriptorChain, desc: number, indirect: number): RingError | null {
    if (this.ttl-- === 0) return { ...this.at(desc, indirect), kind: 'chain-too-long', limit: this.size };
    const d = this.scratch;
    const lo = le32(d, VRING_DESC_ADDR_LO);
    const hi = le32(d, VRING_DESC_ADDR_HI);
    const len = le32(d, VRING_DESC_LEN);
    const write = (le16(d, VRING_DESC_FLAGS) & VRING_DESC_F_WRITE) !== 0;
    if (!write && c.writableCount > 0) return { ...this.at(desc, indirect), kind: 'readable-after-writable' };
    // The spec's limit is 2^32 bytes per chain (§2.7.5.2); ours is lower (§2.7.4.1 allows it).
    const total = c.readableBytes + c.writableBytes + len;
    if (total > VIRTQ_MAX_CHAIN_BYTES) return { ...this.at(desc, indirect), kind: 'length-overflow', total, limit: VIRTQ_MAX_CHAIN_BYTES };
    if (len === 0) return null; // an empty buffer adds nothing (and costs its place in the TTL)
    if (hi !== 0 || !this.mem.check(maddr(lo), len, write)) {
      return { ...this.at(desc, indirect), kind: 'address-outside', addrLo: lo, addrHi: hi, len, write };
    }
    c.addBuffer(lo, len, desc, indirect, write);
    return null;
  }

  /**
   * The table behind indirect descriptor `i` (§2.7.5.3), whose descriptor is in `scratch`:
   * checked whole, then walked from entry 0, each entry read once into `scratch` as it is
   * reached (the loop check below keeps it to once), so no copy of the table is made.
   */
  private walkIndirect(c: DescriptorChain, i: number, stamp: number): RingError | null {
    const d = this.scratch;
    const flags = le16(d, VRING_DESC_FLAGS);
    if (!this.indirect) return { ...this.at(i, -1), kind: 'indirect-not-negotiated' };
    if (flags & VRING_DESC_F_NEXT) return { ...this.at(i, -1), kind: 'indirect-with-next' };
    const lo = le32(d, VRING_DESC_ADDR_LO);
    const hi = le32(d, VRING_DESC_ADDR_HI);
    const len = le32(d, VRING_DESC_LEN);
    if (len === 0 || len % VRING_DESC_BYTES !== 0 || len / VRING_DESC_BYTES > this.size) {
      return { ...this.at(i, -1), kind: 'indirect-length', len, size: this.size };
    }
    if (hi !== 0 || !this.mem.check(maddr(lo), len, false)) return { ...this.at(i, -1), kind: 'address-outside', addrLo: lo, addrHi: hi, len, write: false };
    const n = len / VRING_DESC_BYTES;
    let j = 0;
    this.seenIndirect[0] = stamp;
    for (;;) {
      this.visit();
      if (!this.mem.readInto(maddr(lo + VRING_DESC_BYTES * j), d, 0, VRING_DESC_BYTES)) {
        return { ...this.at(i, -1), kind: 'address-outside', addrLo: lo, addrHi: hi, len, write: false };
      }
      const f = le16(d, VRING_DESC_FLAGS);
      if (f & VRING_DESC_F_INDIRECT) return { ...this.at(i, j), kind: 'nested-indirect' };
      const e = this.take(c, i, j);
      if (e) return e;
      if (!(f & VRING_DESC_F_NEXT)) return null;
      const next = le16(d, VRING_DESC_NEXT);
      if (next >= n) return { ...this.at(i, j), kind: 'descriptor-index', field: 'next', index: next, limit: n };
      if (this.seenIndirect[next] === stamp) return { ...this.at(i, j), kind: 'descriptor-loop', index: next };
      this.seenIndirect[next] = stamp;
      j = next;
    }
  }
}
