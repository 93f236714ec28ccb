/**
 * The file store on the machine's block device: what the kernel calls at boot (`diskInit`) to
 * attach the store (log.ts's fsAttach) to the platform's blkReadSector / blkWriteSector (ATA PIO
 * on the native build, virtio-blk on the pv build), find the device's size, and mount — formatting
 * a blank disk first, refusing a corrupt one with the boot-time check's one-line message.
 *
 * The device's size is the platform's blkSectors() (ATA's BLK_CAPACITY port, virtio-blk's
 * capacity field). A store is at most MAX_SECTORS (64 MiB): a larger disk holds a store of its
 * first 64 MiB, and the rest is left alone.
 *
 * Blank or corrupt. A disk whose sector 0 is all zero is blank (a fresh image, or a format that a
 * crash interrupted: fsFormat zeroes the superblock first and writes it last) and is formatted.
 * Anything else that does not mount is refused, with printCheckFailure's line — including a disk
 * whose superblock has lost its magic: a store we cannot recognise is never wiped (mkfs is an
 * explicit act), so the kernel refuses to boot on it rather than destroying what it holds.
 */
import { Bad, checkResult, printCheckFailure } from './check.ts';
import { E_CORRUPT, fsFormat, fsMount } from './fs.ts';
import { MAGIC, MAX_SECTORS, SECTOR } from './layout.ts';
import { fsAttach } from './log.ts';
import { blkReadSector, blkSectors, blkWriteSector } from '../platform/platform.ts';

/** No block device (pv: no virtio-blk; native: an ATA disk of 0 sectors): -ENODEV. */
export const E_NODISK = -19;
/** diskInit's success results: an existing store mounted, or a blank disk formatted and mounted. */
export const DISK_MOUNTED = 0;
export const DISK_FORMATTED = 1;

/** A 4-aligned sector buffer, for a caller's buffer that is not (blkReadSector wants 4-aligned). */
const bounce = new Int32Array(SECTOR / 4);
const probe = new Int32Array(SECTOR / 4);

class DiskState {
  /** The device's size in sectors (0: none found). */
  sectors = 0;
  /** The store's size (the device's, at most MAX_SECTORS). */
  storeSectors = 0;
}
const ds = new DiskState();

/** log.ts's SectorOp over the platform: straight from buf when it is 4-aligned, else through bounce. */
function devRead(sector: number, buf: Uint8Array): number {
  const at = addressOf(buf);
  if ((at & 3) === 0) return blkReadSector(sector, at) < 0 ? -5 : 0;
  const b = addressOf(bounce);
  if (blkReadSector(sector, b) < 0) return -5;
  for (let i = 0; i < SECTOR; i++) buf[i] = load8(b + i);
  return 0;
}

function devWrite(sector: number, buf: Uint8Array): number {
  const at = addressOf(buf);
  if ((at & 3) === 0) return blkWriteSector(sector, at) < 0 ? -5 : 0;
  const b = addressOf(bounce);
  for (let i = 0; i < SECTOR; i++) store8(b + i, buf[i]);
  return blkWriteSector(sector, b) < 0 ? -5 : 0;
}

function readable(sector: number): boolean {
  return blkReadSector(sector, addressOf(probe)) >= 0;
}

/**
 * At boot, after platformInit (before or after procInit: nothing here sleeps, and no other task
 * may use the store yet): attach the store to the block device, format it if it is blank, mount
 * it (log recovery, then the boot-time check). Returns DISK_MOUNTED or DISK_FORMATTED; or
 * E_NODISK when there is no disk (the kernel runs without files: file.ts then answers -ENODEV),
 * E_CORRUPT (-117) after printing the check's one line (the kernel refuses to boot), -EIO (-5)
 * when the device fails, -EINVAL (-22) when the disk is too small to hold a store.
 */
export function diskInit(): number {
  ds.sectors = 0;
  ds.storeSectors = 0;
  const n = blkSectors();
  if (n <= 0) return E_NODISK;
  ds.sectors = n;
  const store = Math.min(n, MAX_SECTORS);
  fsAttach(devRead, devWrite, store);
  // Blank: sector 0 all zero.
  if (!readable(0)) return -5;
  let blank = true;
  for (let i = 0; i < SECTOR / 4; i++) if (probe[i] !== 0) blank = false;
  let result = DISK_MOUNTED;
  if (!blank && probe[0] !== MAGIC) {
    // Not a store at all: say so (mount would first trip over the log header, which is not one
    // either), and leave the disk alone.
    checkResult.why = Bad.Magic;
    checkResult.what = 0;
    printCheckFailure();
    return E_CORRUPT;
  }
  if (blank) {
    const f = fsFormat(store);
    if (f < 0) return f;
    result = DISK_FORMATTED;
  }
  const r = fsMount();
  if (r === E_CORRUPT) {
    printCheckFailure();
    return r;
  }
  if (r < 0) return r;
  ds.storeSectors = store;
  return result;
}

/** The block device's size in sectors, as diskInit found it (0: no disk). */
export function diskSectors(): number {
  return ds.sectors;
}

/** The mounted store's size in sectors (0: none mounted). */
export function diskStoreSectors(): number {
  return ds.storeSectors;
}
