/**
 * The device interface and the write-ahead log (xv6's log.c, simplified: one transaction at a
 * time, no group commit, since the kernel has one file-system caller at a time).
 *
 * Every change the store makes — data, inodes, directory, bitmap — goes into the current
 * transaction (a set of at most LOG_SIZE sector images in memory); the disk is untouched until
 * commit, which:
 *   1. writes each image to the log area (sectors LOG_START ..);
 *   2. writes the log header (sector LOG_HEADER): LOG_MAGIC, the count, the home sector of each;
 *      this single sector write is the commit point;
 *   3. copies each image to its home sector;
 *   4. writes the header again with count 0.
 * Recovery at mount repeats step 3 if the header has a count (it is idempotent), then step 4.
 * A crash before step 2 leaves the old state, after it the new one: all or nothing.
 */
import { LOG_HEADER, LOG_MAGIC, LOG_SIZE, LOG_START, SECTOR, get32, put32 } from './layout.ts';

/** Reads or writes one 512-byte sector into or from buf; 0 on success, a negative error otherwise. */
export type SectorOp = (sector: number, buf: Uint8Array) => number;

export const E_IO = -5;
/** The transaction would change more sectors than the log holds. */
export const E_TXFULL = -105;
/** The log header is neither empty nor a valid commit: the caller reports a corrupt store. */
export const E_BADLOG = -117;

function noDevice(sector: number, buf: Uint8Array): number {
  return E_IO;
}

let devRead: SectorOp = noDevice;
let devWrite: SectorOp = noDevice;
let devSectors = 0;

/** What the platform installs at boot: the block device's sector operations and its size. */
export function fsAttach(read: SectorOp, write: SectorOp, sectors: number): void {
  devRead = read;
  devWrite = write;
  devSectors = sectors;
}

export function deviceSectors(): number {
  return devSectors;
}

/** Counters for the statistics call. */
export class LogStats {
  reads = 0;
  writes = 0;
  commits = 0;
  replays = 0;
}
export const logStats = new LogStats();

export function diskRead(sector: number, buf: Uint8Array): number {
  if (sector < 0 || sector >= devSectors) return E_IO;
  logStats.reads++;
  return devRead(sector, buf) < 0 ? E_IO : 0;
}

export function diskWrite(sector: number, buf: Uint8Array): number {
  if (sector < 0 || sector >= devSectors) return E_IO;
  logStats.writes++;
  return devWrite(sector, buf) < 0 ? E_IO : 0;
}

// ---- the current transaction ----

/** Home sector of each image in the transaction. */
const txHome = new Int32Array(LOG_SIZE);
/** The images: slot i at txData[i * SECTOR]. */
export const txData = new Uint8Array(LOG_SIZE * SECTOR);
let txCount = 0;
const hdr = new Uint8Array(SECTOR);
const one = new Uint8Array(SECTOR);

/** Drop the transaction (an error part-way through an operation, or a fresh mount). */
export function txAbort(): void {
  txCount = 0;
}

export function txSlots(): number {
  return txCount;
}

function findSlot(sector: number): number {
  for (let i = 0; i < txCount; i++) if (txHome[i] === sector) return i;
  return -1;
}

/** Read a sector as the transaction sees it: its image if changed, the disk's otherwise. */
export function txRead(sector: number, buf: Uint8Array): number {
  const s = findSlot(sector);
  if (s < 0) return diskRead(sector, buf);
  const base = s * SECTOR;
  for (let i = 0; i < SECTOR; i++) buf[i] = txData[base + i];
  return 0;
}

/**
 * The slot of `sector` in the transaction, to change in place at txData[slot * SECTOR ..]:
 * loaded from disk on first use, or zero-filled when `fresh` (a newly allocated block, whose old
 * bytes must never show). A negative error when the log is full or the read fails.
 */
export function txModify(sector: number, fresh: boolean): number {
  let s = findSlot(sector);
  if (s >= 0) {
    if (fresh) for (let i = s * SECTOR; i < (s + 1) * SECTOR; i++) txData[i] = 0;
    return s;
  }
  if (txCount >= LOG_SIZE) return E_TXFULL;
  s = txCount;
  const base = s * SECTOR;
  if (fresh) {
    for (let i = 0; i < SECTOR; i++) txData[base + i] = 0;
  } else {
    if (diskRead(sector, one) < 0) return E_IO;
    for (let i = 0; i < SECTOR; i++) txData[base + i] = one[i];
  }
  txHome[s] = sector;
  txCount++;
  return s;
}

function writeHeader(count: number): number {
  for (let i = 0; i < SECTOR; i++) hdr[i] = 0;
  put32(hdr, 0, LOG_MAGIC);
  put32(hdr, 4, count);
  for (let i = 0; i < count; i++) put32(hdr, 8 + 4 * i, txHome[i]);
  return diskWrite(LOG_HEADER, hdr);
}

function slotToBuf(s: number): void {
  const base = s * SECTOR;
  for (let i = 0; i < SECTOR; i++) one[i] = txData[base + i];
}

/** Make the transaction durable and install it (steps 1-4 above); then start an empty one. */
export function txCommit(): number {
  if (txCount === 0) return 0;
  for (let s = 0; s < txCount; s++) {
    slotToBuf(s);
    if (diskWrite(LOG_START + s, one) < 0) return E_IO;
  }
  if (writeHeader(txCount) < 0) return E_IO;
  for (let s = 0; s < txCount; s++) {
    slotToBuf(s);
    if (diskWrite(txHome[s], one) < 0) return E_IO;
  }
  txCount = 0;
  logStats.commits++;
  return writeHeader(0);
}

/**
 * At mount, before anything reads the store: install a committed transaction the last boot did not
 * finish installing. `limit` is the store's size (home sectors must lie inside it, past the log).
 */
export function logRecover(limit: number): number {
  txCount = 0;
  if (diskRead(LOG_HEADER, hdr) < 0) return E_IO;
  const count = get32(hdr, 4);
  if (get32(hdr, 0) !== LOG_MAGIC || count < 0 || count > LOG_SIZE) return E_BADLOG;
  for (let i = 0; i < count; i++) {
    const home = get32(hdr, 8 + 4 * i);
    if (home < LOG_START + LOG_SIZE || home >= limit) return E_BADLOG;
    txHome[i] = home;
  }
  for (let i = 8 + 4 * count; i < SECTOR; i++) if (hdr[i] !== 0) return E_BADLOG;
  if (count === 0) return 0;
  for (let s = 0; s < count; s++) {
    if (diskRead(LOG_START + s, one) < 0) return E_IO;
    if (diskWrite(txHome[s], one) < 0) return E_IO;
  }
  logStats.replays++;
  return writeHeader(0);
}

/** mkfs: an empty log. */
export function logFormat(): number {
  txCount = 0;
  return writeHeader(0);
}
