/**
 * The boot-time check (a small fsck): run by mount after log recovery, it refuses a store whose
 * structures disagree, naming the first thing found wrong, so that a corrupt disk is reported at
 * boot instead of corrupting files later. It checks:
 *   - the superblock: magic, version, hash, size within the device, and every region where the
 *     layout (a function of the size alone) puts it;
 *   - each inode: free ones all zero; used ones with a valid hash, type and size, and blocks
 *     exactly where the size says (no holes, nothing past the end), inside the data region,
 *     each block claimed once;
 *   - the bitmap: exactly the metadata region and the blocks the inodes claim;
 *   - the directory: free entries all zero; used ones with a valid hash and name, naming a used
 *     inode; no name twice; every used inode named exactly once.
 */
import {
  BITMAP_START, BITS_PER_SECTOR, DIRENT_BYTES, DIRENTS_PER_SECTOR, INODE_BYTES, INODES_PER_SECTOR, Inode,
  LOG_SIZE, LOG_START, MAGIC, MAX_FILE_BYTES, MAX_SECTORS, NAME_MAX, NDIRECT, NDIRENT, NINDIRECT,
  NINODES, PTRS_PER_BLOCK, SECTOR, Superblock, T_FILE, T_FREE, VERSION, blocksFor, dataStart, dirStart,
  direntHash, get16, get32, hashBytes, inodeStart,
} from './layout.ts';
import { deviceSectors, diskRead } from './log.ts';

/** Why a store was refused: fsCheck's result (0: the store is sound). */
export const enum Bad {
  None, Io, Magic, Version, SuperHash, Size, Layout, Log, InodeHash, InodeType, InodeSize,
  BlockRange, BlockTwice, BlockPastEnd, BlockMissing, Bitmap, DirentHash, DirentName, DirentInode,
  DupName, Unnamed, NamedTwice,
}

/** The first problem found: its reason and the number it concerns (inode, entry or sector). */
export class CheckResult {
  why = 0;
  what = 0;
}
export const checkResult = new CheckResult();

const buf = new Uint8Array(SECTOR);
const ind = new Uint8Array(SECTOR);
const ino = new Inode();
/** One bit per sector: which sectors the metadata and the inodes claim. */
const used = new Uint8Array(MAX_SECTORS / 8);
/** How many directory entries name each inode. */
const named = new Int32Array(NINODES);
const names = new Uint8Array(NDIRENT * NAME_MAX);
const nameUsed = new Uint8Array(NDIRENT);

function fail(why: number, what: number): number {
  checkResult.why = why;
  checkResult.what = what;
  return why;
}

function isUsed(s: number): boolean {
  return (used[s >> 3] & (1 << (s & 7))) !== 0;
}

/** Claim sector s for a file; a reason if it is outside the data region or claimed already. */
function claim(s: number, inum: number, data0: number, n: number): number {
  if (s < data0 || s >= n) return fail(Bad.BlockRange, inum);
  if (isUsed(s)) return fail(Bad.BlockTwice, s);
  used[s >> 3] |= 1 << (s & 7);
  return 0;
}

function checkSuper(sb: Superblock): number {
  if (diskRead(0, buf) < 0) return fail(Bad.Io, 0);
  sb.decode(buf);
  if (sb.magic !== MAGIC) return fail(Bad.Magic, sb.magic);
  if (sb.version !== VERSION) return fail(Bad.Version, sb.version);
  if (hashBytes(buf, 0, 44, 1) !== sb.check) return fail(Bad.SuperHash, 0);
  for (let i = 48; i < SECTOR; i++) if (buf[i] !== 0) return fail(Bad.SuperHash, i);
  const n = sb.nsectors;
  if (n > deviceSectors() || n > MAX_SECTORS || n < dataStart(n) + 1) return fail(Bad.Size, n);
  if (sb.logStart !== LOG_START || sb.logSize !== LOG_SIZE || sb.bitmapStart !== BITMAP_START ||
      sb.inodeStart !== inodeStart(n) || sb.ninodes !== NINODES || sb.dirStart !== dirStart(n) ||
      sb.ndirent !== NDIRENT || sb.dataStart !== dataStart(n)) return fail(Bad.Layout, 0);
  return 0;
}

/** Claim the blocks of inode `inum` (already decoded into `ino`). */
function checkInodeBlocks(inum: number, data0: number, n: number): number {
  const nb = blocksFor(ino.size);
  for (let i = 0; i < NDIRECT; i++) {
    const p = ino.direct[i];
    if (i < nb) {
      if (p === 0) return fail(Bad.BlockMissing, inum);
      if (claim(p, inum, data0, n) !== 0) return checkResult.why;
    } else if (p !== 0) return fail(Bad.BlockPastEnd, inum);
  }
  for (let k = 0; k < NINDIRECT; k++) {
    const first = NDIRECT + k * PTRS_PER_BLOCK;
    const p = ino.indirect[k];
    if (first >= nb) {
      if (p !== 0) return fail(Bad.BlockPastEnd, inum);
      continue;
    }
    if (p === 0) return fail(Bad.BlockMissing, inum);
    if (claim(p, inum, data0, n) !== 0) return checkResult.why;
    if (diskRead(p, ind) < 0) return fail(Bad.Io, p);
    for (let j = 0; j < PTRS_PER_BLOCK; j++) {
      const q = get32(ind, 4 * j);
      if (first + j < nb) {
        if (q === 0) return fail(Bad.BlockMissing, inum);
        if (claim(q, inum, data0, n) !== 0) return checkResult.why;
      } else if (q !== 0) return fail(Bad.BlockPastEnd, inum);
    }
  }
  return 0;
}

function checkInodes(n: number): number {
  const start = inodeStart(n);
  const data0 = dataStart(n);
  for (let s = 0; s < NINODES / INODES_PER_SECTOR; s++) {
    if (diskRead(start + s, buf) < 0) return fail(Bad.Io, start + s);
    for (let k = 0; k < INODES_PER_SECTOR; k++) {
      const inum = s * INODES_PER_SECTOR + k;
      const off = k * INODE_BYTES;
      ino.decode(buf, off);
      if (ino.type === T_FREE || inum === 0) {
        for (let i = 0; i < INODE_BYTES; i++) if (buf[off + i] !== 0) return fail(Bad.InodeType, inum);
        continue;
      }
      if (ino.type !== T_FILE) return fail(Bad.InodeType, inum);
      if (hashBytes(buf, off, INODE_BYTES - 4, inum) !== ino.check) return fail(Bad.InodeHash, inum);
      if (ino.size < 0 || ino.size > MAX_FILE_BYTES) return fail(Bad.InodeSize, inum);
      if (checkInodeBlocks(inum, data0, n) !== 0) return checkResult.why;
    }
  }
  return 0;
}

function checkBitmap(n: number): number {
  for (let s = 0; s < bitmapSectorsOf(n); s++) {
    if (diskRead(BITMAP_START + s, buf) < 0) return fail(Bad.Io, BITMAP_START + s);
    for (let i = 0; i < SECTOR; i++) {
      const sec = s * BITS_PER_SECTOR + i * 8;
      // Bits past the end of the store are never set.
      const want = sec < n ? used[sec >> 3] : 0;
      if (buf[i] !== want) {
        let bit = 0;
        while (((buf[i] ^ want) & (1 << bit)) === 0) bit++;
        return fail(Bad.Bitmap, sec + bit);
      }
    }
  }
  return 0;
}

function bitmapSectorsOf(n: number): number {
  return inodeStart(n) - BITMAP_START;
}

function checkName(b: Uint8Array, off: number): boolean {
  let len = 0;
  while (len < NAME_MAX && b[off + len] !== 0) {
    const c = b[off + len];
    if (c <= 32 || c >= 127) return false;
    len++;
  }
  for (let i = len; i < NAME_MAX; i++) if (b[off + i] !== 0) return false;
  return len > 0;
}

function checkDirectory(n: number): number {
  const start = dirStart(n);
  for (let s = 0; s < NDIRENT / DIRENTS_PER_SECTOR; s++) {
    if (diskRead(start + s, buf) < 0) return fail(Bad.Io, start + s);
    for (let k = 0; k < DIRENTS_PER_SECTOR; k++) {
      const slot = s * DIRENTS_PER_SECTOR + k;
      const off = k * DIRENT_BYTES;
      const inum = get16(buf, off);
      nameUsed[slot] = 0;
      if (inum === 0) {
        for (let i = 0; i < DIRENT_BYTES; i++) if (buf[off + i] !== 0) return fail(Bad.DirentHash, slot);
        continue;
      }
      if (direntHash(buf, off, slot) !== get16(buf, off + 2)) return fail(Bad.DirentHash, slot);
      if (!checkName(buf, off + 4)) return fail(Bad.DirentName, slot);
      if (inum >= NINODES || named[inum] < 0) return fail(Bad.DirentInode, slot);
      if (named[inum] > 0) return fail(Bad.NamedTwice, inum);
      named[inum] = 1;
      for (let i = 0; i < NAME_MAX; i++) names[slot * NAME_MAX + i] = buf[off + 4 + i];
      for (let o = 0; o < slot; o++) {
        if (nameUsed[o] === 0) continue;
        let same = true;
        for (let i = 0; i < NAME_MAX && same; i++) same = names[o * NAME_MAX + i] === names[slot * NAME_MAX + i];
        if (same) return fail(Bad.DupName, slot);
      }
      nameUsed[slot] = 1;
    }
  }
  for (let i = 1; i < NINODES; i++) if (named[i] === 0) return fail(Bad.Unnamed, i);
  return 0;
}

/** Check the whole store (after log recovery); 0 if sound, else a Bad reason in checkResult. */
export function fsCheck(sb: Superblock): number {
  checkResult.why = Bad.None;
  checkResult.what = 0;
  if (checkSuper(sb) !== 0) return checkResult.why;
  const n = sb.nsectors;
  for (let i = 0; i < used.length; i++) used[i] = 0;
  for (let s = 0; s < dataStart(n); s++) used[s >> 3] |= 1 << (s & 7);
  if (checkInodes(n) !== 0) return checkResult.why;
  if (checkBitmap(n) !== 0) return checkResult.why;
  // named[i]: -1 for a free inode (no entry may name it), 0 for a used one not yet named.
  const start = inodeStart(n);
  for (let s = 0; s < NINODES / INODES_PER_SECTOR; s++) {
    if (diskRead(start + s, buf) < 0) return fail(Bad.Io, start + s);
    for (let k = 0; k < INODES_PER_SECTOR; k++) named[s * INODES_PER_SECTOR + k] = get32(buf, k * INODE_BYTES) === T_FREE ? -1 : 0;
  }
  return checkDirectory(n);
}

/** One line saying why the store was refused (the boot message). */
export function printCheckFailure(): void {
  const w = checkResult.what;
  switch (checkResult.why) {
    case Bad.Io: console.log('fs: refused: cannot read sector', w); break;
    case Bad.Magic: console.log('fs: refused: no file store here (bad superblock magic)'); break;
    case Bad.Version: console.log('fs: refused: unsupported store version', w); break;
    case Bad.SuperHash: console.log('fs: refused: corrupt superblock (checksum mismatch)'); break;
    case Bad.Size: console.log('fs: refused: store size', w, 'does not fit the device'); break;
    case Bad.Layout: console.log('fs: refused: corrupt superblock (regions not where the size puts them)'); break;
    case Bad.Log: console.log('fs: refused: corrupt log header'); break;
    case Bad.InodeHash: console.log('fs: refused: corrupt inode', w, '(checksum mismatch)'); break;
    case Bad.InodeType: console.log('fs: refused: corrupt inode', w, '(bad type or free inode not zero)'); break;
    case Bad.InodeSize: console.log('fs: refused: corrupt inode', w, '(size out of range)'); break;
    case Bad.BlockRange: console.log('fs: refused: inode', w, 'points outside the data region'); break;
    case Bad.BlockTwice: console.log('fs: refused: block', w, 'belongs to two files'); break;
    case Bad.BlockPastEnd: console.log('fs: refused: inode', w, 'has a block past its size'); break;
    case Bad.BlockMissing: console.log('fs: refused: inode', w, 'lacks a block within its size'); break;
    case Bad.Bitmap: console.log('fs: refused: bitmap disagrees with the inodes at block', w); break;
    case Bad.DirentHash: console.log('fs: refused: corrupt directory entry', w, '(checksum mismatch)'); break;
    case Bad.DirentName: console.log('fs: refused: directory entry', w, 'has an invalid name'); break;
    case Bad.DirentInode: console.log('fs: refused: directory entry', w, 'names a free or invalid inode'); break;
    case Bad.DupName: console.log('fs: refused: directory entry', w, 'repeats a name'); break;
    case Bad.Unnamed: console.log('fs: refused: inode', w, 'is in use but not in the directory'); break;
    case Bad.NamedTwice: console.log('fs: refused: inode', w, 'is named twice'); break;
    default: console.log('fs: store is sound'); break;
  }
}
