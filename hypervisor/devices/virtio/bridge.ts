/**
 * A software switch between the net devices of the domains on one host. Deterministic, no
 * learning: a frame whose destination MAC is an attached port's goes to that port; a broadcast,
 * multicast or unknown destination goes to every other port, in the order they were attached;
 * a port alone on the bridge gets its own frames back (loopback). Delivery is synchronous; the
 * sender calls `flush()` once after a batch so that each receiver decides one notification for
 * the whole batch instead of one per frame.
 */
import { VIRTIO_NET_MIN_FRAME } from '../../../abi/ring.ts';

/** One attachment: a device that takes frames. */
export interface NetPort {
  /** 6 bytes. */
  readonly mac: Uint8Array;
  /** A frame for this port. The array is shared with the other receivers: never modified. */
  receive(frame: Uint8Array): void;
  /** The end of a batch of receive() calls: tell the driver. */
  flush(): void;
}

export class NetBridge {
  private readonly ports: NetPort[] = [];
  private readonly touched = new Set<NetPort>();
  readonly stats = { frames: 0, unicast: 0, flooded: 0, loopback: 0, deliveries: 0, runts: 0 };

  attach(port: NetPort): void {
    if (this.ports.includes(port)) throw new Error('net bridge: port attached twice');
    this.ports.push(port);
  }

  detach(port: NetPort): void {
    const i = this.ports.indexOf(port);
    if (i >= 0) this.ports.splice(i, 1);
    this.touched.delete(port);
  }

  get portCount(): number {
    return this.ports.length;
  }

  /** Deliver one frame from `from` (an attached port). Frames shorter than 14 bytes are dropped. */
  transmit(from: NetPort, frame: Uint8Array): void {
    if (!this.ports.includes(from)) throw new Error('net bridge: transmit from a port not attached');
    this.stats.frames++;
    if (frame.length < VIRTIO_NET_MIN_FRAME) {
      this.stats.runts++;
      return;
    }
    if (this.ports.length === 1) {
      this.stats.loopback++;
      this.deliver(from, frame);
      return;
    }
    const unicast = (frame[0]! & 1) === 0;
    const dest = unicast ? this.ports.find((p) => sameMac(p.mac, frame)) : undefined;
    if (dest) {
      this.stats.unicast++;
      this.deliver(dest, frame);
      return;
    }
    this.stats.flooded++;
    for (const p of [...this.ports]) if (p !== from) this.deliver(p, frame);
  }

  /** Let every port that received frames since the last flush tell its driver. */
  flush(): void {
    const ports = this.ports.filter((p) => this.touched.has(p));
    this.touched.clear();
    for (const p of ports) p.flush();
  }

  private deliver(p: NetPort, frame: Uint8Array): void {
    this.stats.deliveries++;
    this.touched.add(p);
    p.receive(frame);
  }
}

/** Does `frame` start with `mac` (its destination field)? */
function sameMac(mac: Uint8Array, frame: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (mac[i] !== frame[i]) return false;
  return true;
}

/** A locally administered unicast MAC, 52:54:00:xx:yy:zz, from a name (FNV-1a), deterministic. */
export function macFromName(name: string): Uint8Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return Uint8Array.of(0x52, 0x54, 0x00, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
