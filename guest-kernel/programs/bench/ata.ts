/**
 * A polling driver for the native machine's ATA-like block device (abi/platform.ts): write the
 * first sector and the count, write the command, check the status, then move the data one
 * 32-bit word per IN or OUT on the data port (PIO, as ATA's `rep insw`/`rep outsw` without DMA),
 * and check the status again. The device's interrupt line stays masked (reset state): the driver
 * polls, as a simple kernel's PIO path does.
 *
 * Port accesses per request of n sectors: OUT sector, OUT count, OUT command, IN status, then
 * 128·n data words, IN status — 3 OUTs and 2 INs plus the data. Under trap and hw each access is
 * an exit; that per-word cost of emulated PIO is what the benchmark shows.
 */
import {
  BLK_CAPACITY,
  BLK_CMD_FLUSH,
  BLK_CMD_READ,
  BLK_CMD_WRITE,
  BLK_COMMAND,
  BLK_COUNT,
  BLK_DATA,
  BLK_MAX_SECTORS,
  BLK_SECTOR,
  BLK_SECTOR_BYTES,
  BLK_STATUS_DRQ,
  BLK_STATUS_ERROR,
} from '../../../abi/platform.ts';

/** Returned when the device set its error bit, or did not ask for data after READ/WRITE. */
export const ATA_ERROR = -5; // -EIO

/** Disk size in sectors. */
export function ataCapacity(): number {
  return portIn(BLK_CAPACITY);
}

/** Start `cmd` on `count` sectors from `sector`: 0 when the device wants the data, or ATA_ERROR. */
function ataCommand(cmd: number, sector: number, count: number): number {
  portOut(BLK_SECTOR, sector);
  portOut(BLK_COUNT, count);
  portOut(BLK_COMMAND, cmd);
  const status = portIn(BLK_COMMAND);
  if ((status & BLK_STATUS_ERROR) !== 0 || (status & BLK_STATUS_DRQ) === 0) return ATA_ERROR;
  return 0;
}

/** The status after a transfer: 0 when it completed cleanly, or ATA_ERROR. */
function ataDone(): number {
  const status = portIn(BLK_COMMAND);
  return (status & (BLK_STATUS_ERROR | BLK_STATUS_DRQ)) !== 0 ? ATA_ERROR : 0;
}

/** Write `count` sectors (1..BLK_MAX_SECTORS) from `addr` (word-aligned) to `sector`. */
export function ataWrite(sector: number, addr: number, count: number): number {
  if (count < 1 || count > BLK_MAX_SECTORS) return ATA_ERROR;
  if (ataCommand(BLK_CMD_WRITE, sector, count) < 0) return ATA_ERROR;
  const end = addr + count * BLK_SECTOR_BYTES;
  for (let a = addr; a < end; a += 4) portOut(BLK_DATA, load32(a));
  return ataDone();
}

/** Read `count` sectors (1..BLK_MAX_SECTORS) from `sector` into `addr` (word-aligned). */
export function ataRead(sector: number, addr: number, count: number): number {
  if (count < 1 || count > BLK_MAX_SECTORS) return ATA_ERROR;
  if (ataCommand(BLK_CMD_READ, sector, count) < 0) return ATA_ERROR;
  const end = addr + count * BLK_SECTOR_BYTES;
  for (let a = addr; a < end; a += 4) store32(a, portIn(BLK_DATA));
  return ataDone();
}

/** FLUSH CACHE: 0, or ATA_ERROR. Two port accesses (the command, the status). */
export function ataFlush(): number {
  portOut(BLK_COMMAND, BLK_CMD_FLUSH);
  return ataDone();
}
