import { describe, expect, it } from 'vitest';
import * as R from '../../../abi/ring.ts';
import { formatMac, NetBridge } from '../../../hypervisor/devices/virtio/bridge.ts';
import { VirtioNet } from '../../../hypervisor/devices/virtio/net.ts';
import { bringUp, domain, DriverQueue, recorder } from './driver.ts';

const RX = R.VIRTIO_NET_QUEUE_RX;
const TX = R.VIRTIO_NET_QUEUE_TX;
const HDR = R.VIRTIO_NET_HDR_BYTES;
const BUF = HDR + R.VIRTIO_NET_MAX_FRAME;
const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** An Ethernet frame carrying a sequence number. */
function frame(dst: Uint8Array, src: Uint8Array, seq: number, extra = 50): Uint8Array {
  const f = new Uint8Array(14 + 4 + extra);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  new DataView(f.buffer).setUint32(14, seq, true);
  for (let i = 0; i < extra; i++) f[18 + i] = (seq + i) & 0xff;
  return f;
}
const seqOf = (f: Uint8Array): number => new DataView(f.buffer, f.byteOffset).getUint32(14, true);

/** One domain with a net device and a driver that keeps its own buffer pools. */
function nic(bridge: NetBridge, name: string, opts: { size?: number; eventIdx?: boolean; backlog?: number; postRx?: number } = {}) {
  const size = opts.size ?? 64;
  const d = domain();
  const rec = recorder();
  const net = new VirtioNet({ name, mem: d.ring, notify: rec.notify, bridge, backlog: opts.backlog });
  const rx = new DriverQueue(d.mem, d.arena, size, opts.eventIdx ?? false);
  const tx = new DriverQueue(d.mem, d.arena, size, opts.eventIdx ?? false);
  bringUp(net, [[RX, rx], [TX, tx]]);
  const rxAt = new Map<number, number>();
  const txAt = new Map<number, number>();
  const rxPool = Array.from({ length: size }, () => d.arena.alloc(BUF));
  const txPool = Array.from({ length: size }, () => d.arena.alloc(BUF));
  const postRx = (n = rxPool.length): void => {
    for (let i = 0; i < n && rxPool.length > 0; i++) {
      const a = rxPool.pop()!;
      rxAt.set(rx.add([{ addr: a, len: BUF, write: true }]), a);
    }
    if (rx.publish()) net.kick(RX);
  };
  /** Frames received since the last call, oldest first; their buffers go back to the pool. */
  const received = (): Uint8Array[] =>
    rx.takeUsed().map((u) => {
      const a = rxAt.get(u.id)!;
      rxPool.push(a);
      const hdr = d.mem.u8.subarray(a, a + HDR);
      expect(hdr[R.VIRTIO_NET_HDR_NUM_BUFFERS]).toBe(1);
      return d.mem.u8.slice(a + HDR, a + u.len);
    });
  /** Queue frames on the transmit ring (header + frame in two descriptors) and kick if needed. */
  const send = (frames: Uint8Array[]): void => {
    for (const u of tx.takeUsed()) txPool.push(txAt.get(u.id)!);
    for (const f of frames) {
      const a = txPool.pop()!;
      d.mem.u8.fill(0, a, a + HDR);
      d.mem.u8.set(f, a + HDR);
      txAt.set(tx.add([{ addr: a, len: HDR }, { addr: a + HDR, len: f.length }]), a);
    }
    if (tx.publish()) net.kick(TX);
  };
  if (opts.postRx !== 0) postRx(opts.postRx);
  return { ...d, rec, net, rx, tx, postRx, received, send };
}

describe('virtio-net over the bridge', () => {
  it('two domains exchange 1,000 frames each way, in order, with no loss', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net', { eventIdx: true });
    const b = nic(bridge, 'dom2.net', { eventIdx: true });
    const gotA: number[] = [];
    const gotB: number[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const seqs = Array.from({ length: 25 }, (_, i) => batch * 25 + i);
      a.send(seqs.map((s) => frame(b.net.mac, a.net.mac, s)));
      b.send(seqs.map((s) => frame(a.net.mac, b.net.mac, s)));
      gotB.push(...b.received().map(seqOf));
      gotA.push(...a.received().map(seqOf));
      a.postRx();
      b.postRx();
    }
    const all = Array.from({ length: 1000 }, (_, i) => i);
    expect(gotB).toEqual(all);
    expect(gotA).toEqual(all);
    for (const n of [a.net, b.net]) {
      expect(n.netStats).toMatchObject({ txFrames: 1000, rxFrames: 1000, rxDropped: 0, txDropped: 0 });
      expect(n.live).toBe(true);
    }
    expect(bridge.stats).toMatchObject({ frames: 2000, unicast: 2000, flooded: 0 });
  });

  it('loops frames back to the sender when it is alone on the bridge', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net');
    const frames = [frame(BROADCAST, a.net.mac, 1), frame(Uint8Array.of(2, 9, 9, 9, 9, 9), a.net.mac, 2), frame(a.net.mac, a.net.mac, 3)];
    a.send(frames);
    expect(a.received()).toEqual(frames);
    expect(bridge.stats.loopback).toBe(3);
  });

  it('floods broadcast and unknown destinations to every other port, and sends unicast to one', () => {
    const bridge = new NetBridge();
    const [a, b, c] = ['dom1.net', 'dom2.net', 'dom3.net'].map((n) => nic(bridge, n));
    a!.send([frame(BROADCAST, a!.net.mac, 1), frame(c!.net.mac, a!.net.mac, 2), frame(Uint8Array.of(2, 1, 1, 1, 1, 1), a!.net.mac, 3)]);
    expect(a!.received().map(seqOf)).toEqual([]);
    expect(b!.received().map(seqOf)).toEqual([1, 3]);
    expect(c!.received().map(seqOf)).toEqual([1, 2, 3]);
    expect(formatMac(a!.net.mac)).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(new Set([a, b, c].map((x) => formatMac(x!.net.mac))).size).toBe(3);
  });

  it('gives a receiver one notification for a batch of frames', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net');
    const b = nic(bridge, 'dom2.net');
    a.send(Array.from({ length: 32 }, (_, i) => frame(b.net.mac, a.net.mac, i)));
    expect(b.rec.events).toEqual([['used', RX]]);
    expect(a.rec.events).toEqual([['used', TX]]);
    expect(b.received()).toHaveLength(32);
  });

  it('holds frames in a bounded backlog when the receiver has no buffers, drops and counts beyond it', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net');
    const b = nic(bridge, 'dom2.net', { backlog: 100, postRx: 0 });
    for (let k = 0; k < 6; k++) a.send(Array.from({ length: 25 }, (_, i) => frame(b.net.mac, a.net.mac, k * 25 + i)));
    expect(b.net.backlogLength).toBe(100);
    expect(b.net.netStats.rxDropped).toBe(50);
    const got: number[] = [];
    while (got.length < 100) {
      b.postRx(); // the kick on the receive queue delivers what waited
      got.push(...b.received().map(seqOf));
    }
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(b.net.backlogLength).toBe(0);
  });

  it('drops a frame too big for the receive buffer, keeps the buffer, and carries on', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net');
    const b = nic(bridge, 'dom2.net', { postRx: 0 });
    const small = b.arena.alloc(40);
    b.rx.add([{ addr: small, len: 40, write: true }]);
    b.rx.publish();
    a.send([frame(b.net.mac, a.net.mac, 1, 100), frame(b.net.mac, a.net.mac, 2, 0)]);
    expect(b.net.netStats).toMatchObject({ rxTooBig: 1, rxFrames: 1 });
    expect(b.rx.takeUsed()).toEqual([{ id: 0, len: HDR + 18 }]);
    expect(b.net.live).toBe(true);
  });

  it('drops transmitted frames that are too short or too long, without a reset', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net');
    a.send([new Uint8Array(10), new Uint8Array(R.VIRTIO_NET_MAX_FRAME + 1)]);
    expect(a.net.netStats).toMatchObject({ txDropped: 2, txFrames: 0 });
    expect(a.net.live).toBe(true);
  });

  it('a receiver with a malformed receive ring needs a reset; the sender and the bridge carry on', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net');
    const b = nic(bridge, 'dom2.net', { postRx: 0 });
    const c = nic(bridge, 'dom3.net');
    b.rx.add([{ addr: b.arena.alloc(64), len: 64 }]); // read-only where the device must write
    b.rx.publish();
    a.send([frame(BROADCAST, a.net.mac, 7)]);
    expect(b.net.ringError?.kind).toBe('read-only-buffer');
    expect(b.net.errorLines).toEqual(['dom2.net.receiveq: descriptor 0: device-readable (read-only) buffer where the device must write a received frame']);
    expect(b.rec.events).toEqual([['config', undefined]]);
    expect(c.received().map(seqOf)).toEqual([7]);
    a.send([frame(b.net.mac, a.net.mac, 8)]);
    expect(b.net.netStats.rxDropped).toBe(1);
    expect(a.net.live && c.net.live).toBe(true);
    expect(a.tx.usedIdx()).toBe(2); // both transmit chains came back
  });

  it('loops back through its own receive ring even when that ring is the one that is malformed', () => {
    const bridge = new NetBridge();
    const a = nic(bridge, 'dom1.net', { postRx: 0 });
    a.rx.add([{ addr: a.arena.alloc(64), len: 64 }]);
    a.rx.publish();
    a.send([frame(BROADCAST, a.net.mac, 1), frame(BROADCAST, a.net.mac, 2)]);
    expect(a.net.ringError?.kind).toBe('read-only-buffer');
    expect(a.net.netStats.txFrames).toBe(1); // stopped at the error, the second frame not taken
    expect(a.rec.count('config')).toBe(1);
  });
});
