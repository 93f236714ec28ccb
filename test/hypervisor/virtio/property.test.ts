/**
 * Random descriptor tables, indirect tables and available rings: the device never throws, and
 * no call does more than O(Q) memory accesses (counted through a wrapping RingMemory).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as R from '../../../abi/ring.ts';
import type { MachineAddr } from '../../../hypervisor/machine/addr.ts';
import { VirtioBlock } from '../../../hypervisor/devices/virtio/block.ts';
import { VirtioConsole } from '../../../hypervisor/devices/virtio/console.ts';
import type { VirtioDevice } from '../../../hypervisor/devices/virtio/device.ts';
import { defaultBudget, DescriptorChain, Virtqueue, type RingMemory } from '../../../hypervisor/devices/virtio/virtqueue.ts';
import { bringUp, counting, domain, DriverQueue, recorder, type RawDesc } from './driver.ts';

const BUFS = 0x40000; // random buffers point around here (inside the domain, which ends at 0x80000)
const TABLES = 0x60000; // two indirect tables live here

/** A descriptor as a hostile driver might write it: mostly plausible, sometimes anything. */
const rawDesc = (q: number): fc.Arbitrary<RawDesc> =>
  fc.record({
    addr: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 0x1000 }).map((o) => BUFS + o) },
      { weight: 2, arbitrary: fc.constantFrom(TABLES, TABLES + 0x1000) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
    ),
    addrHi: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) }),
    len: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 600 }) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: q + 2 }).map((n) => 16 * n) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
    ),
    flags: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0, R.VRING_DESC_F_NEXT, R.VRING_DESC_F_WRITE, R.VRING_DESC_F_NEXT | R.VRING_DESC_F_WRITE) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 7 }) },
    ),
    next: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: q }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  });

const scenario = fc.integer({ min: 0, max: 5 }).chain((log) => {
  const q = 1 << log;
  return fc.record({
    q: fc.constant(q),
    device: fc.constantFrom('console' as const, 'block' as const),
    eventIdx: fc.boolean(),
    indirect: fc.boolean(),
    descs: fc.array(rawDesc(q), { minLength: q, maxLength: q }),
    tables: fc.array(fc.array(rawDesc(q), { minLength: 1, maxLength: q + 2 }), { minLength: 2, maxLength: 2 }),
    heads: fc.array(fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: q - 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }), { minLength: q, maxLength: q }),
    availIdx: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: q }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
    usedEvent: fc.integer({ min: 0, max: 0xffff }),
    noInterrupt: fc.boolean(),
    bytes: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  });
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** Write the scenario's rings into memory. */
function build(s: Scenario, drv: DriverQueue): void {
  s.descs.forEach((d, i) => drv.writeDesc(i, d));
  s.tables.forEach((t, k) => t.forEach((d, j) => drv.writeDesc(j, d, TABLES + 0x1000 * k)));
  s.heads.forEach((h, i) => drv.w16(drv.avail + R.VRING_AVAIL_RING + 2 * i, h));
  drv.setAvailIdx(s.availIdx);
  drv.setUsedEvent(s.usedEvent);
  drv.setNoInterrupt(s.noInterrupt);
  drv.mem.u8.set(s.bytes, BUFS);
  // Some buffers hold block request headers: type and sector from the random bytes.
  drv.mem.u8[BUFS] = s.bytes[0]! % 10;
}

describe('virtio: random rings', () => {
  it('never throw, and every kick or poll does O(Q) memory accesses', () => {
    let maxRatio = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const d = domain();
        const { mem, count } = counting(d.ring);
        const rec = recorder();
        const common = { name: 'p.dev', mem, notify: rec.notify };
        const dev: VirtioDevice = s.device === 'block' ? new VirtioBlock({ ...common, disk: new Uint8Array(16 * 512) }) : new VirtioConsole(common);
        const drv = new DriverQueue(d.mem, d.arena, s.q, s.eventIdx);
        const qi = s.device === 'block' ? R.VIRTIO_BLK_QUEUE_REQUEST : R.VIRTIO_CONSOLE_QUEUE_TX;
        let feats = dev.offeredFeatures;
        if (!s.eventIdx) feats &= ~R.VIRTIO_RING_F_EVENT_IDX_MASK;
        if (!s.indirect) feats &= ~R.VIRTIO_F_INDIRECT_DESC_MASK;
        bringUp(dev, [[qi, drv]], feats);
        build(s, drv);

        const budget = defaultBudget(s.q).descriptors;
        const bound = 16 * (budget + 2 * s.q + 2); // linear in Q: see the per-descriptor costs in virtqueue.ts
        const calls: Array<() => unknown> = [() => dev.kick(qi), () => dev.poll(), () => dev.kick(qi), () => dev.poll(), () => dev.poll()];
        for (const call of calls) {
          const before = count();
          call();
          const used = count() - before;
          maxRatio = Math.max(maxRatio, used / (budget + 2 * s.q + 2));
          expect(used).toBeLessThanOrEqual(bound);
        }
        const errors = Object.values(dev.stats.errors).reduce((a, b) => a + b, 0);
        if (dev.ringError) {
          expect(errors).toBe(1);
          expect(dev.errorLines).toHaveLength(1);
          expect(dev.errorLines[0]).toMatch(/^p\.dev\.(transmitq|requestq): (ring|descriptor \d+( indirect entry \d+)?): [^\n]+$/);
          expect(dev.status & R.VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
          expect(rec.count('config')).toBe(1);
        } else {
          expect(errors).toBe(0);
        }
        dev.reset();
        expect(dev.status).toBe(0);
      }),
      { numRuns: 400 },
    );
    expect(maxRatio).toBeGreaterThan(0);
  });

  it('well-formed rings with a few corrupted bytes: bounded calls, and without corruption every chain served', () => {
    const arb = fc.integer({ min: 0, max: 5 }).chain((log) => {
      const q = 1 << log;
      const chain = fc.oneof(
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: Math.min(4, q) }).map((lens) => ({ indirect: false, lens })),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: q, size: 'max' }).map((lens) => ({ indirect: true, lens })),
      );
      return fc.record({
        q: fc.constant(q),
        chains: fc.array(chain, { minLength: 1, maxLength: q, size: 'max' }),
        eventIdx: fc.boolean(),
        corrupt: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
      });
    });
    let polled = 0;
    fc.assert(
      fc.property(arb, (s) => {
        const d = domain();
        const { mem, count } = counting(d.ring);
        const rec = recorder();
        const dev = new VirtioConsole({ name: 'p.dev', mem, notify: rec.notify });
        const drv = new DriverQueue(d.mem, d.arena, s.q, s.eventIdx);
        const feats = s.eventIdx ? dev.offeredFeatures : dev.offeredFeatures & ~R.VIRTIO_RING_F_EVENT_IDX_MASK;
        bringUp(dev, [[R.VIRTIO_CONSOLE_QUEUE_TX, drv]], feats);
        let expected = 0;
        for (const c of s.chains) {
          if (!c.indirect && drv.freeCount < c.lens.length) break;
          if (c.indirect && drv.freeCount < 1) break;
          const bufs = c.lens.map((len) => ({ addr: BUFS + 8 * len, len }));
          if (c.indirect) drv.addIndirect(bufs, d.arena);
          else drv.add(bufs);
          expected += c.lens.reduce((a, b) => a + b, 0);
        }
        drv.publish();
        // Corrupt bytes of the descriptor table and the available ring (they are adjacent).
        const span = 16 * s.q + R.VRING_AVAIL_OVERHEAD + 2 * s.q;
        for (const { at, byte } of s.corrupt) d.mem.u8[drv.desc + (at % span)] = byte;

        const budget = defaultBudget(s.q).descriptors;
        const bound = 16 * (budget + 2 * s.q + 2);
        let calls = 0;
        for (let more = true; more && calls < 4 * s.q + 4; calls++) {
          const before = count();
          more = calls === 0 ? dev.kick(R.VIRTIO_CONSOLE_QUEUE_TX).kind === 'done' && dev.hasPendingWork : dev.poll();
          expect(count() - before).toBeLessThanOrEqual(bound);
        }
        expect(dev.hasPendingWork).toBe(false);
        if (dev.stats.polls > 0) polled++;
        if (s.corrupt.length === 0) {
          expect(dev.ringError).toBeNull();
          expect(dev.consoleStats.txBytes).toBe(expected);
          expect(drv.usedIdx()).toBe(dev.stats.requests);
        }
      }),
      { numRuns: 300 },
    );
    expect(polled).toBeGreaterThan(0); // some runs were long enough to need polls after the kick
  });

  it('never take more than 2·Q + 6 memory accesses to pop one chain', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const d = domain();
        const { mem, count } = counting(d.ring);
        const drv = new DriverQueue(d.mem, d.arena, s.q, s.eventIdx);
        const q = new Virtqueue('p.q', mem, 32);
        const feats = (s.eventIdx ? R.VIRTIO_RING_F_EVENT_IDX_MASK : 0) | (s.indirect ? R.VIRTIO_F_INDIRECT_DESC_MASK : 0);
        expect(q.configure(drv.config(), feats)).toBeNull();
        build(s, drv);
        q.beginBatch();
        for (let i = 0; i <= s.q; i++) {
          const before = count();
          const c = q.pop();
          expect(count() - before).toBeLessThanOrEqual(2 * s.q + 6);
          if (!(c instanceof DescriptorChain)) break;
          expect(c.bufferCount).toBeLessThanOrEqual(s.q);
        }
        expect(q.held).toBeLessThanOrEqual(s.q);
      }),
      { numRuns: 400 },
    );
  });
});
