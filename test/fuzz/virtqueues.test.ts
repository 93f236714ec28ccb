/**
 * Target 3: random and mutated virtqueues (virtio-props.ts), and one named regression test per
 * class of QEMU virtio CVE that hypervisor/devices/virtio/README.md and shared/ANCHORS.md list.
 * Each CVE test builds the attack twice: on the device, with every ring access counted (bounded
 * work, no hang) and a second domain's devices in the same machine memory; and through the pv
 * transport, where the attacker's kick gets the error code, its device needs a reset, and the
 * victim domain's memory is unchanged and its console still works.
 *
 * Shapes of the same faults with exact messages: test/hypervisor/virtio/malformed.test.ts (one
 * per error kind); descriptor-in-use (a chain re-published while held): virtqueue.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as E from '../../abi/errors.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import * as R from '../../abi/ring.ts';
import { VirtioNet } from '../../hypervisor/devices/virtio/net.ts';
import { VirtioConsole } from '../../hypervisor/devices/virtio/console.ts';
import { DriverQueue } from '../hypervisor/virtio/driver.ts';
import { liveBytes } from './common.ts';
import { shortRun } from './properties.ts';
import { accessBound, twoDomains } from './virtio-props.ts';
import { CONSOLE, pvVirtioRig, setQueue, virtio } from './virtio-pv.ts';

const F = R.VRING_DESC_F_NEXT;
const W = R.VRING_DESC_F_WRITE;
const I = R.VRING_DESC_F_INDIRECT;
const TX = R.VIRTIO_CONSOLE_QUEUE_TX;
const NEEDS_RESET = R.VIRTIO_STATUS_DEVICE_NEEDS_RESET;

type Rig = ReturnType<typeof twoDomains>;

/** Kick A's queue once: the device reports `kind`, needs a reset, says so once, within O(Q) accesses; B goes on. */
function expectContained(w: Rig, q: number, kind: string): void {
  const before = w.count();
  const r = w.dev.kick(w.qi);
  expect(w.count() - before).toBeLessThanOrEqual(accessBound(q));
  expect(r.kind).toBe('failed');
  expect(w.dev.ringError?.kind).toBe(kind);
  expect(w.dev.status & NEEDS_RESET).toBe(NEEDS_RESET);
  expect(w.dev.errorLines).toHaveLength(1);
  expect(w.dev.errorLines[0]).toMatch(/^domA\.dev\.\w+: [^\n]+$/);
  expect(w.recA.count('config')).toBe(1);
  expect(w.dev.kick(w.qi)).toEqual({ kind: 'ignored', reason: 'not-live' });
  expect(w.bWorks()).toBe(true);
}

/** The same attack through virtio_op: the kick fails with EIO, A's console needs a reset, B is untouched and works. */
function expectContainedPv(build: (rig: ReturnType<typeof pvVirtioRig>) => void, q = 8): void {
  const rig = pvVirtioRig(q);
  build(rig);
  expect(virtio(rig.host, rig.a, N.VIRTIO_KICK, CONSOLE, TX)).toBe(-E.EIO);
  expect(rig.statusA() & NEEDS_RESET).toBe(NEEDS_RESET);
  expect(virtio(rig.host, rig.a, N.VIRTIO_KICK, CONSOLE, TX)).toBe(0); // ignored until a reset
  expect(rig.victimIntact()).toBe(true);
  expect(rig.victimWorks()).toBe(true);
}

describe('fuzz: random virtqueues', () => {
  it('console, block and net devices under random rings and calls: no throw, O(Q) work, faults contained, the other domain goes on', async () => {
    await fc.assert(...shortRun('virtqueues'));
  }, 120_000);
});

describe('QEMU virtio CVE classes, as regression tests', () => {
  it('CVE-2011-2512: a negative or out-of-range queue index is refused and changes nothing', () => {
    const w = twoDomains('console', 8);
    const bad = [-1, -0x80000000, 2, 15, 16, 0xffff, 0x7fffffff, 0xffffffff, 2 ** 31, 2 ** 53, 1.5, NaN, Infinity];
    const status = w.dev.status;
    for (const q of bad) {
      const before = w.count();
      expect(w.dev.kick(q).kind, `kick(${q})`).toBe('refused');
      expect(typeof w.dev.queueMaxSize(q), `queueMaxSize(${q})`).toBe('object');
      expect(w.dev.configureQueue(q, w.qa.config()), `configureQueue(${q})`).not.toBeNull();
      expect(w.count() - before).toBe(0); // refused before any ring access
    }
    expect(w.dev.status).toBe(status);
    expect(Object.values(w.dev.stats.errors).every((n) => n === 0)).toBe(true);
    // A's device still works, and so does B's.
    w.qa.add([{ addr: w.arenaA.put('A ok'), len: 4 }]);
    w.qa.publish();
    expect(w.dev.kick(TX)).toMatchObject({ kind: 'done', used: 1 });
    expect((w.dev as VirtioConsole).outputText()).toBe('A ok');
    expect(w.bWorks()).toBe(true);

    // Through virtio_op: indices the device lacks are EINVAL (the schema stops 16 and up), nothing breaks.
    const rig = pvVirtioRig(8);
    for (const q of [2, 3, 15, 16, 0x7fffffff, 0xffffffff]) expect(virtio(rig.host, rig.a, N.VIRTIO_KICK, CONSOLE, q), `virtio kick queue ${q}`).toBe(-E.EINVAL);
    for (const q of [2, 0xffff, 0x80000000, 0xffffffff]) {
      expect(virtio(rig.host, rig.a, N.VIRTIO_SET_STATUS, CONSOLE, 0)).toBe(0);
      expect(setQueue(rig.host, rig.a, CONSOLE, q, rig.qa.config()), `set_queue index ${q}`).toBeLessThan(0);
    }
    expect(rig.statusA() & NEEDS_RESET).toBe(0);
    expect(rig.victimIntact()).toBe(true);
    expect(rig.victimWorks()).toBe(true);
    // Its in-ring twin, a head index beyond the queue, is a malformed ring: contained.
    const h = twoDomains('block', 8);
    h.qa.addHead(0xffff);
    h.qa.publish();
    expectContained(h, 8, 'descriptor-index');
    expectContainedPv(({ qa }) => {
      qa.addHead(8);
      qa.publish();
    });
  });

  it('CVE-2016-5403: an available idx too far ahead, or a flood of requests, never grows the host', () => {
    for (const idx of [9, 0x8000, 0xffff]) {
      const w = twoDomains('console', 8);
      w.qa.setAvailIdx(idx);
      expectContained(w, 8, 'avail-ahead');
    }
    expectContainedPv(({ qa }) => qa.setAvailIdx(100));

    // Frames flood a receiver that posts no buffers: its backlog stops at its bound, the rest are dropped and counted.
    const n = twoDomains('net', 8);
    const a = n.dev as VirtioNet;
    const frame = new Uint8Array(60);
    frame.set(a.mac);
    for (let i = 0; i < 5000; i++) n.bridge.transmit(n.bnet, frame);
    n.bridge.flush();
    expect(a.backlogLength).toBeLessThanOrEqual(256);
    expect(a.netStats.rxDropped).toBeGreaterThanOrEqual(5000 - 256);
    expect(n.bWorks()).toBe(true);

    // A guest that kicks without end costs the host nothing that stays: 20,000 kicks through virtio_op.
    const rig = pvVirtioRig(8);
    rig.qa.add([{ addr: rig.arenaA.put('x'), len: 1 }]);
    rig.qa.publish();
    const heap0 = liveBytes();
    for (let i = 0; i < 20_000; i++) expect(virtio(rig.host, rig.a, N.VIRTIO_KICK, CONSOLE, TX)).toBe(0);
    expect(liveBytes() - heap0).toBeLessThan(8 * 1024 * 1024);
    expect(JSON.stringify(rig.a.virtio[CONSOLE]!.stats).length).toBeLessThan(2048);
    expect(rig.victimIntact()).toBe(true);
    expect(rig.victimWorks()).toBe(true);
  });

  it('CVE-2016-6490: zero-length descriptors in a loop, or a long zero-length chain, never hang the device', () => {
    // Two zero-length descriptors pointing at each other, and one pointing at itself.
    for (const loop of [[1, 0], [0]]) {
      const w = twoDomains('console', 8);
      const b = w.arenaA.alloc(4);
      loop.forEach((next, i) => w.qa.writeDesc(i, { addr: b, len: 0, flags: F, next }));
      w.qa.addHead(0);
      w.qa.publish();
      expectContained(w, 8, 'descriptor-loop');
    }
    // The same inside an indirect table.
    const ind = twoDomains('block', 8);
    const t = ind.arenaA.alloc(32, 16);
    ind.qa.writeDesc(0, { addr: t + 16, len: 0, flags: F, next: 1 }, t);
    ind.qa.writeDesc(1, { addr: t + 16, len: 0, flags: F, next: 0 }, t);
    ind.qa.writeDesc(0, { addr: t, len: 32, flags: I });
    ind.qa.addHead(0);
    ind.qa.publish();
    expectContained(ind, 8, 'descriptor-loop');
    // A whole queue of zero-length descriptors, no loop: bounded, answered or refused, never stuck.
    for (const q of [8, 256]) {
      const w = twoDomains('console', q);
      const b = w.arenaA.alloc(4);
      for (let i = 0; i < q; i++) w.qa.writeDesc(i, { addr: b, len: 0, flags: i < q - 1 ? F : 0, next: i + 1 });
      w.qa.addHead(0);
      w.qa.publish();
      const before = w.count();
      const r = w.dev.kick(w.qi);
      expect(w.count() - before).toBeLessThanOrEqual(accessBound(q));
      expect(['done', 'failed']).toContain(r.kind);
      expect(w.dev.hasPendingWork).toBe(false);
      expect(w.bWorks()).toBe(true);
    }
    expectContainedPv(({ qa, arenaA }) => {
      const b = arenaA.alloc(4);
      qa.writeDesc(0, { addr: b, len: 0, flags: F, next: 1 });
      qa.writeDesc(1, { addr: b, len: 0, flags: F, next: 0 });
      qa.addHead(0);
      qa.publish();
    });
  });

  it('CVE-2016-7422: a huge descriptor length is refused before anything is copied', () => {
    for (const len of [0xffffffff, 0x80000000, R.VIRTQ_MAX_CHAIN_BYTES + 1]) {
      const w = twoDomains('console', 8);
      w.qa.writeDesc(0, { addr: w.arenaA.put('x'), len, flags: 0 });
      w.qa.addHead(0);
      w.qa.publish();
      expectContained(w, 8, len > 0x80000 ? 'length-overflow' : 'address-outside');
      expect((w.dev as VirtioConsole).output().length).toBe(0);
    }
    // A block read into a huge writable buffer: refused before the disk is touched.
    const blk = twoDomains('block', 8);
    const hdr = blk.arenaA.put(new Uint8Array(16)); // type 0: IN, sector 0
    blk.qa.add([{ addr: hdr, len: 16 }, { addr: blk.arenaA.alloc(512), len: 0xfffffff0, write: true }, { addr: blk.arenaA.alloc(1), len: 1, write: true }]);
    blk.qa.publish();
    expectContained(blk, 8, 'length-overflow');
    // An indirect table claiming 4 GiB of descriptors.
    const ind = twoDomains('console', 8);
    ind.qa.writeDesc(0, { addr: ind.arenaA.alloc(64, 16), len: 0xfffffff0, flags: I });
    ind.qa.addHead(0);
    ind.qa.publish();
    expectContained(ind, 8, 'indirect-length');
    expectContainedPv(({ qa, arenaA }) => {
      qa.writeDesc(0, { addr: arenaA.put('x'), len: 0xffffffff, flags: 0 });
      qa.addHead(0);
      qa.publish();
    });
  });
});

describe('the virtio fuzz rig itself', () => {
  it("notices when an attacker's device writes into the other domain's memory", () => {
    const w = twoDomains('console', 8);
    const before = w.bDigest();
    w.mem.u8[0x90000]! ^= 1; // as a device with a too-wide RingMemory would
    expect(w.bDigest()).not.toBe(before);
  });

  it('a driver queue in the pv rig is where the guest says (a sanity check of the transport helpers)', () => {
    const rig = pvVirtioRig(8, { live: false });
    expect(rig.statusA()).toBe(0);
    expect(new DriverQueue(rig.host.mem, rig.arenaA, 8).size).toBe(8);
  });
});
