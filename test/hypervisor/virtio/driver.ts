/**
 * The driver side of a split virtqueue, for tests: builds rings in a PhysicalMemory the way a
 * guest driver does (virtio 1.2 §2.7.13: place descriptors, put heads in the available ring,
 * publish idx, decide whether to kick; §2.7.14: read the used ring), with EVENT_IDX fields,
 * raw access for building malformed rings, and a device bring-up helper.
 */
import * as R from '../../../abi/ring.ts';
import { maddr } from '../../../hypervisor/machine/addr.ts';
import { PhysicalMemory } from '../../../hypervisor/machine/memory.ts';
import type { Notify, NotifyKind, SetupError, VirtioDevice } from '../../../hypervisor/devices/virtio/device.ts';
import { formatSetupError } from '../../../hypervisor/devices/virtio/device.ts';
import { PhysicalRingMemory, region } from '../../../hypervisor/devices/virtio/ring-memory.ts';
import type { QueueConfig, RingMemory } from '../../../hypervisor/devices/virtio/virtqueue.ts';
import type { MachineAddr } from '../../../hypervisor/machine/addr.ts';

const u16 = (n: number): number => n & 0xffff;

/** A buffer of a chain: where, how long, and whether the device may write it. */
export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

/** A raw descriptor, for malformed rings. */
export interface RawDesc {
  addr: number;
  len: number;
  flags: number;
  next?: number;
  addrHi?: number;
}

/** Bump allocator over [start, end) of memory. */
export class Arena {
  private top: number;
  constructor(
    readonly mem: PhysicalMemory,
    readonly start: number,
    readonly end: number,
  ) {
    this.top = start;
  }

  alloc(len: number, align = 16): number {
    const a = Math.ceil(this.top / align) * align;
    if (a + len > this.end) throw new Error(`arena: out of memory (${len} bytes)`);
    this.top = a + len;
    return a;
  }

  /** A buffer holding `bytes`. */
  put(bytes: Uint8Array | string, align = 4): number {
    const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    const a = this.alloc(Math.max(1, b.length), align);
    this.mem.u8.set(b, a);
    return a;
  }
}

export class DriverQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** The avail idx as published, and chains added since. */
  private availIdx = 0;
  private adding = 0;
  private lastUsed = 0;
  private free: number[];
  private readonly chains = new Map<number, number[]>();
  kicksNeeded = 0;
  kicksSuppressed = 0;

  constructor(
    readonly mem: PhysicalMemory,
    arena: Arena,
    readonly size: number,
    readonly eventIdx = false,
  ) {
    this.desc = arena.alloc(16 * size, R.VRING_DESC_ALIGN);
    this.avail = arena.alloc(R.VRING_AVAIL_OVERHEAD + 2 * size, R.VRING_AVAIL_ALIGN);
    this.used = arena.alloc(R.VRING_USED_OVERHEAD + 8 * size, R.VRING_USED_ALIGN);
    mem.u8.fill(0, this.desc, this.desc + 16 * size);
    mem.u8.fill(0, this.avail, this.avail + R.VRING_AVAIL_OVERHEAD + 2 * size);
    mem.u8.fill(0, this.used, this.used + R.VRING_USED_OVERHEAD + 8 * size);
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  config(): QueueConfig {
    return { size: this.size, desc: maddr(this.desc), avail: maddr(this.avail), used: maddr(this.used) };
  }

  // --- raw memory

  r16(a: number): number {
    return this.mem.u8[a]! | (this.mem.u8[a + 1]! << 8);
  }
  w16(a: number, v: number): void {
    this.mem.u8[a] = v;
    this.mem.u8[a + 1] = v >>> 8;
  }
  r32(a: number): number {
    return (this.r16(a) | (this.r16(a + 2) << 16)) >>> 0;
  }
  w32(a: number, v: number): void {
    this.w16(a, v & 0xffff);
    this.w16(a + 2, v >>> 16);
  }

  /** Write descriptor `i` of the table at `table` (default: this queue's table). */
  writeDesc(i: number, d: RawDesc, table = this.desc): void {
    const a = table + 16 * i;
    this.w32(a + R.VRING_DESC_ADDR_LO, d.addr);
    this.w32(a + R.VRING_DESC_ADDR_HI, d.addrHi ?? 0);
    this.w32(a + R.VRING_DESC_LEN, d.len);
    this.w16(a + R.VRING_DESC_FLAGS, d.flags);
    this.w16(a + R.VRING_DESC_NEXT, d.next ?? 0);
  }

  /** Put `head` in the next available slot (not yet published). */
  addHead(head: number): void {
    this.w16(this.avail + R.VRING_AVAIL_RING + 2 * ((this.availIdx + this.adding) % this.size), head);
    this.adding++;
  }

  // --- the driver's algorithm

  /** Free descriptors left. */
  get freeCount(): number {
    return this.free.length;
  }

  /** Place a chain of direct descriptors (readable before writable) and queue its head. */
  add(bufs: Buf[]): number {
    if (bufs.length === 0 || bufs.length > this.free.length) throw new Error(`driver: no room for ${bufs.length} descriptors`);
    const ids = this.free.splice(0, bufs.length);
    bufs.forEach((b, k) => {
      const last = k === bufs.length - 1;
      this.writeDesc(ids[k]!, { addr: b.addr, len: b.len, flags: (b.write ? R.VRING_DESC_F_WRITE : 0) | (last ? 0 : R.VRING_DESC_F_NEXT), next: last ? 0 : ids[k + 1]! });
    });
    this.chains.set(ids[0]!, ids);
    this.addHead(ids[0]!);
    return ids[0]!;
  }

  /** Place a chain as one descriptor pointing to an indirect table allocated from `arena`. */
  addIndirect(bufs: Buf[], arena: Arena): number {
    const table = arena.alloc(16 * bufs.length, 16);
    bufs.forEach((b, k) => {
      const last = k === bufs.length - 1;
      this.writeDesc(k, { addr: b.addr, len: b.len, flags: (b.write ? R.VRING_DESC_F_WRITE : 0) | (last ? 0 : R.VRING_DESC_F_NEXT), next: last ? 0 : k + 1 }, table);
    });
    const id = this.free.shift();
    if (id === undefined) throw new Error('driver: no free descriptor');
    this.writeDesc(id, { addr: table, len: 16 * bufs.length, flags: R.VRING_DESC_F_INDIRECT });
    this.chains.set(id, [id]);
    this.addHead(id);
    return id;
  }

  /**
   * Publish the added heads (avail idx += added), then decide whether to kick (§2.7.10): with
   * EVENT_IDX when avail_event lies in [old, new); without it unless the device set NO_NOTIFY.
   */
  publish(): boolean {
    const old = this.availIdx;
    this.availIdx = u16(old + this.adding);
    this.adding = 0;
    this.w16(this.avail + R.VRING_AVAIL_IDX, this.availIdx);
    const kick = this.eventIdx
      ? u16(this.availIdx - this.availEvent() - 1) < u16(this.availIdx - old)
      : (this.r16(this.used + R.VRING_USED_FLAGS) & R.VRING_USED_F_NO_NOTIFY) === 0;
    if (kick) this.kicksNeeded++;
    else this.kicksSuppressed++;
    return kick;
  }

  /** Set the published avail idx without adding (a hostile driver). */
  setAvailIdx(idx: number): void {
    this.availIdx = u16(idx);
    this.w16(this.avail + R.VRING_AVAIL_IDX, this.availIdx);
  }

  /** Start both rings' indices at `idx` (as after 65536·k + idx requests): for wrap-around tests. */
  startAt(idx: number): void {
    this.setAvailIdx(idx);
    this.w16(this.used + R.VRING_USED_IDX, u16(idx));
    this.lastUsed = u16(idx);
  }

  usedIdx(): number {
    return this.r16(this.used + R.VRING_USED_IDX);
  }

  /** Used elements since the last call, oldest first; their descriptors become free again. */
  takeUsed(): Array<{ id: number; len: number }> {
    const out: Array<{ id: number; len: number }> = [];
    const idx = this.usedIdx();
    while (this.lastUsed !== idx) {
      const e = this.used + R.VRING_USED_RING + 8 * (this.lastUsed % this.size);
      const id = this.r32(e + R.VRING_USED_ELEM_ID);
      out.push({ id, len: this.r32(e + R.VRING_USED_ELEM_LEN) });
      const ids = this.chains.get(id);
      if (ids) {
        this.free.push(...ids);
        this.chains.delete(id);
      }
      this.lastUsed = u16(this.lastUsed + 1);
    }
    return out;
  }

  // --- notification suppression fields

  setNoInterrupt(on: boolean): void {
    this.w16(this.avail + R.VRING_AVAIL_FLAGS, on ? R.VRING_AVAIL_F_NO_INTERRUPT : 0);
  }
  setUsedEvent(v: number): void {
    this.w16(this.avail + R.VRING_AVAIL_RING + 2 * this.size, u16(v));
  }
  availEvent(): number {
    return this.r16(this.used + R.VRING_USED_RING + 8 * this.size);
  }
  usedFlags(): number {
    return this.r16(this.used + R.VRING_USED_FLAGS);
  }
}

/** Records notifications. */
export function recorder(): { notify: Notify; events: Array<[NotifyKind, number | undefined]>; count: (k: NotifyKind) => number } {
  const events: Array<[NotifyKind, number | undefined]> = [];
  return { notify: (k, q) => events.push([k, q]), events, count: (k) => events.filter((e) => e[0] === k).length };
}

const ok = (e: SetupError | null): void => {
  if (e) throw new Error(formatSetupError(e));
};

/** The §3.1.1 sequence: ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
export function bringUp(dev: VirtioDevice, queues: ReadonlyArray<[number, DriverQueue]>, features = dev.offeredFeatures): void {
  ok(dev.setStatus(0));
  ok(dev.setStatus(R.VIRTIO_STATUS_ACKNOWLEDGE));
  ok(dev.setStatus(R.VIRTIO_STATUS_ACKNOWLEDGE | R.VIRTIO_STATUS_DRIVER));
  ok(dev.setDriverFeatures(features));
  const s = R.VIRTIO_STATUS_ACKNOWLEDGE | R.VIRTIO_STATUS_DRIVER | R.VIRTIO_STATUS_FEATURES_OK;
  ok(dev.setStatus(s));
  for (const [i, q] of queues) ok(dev.configureQueue(i, q.config()));
  ok(dev.setStatus(s | R.VIRTIO_STATUS_DRIVER_OK));
}

/** Features with EVENT_IDX on or off. */
export function features(dev: VirtioDevice, eventIdx: boolean): number {
  return eventIdx ? dev.offeredFeatures : dev.offeredFeatures & ~R.VIRTIO_RING_F_EVENT_IDX_MASK;
}

/** One domain's memory: 1 MiB of machine memory, the domain owns [0, 512 KiB). */
export const DOMAIN_END = 0x80000;
export function domain(): { mem: PhysicalMemory; ring: PhysicalRingMemory; arena: Arena } {
  const mem = new PhysicalMemory(0x100000);
  return { mem, ring: new PhysicalRingMemory(mem, region(0, DOMAIN_END)), arena: new Arena(mem, 0x1000, DOMAIN_END) };
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Counts every call into a RingMemory: the measure of a device call's work (the O(Q) bound). */
export function counting(inner: RingMemory): { mem: RingMemory; count: () => number } {
  let n = 0;
  const mem: RingMemory = {
    check: (a, l, w) => (n++, inner.check(a, l, w)),
    readU16: (a) => (n++, inner.readU16(a)),
    readU32: (a) => (n++, inner.readU32(a)),
    writeU16: (a, v) => (n++, inner.writeU16(a, v)),
    writeU32: (a, v) => (n++, inner.writeU32(a, v)),
    readInto: (a: MachineAddr, d, at, l) => (n++, inner.readInto(a, d, at, l)),
    writeFrom: (a: MachineAddr, d, at, l) => (n++, inner.writeFrom(a, d, at, l)),
    fill: (a: MachineAddr, l, v) => (n++, inner.fill(a, l, v)),
  };
  return { mem, count: () => n };
}
