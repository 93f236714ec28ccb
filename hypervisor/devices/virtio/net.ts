/**
 * virtio-net (virtio 1.2 §5.1), one transmit and one receive queue, no offloads, no mergeable
 * receive buffers. A transmitted chain is a 12-byte header (ignored) and one frame, which goes
 * to the bridge (bridge.ts); a frame from the bridge fills one receive chain, header first
 * (num_buffers 1). A frame that finds no receive buffer waits in a bounded backlog; beyond the
 * bound, or when the device is not live, it is dropped and counted, as a NIC drops on overrun.
 */
import {
  VIRTIO_ID_NET,
  VIRTIO_NET_CFG_BYTES,
  VIRTIO_NET_CFG_MAC,
  VIRTIO_NET_CFG_STATUS,
  VIRTIO_NET_F_MAC_MASK,
  VIRTIO_NET_HDR_BYTES,
  VIRTIO_NET_HDR_NUM_BUFFERS,
  VIRTIO_NET_MAX_FRAME,
  VIRTIO_NET_MIN_FRAME,
  VIRTIO_NET_QUEUE_RX,
  VIRTIO_NET_QUEUE_TX,
  VIRTIO_NET_S_LINK_UP,
} from '../../../abi/ring.ts';
import { macFromName, type NetBridge, type NetPort } from './bridge.ts';
import { VirtioDevice, type VirtioDeviceOptions } from './device.ts';
import { DescriptorChain, type RingError } from './virtqueue.ts';

/** The header of every received frame: no offloads, num_buffers 1 (no mergeable buffers). */
const RX_HEADER = new Uint8Array(VIRTIO_NET_HDR_BYTES);
RX_HEADER[VIRTIO_NET_HDR_NUM_BUFFERS] = 1;

export interface VirtioNetOptions extends VirtioDeviceOptions {
  readonly bridge: NetBridge;
  /** 6 bytes; default derived from the name (bridge.ts macFromName). */
  readonly mac?: Uint8Array;
  /** Frames held while the driver has no receive buffer. Default 256. */
  readonly backlog?: number;
}

export class VirtioNet extends VirtioDevice implements NetPort {
  readonly mac: Uint8Array;
  private readonly bridge: NetBridge;
  private readonly backlogLimit: number;
  private backlog: Uint8Array[] = [];
  private readonly transmitChain = (c: DescriptorChain): number | RingError => this.transmit(c);
  readonly netStats = { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0, rxTooBig: 0, backlogPeak: 0 };

  constructor(opts: VirtioNetOptions) {
    super(opts, VIRTIO_ID_NET, ['receiveq', 'transmitq'], VIRTIO_NET_F_MAC_MASK);
    this.mac = Uint8Array.from(opts.mac ?? macFromName(opts.name));
    if (this.mac.length !== 6) throw new RangeError(`${opts.name}: a MAC address has 6 bytes`);
    this.bridge = opts.bridge;
    this.backlogLimit = opts.backlog ?? 256;
    this.bridge.attach(this);
  }

  /** virtio_net_config: mac, status (§5.1.4). */
  config(): Uint8Array {
    const c = new Uint8Array(VIRTIO_NET_CFG_BYTES);
    c.set(this.mac, VIRTIO_NET_CFG_MAC);
    c[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
    return c;
  }

  /** Leave the bridge (the domain is going away). */
  detach(): void {
    this.bridge.detach(this);
  }

  /** Frames waiting for a receive buffer. */
  get backlogLength(): number {
    return this.backlog.length;
  }

  // --- NetPort: the bridge's side

  receive(frame: Uint8Array): void {
    if (!this.live || !this.queue(VIRTIO_NET_QUEUE_RX).ready || this.backlog.length >= this.backlogLimit) {
      this.netStats.rxDropped++;
      return;
    }
    this.backlog.push(frame);
    this.netStats.backlogPeak = Math.max(this.netStats.backlogPeak, this.backlog.length);
    this.run(VIRTIO_NET_QUEUE_RX, false); // the notification waits for flush(): one per batch
  }

  flush(): void {
    if (this.live && this.queue(VIRTIO_NET_QUEUE_RX).ready) this.signalUsed(VIRTIO_NET_QUEUE_RX);
  }

  // --- the driver's side

  protected service(index: number): RingError | null {
    if (index === VIRTIO_NET_QUEUE_RX) return this.deliver();
    const e = this.drain(index, this.transmitChain);
    this.bridge.flush();
    return e;
  }

  protected override onReset(): void {
    this.backlog = [];
  }

  private transmit(c: DescriptorChain): number | RingError {
    if (c.writableCount > 0) return c.misframed('write-only-buffer', 'a frame to transmit');
    const len = c.readableBytes - VIRTIO_NET_HDR_BYTES;
    if (len < VIRTIO_NET_MIN_FRAME || len > VIRTIO_NET_MAX_FRAME) {
      this.netStats.txDropped++; // a bad frame, not a bad ring
      return 0;
    }
    // The frame outlives the chain (it may wait in a receiver's backlog): its own array.
    const frame = new Uint8Array(len);
    const e = c.readInto(VIRTIO_NET_HDR_BYTES, frame, 0, len);
    if (e) return e;
    this.netStats.txFrames++;
    this.netStats.txBytes += len;
    this.bridge.transmit(this, frame);
    return 0;
  }

  /** Move waiting frames into receive chains, oldest first. */
  private deliver(): RingError | null {
    const q = this.queue(VIRTIO_NET_QUEUE_RX);
    while (this.backlog.length > 0) {
      const c = q.pop();
      if (c === null) return null;
      if (!(c instanceof DescriptorChain)) return c;
      if (c.readableCount > 0) return c.misframed('read-only-buffer', 'a received frame');
      const frame = this.backlog.shift()!;
      const len = VIRTIO_NET_HDR_BYTES + frame.length;
      if (c.writableBytes < len) {
        // Too small for this frame: the frame is dropped, the buffer stays for the next one.
        q.unpop(c);
        this.netStats.rxTooBig++;
        this.netStats.rxDropped++;
        continue;
      }
      const e = c.write(0, RX_HEADER) ?? c.write(VIRTIO_NET_HDR_BYTES, frame);
      if (e) return e;
      this.netStats.rxFrames++;
      this.netStats.rxBytes += frame.length;
      const pe = q.push(c, len);
      if (pe) return pe;
    }
    return null;
  }
}
