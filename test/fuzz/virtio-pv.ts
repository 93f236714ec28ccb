/**
 * virtio through the pv transport, for the CVE regression tests: two pv domains on one host;
 * A (the attacker) drives its devices with virtio_op hypercalls and builds rings in one of its
 * own machine frames with the test driver (test/hypervisor/virtio/driver.ts); B (the victim)
 * has a live console of its own. `victimIntact` and `victimWorks` are what "the host goes on"
 * means for B: its memory and state unchanged by A, and its console still carrying output.
 */
import * as N from '../../abi/hypercall-numbers.ts';
import * as R from '../../abi/ring.ts';
import type { Domain } from '../../hypervisor/pv/domain.ts';
import { domainReport } from '../../hypervisor/pv/platform.ts';
import type { PvHost } from '../../hypervisor/pv/pv-host.ts';
import { Arena, DriverQueue } from '../hypervisor/virtio/driver.ts';
import { checkHost, domainDigest, sharedFrames } from './invariants.ts';
import { addDomain, asm, BUF, hc, IDLE_GUEST, newHost } from './pv-props.ts';

export const CONSOLE = 0;
export const BLOCK = 1;
export const NET = 2;

export const virtio = (host: PvHost, d: Domain, cmd: number, ...args: number[]): number => hc(host, d, N.HC_VIRTIO_OP, cmd, ...args);

/** An arena over the machine frame behind guest-virtual `va` (rings name machine addresses in pv). */
export function arenaAt(d: Domain, host: PvHost, va: number): Arena {
  const base = d.access.translate(va, true);
  if (base < 0) throw new Error(`fuzz set-up: 0x${va.toString(16)} is not mapped writable`);
  return new Arena(host.mem, base, base + 4096);
}

/** Write a queue-config record at BUF and set the queue up; returns the hypercall's result. */
export function setQueue(host: PvHost, d: Domain, dev: number, index: number, q: { size: number; desc: number; avail: number; used: number }): number {
  d.access.write(BUF, new Uint8Array(Uint32Array.from([index, q.size, q.desc, q.avail, q.used].map((x) => x >>> 0)).buffer));
  return virtio(host, d, N.VIRTIO_SET_QUEUE, dev, BUF);
}

/** The §3.1.1 sequence through virtio_op: ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
export function bringUpPv(host: PvHost, d: Domain, dev: number, queues: ReadonlyArray<[number, DriverQueue]>, features = virtio(host, d, N.VIRTIO_GET_FEATURES, dev) >>> 0): void {
  const ok = (what: string, r: number): void => {
    if (r !== 0) throw new Error(`fuzz set-up: ${what} returned ${r}`);
  };
  const ackDriver = R.VIRTIO_STATUS_ACKNOWLEDGE | R.VIRTIO_STATUS_DRIVER;
  ok('reset', virtio(host, d, N.VIRTIO_SET_STATUS, dev, 0));
  ok('acknowledge', virtio(host, d, N.VIRTIO_SET_STATUS, dev, R.VIRTIO_STATUS_ACKNOWLEDGE));
  ok('driver', virtio(host, d, N.VIRTIO_SET_STATUS, dev, ackDriver));
  ok('features', virtio(host, d, N.VIRTIO_SET_FEATURES, dev, features));
  ok('features ok', virtio(host, d, N.VIRTIO_SET_STATUS, dev, ackDriver | R.VIRTIO_STATUS_FEATURES_OK));
  for (const [i, q] of queues) ok(`queue ${i}`, setQueue(host, d, dev, i, q.config()));
  ok('driver ok', virtio(host, d, N.VIRTIO_SET_STATUS, dev, ackDriver | R.VIRTIO_STATUS_FEATURES_OK | R.VIRTIO_STATUS_DRIVER_OK));
}

/**
 * The two domains. A's console transmit queue (size `q`) lives in the frame behind BUF + 0x2000,
 * brought up unless `live` is false; B's console is live with a chain ready to send.
 */
export function pvVirtioRig(q = 8, opts: { live?: boolean; features?: (offered: number) => number } = {}) {
  const host = newHost(2);
  const img = asm(IDLE_GUEST, 'pv');
  const a = addDomain(host, img);
  const b = addDomain(host, img);
  const arenaA = arenaAt(a, host, BUF + 0x2000);
  const qa = new DriverQueue(host.mem, arenaA, q);
  if (opts.live !== false) {
    const offered = virtio(host, a, N.VIRTIO_GET_FEATURES, CONSOLE) >>> 0;
    bringUpPv(host, a, CONSOLE, [[R.VIRTIO_CONSOLE_QUEUE_TX, qa]], (opts.features ?? ((f) => f))(offered));
  }
  const arenaB = arenaAt(b, host, BUF + 0x2000);
  const qb = new DriverQueue(host.mem, arenaB, 8);
  bringUpPv(host, b, CONSOLE, [[R.VIRTIO_CONSOLE_QUEUE_TX, qb]]);
  const text = arenaB.put('B still here\n');
  const shared = sharedFrames(host, b);
  const digest = domainDigest(host, b, shared);
  return {
    host,
    a,
    b,
    qa,
    arenaA,
    /** A's console status byte. */
    statusA: (): number => virtio(host, a, N.VIRTIO_GET_STATUS, CONSOLE),
    /** B's memory and state as they were, B live, and the host's invariants hold. */
    victimIntact: (): boolean => {
      checkHost(host, 'after the attack');
      return b.live && domainDigest(host, b, shared) === digest;
    },
    /** B's console carries a chain end to end now. */
    victimWorks: (): boolean => {
      qb.add([{ addr: text, len: 13 }]);
      qb.publish();
      return virtio(host, b, N.VIRTIO_KICK, CONSOLE, R.VIRTIO_CONSOLE_QUEUE_TX) === 0 && domainReport(b).console.endsWith('B still here\n');
    },
  };
}
