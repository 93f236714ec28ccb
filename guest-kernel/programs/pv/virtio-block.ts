/**
 * Issue 5 acceptance guest: 1 MiB to the virtio block device in 4 KiB requests, streamed, then
 * read back in 4 KiB requests and compared by checksum. Shuts down with 42 when the checksums
 * match, 1 when they do not, 2 when the device failed a request, and otherwise with the step that
 * failed: 10 set-up, 11 a disk under 1 MiB, 12 the flush, 20..23 writing (submit, kick, reap,
 * wait), 30..33 reading.
 *
 * Streaming: up to Q requests in flight (one buffer each); the loop submits until the queue is
 * full, publishes them with one blkKick (a kick only when the device asks), takes back whatever
 * came back, and sleeps only when nothing did. Data is a function of the disk offset,
 * blockWord(offset), so a test can rebuild what the disk must hold. The checksum of each request
 * is seeded with its number and the checksums are added, so the order in which requests complete
 * does not matter.
 *
 * The command line may set, for the benchmark, the queue size, `q=N` (default and most 128), and
 * `seg=N`: describe each request's data as pieces of N bytes (a scatter-gather list; 512 makes a
 * 4 KiB request 8 data descriptors), so one device batch covers fewer requests than the queue
 * holds and the device works through a full queue in several batches.
 */
import { PV_START_INFO_VA, SOD_CMDLINE } from '../../../abi/hypercall-numbers.ts';
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../../abi/ring.ts';
import { printHex, print, printKV } from '../../lib/console.ts';
import { blkCapacity, blkFlush, blkInit, blkKick, blkReap, blkStatus, blkSubmit, blkWait } from '../../kernel/drivers/block.ts';
import { upcalls } from '../../kernel/drivers/events.ts';
import { VQ_FULL, vqKicks, vqKicksSkipped } from '../../kernel/drivers/virtqueue.ts';

const TOTAL = 1024 * 1024;
const REQUEST = 4096;
const REQUESTS = TOTAL / REQUEST;
const SECTORS_PER_REQUEST = REQUEST / 512;
const MAX_BUFFERS = 128;
const QI = 0;

/** One page per request in flight, aligned at run time. */
const store = new Uint8Array((MAX_BUFFERS + 1) * REQUEST);
let buffers = 0;
/** Free buffers: a stack of indices. */
const free = new Int32Array(MAX_BUFFERS);
let freeCount = 0;
/** The request each buffer carries. */
const request = new Int32Array(MAX_BUFFERS);
let queueSize = 128;

let sumWritten = 0;
let sumRead = 0;
let failures = 0;

/** The word the disk holds at byte `offset` (a multiple of 4). */
export function blockWord(offset: number): number {
  return Math.imul(offset ^ 0x5bd1e995, 0x01000193) ^ (offset >>> 7);
}

function mix(sum: number, w: number): number {
  return (Math.imul(sum ^ w, 0x01000193) + 0x3c6ef372) | 0;
}

function bufferAddr(b: number): number {
  return buffers + b * REQUEST;
}

/** A number after `key` on the command line, or `fallback`. */
function option(key: string, fallback: number): number {
  const line = PV_START_INFO_VA + SOD_CMDLINE;
  for (let i = 0; load8(line + i) !== 0; i++) {
    let j = 0;
    while (j < key.length && load8(line + i + j) === key.charCodeAt(j)) j++;
    if (j === key.length) {
      let v = 0;
      let k = i + j;
      while (load8(line + k) >= 48 && load8(line + k) <= 57) {
        v = v * 10 + load8(line + k) - 48;
        k++;
      }
      return v;
    }
  }
  return fallback;
}

/** Run REQUESTS requests of `type`, streaming. 0, or `step` + 0..3 (submit, kick, reap, wait). */
function stream(type: number, step: number): number {
  freeCount = 0;
  for (let b = MAX_BUFFERS - 1; b >= 0; b--) free[freeCount++] = b;
  let next = 0;
  let done = 0;
  while (done < REQUESTS) {
    // Keep the queue full.
    while (next < REQUESTS && freeCount > 0) {
      const b = free[freeCount - 1];
      const va = bufferAddr(b);
      let sum = next;
      if (type === VIRTIO_BLK_T_OUT) {
        const base = next * REQUEST;
        for (let o = 0; o < REQUEST; o += 4) {
          const w = blockWord(base + o);
          store32(va + o, w);
          sum = mix(sum, w);
        }
      }
      const r = blkSubmit(type, next * SECTORS_PER_REQUEST, va, REQUEST, b);
      if (r === VQ_FULL) break; // the buffer is filled again next time round
      if (r < 0) return step;
      if (type === VIRTIO_BLK_T_OUT) sumWritten = (sumWritten + sum) | 0;
      request[b] = next;
      freeCount--;
      next++;
    }
    if (blkKick() < 0) return step + 1;
    // Take back what came back.
    let got = 0;
    for (;;) {
      const b = blkReap();
      if (b === -1) break;
      if (b < 0) return step + 2;
      if (blkStatus() !== VIRTIO_BLK_S_OK) failures++;
      if (type === VIRTIO_BLK_T_IN) {
        const va = bufferAddr(b);
        let sum = request[b];
        for (let o = 0; o < REQUEST; o += 4) sum = mix(sum, load32(va + o));
        sumRead = (sumRead + sum) | 0;
      }
      free[freeCount++] = b;
      done++;
      got++;
    }
    if (got === 0 && done < REQUESTS && blkWait() < 0) return step + 3;
  }
  return 0;
}

export function main(): number {
  queueSize = option('q=', 128);
  buffers = (addressOf(store) + REQUEST - 1) & ~(REQUEST - 1);
  if (blkInit(QI, queueSize, option('seg=', 0)) < 0) return 10;
  if (blkCapacity() < TOTAL / 512) return 11;
  let r = stream(VIRTIO_BLK_T_OUT, 20);
  if (r !== 0) return r;
  if (blkFlush() !== VIRTIO_BLK_S_OK) return 12;
  r = stream(VIRTIO_BLK_T_IN, 30);
  if (r !== 0) return r;
  print('block: written ');
  printHex(sumWritten);
  print(', read back ');
  printHex(sumRead);
  print('\n');
  printKV('block: failed requests ', failures);
  printKV('block: kicks ', vqKicks(QI));
  printKV('block: kicks not needed ', vqKicksSkipped(QI));
  printKV('block: upcalls ', upcalls());
  if (failures !== 0) return 2;
  return sumWritten === sumRead ? 42 : 1;
}
