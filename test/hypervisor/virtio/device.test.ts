import { describe, expect, it } from 'vitest';
import * as E from '../../../abi/errors.ts';
import * as R from '../../../abi/ring.ts';
import { maddr } from '../../../hypervisor/machine/addr.ts';
import { VirtioBlock } from '../../../hypervisor/devices/virtio/block.ts';
import { NetBridge } from '../../../hypervisor/devices/virtio/bridge.ts';
import { VirtioConsole } from '../../../hypervisor/devices/virtio/console.ts';
import { formatSetupError, setupErrno, type SetupError } from '../../../hypervisor/devices/virtio/device.ts';
import { VirtioNet } from '../../../hypervisor/devices/virtio/net.ts';
import { bringUp, domain, DriverQueue, recorder } from './driver.ts';

const { ACKNOWLEDGE: ACK, DRIVER, FEATURES_OK, DRIVER_OK, NEEDS_RESET, FAILED } = {
  ACKNOWLEDGE: R.VIRTIO_STATUS_ACKNOWLEDGE,
  DRIVER: R.VIRTIO_STATUS_DRIVER,
  FEATURES_OK: R.VIRTIO_STATUS_FEATURES_OK,
  DRIVER_OK: R.VIRTIO_STATUS_DRIVER_OK,
  NEEDS_RESET: R.VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  FAILED: R.VIRTIO_STATUS_FAILED,
};

function consoleDev() {
  const d = domain();
  const rec = recorder();
  const con = new VirtioConsole({ name: 'dom1.con', mem: d.ring, notify: rec.notify });
  return { ...d, rec, con };
}

const msg = (e: SetupError | null): string | null => (e ? formatSetupError(e) : null);

describe('virtio device: identity and configuration space', () => {
  it('offers INDIRECT_DESC and EVENT_IDX everywhere, plus each device type its own bits', () => {
    const d = domain();
    const n = () => {};
    const con = new VirtioConsole({ name: 'c', mem: d.ring, notify: n });
    const blk = new VirtioBlock({ name: 'b', mem: d.ring, notify: n, disk: new Uint8Array(10 * 512 + 100) });
    const net = new VirtioNet({ name: 'n', mem: d.ring, notify: n, bridge: new NetBridge(), mac: Uint8Array.of(2, 0, 0, 0, 0, 7) });
    const ring = R.VIRTIO_F_INDIRECT_DESC_MASK | R.VIRTIO_RING_F_EVENT_IDX_MASK;
    expect([con.deviceType, blk.deviceType, net.deviceType]).toEqual([R.VIRTIO_ID_CONSOLE, R.VIRTIO_ID_BLOCK, R.VIRTIO_ID_NET]);
    expect(con.offeredFeatures).toBe(ring);
    expect(blk.offeredFeatures).toBe(ring | R.VIRTIO_BLK_F_FLUSH_MASK);
    expect(net.offeredFeatures).toBe(ring | R.VIRTIO_NET_F_MAC_MASK);
    expect(Array.from(blk.config())).toEqual([10, 0, 0, 0, 0, 0, 0, 0]); // capacity in whole sectors
    expect(Array.from(net.config())).toEqual([2, 0, 0, 0, 0, 7, R.VIRTIO_NET_S_LINK_UP, 0]);
    expect([con.queueCount, blk.queueCount, net.queueCount]).toEqual([2, 1, 2]);
    expect(con.queueMaxSize(1)).toBe(R.VIRTQ_DEFAULT_SIZE);
    expect((con.queueMaxSize(2) as SetupError).kind).toBe('no-such-queue');
    const lean = new VirtioConsole({ name: 'c2', mem: d.ring, notify: n, withhold: R.VIRTIO_RING_F_EVENT_IDX_MASK });
    expect(lean.offeredFeatures).toBe(R.VIRTIO_F_INDIRECT_DESC_MASK);
  });
});

describe('virtio device: the status handshake (§2.1, §3.1.1)', () => {
  it('goes ACKNOWLEDGE → DRIVER → features → FEATURES_OK → queues → DRIVER_OK', () => {
    const { con, mem, arena } = consoleDev();
    const tx = new DriverQueue(mem, arena, 8);
    expect(con.setStatus(ACK)).toBeNull();
    expect(con.setStatus(ACK | DRIVER)).toBeNull();
    expect(con.setDriverFeatures(R.VIRTIO_RING_F_EVENT_IDX_MASK)).toBeNull();
    expect(con.negotiatedFeatures).toBe(0); // not before FEATURES_OK
    expect(con.setStatus(ACK | DRIVER | FEATURES_OK)).toBeNull();
    expect(con.negotiatedFeatures).toBe(R.VIRTIO_RING_F_EVENT_IDX_MASK);
    expect(con.configureQueue(1, tx.config())).toBeNull();
    expect(con.live).toBe(false);
    expect(con.setStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK)).toBeNull();
    expect(con.live).toBe(true);
    expect(con.status).toBe(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    expect(con.queue(1).eventIdx).toBe(true);
  });

  it('refuses bits out of order, cleared bits, unknown bits, and changes nothing', () => {
    const { con } = consoleDev();
    expect(msg(con.setStatus(DRIVER))).toBe('dom1.con: status 0x2: DRIVER before ACKNOWLEDGE');
    expect(msg(con.setStatus(ACK | DRIVER | DRIVER_OK))).toBe('dom1.con: status 0x7: DRIVER_OK before FEATURES_OK');
    expect(msg(con.setStatus(ACK | FEATURES_OK))).toBe('dom1.con: status 0x9: FEATURES_OK before DRIVER');
    expect(msg(con.setStatus(0x10))).toBe('dom1.con: status 0x10: unknown bits');
    expect(con.status).toBe(0);
    con.setStatus(ACK | DRIVER);
    expect(msg(con.setStatus(ACK))).toBe('dom1.con: status 0x1: clears 0x2: only a reset clears status bits');
    expect(con.status).toBe(ACK | DRIVER);
  });

  it('does not set FEATURES_OK when the driver asked for bits not offered (§2.2.2)', () => {
    const { con } = consoleDev();
    con.setStatus(ACK | DRIVER);
    expect(con.setDriverFeatures(R.VIRTIO_RING_F_EVENT_IDX_MASK | (1 << 5))).toBeNull(); // accepted now, judged at FEATURES_OK
    const e = con.setStatus(ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    expect(msg(e)).toBe('dom1.con: features 0x20000020 ask for 0x20, which the device does not offer (0x30000000)');
    expect(con.status).toBe(ACK | DRIVER); // the driver reads it back and sees no FEATURES_OK
    expect(con.live).toBe(false);
    // It may try again with a subset.
    expect(con.setDriverFeatures(R.VIRTIO_RING_F_EVENT_IDX_MASK)).toBeNull();
    expect(con.setStatus(ACK | DRIVER | FEATURES_OK)).toBeNull();
  });

  it('allows features only between DRIVER and FEATURES_OK, and queues only between FEATURES_OK and DRIVER_OK', () => {
    const { con, mem, arena } = consoleDev();
    const q = new DriverQueue(mem, arena, 8);
    expect(con.setDriverFeatures(0)?.kind).toBe('wrong-state');
    expect(msg(con.configureQueue(0, q.config()))).toBe('dom1.con: configuring queue 0 is not allowed with status 0x0');
    bringUp(con, [[0, q]]);
    expect(con.setDriverFeatures(0)?.kind).toBe('wrong-state');
    expect(con.configureQueue(1, q.config())?.kind).toBe('wrong-state');
  });

  it('refuses bad queue set-ups with errnos: index, size, alignment (EINVAL), outside the domain (EFAULT)', () => {
    const { con, mem, arena } = consoleDev();
    const q = new DriverQueue(mem, arena, 8);
    con.setStatus(ACK | DRIVER);
    con.setStatus(ACK | DRIVER | FEATURES_OK);
    const cfg = q.config();
    const cases: Array<[SetupError | null, number, string]> = [
      [con.configureQueue(2, cfg), E.EINVAL, 'dom1.con: no queue 2 (the device has 2)'],
      [con.configureQueue(-1, cfg), E.EINVAL, 'dom1.con: no queue -1 (the device has 2)'],
      [con.configureQueue(0, { ...cfg, size: 0 }), E.EINVAL, 'dom1.con.receiveq: queue size 0 is not a power of two from 1 to 256'],
      [con.configureQueue(0, { ...cfg, size: 512 }), E.EINVAL, 'dom1.con.receiveq: queue size 512 is not a power of two from 1 to 256'],
      [con.configureQueue(0, { ...cfg, desc: maddr(cfg.desc + 4) }), E.EINVAL, `dom1.con.receiveq: descriptor table at 0x${(cfg.desc + 4).toString(16)} is not 16-byte aligned`],
      [con.configureQueue(0, { ...cfg, used: maddr(0x90000) }), E.EFAULT, "dom1.con.receiveq: used ring 0x90000+70 is outside the domain's memory"],
    ];
    for (const [e, errno, text] of cases) {
      expect(e && setupErrno(e)).toBe(errno);
      expect(msg(e)).toBe(text);
    }
    expect(con.queue(0).ready).toBe(false);
  });

  it('ignores kicks before DRIVER_OK and on unconfigured queues, and refuses a bad queue index', () => {
    const { con, mem, arena } = consoleDev();
    const tx = new DriverQueue(mem, arena, 8);
    expect(con.kick(1)).toEqual({ kind: 'ignored', reason: 'not-live' });
    bringUp(con, [[1, tx]]);
    expect(con.kick(0)).toEqual({ kind: 'ignored', reason: 'queue-not-ready' });
    const bad = con.kick(7);
    expect(bad.kind === 'refused' && setupErrno(bad.error)).toBe(E.EINVAL);
    expect(con.kick(1)).toEqual({ kind: 'done', used: 0, notified: false, more: false });
    expect([con.stats.kicks, con.stats.kicksIgnored]).toEqual([3, 2]);
  });

  it('stops on FAILED, and a reset (status 0) forgets everything but the counters', () => {
    const { con, mem, arena } = consoleDev();
    const tx = new DriverQueue(mem, arena, 8);
    bringUp(con, [[1, tx]]);
    tx.add([{ addr: arena.put('a'), len: 1 }]);
    tx.publish();
    con.kick(1);
    expect(con.setStatus(con.status | FAILED)).toBeNull();
    expect(con.live).toBe(false);
    tx.add([{ addr: arena.put('b'), len: 1 }]);
    tx.publish();
    expect(con.kick(1)).toEqual({ kind: 'ignored', reason: 'not-live' });
    expect(con.setStatus(0)).toBeNull();
    expect([con.status, con.driverFeatures, con.negotiatedFeatures, con.queue(1).ready, con.ringError]).toEqual([0, 0, 0, false, null]);
    expect(con.stats.requests).toBe(1);
    expect(con.stats.kicks).toBe(2);
  });

  it('ignores the driver writing back DEVICE_NEEDS_RESET, and cannot set it', () => {
    const { con } = consoleDev();
    con.setStatus(ACK);
    expect(con.setStatus(ACK | NEEDS_RESET)).toBeNull();
    expect(con.status).toBe(ACK);
  });
});
