import { describe, expect, it } from 'vitest';
import * as E from '../../../abi/errors.ts';
import * as N from '../../../abi/hypercall-numbers.ts';
import * as R from '../../../abi/ring.ts';
import type { Domain } from '../../../hypervisor/pv/domain.ts';
import type { PvHost } from '../../../hypervisor/pv/pv-host.ts';
import { Arena, DriverQueue } from '../virtio/driver.ts';
import { boot, BUF, expectRefused, hc, readWord, writeWords } from './pv-harness.ts';

const CONSOLE = 0;
const BLOCK = 1;
const v = (host: PvHost, d: Domain, cmd: number, ...args: number[]): number => hc(host, d, N.HC_VIRTIO_OP, cmd, ...args);

/** Bring device `dev` to FEATURES_OK, with a ring arena in the machine frame behind BUF + 0x2000. */
function negotiated(dev: number, features = 0) {
  const { host, d } = boot();
  const dom = d[0]!;
  expect(v(host, dom, N.VIRTIO_SET_STATUS, dev, R.VIRTIO_STATUS_ACKNOWLEDGE)).toBe(0);
  expect(v(host, dom, N.VIRTIO_SET_STATUS, dev, R.VIRTIO_STATUS_ACKNOWLEDGE | R.VIRTIO_STATUS_DRIVER)).toBe(0);
  expect(v(host, dom, N.VIRTIO_SET_FEATURES, dev, features)).toBe(0);
  expect(v(host, dom, N.VIRTIO_SET_STATUS, dev, 1 | 2 | R.VIRTIO_STATUS_FEATURES_OK)).toBe(0);
  const base = dom.access.translate(BUF + 0x2000, true);
  const arena = new Arena(host.mem, base, base + 4096);
  return { host, dom, arena };
}

/** Write a queue-config record at BUF and set the queue up. */
function setQueue(host: PvHost, dom: Domain, dev: number, index: number, q: { size: number; desc: number; avail: number; used: number }): number {
  writeWords(dom, BUF, [index, q.size, q.desc, q.avail, q.used]);
  return v(host, dom, N.VIRTIO_SET_QUEUE, dev, BUF);
}

describe('virtio_op', () => {
  it('lists the console, block and net devices', () => {
    const { host, d } = boot();
    expect(v(host, d[0]!, N.VIRTIO_LIST, BUF, 16)).toBe(3);
    const types = [0, 1, 2].map((i) => readWord(d[0]!, BUF + i * N.VIRTIO_DEV_BYTES + N.VIRTIO_DEV_TYPE));
    expect(types).toEqual([R.VIRTIO_ID_CONSOLE, R.VIRTIO_ID_BLOCK, R.VIRTIO_ID_NET]);
    expect(readWord(d[0]!, BUF + N.VIRTIO_DEV_BYTES + N.VIRTIO_DEV_FEATURES) & R.VIRTIO_RING_F_EVENT_IDX_MASK).not.toBe(0);
  });
  it('refuses a list buffer it cannot write, and a count over the bound', () => {
    const { host, d } = boot();
    expectRefused(host, d[0]!, E.EFAULT, N.HC_VIRTIO_OP, N.VIRTIO_LIST, N.PV_START_INFO_VA, 3);
    expectRefused(host, d[0]!, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_LIST, BUF, 17);
  });

  it('reports features and refuses a device that does not exist', () => {
    const { host, d } = boot();
    expect(v(host, d[0]!, N.VIRTIO_GET_FEATURES, BLOCK) & R.VIRTIO_BLK_F_FLUSH_MASK).toBe(R.VIRTIO_BLK_F_FLUSH_MASK);
    expectRefused(host, d[0]!, E.ENOENT, N.HC_VIRTIO_OP, N.VIRTIO_GET_FEATURES, 9);
    expectRefused(host, d[0]!, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_GET_FEATURES, 16);
  });

  it('keeps FEATURES_OK clear when the driver asked for a feature not offered', () => {
    const { host, d } = boot();
    const dom = d[0]!;
    v(host, dom, N.VIRTIO_SET_STATUS, CONSOLE, 1);
    v(host, dom, N.VIRTIO_SET_STATUS, CONSOLE, 3);
    expect(v(host, dom, N.VIRTIO_SET_FEATURES, CONSOLE, 1 << 20)).toBe(0);
    v(host, dom, N.VIRTIO_SET_STATUS, CONSOLE, 3 | R.VIRTIO_STATUS_FEATURES_OK);
    expect(v(host, dom, N.VIRTIO_GET_STATUS, CONSOLE) & R.VIRTIO_STATUS_FEATURES_OK).toBe(0);
  });

  it('refuses to clear a status bit without a reset', () => {
    const { host, d } = boot();
    v(host, d[0]!, N.VIRTIO_SET_STATUS, CONSOLE, 3);
    expectRefused(host, d[0]!, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_SET_STATUS, CONSOLE, 1);
  });

  it('sets a queue up, binds an event port, and a kick moves console output and signals the port', () => {
    const { host, dom, arena } = negotiated(CONSOLE);
    const q = new DriverQueue(host.mem, arena, 8);
    expect(setQueue(host, dom, CONSOLE, R.VIRTIO_CONSOLE_QUEUE_TX, q.config())).toBe(0);
    const port = v(host, dom, N.VIRTIO_BIND_EVENT, CONSOLE);
    expect(port).toBeGreaterThan(0);
    expect(v(host, dom, N.VIRTIO_BIND_EVENT, CONSOLE)).toBe(-E.EEXIST);
    expect(v(host, dom, N.VIRTIO_SET_STATUS, CONSOLE, 1 | 2 | 8 | R.VIRTIO_STATUS_DRIVER_OK)).toBe(0);
    const text = arena.put('through the ring\n');
    q.add([{ addr: text, len: 17 }]);
    q.publish();
    expect(v(host, dom, N.VIRTIO_KICK, CONSOLE, R.VIRTIO_CONSOLE_QUEUE_TX)).toBe(0);
    expect(String.fromCharCode(...dom.console.bytes())).toBe('through the ring\n');
    expect(dom.evtchn.status(port)).toBe(N.EVTCHNSTAT_DEVICE | (CONSOLE << 8));
    const pendingWord = host.mem.i32[(dom.evtchn.sharedInfo + 32) >>> 2]!;
    expect(pendingWord & (1 << port)).not.toBe(0);
  });

  it("refuses a ring outside the domain's memory (EFAULT) and a size that is not a power of two (EINVAL)", () => {
    const { host, dom, arena } = negotiated(CONSOLE);
    const q = new DriverQueue(host.mem, arena, 8);
    writeWords(dom, BUF, [R.VIRTIO_CONSOLE_QUEUE_TX, 8, 0x100, q.avail, q.used]); // frame 0: the hypervisor's
    expectRefused(host, dom, E.EFAULT, N.HC_VIRTIO_OP, N.VIRTIO_SET_QUEUE, CONSOLE, BUF);
    writeWords(dom, BUF, [R.VIRTIO_CONSOLE_QUEUE_TX, 6, q.desc, q.avail, q.used]);
    expectRefused(host, dom, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_SET_QUEUE, CONSOLE, BUF);
  });

  it('a kick on a malformed ring returns EIO and leaves the device needing a reset; other devices go on', () => {
    const { host, dom, arena } = negotiated(CONSOLE);
    const q = new DriverQueue(host.mem, arena, 8);
    setQueue(host, dom, CONSOLE, R.VIRTIO_CONSOLE_QUEUE_TX, q.config());
    v(host, dom, N.VIRTIO_SET_STATUS, CONSOLE, 1 | 2 | 8 | 4);
    q.writeDesc(0, { addr: 0x100, len: 4, flags: 0 }); // a buffer in the hypervisor's frame 0
    q.addHead(0);
    q.publish();
    expect(v(host, dom, N.VIRTIO_KICK, CONSOLE, R.VIRTIO_CONSOLE_QUEUE_TX)).toBe(-E.EIO);
    expect(v(host, dom, N.VIRTIO_GET_STATUS, CONSOLE) & R.VIRTIO_STATUS_DEVICE_NEEDS_RESET).not.toBe(0);
    expect(v(host, dom, N.VIRTIO_GET_STATUS, BLOCK)).toBe(0);
    expect(hc(host, dom, N.HC_XEN_VERSION, N.XENVER_VERSION)).toBeGreaterThan(0);
  });

  it('refuses a kick of a queue the device does not have', () => {
    const { host, dom } = negotiated(BLOCK);
    expectRefused(host, dom, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_KICK, BLOCK, 3);
  });

  it('reads the configuration space, and refuses an offset outside it', () => {
    const { host, d } = boot();
    expect(v(host, d[0]!, N.VIRTIO_GET_CONFIG, BLOCK, R.VIRTIO_BLK_CFG_CAPACITY_LO)).toBe((2 * 1024 * 1024) / 512);
    expectRefused(host, d[0]!, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_GET_CONFIG, BLOCK, 64);
    expectRefused(host, d[0]!, E.EINVAL, N.HC_VIRTIO_OP, N.VIRTIO_GET_CONFIG, BLOCK, 2);
  });
});
