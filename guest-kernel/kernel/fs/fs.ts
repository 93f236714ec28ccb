/**
 * The file store's operations: format, mount (log recovery, then the boot-time check), create,
 * open, read, write, truncate, rewrite, unlink, list, stat, sync. A file is named by its inode
 * number (what open returns); the kernel's file descriptors map to these.
 *
 * Every operation that changes the store is one transaction of the log (log.ts), committed before
 * it returns, so the store on disk is always the state before or after an operation — with one
 * exception: a write longer than CHUNK bytes is a sequence of transactions of CHUNK bytes each
 * (the log holds LOG_SIZE sectors), so a crash in the middle leaves a prefix of it written.
 */
import { Bad, checkResult, fsCheck } from './check.ts';
import {
  BITMAP_START, BITS_PER_SECTOR, DIRENT_BYTES, DIRENTS_PER_SECTOR, INODE_BYTES, INODES_PER_SECTOR, Inode,
  MAX_FILE_BYTES, NAME_MAX, NDIRECT, NDIRENT, NINDIRECT, NINODES, PTRS_PER_BLOCK, SECTOR, Superblock,
  T_FILE, T_FREE, blocksFor, dataStart, dirStart, direntHash, get16, get32, inodeStart, put16, put32,
} from './layout.ts';
import {
  E_BADLOG, E_IO, deviceSectors, diskWrite, logFormat, logRecover, txAbort, txCommit, txData, txModify, txRead,
} from './log.ts';

export const E_NOENT = -2;
export const E_BADF = -9;
export const E_EXIST = -17;
export const E_INVAL = -22;
export const E_NFILE = -23;
export const E_FBIG = -27;
export const E_NOSPC = -28;
export const E_NAMETOOLONG = -36;
export const E_NOTMOUNTED = -19;
export const E_CORRUPT = -117;

/** The most bytes one transaction writes: 64 data sectors leave room in the log for metadata. */
export const CHUNK = 32768;

class MountState {
  mounted = false;
  nsectors = 0;
  /** Where the block allocator looks first: after the last block it handed out. */
  hint = 0;
}
const ms = new MountState();
const sb = new Superblock();
const ino = new Inode();
const buf = new Uint8Array(SECTOR);

// ---- format and mount ----

/** mkfs: an empty store of `nsectors` on the attached device. The superblock is written last. */
export function fsFormat(nsectors: number): number {
  ms.mounted = false;
  txAbort();
  const n = nsectors;
  if (n <= 0 || n > deviceSectors() || n < dataStart(n) + 16 || n > 131072) return E_INVAL;
  for (let i = 0; i < SECTOR; i++) buf[i] = 0;
  // A store half-formatted by a crash must not pass for the old one: wipe the superblock first.
  if (diskWrite(0, buf) < 0) return E_IO;
  for (let s = BITMAP_START; s < dataStart(n); s++) if (diskWrite(s, buf) < 0) return E_IO;
  // The metadata region is marked allocated, so the allocator never hands it out.
  const meta = dataStart(n);
  for (let s = BITMAP_START; s < inodeStart(n); s++) {
    for (let i = 0; i < SECTOR; i++) buf[i] = 0;
    for (let b = 0; b < BITS_PER_SECTOR; b++) {
      const sec = (s - BITMAP_START) * BITS_PER_SECTOR + b;
      if (sec < meta) buf[b >> 3] |= 1 << (b & 7);
    }
    if (diskWrite(s, buf) < 0) return E_IO;
  }
  if (logFormat() < 0) return E_IO;
  sb.init(n).encode(buf);
  return diskWrite(0, buf);
}

/**
 * Mount at boot: replay a committed transaction, then check the whole store. 0, or E_CORRUPT with
 * the reason in checkResult (printCheckFailure prints it), or E_IO.
 */
export function fsMount(): number {
  ms.mounted = false;
  txAbort();
  // Recovery needs the store's size before the check has vouched for the superblock: bound it
  // by the device, and let the check refuse the rest.
  const r = logRecover(deviceSectors());
  if (r === E_BADLOG) {
    checkResult.why = Bad.Log;
    checkResult.what = 0;
    return E_CORRUPT;
  }
  if (r < 0) return E_IO;
  if (fsCheck(sb) !== 0) return checkResult.why === Bad.Io ? E_IO : E_CORRUPT;
  ms.nsectors = sb.nsectors;
  ms.hint = dataStart(sb.nsectors);
  ms.mounted = true;
  return 0;
}

/** Transactions commit before each operation returns, so there is nothing left to flush. */
export function fsSync(): number {
  return ms.mounted ? 0 : E_NOTMOUNTED;
}

// ---- inodes and blocks, inside the current transaction ----

function inodeLoad(inum: number, rec: Inode): number {
  if (txRead(inodeStart(ms.nsectors) + ((inum / INODES_PER_SECTOR) | 0), buf) < 0) return E_IO;
  rec.decode(buf, (inum % INODES_PER_SECTOR) * INODE_BYTES);
  return 0;
}

function inodeStore(inum: number, rec: Inode): number {
  const slot = txModify(inodeStart(ms.nsectors) + ((inum / INODES_PER_SECTOR) | 0), false);
  if (slot < 0) return slot;
  rec.encode(txData, slot * SECTOR + (inum % INODES_PER_SECTOR) * INODE_BYTES, inum);
  return 0;
}

/** A used file's inode into `ino`; E_BADF for a number that is not one. */
function fileLoad(inum: number): number {
  if (!ms.mounted) return E_NOTMOUNTED;
  if (inum <= 0 || inum >= NINODES) return E_BADF;
  if (inodeLoad(inum, ino) < 0) return E_IO;
  return ino.type === T_FILE ? 0 : E_BADF;
}

/** Set or clear sector s's bit in the bitmap. */
function setBit(s: number, on: boolean): number {
  const slot = txModify(BITMAP_START + ((s / BITS_PER_SECTOR) | 0), false);
  if (slot < 0) return slot;
  const at = slot * SECTOR + ((s % BITS_PER_SECTOR) >> 3);
  if (on) txData[at] |= 1 << (s & 7);
  else txData[at] &= ~(1 << (s & 7));
  return 0;
}

/** A free data block, marked used and zero-filled in the transaction; E_NOSPC when none. */
function balloc(): number {
  const n = ms.nsectors;
  const data0 = dataStart(n);
  let s = ms.hint;
  for (let tries = 0; tries < n - data0; tries++) {
    if (s >= n) s = data0;
    if (txRead(BITMAP_START + ((s / BITS_PER_SECTOR) | 0), buf) < 0) return E_IO;
    if ((buf[(s % BITS_PER_SECTOR) >> 3] & (1 << (s & 7))) !== 0) {
      s++;
      continue;
    }
    const r = setBit(s, true);
    if (r < 0) return r;
    const z = txModify(s, true);
    if (z < 0) return z;
    ms.hint = s + 1;
    return s;
  }
  return E_NOSPC;
}

/** The sector of block bi of `ino`, allocating it (and its indirect block) when `alloc`. */
function bmap(bi: number, alloc: boolean): number {
  if (bi < NDIRECT) {
    if (ino.direct[bi] === 0 && alloc) {
      const p = balloc();
      if (p < 0) return p;
      ino.direct[bi] = p;
    }
    return ino.direct[bi] === 0 ? E_IO : ino.direct[bi];
  }
  const k = ((bi - NDIRECT) / PTRS_PER_BLOCK) | 0;
  const j = (bi - NDIRECT) % PTRS_PER_BLOCK;
  if (ino.indirect[k] === 0) {
    if (!alloc) return E_IO;
    const p = balloc();
    if (p < 0) return p;
    ino.indirect[k] = p;
  }
  const ip = ino.indirect[k];
  if (txRead(ip, buf) < 0) return E_IO;
  let q = get32(buf, 4 * j);
  if (q === 0) {
    if (!alloc) return E_IO;
    q = balloc();
    if (q < 0) return q;
    const slot = txModify(ip, false);
    if (slot < 0) return slot;
    put32(txData, slot * SECTOR + 4 * j, q);
  }
  return q;
}

/** Shrink `ino` to `size` bytes in the transaction: free its blocks past the end, clear pointers. */
function shrink(size: number): number {
  const keep = blocksFor(size);
  const had = blocksFor(ino.size);
  for (let bi = keep; bi < had; bi++) {
    const s = bmap(bi, false);
    if (s < 0) return s;
    if (setBit(s, false) < 0) return E_IO;
    if (bi < NDIRECT) ino.direct[bi] = 0;
  }
  for (let k = 0; k < NINDIRECT; k++) {
    const first = NDIRECT + k * PTRS_PER_BLOCK;
    const ip = ino.indirect[k];
    if (ip === 0 || first + PTRS_PER_BLOCK <= keep) continue;
    if (first >= keep) {
      if (setBit(ip, false) < 0) return E_IO;
      ino.indirect[k] = 0;
    } else {
      // Partly kept: clear the pointers past the end, which the check requires to be zero.
      const slot = txModify(ip, false);
      if (slot < 0) return slot;
      for (let j = keep - first; j < PTRS_PER_BLOCK; j++) put32(txData, slot * SECTOR + 4 * j, 0);
    }
  }
  ino.size = size;
  return 0;
}

/** Copy src[srcOff .. srcOff+len) to the file at off (off <= size), in the transaction. */
function writeIn(off: number, src: Uint8Array, srcOff: number, len: number): number {
  let done = 0;
  while (done < len) {
    const pos = off + done;
    const s = bmap((pos / SECTOR) | 0, true);
    if (s < 0) return s;
    const slot = txModify(s, false);
    if (slot < 0) return slot;
    const inBlock = pos % SECTOR;
    const n = Math.min(SECTOR - inBlock, len - done);
    const base = slot * SECTOR + inBlock;
    for (let i = 0; i < n; i++) txData[base + i] = src[srcOff + done + i];
    done += n;
  }
  if (off + len > ino.size) ino.size = off + len;
  return 0;
}

/** Finish an operation: store the inode and commit, or drop everything it changed. */
function finish(inum: number, r: number): number {
  if (r >= 0 && inum > 0) r = inodeStore(inum, ino) < 0 ? E_NOSPC : r;
  if (r < 0) {
    txAbort();
    return r;
  }
  return txCommit() < 0 ? E_IO : r;
}

// ---- files ----

/**
 * Write len bytes of src (from srcOff) at byte off of file inum; off may be at most the size
 * (files have no holes). Atomic up to CHUNK bytes; longer writes commit CHUNK by CHUNK.
 * The bytes written, or an error (nothing of the failing chunk written).
 */
export function fsWrite(inum: number, off: number, src: Uint8Array, srcOff: number, len: number): number {
  let r = fileLoad(inum);
  if (r < 0) return r;
  if (off < 0 || len < 0 || srcOff < 0 || srcOff + len > src.length || off > ino.size) return E_INVAL;
  if (off + len > MAX_FILE_BYTES) return E_FBIG;
  let done = 0;
  while (done < len) {
    const n = Math.min(CHUNK, len - done);
    if (done > 0 && fileLoad(inum) < 0) return E_IO;
    r = finish(inum, writeIn(off + done, src, srcOff + done, n));
    if (r < 0) return done > 0 ? done : r;
    done += n;
  }
  return done;
}

/** Replace the whole content of file inum with len bytes of src: atomic when len <= CHUNK. */
export function fsRewrite(inum: number, src: Uint8Array, len: number): number {
  let r = fileLoad(inum);
  if (r < 0) return r;
  if (len < 0 || len > src.length) return E_INVAL;
  if (len > MAX_FILE_BYTES) return E_FBIG;
  const first = Math.min(CHUNK, len);
  r = shrink(0);
  if (r >= 0) r = writeIn(0, src, 0, first);
  r = finish(inum, r);
  if (r < 0 || len === first) return r < 0 ? r : len;
  r = fsWrite(inum, first, src, first, len - first);
  return r < 0 ? r : first + r;
}

/** Shrink file inum to size bytes (growing is a write). */
export function fsTruncate(inum: number, size: number): number {
  const r = fileLoad(inum);
  if (r < 0) return r;
  if (size < 0 || size > ino.size) return E_INVAL;
  return finish(inum, shrink(size));
}

/** Read up to len bytes at off into dst (from dstOff); the bytes read (0 at or past the end). */
export function fsRead(inum: number, off: number, dst: Uint8Array, dstOff: number, len: number): number {
  const r = fileLoad(inum);
  if (r < 0) return r;
  if (off < 0 || len < 0 || dstOff < 0 || dstOff + len > dst.length) return E_INVAL;
  const total = Math.max(0, Math.min(len, ino.size - off));
  let done = 0;
  while (done < total) {
    const pos = off + done;
    const s = bmap((pos / SECTOR) | 0, false);
    if (s < 0 || txRead(s, buf) < 0) return E_IO;
    const inBlock = pos % SECTOR;
    const n = Math.min(SECTOR - inBlock, total - done);
    for (let i = 0; i < n; i++) dst[dstOff + done + i] = buf[inBlock + i];
    done += n;
  }
  return done;
}

/** The size in bytes of file inum, or an error. */
export function fsSize(inum: number): number {
  const r = fileLoad(inum);
  return r < 0 ? r : ino.size;
}

// ---- the directory ----

/** E_INVAL or E_NAMETOOLONG unless name[0..len) is 1..NAME_MAX printable bytes. */
function nameError(name: Uint8Array, len: number): number {
  if (len > NAME_MAX) return E_NAMETOOLONG;
  if (len <= 0 || len > name.length) return E_INVAL;
  for (let i = 0; i < len; i++) if (name[i] <= 32 || name[i] >= 127) return E_INVAL;
  return 0;
}

/** The slot naming name[0..len), E_NOENT if none; with `free`, the first free slot instead. */
function lookup(name: Uint8Array, len: number, free: boolean): number {
  for (let slot = 0; slot < NDIRENT; slot++) {
    if (slot % DIRENTS_PER_SECTOR === 0 && txRead(dirStart(ms.nsectors) + ((slot / DIRENTS_PER_SECTOR) | 0), buf) < 0) return E_IO;
    const off = (slot % DIRENTS_PER_SECTOR) * DIRENT_BYTES;
    const inum = get16(buf, off);
    if (free) {
      if (inum === 0) return slot;
      continue;
    }
    if (inum === 0) continue;
    let same = len === NAME_MAX || buf[off + 4 + len] === 0;
    for (let i = 0; i < len && same; i++) same = buf[off + 4 + i] === name[i];
    if (same) return slot;
  }
  return free ? E_NFILE : E_NOENT;
}

/** Write slot's entry: inode inum named name[0..len), or a free entry for inum 0. */
function setEntry(slot: number, inum: number, name: Uint8Array, len: number): number {
  const t = txModify(dirStart(ms.nsectors) + ((slot / DIRENTS_PER_SECTOR) | 0), false);
  if (t < 0) return t;
  const off = t * SECTOR + (slot % DIRENTS_PER_SECTOR) * DIRENT_BYTES;
  for (let i = 0; i < DIRENT_BYTES; i++) txData[off + i] = 0;
  if (inum === 0) return 0;
  put16(txData, off, inum);
  for (let i = 0; i < len; i++) txData[off + 4 + i] = name[i];
  put16(txData, off + 2, direntHash(txData, off, slot));
  return 0;
}

/** The inode number of file name[0..len), or E_NOENT. */
export function fsOpen(name: Uint8Array, len: number): number {
  if (!ms.mounted) return E_NOTMOUNTED;
  const e = nameError(name, len);
  if (e < 0) return e;
  const slot = lookup(name, len, false);
  if (slot < 0) return slot;
  return get16(buf, (slot % DIRENTS_PER_SECTOR) * DIRENT_BYTES);
}

/** Create an empty file name[0..len); its inode number, or E_EXIST, E_NFILE, ... */
export function fsCreate(name: Uint8Array, len: number): number {
  if (!ms.mounted) return E_NOTMOUNTED;
  const e = nameError(name, len);
  if (e < 0) return e;
  if (lookup(name, len, false) !== E_NOENT) return E_EXIST;
  const slot = lookup(name, len, true);
  if (slot < 0) return slot;
  let inum = 1;
  while (inum < NINODES && (inodeLoad(inum, ino) < 0 || ino.type !== T_FREE)) inum++;
  if (inum >= NINODES) return E_NFILE;
  ino.clear();
  ino.type = T_FILE;
  return finish(inum, setEntry(slot, inum, name, len) < 0 ? E_NFILE : inum);
}

/** Remove file name[0..len) and free its blocks, in one transaction. */
export function fsUnlink(name: Uint8Array, len: number): number {
  const inum = fsOpen(name, len);
  if (inum < 0) return inum;
  const slot = lookup(name, len, false);
  if (fileLoad(inum) < 0) return E_IO;
  let r = shrink(0);
  if (r >= 0) r = setEntry(slot, 0, name, len);
  ino.clear();
  return finish(inum, r);
}

/** Directory slot `slot`: its inode number (0 if free) with the name into out (zero-padded). */
export function fsDirEntry(slot: number, out: Uint8Array): number {
  if (!ms.mounted) return E_NOTMOUNTED;
  if (slot < 0 || slot >= NDIRENT || out.length < NAME_MAX) return E_INVAL;
  if (txRead(dirStart(ms.nsectors) + ((slot / DIRENTS_PER_SECTOR) | 0), buf) < 0) return E_IO;
  const off = (slot % DIRENTS_PER_SECTOR) * DIRENT_BYTES;
  for (let i = 0; i < NAME_MAX; i++) out[i] = buf[off + 4 + i];
  return get16(buf, off);
}

export function fsMounted(): boolean {
  return ms.mounted;
}
