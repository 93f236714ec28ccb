/**
 * The virtio transport of pv mode: each domain gets a console, a block and a net device
 * (hypervisor/devices/virtio/), discovered and set up through the virtio_op hypercall family and
 * notified back through an event channel bound to the device, as a PV driver pairs a shared ring
 * with an event channel. Rings and buffers are named by machine address; the device may touch only
 * the domain's own frames, and may never write a page-table frame (the frame table must stay true).
 */
import * as E from '../../abi/errors.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import { VirtqConfig } from '../../abi/hypercalls.ts';
import { PAGE_SHIFT } from '../../abi/isa.ts';
import { VIRTIO_RING_F_EVENT_IDX_MASK } from '../../abi/ring.ts';
import type { NetBridge } from '../devices/virtio/bridge.ts';
import { VirtioBlock } from '../devices/virtio/block.ts';
import { VirtioConsole } from '../devices/virtio/console.ts';
import { setupErrno, type VirtioDevice } from '../devices/virtio/device.ts';
import { VirtioNet } from '../devices/virtio/net.ts';
import { PhysicalRingMemory } from '../devices/virtio/ring-memory.ts';
import type { Budget } from '../devices/virtio/virtqueue.ts';
import { maddr } from '../machine/addr.ts';
import type { Domain } from './domain.ts';
import { compileSchema } from './fast-schema.ts';
import { FrameType } from './frames.ts';
import type { Args, Handler } from './handlers.ts';
import type { PvHost } from './pv-host.ts';

export interface VirtioOptions {
  /** The block device's disk, used in place. Default: an empty in-memory disk of 2 MiB. */
  disk?: Uint8Array;
  /** Called on a virtio-blk FLUSH: make the disk durable (run.ts RunOptions.onFlush). */
  onFlush?: (disk: Uint8Array) => void;
  /** Called with each byte range the guest wrote into the disk (run.ts RunOptions.onDiskWrite). */
  onDiskWrite?: (byteOffset: number, length: number) => void;
  /** The disk is read-only: VIRTIO_BLK_F_RO offered, every OUT answered IOERR. */
  diskReadOnly?: boolean;
  /** The software switch the net device joins; domains on one bridge exchange frames. */
  bridge?: NetBridge;
  /** Offer EVENT_IDX (default true); off, to measure what it saves. */
  eventIdx?: boolean;
  /**
   * Work per device batch (a kick, a poll between time slices): default 4·Q descriptors and
   * 16 MiB. A small budget models a device slower than its guest (the benchmark's "slow disk"):
   * it works through a queue over several slices while the guest goes on.
   */
  budget?: Budget;
}

export const DEFAULT_DISK_BYTES = 2 * 1024 * 1024;
export const VIRTIO_CONSOLE_DEV = 0;
export const VIRTIO_BLOCK_DEV = 1;
export const VIRTIO_NET_DEV = 2;

/** Give domain d its devices. */
export function attachVirtio(h: PvHost, d: Domain, opts: VirtioOptions, bridge: NetBridge): void {
  const frames = h.frames;
  const mem = new PhysicalRingMemory(h.mem, (addr, len, write) => {
    for (let f = addr >>> PAGE_SHIFT; f <= (addr + len - 1) >>> PAGE_SHIFT; f++) {
      if (!frames.ownedBy(f, d.id)) return false;
      if (write && frames.type[f] !== FrameType.None) return false;
    }
    return true;
  });
  const common = (dev: number, name: string) => ({
    name: `dom${d.id}.${name}`,
    mem,
    notify: () => {
      const port = d.evtchn.devicePort[dev]!;
      if (port) h.raiseEvent(d, port);
    },
    ...(opts.eventIdx === false ? { withhold: VIRTIO_RING_F_EVENT_IDX_MASK } : {}),
    ...(opts.budget ? { budget: opts.budget } : {}),
    ...(h.trace ? { trace: h.trace } : {}),
  });
  d.virtio.push(
    new VirtioConsole({
      ...common(VIRTIO_CONSOLE_DEV, 'console'),
      onOutput: (bytes) => d.console.write(bytes),
    }),
    new VirtioBlock({ ...common(VIRTIO_BLOCK_DEV, 'blk'), disk: opts.disk ?? new Uint8Array(DEFAULT_DISK_BYTES), ...(opts.onFlush ? { onFlush: opts.onFlush } : {}), ...(opts.onDiskWrite ? { onWrite: opts.onDiskWrite } : {}), ...(opts.diskReadOnly ? { readOnly: true } : {}) }),
    new VirtioNet({ ...common(VIRTIO_NET_DEV, 'net'), bridge }),
  );
}

/** Leave shared things behind when a domain goes away (its net device leaves the bridge). */
export function detachVirtio(d: Domain): void {
  for (const dev of d.virtio) if (dev instanceof VirtioNet) dev.detach();
}

const validQueueConfig = compileSchema(VirtqConfig);

function device(d: Domain, a: Args): VirtioDevice | undefined {
  return d.virtio[a.dev!];
}

/** The handler for a command on an existing device, or -ENOENT. */
const onDevice =
  (f: (h: PvHost, d: Domain, dev: VirtioDevice, a: Args) => number): Handler =>
  (h, d, a) => {
    const dev = device(d, a);
    return dev ? f(h, d, dev, a) : -E.ENOENT;
  };

const refusal = (e: Parameters<typeof setupErrno>[0] | null): number => (e ? -setupErrno(e) : 0);

export const VIRTIO_HANDLERS: Readonly<Record<string, Handler>> = {
  virtio_list: (_h, d, a) => {
    const n = Math.min(a.max!, d.virtio.length);
    const rec = new Uint32Array((n * N.VIRTIO_DEV_BYTES) / 4);
    d.virtio.slice(0, n).forEach((dev, i) => {
      const w = (i * N.VIRTIO_DEV_BYTES) / 4;
      rec[w + N.VIRTIO_DEV_TYPE / 4] = dev.deviceType;
      rec[w + N.VIRTIO_DEV_QUEUES / 4] = dev.queueCount;
      rec[w + N.VIRTIO_DEV_MAX_QUEUE_SIZE / 4] = dev.queueMaxSize(0) as number;
      rec[w + N.VIRTIO_DEV_FEATURES / 4] = dev.offeredFeatures;
    });
    if (!d.access.write(a.buffer!, new Uint8Array(rec.buffer))) return -E.EFAULT;
    return n;
  },
  virtio_get_features: onDevice((_h, _d, dev) => dev.offeredFeatures | 0),
  virtio_set_features: onDevice((_h, _d, dev, a) => refusal(dev.setDriverFeatures(a.features!))),
  virtio_get_status: onDevice((_h, _d, dev) => dev.status),
  virtio_set_status: onDevice((_h, _d, dev, a) => refusal(dev.setStatus(a.status!))),
  virtio_set_queue: onDevice((_h, d, dev, a) => {
    const w = d.access.readWords(a.config!, 5);
    if (!w) return -E.EFAULT;
    const c = { index: w[0]!, size: w[1]!, desc: w[2]!, avail: w[3]!, used: w[4]! };
    if (!validQueueConfig(c)) return -E.EINVAL;
    return refusal(dev.configureQueue(c.index, { size: c.size, desc: maddr(c.desc), avail: maddr(c.avail), used: maddr(c.used) }));
  }),
  virtio_bind_event: onDevice((_h, d, _dev, a) => {
    if (d.evtchn.devicePort[a.dev!] !== 0) return -E.EEXIST;
    const p = d.evtchn.allocate();
    if (p < 0) return p;
    d.evtchn.bindDevice(p, a.dev!);
    return p;
  }),
  virtio_kick: onDevice((_h, _d, dev, a) => {
    const r = dev.kick(a.queue!);
    if (r.kind === 'refused') return -setupErrno(r.error);
    if (r.kind === 'failed') return -E.EIO;
    return 0;
  }),
  virtio_get_config: onDevice((_h, _d, dev, a) => {
    const c = dev.config();
    if (a.offset! + 4 > c.length) return -E.EINVAL;
    return new DataView(c.buffer, c.byteOffset).getInt32(a.offset!, true);
  }),
};

/** Per-device counters for the run report. */
export function virtioReport(d: Domain): Record<string, { kicks: number; requests: number; notifications: number; suppressed: number; errors: number }> {
  const out: Record<string, { kicks: number; requests: number; notifications: number; suppressed: number; errors: number }> = {};
  for (const dev of d.virtio) {
    const s = dev.stats;
    if (s.kicks === 0 && s.requests === 0) continue;
    out[dev.name.split('.').pop()!] = {
      kicks: s.kicks,
      requests: s.requests,
      notifications: s.usedNotifications + s.configNotifications,
      suppressed: s.suppressedNotifications,
      errors: Object.values(s.errors).reduce((x, y) => x + y, 0),
    };
  }
  return out;
}
