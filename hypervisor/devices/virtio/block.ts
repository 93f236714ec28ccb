/**
 * virtio-blk (virtio 1.2 §5.2): IN, OUT, FLUSH and GET_ID against a disk image held in a
 * Uint8Array, used in place (the caller may have read it from a host file and saves it back on
 * flush or at the end of the run; `dirty` says whether it changed).
 *
 * A request is a readable header (16 bytes), the data, and a writable status byte, however the
 * driver split them into descriptors (§2.7.4.1). Two kinds of failure, kept apart on purpose:
 * - a bad request (sector past the end, a length not a multiple of 512, an unknown type) is
 *   answered with status IOERR or UNSUPP and the device carries on;
 * - a chain that cannot carry a request (no readable header, no writable status byte, data on
 *   the wrong side) is a malformed ring: DEVICE_NEEDS_RESET.
 * The used length is every writable byte of the chain: data (zeros when the request failed, so
 * the driver never sees stale bytes as data) and the status byte last.
 *
 * A read-only disk offers VIRTIO_BLK_F_RO and answers every OUT with IOERR, the disk untouched,
 * as QEMU does for a drive with readonly=on (virtio_blk_get_features adds VIRTIO_BLK_F_RO when
 * the BlockBackend is read-only; the write then fails with IOERR under werror=report).
 */
import {
  VIRTIO_BLK_CFG_BYTES,
  VIRTIO_BLK_CFG_CAPACITY_HI,
  VIRTIO_BLK_CFG_CAPACITY_LO,
  VIRTIO_BLK_F_FLUSH_MASK,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_QUEUE_REQUEST,
  VIRTIO_BLK_REQ_HEADER_BYTES,
  VIRTIO_BLK_REQ_SECTOR_HI,
  VIRTIO_BLK_REQ_SECTOR_LO,
  VIRTIO_BLK_REQ_TYPE,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_SECTOR_SIZE,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_ID_BLOCK,
} from '../../../abi/ring.ts';
import { VirtioDevice, type VirtioDeviceOptions } from './device.ts';
import type { DescriptorChain, RingError } from './virtqueue.ts';

export interface VirtioBlockOptions extends VirtioDeviceOptions {
  /** The disk, used in place; its length is rounded down to whole 512-byte sectors. */
  readonly disk: Uint8Array;
  /** The GET_ID string: ASCII, at most 20 bytes (longer is cut). Default 'tsvisor-disk'. */
  readonly id?: string;
  /** Called on FLUSH: make the image durable (write the host file). Throwing answers IOERR. */
  readonly onFlush?: (disk: Uint8Array) => void;
  /** Called with each byte range an OUT put into the disk (so the host writes back only those). */
  readonly onWrite?: (byteOffset: number, length: number) => void;
  /** Offer VIRTIO_BLK_F_RO and fail every OUT with IOERR. */
  readonly readOnly?: boolean;
}

/** VIRTIO_BLK_F_RO (5): the device is read-only (virtio 1.2 §5.2.3). Belongs beside
 *  VIRTIO_BLK_F_FLUSH in abi/ring.ts; kept here until the ABI file takes it. */
export const VIRTIO_BLK_F_RO_MASK = 1 << 5;

const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

export class VirtioBlock extends VirtioDevice {
  readonly disk: Uint8Array;
  /** Capacity in 512-byte sectors. */
  readonly capacity: number;
  private readonly id: Uint8Array;
  private readonly onFlush?: (disk: Uint8Array) => void;
  private readonly onWrite?: (byteOffset: number, length: number) => void;
  readonly readOnly: boolean;
  /** Set by a write that reached the disk; cleared by FLUSH. */
  dirty = false;
  /** The request header being decoded: read once into here, reused by every request. */
  private readonly header = new Uint8Array(VIRTIO_BLK_REQ_HEADER_BYTES);
  private readonly requestChain = (c: DescriptorChain): number | RingError => this.request(c);
  readonly blockStats = { reads: 0, writes: 0, flushes: 0, getIds: 0, sectorsRead: 0, sectorsWritten: 0, ioErrors: 0, unsupported: 0 };

  constructor(opts: VirtioBlockOptions) {
    super(opts, VIRTIO_ID_BLOCK, ['requestq'], VIRTIO_BLK_F_FLUSH_MASK | (opts.readOnly ? VIRTIO_BLK_F_RO_MASK : 0));
    this.disk = opts.disk;
    this.capacity = Math.floor(opts.disk.length / VIRTIO_BLK_SECTOR_SIZE);
    const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    const text = opts.id ?? 'tsvisor-disk';
    for (let i = 0; i < Math.min(text.length, VIRTIO_BLK_ID_BYTES); i++) id[i] = text.charCodeAt(i) & 0x7f;
    this.id = id;
    this.onFlush = opts.onFlush;
    this.onWrite = opts.onWrite;
    this.readOnly = opts.readOnly === true;
  }

  /** virtio_blk_config: capacity in sectors (§5.2.4). */
  config(): Uint8Array {
    const c = new Uint8Array(VIRTIO_BLK_CFG_BYTES);
    const v = new DataView(c.buffer);
    v.setUint32(VIRTIO_BLK_CFG_CAPACITY_LO, this.capacity >>> 0, true);
    v.setUint32(VIRTIO_BLK_CFG_CAPACITY_HI, Math.floor(this.capacity / 0x100000000), true);
    return c;
  }

  protected service(index: number): RingError | null {
    return index === VIRTIO_BLK_QUEUE_REQUEST ? this.drain(index, this.requestChain) : null;
  }

  /** One request (§5.2.6). Returns the used length, or why the chain cannot carry a request. */
  private request(c: DescriptorChain): number | RingError {
    if (c.readableBytes < VIRTIO_BLK_REQ_HEADER_BYTES) return c.misframed('write-only-buffer', 'the request header');
    if (c.writableBytes < 1) return c.misframed('read-only-buffer', 'the status byte', c.bufferAt('readable', c.readableBytes - 1));
    const header = this.header;
    const he = c.readInto(0, header, 0, VIRTIO_BLK_REQ_HEADER_BYTES);
    if (he) return he;
    const type = le32(header, VIRTIO_BLK_REQ_TYPE);
    const sectorLo = le32(header, VIRTIO_BLK_REQ_SECTOR_LO);
    const sectorHi = le32(header, VIRTIO_BLK_REQ_SECTOR_HI);
    const area = c.writableBytes - 1; // writable bytes before the status byte

    switch (type) {
      case VIRTIO_BLK_T_IN: {
        if (c.readableBytes > VIRTIO_BLK_REQ_HEADER_BYTES) {
          return c.misframed('read-only-buffer', 'the data read from the disk', c.bufferAt('readable', VIRTIO_BLK_REQ_HEADER_BYTES));
        }
        this.blockStats.reads++;
        const start = this.range(sectorLo, sectorHi, area);
        if (start < 0) return this.finish(c, null, 0, 0, VIRTIO_BLK_S_IOERR);
        this.blockStats.sectorsRead += area / VIRTIO_BLK_SECTOR_SIZE;
        return this.finish(c, this.disk, start, area, VIRTIO_BLK_S_OK);
      }
      case VIRTIO_BLK_T_OUT: {
        if (area > 0) return c.misframed('write-only-buffer', 'the data written to the disk');
        this.blockStats.writes++;
        const len = c.readableBytes - VIRTIO_BLK_REQ_HEADER_BYTES;
        if (this.readOnly) {
          this.blockStats.ioErrors++;
          return this.finish(c, null, 0, 0, VIRTIO_BLK_S_IOERR);
        }
        const start = this.range(sectorLo, sectorHi, len);
        if (start < 0) return this.finish(c, null, 0, 0, VIRTIO_BLK_S_IOERR);
        // Straight from guest memory into the image: a bad buffer fails before any later one is
        // copied, but the sectors before it are written, as a real disk's partial DMA would; so
        // the host hears of the whole range either way (writing back unchanged bytes is harmless).
        const de = c.readInto(VIRTIO_BLK_REQ_HEADER_BYTES, this.disk, start, len);
        if (len > 0) {
          this.onWrite?.(start, len);
          this.dirty = true;
        }
        if (de) return de;
        this.blockStats.sectorsWritten += len / VIRTIO_BLK_SECTOR_SIZE;
        return this.finish(c, null, 0, 0, VIRTIO_BLK_S_OK);
      }
      case VIRTIO_BLK_T_FLUSH:
        this.blockStats.flushes++;
        try {
          // Nothing written since the last flush: the host already has it (a flush per request
          // must not cost a rewrite of the whole image each time).
          if (this.dirty) this.onFlush?.(this.disk);
        } catch {
          // The host could not save the image (a full disk, a removed file): the guest hears
          // IOERR and may retry, as QEMU's werror=report; the host and the device go on.
          this.blockStats.ioErrors++;
          return this.finish(c, null, 0, 0, VIRTIO_BLK_S_IOERR);
        }
        this.dirty = false;
        return this.finish(c, null, 0, 0, VIRTIO_BLK_S_OK);
      case VIRTIO_BLK_T_GET_ID:
        this.blockStats.getIds++;
        return this.finish(c, this.id, 0, Math.min(area, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_S_OK);
      default:
        this.blockStats.unsupported++;
        return this.finish(c, null, 0, 0, VIRTIO_BLK_S_UNSUPP);
    }
  }

  /** Byte offset of a transfer of `len` bytes from sector hi:lo, or -1 when it is not on the disk. */
  private range(lo: number, hi: number, len: number): number {
    const sectors = len / VIRTIO_BLK_SECTOR_SIZE;
    if (hi !== 0 || !Number.isInteger(sectors) || lo + sectors > this.capacity) {
      this.blockStats.ioErrors++;
      return -1;
    }
    return lo * VIRTIO_BLK_SECTOR_SIZE;
  }

  /** Write src[at, at+len) (none when src is null), zeros over the rest of the data area, and
   *  then the status byte. */
  private finish(c: DescriptorChain, src: Uint8Array | null, at: number, len: number, status: number): number | RingError {
    const area = c.writableBytes - 1;
    const n = src ? len : 0;
    const e = (n > 0 ? c.write(0, src!, at, n) : null) ?? (area > n ? c.fill(n, area - n, 0) : null) ?? c.fill(area, 1, status);
    if (e) return e;
    return c.writableBytes;
  }
}
