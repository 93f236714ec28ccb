/**
 * The virtio block front end (virtio 1.2 §5.2): one request queue, requests of type IN, OUT,
 * FLUSH and GET_ID. A request is a chain of three parts, whatever the split into descriptors:
 * a device-readable 16-byte header {type, reserved, sector lo, sector hi}, the data (readable for
 * OUT, writable for IN), and one device-writable status byte, last. Headers and status bytes
 * live in the front end, one slot per request in flight; the data is the caller's.
 *
 * The front end batches: blkSubmit only queues a request (the descriptors and the ring entry);
 * blkKick publishes every queued request at once and kicks only when the device asks (EVENT_IDX:
 * avail_event; otherwise NO_NOTIFY). A streaming caller keeps the queue full — submit until
 * VQ_FULL, kick, reap what came back, submit again — and sleeps in blkWait only when nothing
 * has come back.
 */
import {
  VIRTIO_BLK_CFG_CAPACITY_HI,
  VIRTIO_BLK_CFG_CAPACITY_LO,
  VIRTIO_BLK_F_FLUSH_MASK,
  VIRTIO_BLK_QUEUE_REQUEST,
  VIRTIO_BLK_REQ_HEADER_BYTES,
  VIRTIO_BLK_REQ_RESERVED,
  VIRTIO_BLK_REQ_SECTOR_HI,
  VIRTIO_BLK_REQ_SECTOR_LO,
  VIRTIO_BLK_REQ_TYPE,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_F_INDIRECT_DESC_MASK,
  VIRTIO_ID_BLOCK,
  VIRTIO_RING_F_EVENT_IDX_MASK,
} from '../../../abi/ring.ts';
import { eventsInit } from './events.ts';
import { allocPages } from './memory.ts';
import { chainAddSplit, chainBegin, chainSubmit, VQ_BAD_CHAIN, VQ_DEVICE_ERROR, VQ_FULL, VQ_MAX_SIZE, vqEventIdx, vqNotify, vqOutstanding, vqReap, vqSetup, vqWait } from './virtqueue.ts';
import { virtioBegin, virtioBindEvent, virtioConfig, virtioDriverOk, virtioFind, virtioMaxQueueSize } from './virtio.ts';

/** Status byte before the device wrote one: not a VIRTIO_BLK_S_* value. */
export const BLK_STATUS_PENDING = 0xff;
const SLOTS = VQ_MAX_SIZE;
/** The slot page: headers at 16·slot, status bytes at STATUS_AT + slot. */
const STATUS_AT = SLOTS * VIRTIO_BLK_REQ_HEADER_BYTES;

let dev = -1;
let qi = -1;
let port = 0;
let slotPage = 0;
let features = 0;
/** Bytes per data descriptor (0: as large as the pages allow). */
let segmentBytes = 0;
/** Free slots: a stack. */
const freeSlots = new Int32Array(SLOTS);
let freeCount = 0;
const slotToken = new Int32Array(SLOTS);
let lastStatus = 0;
let lastToken = 0;

/**
 * Find and set up the block device on driver queue `queue` with `size` entries (a power of two,
 * cut to what the device takes). `segment` > 0 describes data in pieces of that many bytes (a
 * scatter-gather list, as from a page cache of small blocks); 0 uses whole pages.
 * Returns 0 or a negative error.
 */
export function blkInit(queue: number, size: number, segment: number): number {
  eventsInit();
  const d = virtioFind(VIRTIO_ID_BLOCK);
  if (d < 0) return d;
  const f = virtioBegin(d, VIRTIO_RING_F_EVENT_IDX_MASK | VIRTIO_F_INDIRECT_DESC_MASK | VIRTIO_BLK_F_FLUSH_MASK);
  if (f < 0) return f;
  let q = size;
  while (q > virtioMaxQueueSize(d) || q > SLOTS) q = q >>> 1;
  const r = vqSetup(queue, d, VIRTIO_BLK_QUEUE_REQUEST, q, f);
  if (r < 0) return r;
  if (port === 0) {
    port = virtioBindEvent(d);
    if (port < 0) return port;
  }
  if (slotPage === 0) {
    slotPage = allocPages(1);
    if (slotPage === 0) return VQ_FULL;
  }
  freeCount = 0;
  for (let s = SLOTS - 1; s >= 0; s--) freeSlots[freeCount++] = s;
  dev = d;
  qi = queue;
  features = f;
  segmentBytes = segment;
  return virtioDriverOk(d);
}

export function blkDevice(): number {
  return dev;
}

export function blkFeatures(): number {
  return features;
}

/** Capacity in 512-byte sectors (the low word; our disks are far below 2^32 sectors). */
export function blkCapacity(): number {
  if (virtioConfig(dev, VIRTIO_BLK_CFG_CAPACITY_HI) !== 0) return 0x7fffffff;
  return virtioConfig(dev, VIRTIO_BLK_CFG_CAPACITY_LO);
}

/**
 * Queue a request: `type` (VIRTIO_BLK_T_*), from `sector`, with `len` bytes of data at `va`
 * (none for FLUSH). It goes to the device at the next blkKick. Returns 0, VQ_FULL (reap first)
 * or VQ_BAD_CHAIN.
 */
export function blkSubmit(type: number, sector: number, va: number, len: number, token: number): number {
  if (freeCount === 0) return VQ_FULL;
  const slot = freeSlots[freeCount - 1];
  const hdr = slotPage + slot * VIRTIO_BLK_REQ_HEADER_BYTES;
  const status = slotPage + STATUS_AT + slot;
  store32(hdr + VIRTIO_BLK_REQ_TYPE, type);
  store32(hdr + VIRTIO_BLK_REQ_RESERVED, 0);
  store32(hdr + VIRTIO_BLK_REQ_SECTOR_LO, sector);
  store32(hdr + VIRTIO_BLK_REQ_SECTOR_HI, 0);
  store8(status, BLK_STATUS_PENDING);
  chainBegin();
  chainAddSplit(hdr, VIRTIO_BLK_REQ_HEADER_BYTES, false, 0);
  if (len > 0 && type === VIRTIO_BLK_T_OUT) chainAddSplit(va, len, false, segmentBytes);
  if (len > 0 && type === VIRTIO_BLK_T_IN) chainAddSplit(va, len, true, segmentBytes);
  if (!chainAddSplit(status, 1, true, 0)) return VQ_BAD_CHAIN;
  const head = chainSubmit(qi, slot);
  if (head < 0) return head;
  freeCount--;
  slotToken[slot] = token;
  return 0;
}

/** Send every queued request (kicking only if the device asks). 0, or the kick's -errno. */
export function blkKick(): number {
  return vqNotify(qi);
}

/**
 * The token of a finished request, or -1 when none has finished (VQ_DEVICE_ERROR when the device
 * returned nonsense); blkStatus() is its VIRTIO_BLK_S_* status.
 */
export function blkReap(): number {
  const slot = vqReap(qi);
  if (slot < 0) return slot;
  lastStatus = load8(slotPage + STATUS_AT + slot);
  lastToken = slotToken[slot];
  freeSlots[freeCount++] = slot;
  return lastToken;
}

export function blkStatus(): number {
  return lastStatus;
}

/** Requests in flight. */
export function blkInFlight(): number {
  return vqOutstanding(qi);
}

/**
 * Sleep until requests finish: with EVENT_IDX, until three quarters of those in flight have
 * (Linux's virtqueue_enable_cb_delayed), so a device that completes a long queue in several
 * budgeted batches wakes us once instead of once per batch; without EVENT_IDX the driver can
 * only switch notifications on, and the first batch that completes anything wakes us. The
 * hypervisor polls a device with pending work before it lets every domain sleep, so used_event
 * is always reached. 0, or VQ_DEVICE_ERROR.
 */
export function blkWait(): number {
  let n = 1;
  if (vqEventIdx(qi)) n = (vqOutstanding(qi) * 3) >>> 2;
  if (n < 1) n = 1;
  return vqWait(qi, n);
}

/** Submit one request and wait for it alone (nothing else may be in flight). Its status, or < 0. */
export function blkSync(type: number, sector: number, va: number, len: number): number {
  let r = blkSubmit(type, sector, va, len, 0);
  if (r < 0) return r;
  r = blkKick();
  if (r < 0) return r;
  for (;;) {
    const t = blkReap();
    if (t >= 0) return lastStatus;
    if (t === VQ_DEVICE_ERROR) return t;
    r = vqWait(qi, 1);
    if (r < 0) return r;
  }
}

/** Make every finished write durable (FLUSH). Its status, or < 0. */
export function blkFlush(): number {
  return blkSync(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
}

/** Read `len` bytes from `sector` into `va` and wait. Its status, or < 0. */
export function blkRead(sector: number, va: number, len: number): number {
  return blkSync(VIRTIO_BLK_T_IN, sector, va, len);
}

/** Write `len` bytes at `va` to `sector` and wait. Its status, or < 0. */
export function blkWrite(sector: number, va: number, len: number): number {
  return blkSync(VIRTIO_BLK_T_OUT, sector, va, len);
}

