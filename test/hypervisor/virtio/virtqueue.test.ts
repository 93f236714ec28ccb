import { describe, expect, it } from 'vitest';
import * as R from '../../../abi/ring.ts';
import { maddr, type MachineAddr } from '../../../hypervisor/machine/addr.ts';
import { VirtioConsole } from '../../../hypervisor/devices/virtio/console.ts';
import { DescriptorChain, formatRingError, Virtqueue, type RingError, type RingMemory } from '../../../hypervisor/devices/virtio/virtqueue.ts';
import { PhysicalMemory } from '../../../hypervisor/machine/memory.ts';
import { PhysicalRingMemory } from '../../../hypervisor/devices/virtio/ring-memory.ts';
import { Arena, bringUp, domain, DriverQueue, features, recorder, text } from './driver.ts';

const FEATURES = R.VIRTIO_F_INDIRECT_DESC_MASK;

/** A bare queue on a fresh domain, with its driver. */
function bare(size = 8, feats = FEATURES) {
  const d = domain();
  const drv = new DriverQueue(d.mem, d.arena, size, (feats & R.VIRTIO_RING_F_EVENT_IDX_MASK) !== 0);
  const q = new Virtqueue('t.q', d.ring, 256);
  expect(q.configure(drv.config(), feats)).toBeNull();
  expect(q.activate()).toBeNull();
  return { ...d, drv, q };
}

function popChain(q: Virtqueue): DescriptorChain {
  const c = q.pop();
  if (!(c instanceof DescriptorChain)) throw new Error(`expected a chain, got ${c === null ? 'null' : formatRingError(c)}`);
  return c;
}

/** A console with its two driver queues, for notification tests. */
function consoleRig(opts: { eventIdx: boolean; size?: number; budget?: { descriptors: number; bytes: number } }) {
  const d = domain();
  const rec = recorder();
  const con = new VirtioConsole({ name: 'dom1.con', mem: d.ring, notify: rec.notify, budget: opts.budget });
  const rx = new DriverQueue(d.mem, d.arena, opts.size ?? 8, opts.eventIdx);
  const tx = new DriverQueue(d.mem, d.arena, opts.size ?? 8, opts.eventIdx);
  bringUp(con, [[R.VIRTIO_CONSOLE_QUEUE_RX, rx], [R.VIRTIO_CONSOLE_QUEUE_TX, tx]], features(con, opts.eventIdx));
  const send = (n: number, tag = 'x'): void => {
    for (let i = 0; i < n; i++) tx.add([{ addr: d.arena.put(`${tag}${i};`), len: `${tag}${i};`.length }]);
  };
  return { ...d, rec, con, rx, tx, send };
}

describe('virtqueue: chains', () => {
  it('walks readable then writable buffers into two byte streams, reads and writes across buffers', () => {
    const { drv, q, arena, mem } = bare();
    const a = arena.put('hello'); // 5
    const b = arena.put('abc'); // 3
    const w = arena.alloc(10);
    const head = drv.add([{ addr: a, len: 5 }, { addr: b, len: 3 }, { addr: w, len: 10, write: true }]);
    drv.publish();
    const c = popChain(q);
    expect(c.head).toBe(head);
    expect([c.readableBytes, c.writableBytes, c.readableCount, c.writableCount]).toEqual([8, 10, 2, 1]);
    expect(new TextDecoder().decode(c.read(2, 5) as Uint8Array)).toBe('lloab');
    expect(c.write(3, text('XYZ'))).toBeNull();
    expect(new TextDecoder().decode(mem.u8.subarray(w + 3, w + 6))).toBe('XYZ');
    expect(q.push(c, 10)).toBeNull();
    expect(drv.takeUsed()).toEqual([{ id: head, len: 10 }]);
    expect(q.pop()).toBeNull();
  });

  it('walks an indirect table, alone or after direct descriptors (§2.7.5.3.2), and names its entries', () => {
    const { drv, q, arena } = bare();
    const hdr = arena.put('HEAD');
    const data = arena.put('0123456789');
    const st = arena.alloc(1);
    const head = drv.addIndirect([{ addr: hdr, len: 4 }, { addr: data, len: 10 }, { addr: st, len: 1, write: true }], arena);
    drv.publish();
    const c = popChain(q);
    expect(c.head).toBe(head);
    const where = (i: number) => [c.buffer(i).desc, c.buffer(i).indirect];
    expect([where(0), where(1)]).toEqual([[head, 0], [head, 1]]);
    expect(c.readableCount).toBe(2);
    expect([where(2)]).toEqual([[head, 2]]);
    expect(c.bufferCount).toBe(3);
    expect(new TextDecoder().decode(c.read(0, 14) as Uint8Array)).toBe('HEAD0123456789');
    expect(q.push(c, 1)).toBeNull();

    // A direct readable descriptor followed by an indirect one.
    const table = arena.alloc(32, 16);
    drv.writeDesc(0, { addr: data, len: 2, flags: R.VRING_DESC_F_NEXT, next: 1 }, table);
    drv.writeDesc(1, { addr: st, len: 1, flags: R.VRING_DESC_F_WRITE }, table);
    drv.writeDesc(5, { addr: hdr, len: 4, flags: R.VRING_DESC_F_NEXT, next: 6 });
    drv.writeDesc(6, { addr: table, len: 32, flags: R.VRING_DESC_F_INDIRECT | R.VRING_DESC_F_WRITE }); // WRITE ignored
    drv.addHead(5);
    drv.publish();
    const c2 = popChain(q);
    expect(new TextDecoder().decode(c2.read(0, 6) as Uint8Array)).toBe('HEAD01');
    expect(c2.writableBytes).toBe(1);
    expect(Array.from({ length: c2.descriptorCount }, (_, k) => c2.descriptor(k))).toEqual([5, 6]);
  });

  it('holds the descriptors of a chain until it is returned: another chain may not use them', () => {
    const { drv, q, arena } = bare();
    const buf = arena.alloc(16);
    drv.writeDesc(0, { addr: buf, len: 4, flags: R.VRING_DESC_F_NEXT, next: 1 });
    drv.writeDesc(1, { addr: buf, len: 4, flags: 0 });
    drv.writeDesc(2, { addr: buf, len: 4, flags: R.VRING_DESC_F_NEXT, next: 1 });
    drv.addHead(0);
    drv.addHead(2);
    drv.publish();
    const c = popChain(q);
    const e = q.pop() as RingError;
    expect(e.kind).toBe('descriptor-in-use');
    expect(formatRingError(e)).toBe('t.q: descriptor 2: next index 1 belongs to a chain the device has not returned yet');
    // Once the first chain is back, the second one is fine.
    expect(q.push(c, 0)).toBeNull();
    expect(popChain(q).head).toBe(2);
  });

  it('gives the last chain back with unpop, and takes it again', () => {
    const { drv, q, arena } = bare();
    drv.add([{ addr: arena.alloc(8), len: 8, write: true }]);
    drv.publish();
    const c = popChain(q);
    q.unpop(c);
    expect(q.held).toBe(0);
    const again = popChain(q);
    expect(again.head).toBe(c.head);
    // The queue recycles chain objects, so a handle kept past unpop is the new chain: what
    // stays refused is giving back a chain that is not the last one taken, or is not held.
    expect(again).toBe(c);
    drv.add([{ addr: arena.alloc(8), len: 8, write: true }]);
    drv.publish();
    const second = popChain(q);
    expect(() => q.unpop(again)).toThrow(/not the last one taken/);
    expect(q.push(second, 0)).toBeNull();
    expect(() => q.unpop(second)).toThrow(/not the last one taken/);
  });

  it('hands out the same chain object for every request once warm, and one per chain held at once', () => {
    const { drv, q, arena } = bare(8, FEATURES | R.VIRTIO_F_INDIRECT_DESC_MASK);
    const hdr = arena.put('HEADER..');
    const st = arena.alloc(4);
    const seen = new Set<DescriptorChain>();
    for (let i = 0; i < 50; i++) {
      if (i % 2) drv.addIndirect([{ addr: hdr, len: 8 }, { addr: st, len: 4, write: true }], arena);
      else drv.add([{ addr: hdr, len: 8 }, { addr: st, len: 4, write: true }]);
      drv.publish();
      q.beginBatch();
      const c = popChain(q);
      seen.add(c);
      expect(new TextDecoder().decode(c.read(0, 8) as Uint8Array)).toBe('HEADER..');
      expect(q.push(c, 4)).toBeNull();
      drv.takeUsed();
    }
    expect(seen.size).toBe(1);
    // Chains held together are distinct objects, and both come back to the pool.
    drv.add([{ addr: st, len: 4, write: true }]);
    drv.add([{ addr: st, len: 4, write: true }]);
    drv.publish();
    const a = popChain(q);
    const b = popChain(q);
    expect(a).not.toBe(b);
    expect(q.push(a, 0) ?? q.push(b, 0)).toBeNull();
    // A reset voids chains taken before it: giving one back is a host bug.
    drv.add([{ addr: st, len: 4, write: true }]);
    drv.publish();
    const stale = popChain(q);
    q.reset();
    expect(() => q.push(stale, 0)).toThrow(/returned twice/);
  });

  it('treats pushing a chain twice or a used length beyond its writable bytes as a host bug', () => {
    const { drv, q, arena } = bare();
    drv.add([{ addr: arena.alloc(8), len: 8, write: true }]);
    drv.publish();
    const c = popChain(q);
    expect(() => q.push(c, 9)).toThrow(RangeError);
    expect(q.push(c, 8)).toBeNull();
    expect(() => q.push(c, 8)).toThrow(/returned twice/);
    expect(() => c.read(0, 1)).toThrow(RangeError);
  });

  it('writes the used element before publishing used idx (§2.7.8.2)', () => {
    const { drv, arena, ring } = bare();
    const writes: number[] = [];
    const logged: RingMemory = {
      check: (a, l, w) => ring.check(a, l, w),
      readU16: (a) => ring.readU16(a),
      readU32: (a) => ring.readU32(a),
      readInto: (a, d, at, l) => ring.readInto(a, d, at, l),
      writeU16: (a, v) => (writes.push(a), ring.writeU16(a, v)),
      writeU32: (a, v) => (writes.push(a), ring.writeU32(a, v)),
      writeFrom: (a: MachineAddr, d, at, l) => ring.writeFrom(a, d, at, l),
      fill: (a, l, v) => ring.fill(a, l, v),
    };
    const q = new Virtqueue('t.q', logged, 8);
    expect(q.configure(drv.config(), 0)).toBeNull();
    drv.add([{ addr: arena.alloc(4), len: 4, write: true }]);
    drv.publish();
    writes.length = 0;
    expect(q.push(popChain(q), 4)).toBeNull();
    const elem = drv.used + R.VRING_USED_RING;
    expect(writes).toEqual([elem + R.VRING_USED_ELEM_ID, elem + R.VRING_USED_ELEM_LEN, drv.used + R.VRING_USED_IDX]);
  });

  it('refuses a configuration that is not a power of two, misaligned, or outside the domain', () => {
    const { q, drv } = bare();
    const cfg = drv.config();
    expect(q.configure({ ...cfg, size: 6 }, 0)?.kind).toBe('queue-size');
    expect(q.configure({ ...cfg, size: 512 }, 0)?.kind).toBe('queue-size');
    expect(q.configure({ ...cfg, desc: maddr(cfg.desc + 8) }, 0)).toMatchObject({ kind: 'misaligned', part: 'descriptor table', align: 16 });
    expect(q.configure({ ...cfg, avail: maddr(cfg.avail + 1) }, 0)).toMatchObject({ kind: 'misaligned', part: 'available ring', align: 2 });
    expect(q.configure({ ...cfg, used: maddr(cfg.used + 2) }, 0)).toMatchObject({ kind: 'misaligned', part: 'used ring', align: 4 });
    expect(q.configure({ ...cfg, used: maddr(0x7fff0) }, 0)).toMatchObject({ kind: 'ring-outside', part: 'used ring' });
    expect(q.ready).toBe(true); // the refusals changed nothing
  });
});

describe('virtqueue: 16-bit indices wrap', () => {
  it('takes chains and publishes used entries across 65535 → 0', () => {
    const { drv, q, arena } = bare(4);
    drv.startAt(65533);
    q.restore({ lastAvail: 65533, nextUsed: 65533 });
    const heads: number[] = [];
    const seen: number[] = [];
    for (let batch = 0; batch < 2; batch++) {
      for (let i = 0; i < 3; i++) heads.push(drv.add([{ addr: arena.alloc(4), len: 4, write: true }]));
      drv.publish();
      for (let c = q.pop(); c !== null; c = q.pop()) {
        if (!(c instanceof DescriptorChain)) throw new Error(formatRingError(c));
        expect(q.push(c, 4)).toBeNull();
      }
      seen.push(...drv.takeUsed().map((u) => u.id));
    }
    expect(seen).toEqual(heads);
    expect(q.indices()).toEqual({ lastAvail: 3, nextUsed: 3 });
    expect(drv.usedIdx()).toBe(3);
  });

  it('decides EVENT_IDX notifications across the wrap', () => {
    const { drv, q, arena } = bare(4, R.VIRTIO_RING_F_EVENT_IDX_MASK);
    drv.startAt(65534);
    q.restore({ lastAvail: 65534, nextUsed: 65534 });
    drv.setUsedEvent(65535); // interrupt once entry 65535 is written (used idx reaches 0)
    for (let i = 0; i < 3; i++) drv.add([{ addr: arena.alloc(4), len: 4, write: true }]);
    drv.publish();
    for (let c = q.pop(); c !== null; c = q.pop()) expect(q.push(c as DescriptorChain, 0)).toBeNull();
    expect(q.interruptDecision()).toBe('notify'); // 65534 → 1 passed 65535
    drv.takeUsed();
    drv.add([{ addr: arena.alloc(4), len: 4, write: true }]);
    drv.publish();
    expect(q.push(popChain(q), 0)).toBeNull();
    expect(q.interruptDecision()).toBe('suppress'); // 1 → 2 does not pass 65535
  });

  it('runs more than 65536 requests through a console, every index value used', () => {
    const { con, tx, arena } = consoleRig({ eventIdx: true, size: 256 });
    const buf = arena.put('.');
    let done = 0;
    while (done < 66_000) {
      for (let i = 0; i < 256; i++) tx.add([{ addr: buf, len: 1 }]);
      tx.publish();
      expect(con.kick(R.VIRTIO_CONSOLE_QUEUE_TX)).toMatchObject({ kind: 'done', used: 256 });
      done += tx.takeUsed().length;
    }
    expect(con.consoleStats.txBytes).toBe(done);
    expect(tx.usedIdx()).toBe(done % 65536);
    expect(con.stats.errors['avail-ahead']).toBe(0);
  });
});

describe('virtqueue: EVENT_IDX and flags, exact notification counts', () => {
  it('device → driver with EVENT_IDX: one interrupt when used idx passes used_event', () => {
    const { rec, con, tx, send } = consoleRig({ eventIdx: true });
    tx.setUsedEvent(4); // "interrupt me when the entry at index 4 is written"
    for (const expected of [0, 1, 1]) {
      send(3);
      expect(tx.publish()).toBe(true); // the device was idle: avail_event = its next index
      con.kick(R.VIRTIO_CONSOLE_QUEUE_TX);
      tx.takeUsed();
      expect(rec.count('used')).toBe(expected);
    }
    // used idx went 0→3 (no), 3→6 (passes 4: yes), 6→9 (no)
    expect(con.stats.usedNotifications).toBe(1);
    expect(con.stats.suppressedNotifications).toBe(2);
    expect(tx.kicksNeeded).toBe(3);
  });

  it('device → driver without EVENT_IDX: NO_INTERRUPT suppresses, its absence notifies once per batch', () => {
    const { rec, con, tx, send } = consoleRig({ eventIdx: false });
    tx.setNoInterrupt(true);
    send(4);
    tx.publish();
    con.kick(R.VIRTIO_CONSOLE_QUEUE_TX);
    expect(rec.count('used')).toBe(0);
    tx.setNoInterrupt(false);
    send(4);
    tx.publish();
    con.kick(R.VIRTIO_CONSOLE_QUEUE_TX);
    expect(rec.events).toEqual([['used', R.VIRTIO_CONSOLE_QUEUE_TX]]);
    expect([con.stats.usedNotifications, con.stats.suppressedNotifications]).toEqual([1, 1]);
  });

  for (const eventIdx of [true, false]) {
    it(`driver → device ${eventIdx ? 'with EVENT_IDX (avail_event)' : 'without EVENT_IDX (NO_NOTIFY)'}: no kick while the device is still polling`, () => {
      // A budget of 2 descriptors per batch: the device lags behind the driver.
      const { con, tx, send } = consoleRig({ eventIdx, budget: { descriptors: 2, bytes: 1 << 20 } });
      send(4, 'a');
      expect(tx.publish()).toBe(true);
      expect(con.kick(R.VIRTIO_CONSOLE_QUEUE_TX)).toEqual({ kind: 'done', used: 2, notified: true, more: true });
      expect(con.hasPendingWork).toBe(true);
      if (eventIdx) expect(tx.availEvent()).toBe(2);
      else expect(tx.usedFlags()).toBe(R.VRING_USED_F_NO_NOTIFY);
      send(2, 'b');
      expect(tx.publish()).toBe(false); // the device said it is polling
      expect(con.poll()).toBe(true); // 4 of 6
      expect(con.poll()).toBe(false); // 6 of 6, caught up: kicks welcome again
      if (eventIdx) expect(tx.availEvent()).toBe(6);
      else expect(tx.usedFlags()).toBe(0);
      send(1, 'c');
      expect(tx.publish()).toBe(true);
      con.kick(R.VIRTIO_CONSOLE_QUEUE_TX);
      expect([tx.kicksNeeded, tx.kicksSuppressed]).toEqual([2, 1]);
      expect(con.outputText()).toBe('a0;a1;a2;a3;b0;b1;c0;');
      expect(con.stats.polls).toBe(2);
    });
  }

  it('moves a batch of 16 chains with one kick and one interrupt', () => {
    const { rec, con, tx, send } = consoleRig({ eventIdx: true, size: 16 });
    tx.setUsedEvent(15);
    send(16);
    expect(tx.publish()).toBe(true);
    expect(con.kick(R.VIRTIO_CONSOLE_QUEUE_TX)).toEqual({ kind: 'done', used: 16, notified: true, more: false });
    expect(rec.count('used')).toBe(1);
  });
});

describe('virtqueue: bounded work', () => {
  it('stops a batch on its budget and finishes with polls, each bounded', () => {
    const { con, tx, arena } = consoleRig({ eventIdx: false, size: 64, budget: { descriptors: 10, bytes: 1 << 20 } });
    const b = arena.put('z');
    for (let i = 0; i < 64; i++) tx.add([{ addr: b, len: 1 }]);
    tx.publish();
    const before = con.stats.descriptors;
    con.kick(R.VIRTIO_CONSOLE_QUEUE_TX);
    expect(con.stats.descriptors - before).toBe(10);
    let polls = 0;
    while (con.poll()) polls++;
    expect(polls).toBe(5); // 10 per batch: 64 = 10 + 5·10 + 4
    expect(con.consoleStats.txBytes).toBe(64);
  });

  it('finds a loop through all 32768 descriptors of the largest queue in one pass of 32768 reads', () => {
    const mem = new PhysicalMemory(2 << 20);
    let reads = 0;
    const inner = new PhysicalRingMemory(mem);
    const ring: RingMemory = {
      check: (a, l, w) => inner.check(a, l, w),
      readU16: (a) => inner.readU16(a),
      readU32: (a) => inner.readU32(a),
      writeU16: (a, v) => inner.writeU16(a, v),
      writeU32: (a, v) => inner.writeU32(a, v),
      readInto: (a, d, at, l) => (reads++, inner.readInto(a, d, at, l)), // one per descriptor
      writeFrom: (a, d, at, l) => inner.writeFrom(a, d, at, l),
      fill: (a, l, v) => inner.fill(a, l, v),
    };
    const Q = R.VIRTQ_MAX_QUEUE_SIZE;
    const drv = new DriverQueue(mem, new Arena(mem, 0x1000, 2 << 20), Q);
    const q = new Virtqueue('big.q', ring, Q);
    expect(q.configure(drv.config(), 0)).toBeNull();
    const buf = 0x1000;
    for (let i = 0; i < Q; i++) drv.writeDesc(i, { addr: buf, len: 0, flags: R.VRING_DESC_F_NEXT, next: (i + 1) % Q });
    drv.addHead(0);
    drv.publish();
    const e = q.pop() as RingError;
    expect(formatRingError(e)).toBe('big.q: descriptor 32767: next index 0 goes back to a descriptor of the same chain: a loop');
    expect(reads).toBe(Q);
    expect(() => new Virtqueue('x', ring, 2 * Q)).toThrow(RangeError); // a host configuration bug
  });
});
