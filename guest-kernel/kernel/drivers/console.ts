/**
 * The virtio console front end (virtio 1.2 §5.3), output only: transmitq (queue 1) of port 0.
 * consoleWrite hands the device a whole buffer in one batch: one chain per page-sized chunk,
 * all published together, with one kick when the device asks for one; it returns once every
 * chunk came back, so the caller may reuse the buffer. receiveq is left unconfigured (input is
 * not wanted yet; the device keeps typed input queued until a driver offers buffers).
 */
import { VIRTIO_CONSOLE_QUEUE_TX, VIRTIO_ID_CONSOLE, VIRTIO_RING_F_EVENT_IDX_MASK } from '../../../abi/ring.ts';
import { eventsInit } from './events.ts';
import { PAGE_MASK, PAGE_SIZE } from './memory.ts';
import { chainAdd, chainBegin, chainSubmit, VQ_DEVICE_ERROR, VQ_FULL, vqNotify, vqOutstanding, vqReap, vqSetup, vqWait } from './virtqueue.ts';
import { virtioBegin, virtioBindEvent, virtioDriverOk, virtioFind, virtioMaxQueueSize } from './virtio.ts';

/** Transmit queue size: 32 chunks of up to a page, 128 KiB in flight. */
const CONSOLE_QUEUE = 32;
/** Bytes per chain at most: a page (well below VIRTIO_CONSOLE_MAX_TX, 64 KiB). */
const CHUNK = PAGE_SIZE;

let dev = -1;
let qi = -1;
let port = 0;

/** Find and set up the console on driver queue `queue`. Returns 0 or a negative error. */
export function consoleInit(queue: number): number {
  eventsInit();
  const d = virtioFind(VIRTIO_ID_CONSOLE);
  if (d < 0) return d;
  // No INDIRECT_DESC: every chain is one page, one descriptor.
  const features = virtioBegin(d, VIRTIO_RING_F_EVENT_IDX_MASK);
  if (features < 0) return features;
  let size = CONSOLE_QUEUE;
  while (size > virtioMaxQueueSize(d)) size = size >>> 1;
  const r = vqSetup(queue, d, VIRTIO_CONSOLE_QUEUE_TX, size, features);
  if (r < 0) return r;
  if (port === 0) {
    port = virtioBindEvent(d);
    if (port < 0) return port;
  }
  dev = d;
  qi = queue;
  return virtioDriverOk(d);
}

/** The console's device number, or -1 before consoleInit. */
export function consoleDevice(): number {
  return dev;
}

/** Take back every chain the device has finished with; how many. */
function reapAll(): number {
  let n = 0;
  while (vqReap(qi) >= 0) n++;
  return n;
}

/**
 * Write `len` bytes at `va` to the console, as one batch. Returns `len`, or a negative error
 * (the kick's -EIO, or VQ_DEVICE_ERROR when the device stopped).
 */
export function consoleWrite(va: number, len: number): number {
  if (qi < 0) return VQ_DEVICE_ERROR;
  let off = 0;
  while (off < len) {
    // One chain per page: one descriptor each, whatever the frames behind the pages.
    let n = CHUNK - ((va + off) & PAGE_MASK);
    if (n > len - off) n = len - off;
    chainBegin();
    chainAdd(va + off, n, false);
    const head = chainSubmit(qi, off);
    if (head === VQ_FULL) {
      // The ring is full: let the device have what we have, and take back what it finished.
      const k = vqNotify(qi);
      if (k < 0) return k;
      if (reapAll() === 0) {
        const w = vqWait(qi, 1);
        if (w < 0) return w;
      }
      continue;
    }
    if (head < 0) return head;
    off += n;
  }
  const k = vqNotify(qi);
  if (k < 0) return k;
  for (;;) {
    reapAll();
    if (vqOutstanding(qi) === 0) break;
    const w = vqWait(qi, 1);
    if (w < 0) return w;
  }
  return len;
}

/** Write a string literal. */
export function consolePrint(s: string): number {
  return consoleWrite(addressOf(s), s.length);
}
