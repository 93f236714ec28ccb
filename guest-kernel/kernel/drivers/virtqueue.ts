/**
 * The driver side of a virtio 1.x split virtqueue (virtio 1.2 §2.7.13 "Supplying Buffers to The
 * Device", §2.7.14 "Receiving Used Buffers From The Device"), in the TypeScript subset: no
 * objects, so each queue is a number `qi` (0..VQ_MAX_QUEUES-1) and its state lives in
 * module-level arrays indexed by it.
 *
 * Life of a request:
 *   chainBegin(); chainAdd(va, len, writable)...   the buffers, readable ones first (§2.7.4.2),
 *                                                   split at page boundaries into machine segments
 *   chainSubmit(qi, token)                          descriptors written, the head put in the
 *                                                   available ring (idx not yet published)
 *   vqNotify(qi)                                    publish idx, then kick only if the device asks
 *   vqReap(qi)                                      the token of the next used chain, or -1
 *
 * Ordering ("barriers"): a descriptor and the ring entry are written before the idx that
 * publishes them, and the idx before the kick decision reads avail_event or the used flags
 * (§2.7.13.3.1, §2.7.13.4). This machine has one vcpu per domain and executes in order, and the
 * compiler neither reorders nor caches intrinsic loads and stores across one another or a
 * hypercall (they are `raw` memory accesses), so program order is the barrier; on a weakly
 * ordered machine each comment "order:" below marks where a write barrier (wmb) or a full one
 * (mb) would go.
 *
 * Notifications, both ways:
 * - driver → device (kicks): with EVENT_IDX the device's avail_event says "kick me when avail idx
 *   passes this"; we kick only when the idx we publish moved past it since the last decision,
 *   (u16)(new − event − 1) < (u16)(new − old) (§2.7.10, Linux's vring_need_event). While the
 *   device is still working through the queue (a batch stopped at its budget, to be polled by
 *   the hypervisor), avail_event lags behind and no kick is needed. Without EVENT_IDX, the
 *   device's used.flags NO_NOTIFY says the same thing more coarsely.
 * - device → driver (used-buffer events): off by default (vqDisarm); a driver about to sleep
 *   asks for one with vqArm(qi, n), "after n more used buffers": used_event = last_used + n − 1
 *   with EVENT_IDX (§2.7.7), or clearing NO_INTERRUPT without it (then any batch notifies).
 *
 * The host's stricter rules (hypervisor/devices/virtio/README.md) are the driver's rules too:
 * a chain has at most Q buffers, an indirect table at most Q entries and never NEXT on the
 * descriptor that points to it, readable buffers come before writable ones, and a chain
 * carries at most VIRTQ_MAX_CHAIN_BYTES (4 MiB). chainSubmit refuses a chain that breaks them.
 *
 * Layout: the three parts of a queue share one page (Q ≤ 128: 16·Q + 6 + 2·Q, aligned 4, + 6 + 8·Q
 * ≤ 3342 bytes), so their machine addresses are the page's frame plus offsets. Each descriptor
 * head has a 256-byte slot for an indirect table of up to VQ_MAX_SEGS entries, inside one page.
 */
import {
  VIRTIO_F_INDIRECT_DESC_MASK,
  VIRTIO_RING_F_EVENT_IDX_MASK,
  VIRTQ_MAX_CHAIN_BYTES,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_AVAIL_FLAGS,
  VRING_AVAIL_IDX,
  VRING_AVAIL_OVERHEAD,
  VRING_AVAIL_RING,
  VRING_DESC_ADDR_HI,
  VRING_DESC_ADDR_LO,
  VRING_DESC_BYTES,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_DESC_FLAGS,
  VRING_DESC_LEN,
  VRING_DESC_NEXT,
  VRING_USED_ELEM_BYTES,
  VRING_USED_ELEM_ID,
  VRING_USED_ELEM_LEN,
  VRING_USED_F_NO_NOTIFY,
  VRING_USED_FLAGS,
  VRING_USED_IDX,
  VRING_USED_RING,
  vringAvailEventOffset,
  vringUsedEventOffset,
} from '../../../abi/ring.ts';
import { hcVirtioKick } from '../platform/hypercalls.ts';
import { waitBlock, waitCancel, waitPrepare } from './events.ts';
import { allocPages, machineAddr, PAGE_MASK, PAGE_SIZE, zeroWords } from './memory.ts';
import { virtioNeedsReset, virtioSetQueue } from './virtio.ts';

export const VQ_MAX_QUEUES = 8;
/** Largest queue this driver sets up: the three ring parts then fit in one page. */
export const VQ_MAX_SIZE = 128;
/** Most buffers (machine segments) in one chain, and entries in one indirect table. */
export const VQ_MAX_SEGS = 16;
const IND_SLOT_BYTES = VQ_MAX_SEGS * VRING_DESC_BYTES;

/** chainSubmit: not enough free descriptors now (reap, or wait, and try again). */
export const VQ_FULL = -1;
/** chainSubmit: the chain breaks a rule (no buffer, too many, readable after writable, > 4 MiB). */
export const VQ_BAD_CHAIN = -2;
/** vqReap: the device returned an id that is not a chain it holds; vqWait: the device needs a reset. */
export const VQ_DEVICE_ERROR = -3;

const F_EVENT_IDX = 1;
const F_INDIRECT = 2;
/** The queue is set up (vqSetup succeeded). */
const F_READY = 4;

// --- per queue -----------------------------------------------------------------------------------
const qDev = new Int32Array(VQ_MAX_QUEUES);
const qIndex = new Int32Array(VQ_MAX_QUEUES);
const qSize = new Int32Array(VQ_MAX_QUEUES);
const qFlags = new Int32Array(VQ_MAX_QUEUES);
/** Guest-virtual addresses of the ring page and of the indirect tables (0: none). */
const qPage = new Int32Array(VQ_MAX_QUEUES);
const qInd = new Int32Array(VQ_MAX_QUEUES);
const qIndPages = new Int32Array(VQ_MAX_QUEUES);
const qAvail = new Int32Array(VQ_MAX_QUEUES);
const qUsed = new Int32Array(VQ_MAX_QUEUES);
/** Free descriptors: a list through dNext, and how many. */
const qFreeHead = new Int32Array(VQ_MAX_QUEUES);
const qNumFree = new Int32Array(VQ_MAX_QUEUES);
/** Our avail idx (published or not), and its value at the last kick decision. */
const qAvailIdx = new Int32Array(VQ_MAX_QUEUES);
const qKickIdx = new Int32Array(VQ_MAX_QUEUES);
/** The next used-ring index we will read. */
const qLastUsed = new Int32Array(VQ_MAX_QUEUES);
const qOutstanding = new Int32Array(VQ_MAX_QUEUES);
/** 1 while the driver wants used-buffer notifications (between vqArm and vqDisarm). */
const qArmed = new Int32Array(VQ_MAX_QUEUES);
/** Counters: kicks made, kicks the device said it did not need, chains added, kick errors. */
const qKicks = new Int32Array(VQ_MAX_QUEUES);
const qKicksSkipped = new Int32Array(VQ_MAX_QUEUES);
const qChains = new Int32Array(VQ_MAX_QUEUES);
const qLastKick = new Int32Array(VQ_MAX_QUEUES);

// --- per descriptor (qi * VQ_MAX_SIZE + d): the driver's shadow, never read back from the ring ---
const dNext = new Int32Array(VQ_MAX_QUEUES * VQ_MAX_SIZE);
/** Descriptors of the chain whose head is d (0: d is not a head in flight). */
const dCount = new Int32Array(VQ_MAX_QUEUES * VQ_MAX_SIZE);
const dToken = new Int32Array(VQ_MAX_QUEUES * VQ_MAX_SIZE);

// --- the chain being built ---------------------------------------------------------------------
const segAddr = new Int32Array(VQ_MAX_SEGS);
const segLen = new Int32Array(VQ_MAX_SEGS);
const segWrite = new Int32Array(VQ_MAX_SEGS);
let segCount = 0;
let segBytes = 0;
let segBad = false;

let usedLen = 0;

function usedEventAddr(qi: number): number {
  return qAvail[qi] + vringUsedEventOffset(qSize[qi]);
}

function availEventAddr(qi: number): number {
  return qUsed[qi] + vringAvailEventOffset(qSize[qi]);
}

/**
 * Set up queue `qi` as queue `index` of device `dev` (between FEATURES_OK and DRIVER_OK), with
 * `size` entries (a power of two ≤ VQ_MAX_SIZE) and the negotiated `features` (EVENT_IDX and
 * INDIRECT_DESC are used when present). A queue set up again (after a device reset) reuses its
 * pages and starts from index 0, as the device does. Returns 0 or a negative error.
 */
export function vqSetup(qi: number, dev: number, index: number, size: number, features: number): number {
  if (qi < 0 || qi >= VQ_MAX_QUEUES || size < 1 || size > VQ_MAX_SIZE || (size & (size - 1)) !== 0) return VQ_BAD_CHAIN;
  const indirect = (features & VIRTIO_F_INDIRECT_DESC_MASK) !== 0;
  if (qPage[qi] === 0) {
    qPage[qi] = allocPages(1);
    if (qPage[qi] === 0) return VQ_FULL;
  }
  const indPages = indirect ? (size * IND_SLOT_BYTES + PAGE_MASK) >>> 12 : 0;
  if (indPages > qIndPages[qi]) {
    qInd[qi] = allocPages(indPages);
    if (qInd[qi] === 0) return VQ_FULL;
    qIndPages[qi] = indPages;
  }
  const page = qPage[qi];
  zeroWords(page, PAGE_SIZE);
  qDev[qi] = dev;
  qIndex[qi] = index;
  qSize[qi] = size;
  qFlags[qi] = ((features & VIRTIO_RING_F_EVENT_IDX_MASK) !== 0 ? F_EVENT_IDX : 0) | (indirect ? F_INDIRECT : 0);
  qAvail[qi] = page + VRING_DESC_BYTES * size;
  qUsed[qi] = (qAvail[qi] + VRING_AVAIL_OVERHEAD + 2 * size + 3) & ~3;
  const base = qi * VQ_MAX_SIZE;
  for (let d = 0; d < size; d++) {
    dNext[base + d] = d + 1;
    dCount[base + d] = 0;
  }
  qFreeHead[qi] = 0;
  qNumFree[qi] = size;
  qAvailIdx[qi] = 0;
  qKickIdx[qi] = 0;
  qLastUsed[qi] = 0;
  qOutstanding[qi] = 0;
  vqDisarm(qi);
  const ma = machineAddr(page);
  const r = virtioSetQueue(dev, index, size, ma, ma + (qAvail[qi] - page), ma + (qUsed[qi] - page));
  if (r < 0) return r;
  qFlags[qi] = qFlags[qi] | F_READY;
  return 0;
}

export function vqSize(qi: number): number {
  return qSize[qi];
}

/** Descriptors free for new chains. */
export function vqFree(qi: number): number {
  return qNumFree[qi];
}

/** Chains given to the device and not yet reaped. */
export function vqOutstanding(qi: number): number {
  return qOutstanding[qi];
}

export function vqKicks(qi: number): number {
  return qKicks[qi];
}

export function vqKicksSkipped(qi: number): number {
  return qKicksSkipped[qi];
}

export function vqChains(qi: number): number {
  return qChains[qi];
}

/** The result of the last kick hypercall (0, or -EIO when the device found the ring malformed). */
export function vqLastKick(qi: number): number {
  return qLastKick[qi];
}

export function vqEventIdx(qi: number): boolean {
  return (qFlags[qi] & F_EVENT_IDX) !== 0;
}

export function vqIndirect(qi: number): boolean {
  return (qFlags[qi] & F_INDIRECT) !== 0;
}

/** Guest-virtual address of descriptor `d` of queue `qi` (for tests that corrupt their own ring). */
export function vqDescAddr(qi: number, d: number): number {
  return qPage[qi] + VRING_DESC_BYTES * d;
}

// --- building chains -----------------------------------------------------------------------------

/** Start a new chain. */
export function chainBegin(): void {
  segCount = 0;
  segBytes = 0;
  segBad = false;
}

/** Add one machine segment, merging it with the previous one when they touch. */
function addSegment(ma: number, len: number, write: number): void {
  const last = segCount - 1;
  if (last >= 0 && segWrite[last] === write && segAddr[last] + segLen[last] === ma) {
    segLen[last] = segLen[last] + len;
    return;
  }
  if (segCount === VQ_MAX_SEGS) {
    segBad = true;
    return;
  }
  segAddr[segCount] = ma;
  segLen[segCount] = len;
  segWrite[segCount] = write;
  segCount++;
}

/**
 * Add `len` bytes at guest-virtual `va`, device-writable or not, as machine segments of at most
 * `maxSeg` bytes (0: no limit) that never cross a page boundary unless the frames are adjacent.
 * False when the chain can no longer be submitted (too many segments, readable after writable).
 */
export function chainAddSplit(va: number, len: number, writable: boolean, maxSeg: number): boolean {
  const write = writable ? 1 : 0;
  if (!writable && segCount > 0 && segWrite[segCount - 1] === 1) segBad = true; // §2.7.4.2
  segBytes += len;
  if (len < 0 || segBytes > VIRTQ_MAX_CHAIN_BYTES) segBad = true;
  let at = va;
  let left = len;
  while (left > 0 && !segBad) {
    let n = PAGE_SIZE - (at & PAGE_MASK);
    if (n > left) n = left;
    if (maxSeg > 0 && n > maxSeg) n = maxSeg;
    const ma = machineAddr(at);
    if (maxSeg > 0) {
      // Each piece its own descriptor (a driver whose buffers come in small pieces).
      if (segCount === VQ_MAX_SEGS) segBad = true;
      else {
        segAddr[segCount] = ma;
        segLen[segCount] = n;
        segWrite[segCount] = write;
        segCount++;
      }
    } else addSegment(ma, n, write);
    at += n;
    left -= n;
  }
  return !segBad;
}

export function chainAdd(va: number, len: number, writable: boolean): boolean {
  return chainAddSplit(va, len, writable, 0);
}

function writeDesc(at: number, addr: number, len: number, flags: number, next: number): void {
  store32(at + VRING_DESC_ADDR_LO, addr);
  store32(at + VRING_DESC_ADDR_HI, 0);
  store32(at + VRING_DESC_LEN, len);
  store16(at + VRING_DESC_FLAGS, flags);
  store16(at + VRING_DESC_NEXT, next);
}

/**
 * Put the chain built since chainBegin on queue `qi`, remembered as `token` (returned by vqReap).
 * With INDIRECT_DESC and more than one segment, the chain takes one descriptor pointing to its
 * table; otherwise one descriptor per segment. The available ring gets the head; the idx is
 * published by vqNotify, so many chains go out with one idx store and at most one kick.
 * Returns the head, VQ_FULL (no room now) or VQ_BAD_CHAIN.
 */
export function chainSubmit(qi: number, token: number): number {
  const n = segCount;
  if (segBad || n === 0 || (qFlags[qi] & F_READY) === 0) return VQ_BAD_CHAIN;
  const size = qSize[qi];
  const indirect = (qFlags[qi] & F_INDIRECT) !== 0 && n > 1 && n <= size;
  if (!indirect && n > size) return VQ_BAD_CHAIN; // a chain is at most Q descriptors
  const need = indirect ? 1 : n;
  if (qNumFree[qi] < need) return VQ_FULL;
  const base = qi * VQ_MAX_SIZE;
  const desc = qPage[qi];
  const head = qFreeHead[qi];
  if (indirect) {
    const table = qInd[qi] + head * IND_SLOT_BYTES;
    for (let i = 0; i < n; i++) {
      const flags = (i + 1 < n ? VRING_DESC_F_NEXT : 0) | (segWrite[i] !== 0 ? VRING_DESC_F_WRITE : 0);
      writeDesc(table + i * VRING_DESC_BYTES, segAddr[i], segLen[i], flags, i + 1 < n ? i + 1 : 0);
    }
    // The descriptor that names the table has INDIRECT only: never NEXT, WRITE ignored (§2.7.5.3.1).
    writeDesc(desc + head * VRING_DESC_BYTES, machineAddr(table), n * VRING_DESC_BYTES, VRING_DESC_F_INDIRECT, 0);
    qFreeHead[qi] = dNext[base + head];
  } else {
    let d = head;
    for (let i = 0; i < n; i++) {
      const next = dNext[base + d];
      const flags = (i + 1 < n ? VRING_DESC_F_NEXT : 0) | (segWrite[i] !== 0 ? VRING_DESC_F_WRITE : 0);
      writeDesc(desc + d * VRING_DESC_BYTES, segAddr[i], segLen[i], flags, i + 1 < n ? next : 0);
      d = next;
    }
    qFreeHead[qi] = d;
  }
  qNumFree[qi] = qNumFree[qi] - need;
  dCount[base + head] = need;
  dToken[base + head] = token;
  // order: the descriptors above, then the ring entry (wmb not needed: both before the idx store).
  const slot = qAvailIdx[qi] & (size - 1);
  store16(qAvail[qi] + VRING_AVAIL_RING + 2 * slot, head);
  qAvailIdx[qi] = (qAvailIdx[qi] + 1) & 0xffff;
  qOutstanding[qi] = qOutstanding[qi] + 1;
  qChains[qi] = qChains[qi] + 1;
  segCount = 0;
  return head;
}

// --- notifying the device ------------------------------------------------------------------------

/**
 * Publish every chain submitted since the last call (one idx store), then kick the device if,
 * and only if, it asked for it. Returns 0, or the kick's error (-EIO: the device found the ring
 * malformed and needs a reset).
 */
export function vqNotify(qi: number): number {
  const now = qAvailIdx[qi];
  // order: ring entries, then idx (wmb).
  store16(qAvail[qi] + VRING_AVAIL_IDX, now);
  const old = qKickIdx[qi];
  if (now === old) return 0;
  qKickIdx[qi] = now;
  // order: idx, then read what the device asked (mb).
  let need = false;
  if ((qFlags[qi] & F_EVENT_IDX) !== 0) {
    const event = load16(availEventAddr(qi));
    need = ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
  } else {
    need = (load16(qUsed[qi] + VRING_USED_FLAGS) & VRING_USED_F_NO_NOTIFY) === 0;
  }
  if (!need) {
    qKicksSkipped[qi] = qKicksSkipped[qi] + 1;
    return 0;
  }
  qKicks[qi] = qKicks[qi] + 1;
  const r = hcVirtioKick(qDev[qi], qIndex[qi]);
  qLastKick[qi] = r;
  return r;
}

// --- taking used buffers back ----------------------------------------------------------------------

/** True when the device has returned chains we have not reaped. */
export function vqHasUsed(qi: number): boolean {
  return load16(qUsed[qi] + VRING_USED_IDX) !== qLastUsed[qi];
}

/**
 * The token of the next chain the device returned, or -1 when there is none (VQ_DEVICE_ERROR
 * when the device named a descriptor that is not a chain it holds). vqUsedLen() is then the
 * number of bytes it wrote into the chain's writable buffers.
 */
export function vqReap(qi: number): number {
  const last = qLastUsed[qi];
  if (load16(qUsed[qi] + VRING_USED_IDX) === last) return -1;
  // order: read idx, then the element it covers (rmb).
  const elem = qUsed[qi] + VRING_USED_RING + VRING_USED_ELEM_BYTES * (last & (qSize[qi] - 1));
  const id = load32(elem + VRING_USED_ELEM_ID);
  const base = qi * VQ_MAX_SIZE;
  if (id < 0 || id >= qSize[qi] || dCount[base + id] === 0) return VQ_DEVICE_ERROR;
  usedLen = load32(elem + VRING_USED_ELEM_LEN);
  // Back to the free list: the chain's descriptors are still linked through dNext.
  const n = dCount[base + id];
  let tail = id;
  for (let i = 1; i < n; i++) tail = dNext[base + tail];
  dNext[base + tail] = qFreeHead[qi];
  qFreeHead[qi] = id;
  qNumFree[qi] = qNumFree[qi] + n;
  dCount[base + id] = 0;
  qLastUsed[qi] = (last + 1) & 0xffff;
  qOutstanding[qi] = qOutstanding[qi] - 1;
  if (qArmed[qi] === 0 && (qFlags[qi] & F_EVENT_IDX) !== 0) {
    // Keep used_event just behind us, where the device never passes it.
    store16(usedEventAddr(qi), (last) & 0xffff);
  }
  return dToken[base + id];
}

/** Bytes the device wrote into the chain vqReap returned last. */
export function vqUsedLen(): number {
  return usedLen;
}

// --- used-buffer notifications -----------------------------------------------------------------------

/**
 * Ask for a notification once `after` (≥ 1) more chains have come back. True when they already
 * have: then no notification may come, and the caller must not sleep.
 */
export function vqArm(qi: number, after: number): boolean {
  let n = after;
  if (n < 1) n = 1;
  qArmed[qi] = 1;
  if ((qFlags[qi] & F_EVENT_IDX) !== 0) store16(usedEventAddr(qi), (qLastUsed[qi] + n - 1) & 0xffff);
  else store16(qAvail[qi] + VRING_AVAIL_FLAGS, 0);
  // order: used_event (or flags), then read used idx (mb).
  return ((load16(qUsed[qi] + VRING_USED_IDX) - qLastUsed[qi]) & 0xffff) >= n;
}

/** No used-buffer notifications: used_event just behind our index (it never passes it), or NO_INTERRUPT. */
export function vqDisarm(qi: number): void {
  qArmed[qi] = 0;
  if ((qFlags[qi] & F_EVENT_IDX) !== 0) store16(usedEventAddr(qi), (qLastUsed[qi] - 1) & 0xffff);
  else store16(qAvail[qi] + VRING_AVAIL_FLAGS, VRING_AVAIL_F_NO_INTERRUPT);
}

/**
 * Sleep until `after` more chains of `qi` have come back (at most the outstanding ones), with
 * the event order of events.ts. Returns 0 (possibly early: any event wakes us, so callers look
 * at the ring and call again), or VQ_DEVICE_ERROR when a wake-up brought nothing and the device
 * says it needs a reset (its configuration-change event woke us).
 *
 * A larger `after` is what EVENT_IDX is for: one notification for many completions, however
 * many device batches they take (block.ts blkWait). Without EVENT_IDX the first batch that
 * completes anything notifies.
 */
export function vqWait(qi: number, after: number): number {
  let n = after;
  if (n > qOutstanding[qi]) n = qOutstanding[qi];
  if (n < 1) return 0;
  waitPrepare();
  if (vqArm(qi, n)) {
    vqDisarm(qi);
    waitCancel();
    return 0;
  }
  waitBlock();
  vqDisarm(qi);
  if (!vqHasUsed(qi) && virtioNeedsReset(qDev[qi])) return VQ_DEVICE_ERROR;
  return 0;
}
