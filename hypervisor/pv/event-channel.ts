/**
 * Event channels, as Xen's: each domain has EVTCHN_PORTS ports; a port is closed, unbound
 * (waiting for a given remote domain to bind), interdomain (connected to a remote port), or bound
 * to a virtual interrupt. Sending sets the pending bit of the other end in its shared-info page
 * (abi/shared-info.ts) and, on a 0->1 edge of an unmasked port, raises the upcall flag; the
 * hypervisor then enters the domain's event callback when the domain has events enabled.
 * Port 0 is never allocated, as in Xen, so 0 can mean "none".
 */
import * as E from '../../abi/errors.ts';
import {
  EVTCHNSTAT_CLOSED,
  EVTCHNSTAT_DEVICE,
  EVTCHNSTAT_INTERDOMAIN,
  EVTCHNSTAT_UNBOUND,
  EVTCHNSTAT_VIRQ,
  VIRQ_COUNT,
  VIRTIO_MAX_DEVICES,
} from '../../abi/hypercall-numbers.ts';
import { EVTCHN_PORTS, SI_EVTCHN_MASK, SI_EVTCHN_PENDING, SI_PENDING_SEL, SI_UPCALL_MASK, SI_UPCALL_PENDING } from '../../abi/shared-info.ts';
import type { PhysicalMemory } from '../machine/memory.ts';

export class EventChannelTable {
  readonly state = new Uint8Array(EVTCHN_PORTS);
  readonly remoteDom = new Int32Array(EVTCHN_PORTS);
  readonly remotePort = new Int32Array(EVTCHN_PORTS);
  readonly virq = new Int32Array(EVTCHN_PORTS);
  /** Port bound to each virtual interrupt, 0 when none. */
  readonly virqPort = new Int32Array(VIRQ_COUNT);
  /** Port bound to each virtio device (virtio_op bind_event), 0 when none. */
  readonly devicePort = new Int32Array(VIRTIO_MAX_DEVICES);
  sent = 0;
  /** Pending bits that reached an unmasked port (edges that asked for an upcall). */
  notified = 0;

  constructor(
    private readonly mem: PhysicalMemory,
    /** Machine address of the domain's shared-info page. */
    readonly sharedInfo: number,
  ) {}

  private word(offset: number): number {
    return this.mem.i32[(this.sharedInfo + offset) >>> 2]!;
  }

  private setWord(offset: number, v: number): void {
    this.mem.i32[(this.sharedInfo + offset) >>> 2] = v;
  }

  /** Lowest closed port from 1, or -ENOSPC. */
  allocate(): number {
    for (let p = 1; p < EVTCHN_PORTS; p++) if (this.state[p] === EVTCHNSTAT_CLOSED) return p;
    return -E.ENOSPC;
  }

  isBound(port: number): boolean {
    return port > 0 && port < EVTCHN_PORTS && this.state[port] !== EVTCHNSTAT_CLOSED;
  }

  /**
   * Mark `port` pending. On a 0->1 edge of an unmasked port, select its word and raise the
   * upcall flag. Returns true when the domain should be woken or entered.
   */
  setPending(port: number): boolean {
    const w = port >>> 5;
    const bit = 1 << (port & 31);
    const pending = this.word(SI_EVTCHN_PENDING + w * 4);
    if (pending & bit) return false; // already pending: events coalesce
    this.setWord(SI_EVTCHN_PENDING + w * 4, pending | bit);
    if (this.word(SI_EVTCHN_MASK + w * 4) & bit) return false;
    this.notified++;
    this.setWord(SI_PENDING_SEL, this.word(SI_PENDING_SEL) | (1 << w));
    this.setWord(SI_UPCALL_PENDING, 1);
    return true;
  }

  mask(port: number): void {
    const w = port >>> 5;
    this.setWord(SI_EVTCHN_MASK + w * 4, this.word(SI_EVTCHN_MASK + w * 4) | (1 << (port & 31)));
  }

  /** Clear the mask bit; a port that went pending while masked is notified now. */
  unmask(port: number): boolean {
    const w = port >>> 5;
    const bit = 1 << (port & 31);
    this.setWord(SI_EVTCHN_MASK + w * 4, this.word(SI_EVTCHN_MASK + w * 4) & ~bit);
    if (!(this.word(SI_EVTCHN_PENDING + w * 4) & bit)) return false;
    this.notified++;
    this.setWord(SI_PENDING_SEL, this.word(SI_PENDING_SEL) | (1 << w));
    this.setWord(SI_UPCALL_PENDING, 1);
    return true;
  }

  clearPending(port: number): void {
    const w = port >>> 5;
    this.setWord(SI_EVTCHN_PENDING + w * 4, this.word(SI_EVTCHN_PENDING + w * 4) & ~(1 << (port & 31)));
  }

  upcallPending(): boolean {
    return this.word(SI_UPCALL_PENDING) !== 0;
  }

  eventsEnabled(): boolean {
    return this.word(SI_UPCALL_MASK) === 0;
  }

  setEventsEnabled(on: boolean): void {
    this.setWord(SI_UPCALL_MASK, on ? 0 : 1);
  }

  /** EVTCHNOP_status's answer: state | detail << 8. */
  status(port: number): number {
    const s = this.state[port]!;
    const detail = s === EVTCHNSTAT_VIRQ || s === EVTCHNSTAT_DEVICE ? this.virq[port]! : s === EVTCHNSTAT_CLOSED ? 0 : this.remoteDom[port]!;
    return s | (detail << 8);
  }

  bindUnbound(port: number, remote: number): void {
    this.state[port] = EVTCHNSTAT_UNBOUND;
    this.remoteDom[port] = remote;
    this.remotePort[port] = 0;
  }

  bindInterdomain(port: number, remote: number, remotePort: number): void {
    this.state[port] = EVTCHNSTAT_INTERDOMAIN;
    this.remoteDom[port] = remote;
    this.remotePort[port] = remotePort;
  }

  bindVirq(port: number, virq: number): void {
    this.state[port] = EVTCHNSTAT_VIRQ;
    this.virq[port] = virq;
    this.virqPort[virq] = port;
  }

  /** A port on which virtio device `dev` signals (its number is kept in `virq`). */
  bindDevice(port: number, dev: number): void {
    this.state[port] = EVTCHNSTAT_DEVICE;
    this.virq[port] = dev;
    this.devicePort[dev] = port;
  }

  /** Close a port locally; the caller handles the remote end of an interdomain channel. */
  close(port: number): void {
    if (this.state[port] === EVTCHNSTAT_VIRQ) this.virqPort[this.virq[port]!] = 0;
    if (this.state[port] === EVTCHNSTAT_DEVICE) this.devicePort[this.virq[port]!] = 0;
    this.state[port] = EVTCHNSTAT_CLOSED;
    this.clearPending(port);
  }
}

export { EVTCHNSTAT_INTERDOMAIN, EVTCHNSTAT_UNBOUND, EVTCHNSTAT_VIRQ, EVTCHNSTAT_CLOSED, EVTCHNSTAT_DEVICE };
