/**
 * The virtio net front end (virtio 1.2 §5.1): receiveq (queue 0) and transmitq (queue 1), no
 * offloads, no mergeable buffers, so every buffer carries the 12-byte virtio_net_hdr and then
 * one whole frame (at most VIRTIO_NET_MAX_FRAME bytes).
 *
 * Receive: every receive buffer is given to the device at set-up; netRecv copies a frame out and
 * gives its buffer back at once (published by netRxFlush, with a kick only when the device asks:
 * with EVENT_IDX, avail_event says whether it ran out of buffers; without it, every refill
 * kicks). Transmit: netSend copies a frame into a free transmit buffer and queues it; netFlush
 * publishes everything queued with at most one kick and takes back finished buffers.
 * netWait sleeps until a frame arrives or a transmit buffer comes back.
 */
import {
  VIRTIO_F_INDIRECT_DESC_MASK,
  VIRTIO_ID_NET,
  VIRTIO_NET_CFG_MAC,
  VIRTIO_NET_F_MAC_MASK,
  VIRTIO_NET_HDR_BYTES,
  VIRTIO_NET_MAX_FRAME,
  VIRTIO_NET_QUEUE_RX,
  VIRTIO_NET_QUEUE_TX,
  VIRTIO_RING_F_EVENT_IDX_MASK,
} from '../../../abi/ring.ts';
import { eventsInit, waitBlock, waitCancel, waitPrepare } from './events.ts';
import { copyBytes, pageAlign, PAGE_SIZE } from './memory.ts';
import { chainAdd, chainBegin, chainSubmit, VQ_DEVICE_ERROR, VQ_FULL, vqArm, vqDisarm, vqHasUsed, vqNotify, vqOutstanding, vqReap, vqSetup, vqUsedLen } from './virtqueue.ts';
import { virtioBegin, virtioBindEvent, virtioConfig, virtioDriverOk, virtioFind, virtioMaxQueueSize, virtioNeedsReset } from './virtio.ts';

/** Entries of each queue, and buffers of each direction. */
const NET_QUEUE = 64;
/** One buffer: header and the longest frame (1548 bytes), in a 2 KiB slot inside one page. */
const BUF_BYTES = 2048;
const BUF_USED = VIRTIO_NET_HDR_BYTES + VIRTIO_NET_MAX_FRAME;
const store = new Uint8Array(2 * NET_QUEUE * BUF_BYTES + PAGE_SIZE);

let dev = -1;
let rxq = -1;
let txq = -1;
let port = 0;
let rxBase = 0;
let txBase = 0;
let size = NET_QUEUE;
const txFree = new Int32Array(NET_QUEUE);
/** Our MAC address, read from the configuration space at set-up. */
const mac = new Uint8Array(6);
let txFreeCount = 0;
let rxErrors = 0;

function rxBuf(i: number): number {
  return rxBase + i * BUF_BYTES;
}

function txBuf(i: number): number {
  return txBase + i * BUF_BYTES;
}

/** Give receive buffer `i` to the device (published by netRxFlush). */
function postRx(i: number): number {
  chainBegin();
  chainAdd(rxBuf(i), BUF_USED, true);
  return chainSubmit(rxq, i);
}

/** Find and set up the net device on driver queues `rx` and `tx`. 0 or a negative error. */
export function netInit(rx: number, tx: number): number {
  eventsInit();
  const d = virtioFind(VIRTIO_ID_NET);
  if (d < 0) return d;
  const f = virtioBegin(d, VIRTIO_RING_F_EVENT_IDX_MASK | VIRTIO_F_INDIRECT_DESC_MASK | VIRTIO_NET_F_MAC_MASK);
  if (f < 0) return f;
  size = NET_QUEUE;
  while (size > virtioMaxQueueSize(d)) size = size >>> 1;
  let r = vqSetup(rx, d, VIRTIO_NET_QUEUE_RX, size, f);
  if (r < 0) return r;
  r = vqSetup(tx, d, VIRTIO_NET_QUEUE_TX, size, f);
  if (r < 0) return r;
  if (port === 0) {
    port = virtioBindEvent(d);
    if (port < 0) return port;
  }
  dev = d;
  rxq = rx;
  txq = tx;
  rxBase = pageAlign(addressOf(store));
  txBase = rxBase + NET_QUEUE * BUF_BYTES;
  txFreeCount = 0;
  for (let i = size - 1; i >= 0; i--) txFree[txFreeCount++] = i;
  const lo = virtioConfig(d, VIRTIO_NET_CFG_MAC);
  const hi = virtioConfig(d, VIRTIO_NET_CFG_MAC + 4);
  for (let i = 0; i < 4; i++) mac[i] = (lo >>> (i * 8)) & 0xff;
  mac[4] = hi & 0xff;
  mac[5] = (hi >>> 8) & 0xff;
  r = virtioDriverOk(d);
  if (r < 0) return r;
  for (let i = 0; i < size; i++) {
    r = postRx(i);
    if (r < 0) return r;
  }
  return netRxFlush();
}

export function netDevice(): number {
  return dev;
}

/** Byte `i` (0..5) of our MAC address. */
export function netMacByte(i: number): number {
  return mac[i];
}

/** Take back transmit buffers the device finished with. */
function reapTx(): void {
  for (;;) {
    const b = vqReap(txq);
    if (b < 0) return;
    txFree[txFreeCount++] = b;
  }
}

/**
 * Queue the `len`-byte frame at `va` for transmission (sent at the next netFlush). Returns 0,
 * VQ_FULL when every transmit buffer is in flight, or another negative error.
 */
export function netSend(va: number, len: number): number {
  if (len < 0 || len > VIRTIO_NET_MAX_FRAME) return VQ_DEVICE_ERROR;
  if (txFreeCount === 0) reapTx();
  if (txFreeCount === 0) return VQ_FULL;
  const b = txFree[txFreeCount - 1];
  const buf = txBuf(b);
  for (let o = 0; o < VIRTIO_NET_HDR_BYTES; o += 4) store32(buf + o, 0);
  copyBytes(buf + VIRTIO_NET_HDR_BYTES, va, len);
  chainBegin();
  chainAdd(buf, VIRTIO_NET_HDR_BYTES + len, false);
  const r = chainSubmit(txq, b);
  if (r < 0) return r;
  txFreeCount--;
  return 0;
}

/** Send every queued frame (a kick only if the device asks). 0 or the kick's -errno. */
export function netFlush(): number {
  const r = vqNotify(txq);
  reapTx();
  return r;
}

/**
 * The next received frame, copied to `va` (at most `max` bytes): its length, or -1 when none has
 * arrived (another negative value: the device returned nonsense). Its buffer goes back to the
 * device at the next netRxFlush.
 */
export function netRecv(va: number, max: number): number {
  const i = vqReap(rxq);
  if (i < 0) return i;
  let len = vqUsedLen() - VIRTIO_NET_HDR_BYTES;
  if (len < 0) {
    rxErrors++;
    len = 0;
  }
  copyBytes(va, rxBuf(i) + VIRTIO_NET_HDR_BYTES, len < max ? len : max);
  const r = postRx(i);
  if (r < 0) return r;
  return len;
}

/** Give the device back the receive buffers netRecv emptied. 0 or the kick's -errno. */
export function netRxFlush(): number {
  return vqNotify(rxq);
}

/** Frames we could not make sense of (a used length shorter than the header). */
export function netRxErrors(): number {
  return rxErrors;
}

/**
 * Sleep until a frame arrives (or a transmit buffer comes back, when some are in flight).
 * 0, or VQ_DEVICE_ERROR when the device needs a reset.
 */
export function netWait(): number {
  waitPrepare();
  let ready = vqArm(rxq, 1);
  if (vqOutstanding(txq) > 0 && vqArm(txq, 1)) ready = true;
  if (ready) {
    vqDisarm(rxq);
    vqDisarm(txq);
    waitCancel();
    return 0;
  }
  waitBlock();
  vqDisarm(rxq);
  vqDisarm(txq);
  if (!vqHasUsed(rxq) && !vqHasUsed(txq) && virtioNeedsReset(dev)) return VQ_DEVICE_ERROR;
  return 0;
}
