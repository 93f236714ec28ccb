/**
 * The block device as the block workload sees it: write or read a run of bytes that is a whole
 * number of DISK_REQUEST_BYTES requests, flush, capacity. Each target has its own driver behind
 * it (TARGET_PV is a compile-time constant, so each build holds one):
 *
 * - native: ata.ts, one PIO command per request, polled; it returns when the data has moved.
 * - pv: the virtio block front end (kernel/drivers/block.ts): every request of the run is queued
 *   (one descriptor chain each), published with one blkKick — a kick only if the device asks —
 *   and reaped as they complete, sleeping in blkWait only when nothing has come back. So a run
 *   of n requests costs about one kick, not n.
 *
 * Both split a run into the same 4 KiB requests (8 sectors), so the disk sees the same requests
 * whichever driver made them.
 */
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../../abi/ring.ts';
import { blkCapacity, blkFlush, blkInit, blkKick, blkReap, blkStatus, blkSubmit, blkWait } from '../../kernel/drivers/block.ts';
import { VQ_FULL } from '../../kernel/drivers/virtqueue.ts';
import { ataCapacity, ataFlush, ataRead, ataWrite } from './ata.ts';

export const DISK_REQUEST_BYTES = 4096;
const SECTORS_PER_REQUEST = DISK_REQUEST_BYTES / 512;
/** virtio queue 0, 128 entries: a 64 KiB run is 16 requests, all in flight at once. */
const QI = 0;
const QUEUE_SIZE = 128;

/** Returned for a request the device failed (bad status) or refused. */
export const DISK_IO_ERROR = -5;

/** Set the device up: 0 or a negative error. */
export function diskInit(): number {
  if (TARGET_PV) return blkInit(QI, QUEUE_SIZE, 0);
  return 0;
}

/** Disk size in 512-byte sectors. */
export function diskSectors(): number {
  if (TARGET_PV) return blkCapacity();
  return ataCapacity();
}

/** pv: stream the requests of one run; 0 when every one completed with VIRTIO_BLK_S_OK. */
function virtioRun(type: number, sector: number, addr: number, bytes: number): number {
  const requests = (bytes / DISK_REQUEST_BYTES) | 0;
  let next = 0;
  let done = 0;
  let failed = 0;
  while (done < requests) {
    while (next < requests) {
      const r = blkSubmit(type, sector + next * SECTORS_PER_REQUEST, addr + next * DISK_REQUEST_BYTES, DISK_REQUEST_BYTES, next);
      if (r === VQ_FULL) break;
      if (r < 0) return DISK_IO_ERROR;
      next++;
    }
    if (blkKick() < 0) return DISK_IO_ERROR;
    let got = 0;
    for (;;) {
      const t = blkReap();
      if (t === -1) break;
      if (t < 0) return DISK_IO_ERROR;
      if (blkStatus() !== VIRTIO_BLK_S_OK) failed++;
      done++;
      got++;
    }
    if (got === 0 && done < requests && blkWait() < 0) return DISK_IO_ERROR;
  }
  return failed === 0 ? 0 : DISK_IO_ERROR;
}

/** Write `bytes` (a multiple of DISK_REQUEST_BYTES) from `addr` to the disk from `sector`. */
export function diskWrite(sector: number, addr: number, bytes: number): number {
  if (TARGET_PV) return virtioRun(VIRTIO_BLK_T_OUT, sector, addr, bytes);
  for (let o = 0; o < bytes; o += DISK_REQUEST_BYTES) {
    if (ataWrite(sector + ((o / 512) | 0), addr + o, SECTORS_PER_REQUEST) < 0) return DISK_IO_ERROR;
  }
  return 0;
}

/** Read `bytes` (a multiple of DISK_REQUEST_BYTES) from `sector` into `addr`. */
export function diskRead(sector: number, addr: number, bytes: number): number {
  if (TARGET_PV) return virtioRun(VIRTIO_BLK_T_IN, sector, addr, bytes);
  for (let o = 0; o < bytes; o += DISK_REQUEST_BYTES) {
    if (ataRead(sector + ((o / 512) | 0), addr + o, SECTORS_PER_REQUEST) < 0) return DISK_IO_ERROR;
  }
  return 0;
}

/** Make the writes durable: 0 or DISK_IO_ERROR. */
export function diskFlush(): number {
  if (TARGET_PV) return blkFlush() === VIRTIO_BLK_S_OK ? 0 : DISK_IO_ERROR;
  return ataFlush() < 0 ? DISK_IO_ERROR : 0;
}
