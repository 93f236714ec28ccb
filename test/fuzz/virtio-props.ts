/**
 * Target 3: random and mutated virtqueues for the console, block and net backends.
 *
 * Two domains share one machine memory, each with its own range (a RingMemory that allows only
 * it), as pv's virtio transport gives each domain a predicate over its own frames. A hostile
 * driver in domain A writes random descriptor tables, indirect tables and available rings, then
 * makes random calls: kicks of any queue index (negative and huge ones too), polls, status
 * writes, resets, console input, frames from the bridge, corrupted ring bytes, more heads. The
 * victim B has a console and a net device on the same bridge as A's.
 *
 * Each call asserts: no throw; bounded work (memory accesses counted through the RingMemory,
 * linear in Q as hypervisor/devices/virtio/README.md "Bounded work" promises); a malformed ring
 * leaves the device in NEEDS_RESET with one-line errors; a refused queue index changes nothing.
 * Each case asserts: B's memory outside its receive buffers is unchanged, B's net backlog stays
 * bounded, and B's console still carries output afterwards.
 *
 * The test-side driver is test/hypervisor/virtio/driver.ts (shared, not copied); random rings
 * with access counting for console and block alone are test/hypervisor/virtio/property.test.ts.
 */
import fc from 'fast-check';
import * as R from '../../abi/ring.ts';
import { VirtioBlock } from '../../hypervisor/devices/virtio/block.ts';
import { NetBridge } from '../../hypervisor/devices/virtio/bridge.ts';
import { VirtioConsole } from '../../hypervisor/devices/virtio/console.ts';
import type { VirtioDevice } from '../../hypervisor/devices/virtio/device.ts';
import { VirtioNet } from '../../hypervisor/devices/virtio/net.ts';
import { PhysicalRingMemory, region } from '../../hypervisor/devices/virtio/ring-memory.ts';
import { defaultBudget, type RingMemory } from '../../hypervisor/devices/virtio/virtqueue.ts';
import type { MachineAddr } from '../../hypervisor/machine/addr.ts';
import { PhysicalMemory } from '../../hypervisor/machine/memory.ts';
import { Arena, bringUp, counting, DriverQueue, recorder as notifications, type RawDesc } from '../hypervisor/virtio/driver.ts';
import { check, checkOneLine, hashBytes, HeapWatch, noThrow, recorder, type Tally } from './common.ts';

/** A's range and B's range of one machine memory. */
export const A_END = 0x80000;
export const B_START = 0x80000;
export const B_END = 0x100000;


/** The bound on one call's memory accesses for queue size q: linear in Q (see property.test.ts). */
export const accessBound = (q: number): number => 16 * (defaultBudget(q).descriptors + 2 * q + 2);

export type Kind = 'console' | 'block' | 'net';
const BUFS = 0x40000;
const TABLES = 0x60000;
const RX_BUF = R.VIRTIO_NET_HDR_BYTES + R.VIRTIO_NET_MAX_FRAME;

/** Two domains in one memory: A's device under test; B's console, and B's net on A's bridge. */
export function twoDomains(kind: Kind, q: number, features?: (offered: number) => number) {
  const mem = new PhysicalMemory(B_END);
  const { mem: ringA, count } = counting(new PhysicalRingMemory(mem, region(0, A_END)));
  const ringB = new PhysicalRingMemory(mem, region(B_START, B_END));
  const arenaA = new Arena(mem, 0x1000, BUFS);
  const arenaB = new Arena(mem, B_START + 0x1000, B_END);
  const bridge = new NetBridge();
  const recA = notifications();
  const common = { name: 'domA.dev', mem: ringA, notify: recA.notify };
  const dev: VirtioDevice =
    kind === 'block' ? new VirtioBlock({ ...common, disk: new Uint8Array(32 * 512) }) : kind === 'net' ? new VirtioNet({ ...common, bridge }) : new VirtioConsole(common);
  const qa = new DriverQueue(mem, arenaA, q);
  const other = new DriverQueue(mem, arenaA, 8);
  const qi = kind === 'block' ? R.VIRTIO_BLK_QUEUE_REQUEST : R.VIRTIO_CONSOLE_QUEUE_TX; // net's transmitq is 1 too
  const feats = (features ?? ((f) => f))(dev.offeredFeatures);
  bringUp(dev, kind === 'block' ? [[qi, qa]] : [[qi, qa], [1 - qi, other]], feats);
  // B: a console with a transmit queue, a net device with receive buffers posted.
  const bcon = new VirtioConsole({ name: 'domB.console', mem: ringB, notify: () => {} });
  const btx = new DriverQueue(mem, arenaB, 8);
  bringUp(bcon, [[R.VIRTIO_CONSOLE_QUEUE_TX, btx]]);
  const bnet = new VirtioNet({ name: 'domB.net', mem: ringB, notify: () => {}, bridge });
  const brx = new DriverQueue(mem, arenaB, 16);
  const bntx = new DriverQueue(mem, arenaB, 8);
  bringUp(bnet, [[R.VIRTIO_NET_QUEUE_RX, brx], [R.VIRTIO_NET_QUEUE_TX, bntx]]);
  const rxStart = arenaB.alloc(0, 16);
  for (let i = 0; i < 8; i++) brx.add([{ addr: arenaB.alloc(RX_BUF), len: RX_BUF, write: true }]);
  const rxEnd = arenaB.alloc(0, 16);
  brx.publish();
  bnet.kick(R.VIRTIO_NET_QUEUE_RX);
  const text = arenaB.put('B still here');
  /** B's memory but for what B's devices may write when frames arrive (receive buffers, its used ring). */
  const bDigest = (): string => {
    const copy = mem.u8.slice(B_START, B_END);
    copy.fill(0, rxStart - B_START, rxEnd - B_START);
    copy.fill(0, brx.used - B_START, brx.used - B_START + R.VRING_USED_OVERHEAD + 8 * 16);
    return hashBytes(copy);
  };
  /** B's console works: a chain written now comes out. */
  const bWorks = (): boolean => {
    btx.add([{ addr: text, len: 12 }]);
    btx.publish();
    const r = bcon.kick(R.VIRTIO_CONSOLE_QUEUE_TX);
    return r.kind === 'done' && bcon.outputText().endsWith('B still here') && bcon.live;
  };
  return { mem, dev, qa, qi, count, recA, bridge, arenaA, bcon, bnet, bDigest, bWorks };
}

/** A descriptor as a hostile driver might write it: mostly plausible, sometimes anything. */
export const rawDesc = (q: number): fc.Arbitrary<RawDesc> =>
  fc.record({
    addr: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x1000 }).map((o) => BUFS + o) },
      { weight: 2, arbitrary: fc.constantFrom(TABLES, TABLES + 0x1000) },
      { weight: 1, arbitrary: fc.constantFrom(0, A_END - 1, A_END, B_START + 0x1000, 0xfffffff0) },
      { weight: 1, arbitrary: fc.nat() },
    ),
    addrHi: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat() }),
    len: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 1600 }) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: q + 2 }).map((n) => 16 * n) },
      { weight: 1, arbitrary: fc.constantFrom(0, 0xffffffff, 0x80000000, R.VIRTQ_MAX_CHAIN_BYTES) },
      { weight: 1, arbitrary: fc.nat() },
    ),
    flags: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0, R.VRING_DESC_F_NEXT, R.VRING_DESC_F_WRITE, R.VRING_DESC_F_NEXT | R.VRING_DESC_F_WRITE) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
    ),
    next: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: q }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  });

/** One call a hostile driver (or the host, for input and frames) makes on A's device. */
export type Op =
  | { op: 'kick'; queue: number }
  | { op: 'poll' }
  | { op: 'status'; value: number }
  | { op: 'reset' }
  | { op: 'input'; bytes: number }
  | { op: 'frame'; len: number }
  | { op: 'corrupt'; at: number; byte: number }
  | { op: 'more'; head: number; idx: number };

const op = (q: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constantFrom(-1, 2, 15, 16, 0x7fffffff, -0x80000000, 0xffffffff, 1.5, NaN) }).map((queue) => ({ op: 'kick' as const, queue })) },
    { weight: 2, arbitrary: fc.constant({ op: 'poll' as const }) },
    { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.constantFrom(-1, 256, 0x10f)).map((value) => ({ op: 'status' as const, value })) },
    { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }).map((bytes) => ({ op: 'input' as const, bytes })) },
    { weight: 1, arbitrary: fc.constantFrom(0, 13, 14, 60, 1514, 1515, 9000).map((len) => ({ op: 'frame' as const, len })) },
    { weight: 2, arbitrary: fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }).map((c) => ({ op: 'corrupt' as const, ...c })) },
    { weight: 2, arbitrary: fc.record({ head: fc.oneof(fc.integer({ min: 0, max: q - 1 }), fc.constant(0xffff)), idx: fc.integer({ min: 0, max: 2 * q + 1 }) }).map((m) => ({ op: 'more' as const, ...m })) },
  );

export const ringScenario = fc.integer({ min: 0, max: 6 }).chain((log) => {
  const q = 1 << log;
  return fc.record({
    q: fc.constant(q),
    kind: fc.constantFrom<Kind>('console', 'block', 'net'),
    eventIdx: fc.boolean(),
    indirect: fc.boolean(),
    descs: fc.array(rawDesc(q), { minLength: q, maxLength: q }),
    tables: fc.array(fc.array(rawDesc(q), { minLength: 1, maxLength: q + 2 }), { minLength: 2, maxLength: 2 }),
    heads: fc.array(fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: q - 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }), { minLength: q, maxLength: q }),
    availIdx: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: q }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
    usedEvent: fc.integer({ min: 0, max: 0xffff }),
    bytes: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    ops: fc.array(op(q), { minLength: 1, maxLength: 12 }),
  });
});
export type RingScenario = typeof ringScenario extends fc.Arbitrary<infer T> ? T : never;

const frameTo = (mac: Uint8Array, len: number): Uint8Array => {
  const f = new Uint8Array(len);
  f.set(mac.subarray(0, Math.min(6, len)));
  return f;
};

const heap = new HeapWatch('random virtqueues');

/** Run one scenario; `rec` hears what happened. Throws on a broken promise. */
export function runRingScenario(s: RingScenario, rec: (kind: string, key: string) => void = () => {}): void {
  const features = (f: number): number => f & ~(s.eventIdx ? 0 : R.VIRTIO_RING_F_EVENT_IDX_MASK) & ~(s.indirect ? 0 : R.VIRTIO_F_INDIRECT_DESC_MASK);
  const w = twoDomains(s.kind, s.q, features);
  const { dev, qa, qi, count, mem } = w;
  s.descs.forEach((d, i) => qa.writeDesc(i, d));
  s.tables.forEach((t, k) => t.forEach((d, j) => qa.writeDesc(j, d, TABLES + 0x1000 * k)));
  s.heads.forEach((h, i) => qa.w16(qa.avail + R.VRING_AVAIL_RING + 2 * i, h));
  qa.setAvailIdx(s.availIdx);
  qa.setUsedEvent(s.usedEvent);
  mem.u8.set(s.bytes, BUFS);
  mem.u8[BUFS] = s.bytes[0]! % 10; // a block request type, now and then a real one
  const before = w.bDigest();
  const bound = accessBound(s.q);
  const span = 16 * s.q + R.VRING_AVAIL_OVERHEAD + 2 * s.q;
  let idx = s.availIdx;
  for (const o of s.ops) {
    const n0 = count();
    const status0 = dev.status;
    noThrow(`${s.kind} ${o.op}`, () => {
      switch (o.op) {
        case 'kick': {
          const r = dev.kick(o.queue);
          rec('kick outcome', r.kind === 'failed' ? `failed: ${r.error.kind}` : r.kind === 'ignored' ? `ignored: ${r.reason}` : r.kind);
          if (!Number.isInteger(o.queue) || o.queue < 0 || o.queue >= dev.queueCount) {
            check(r.kind === 'refused', () => `kick(${o.queue}) of a queue that does not exist was ${r.kind}, not refused`);
            check(dev.status === status0, () => `kick(${o.queue}) of a queue that does not exist changed the status`);
          }
          break;
        }
        case 'poll':
          dev.poll();
          break;
        case 'status':
          dev.setStatus(o.value);
          break;
        case 'reset':
          dev.setStatus(0);
          break;
        case 'input':
          if (dev instanceof VirtioConsole) dev.input(new Uint8Array(o.bytes).fill(0x41));
          break;
        case 'frame':
          // B sends A a frame (any length: runts and jumbos too); the bridge delivers it to A's receive queue.
          if (dev instanceof VirtioNet) {
            w.bridge.transmit(w.bnet, frameTo(dev.mac, o.len));
            w.bridge.flush();
          }
          break;
        case 'corrupt':
          mem.u8[qa.desc + (o.at % span)] = o.byte;
          break;
        case 'more':
          qa.w16(qa.avail + R.VRING_AVAIL_RING + 2 * (idx % s.q), o.head);
          idx = (idx + o.idx) & 0xffff;
          qa.setAvailIdx(idx);
          break;
      }
    });
    const used = count() - n0;
    check(used <= bound, () => `${s.kind} ${o.op} made ${used} memory accesses, over the O(Q) bound ${bound} (Q = ${s.q})`);
    if (dev.ringError) {
      check((dev.status & R.VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0, () => `a ring error (${dev.ringError!.kind}) without DEVICE_NEEDS_RESET`);
      check(!dev.live, 'a device with a ring error is still live');
    }
    check(dev.errorLines.length <= 16, () => `${dev.errorLines.length} error lines kept`);
    for (const l of dev.errorLines) checkOneLine('ring error', l);
  }
  if (dev.ringError) rec('ring fault', dev.ringError.kind);
  else rec('ring fault', '(none)');
  // A's net device sent frames to B over the bridge: B's backlog is bounded, its memory safe.
  check(w.bnet.backlogLength <= 256, () => `B's net backlog holds ${w.bnet.backlogLength} frames`);
  check(w.bDigest() === before, "A's device changed B's memory outside B's receive buffers");
  check(w.bWorks(), "B's console stopped working after A's device was attacked");
}

export function ringProperty(t?: Tally) {
  return fc.property(ringScenario, (s) => {
    const { rec, done } = recorder(t, 'virtqueues');
    runRingScenario(s, rec);
    heap.tick();
    done();
  });
}
