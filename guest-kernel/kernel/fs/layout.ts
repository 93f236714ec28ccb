/**
 * The file store's on-disk layout: sizes, the superblock, inodes and directory entries as records,
 * their encoding into 512-byte sectors, and the checksum that lets the boot-time check tell a
 * corrupt structure from a valid one (README.md has the layout as a table).
 *
 * Blocks are sectors (512 bytes): the store needs no block-to-sector mapping and every block write
 * is one sector write, which a disk performs atomically — the one assumption the log relies on.
 */

export const SECTOR = 512;
export const MAGIC = 0x54534653; // 'TSFS'
export const VERSION = 1;
export const LOG_MAGIC = 0x4c4f4721; // 'LOG!'

/** Sectors of the log (the header excluded): the most blocks one transaction may change. */
export const LOG_SIZE = 120;
export const NINODES = 128; // inode 0 is never used: 0 means "no inode" in a directory entry
export const INODE_BYTES = 128;
export const INODES_PER_SECTOR = SECTOR / INODE_BYTES;
export const NDIRENT = 128;
export const DIRENT_BYTES = 32;
export const DIRENTS_PER_SECTOR = SECTOR / DIRENT_BYTES;
/** A name is 1..NAME_MAX bytes of printable ASCII, zero-padded in its entry. */
export const NAME_MAX = 28;
export const NDIRECT = 21;
export const NINDIRECT = 8;
export const PTRS_PER_BLOCK = SECTOR / 4;
export const MAX_FILE_BLOCKS = NDIRECT + NINDIRECT * PTRS_PER_BLOCK; // 1045 blocks
export const MAX_FILE_BYTES = MAX_FILE_BLOCKS * SECTOR; // 535,040 bytes
/** Bits of allocation bitmap per sector. */
export const BITS_PER_SECTOR = SECTOR * 8;
/** The largest store (64 MiB): bounds the boot-time check's own bitmap. */
export const MAX_SECTORS = 131072;

export const T_FREE = 0;
export const T_FILE = 1;

/** Where each region starts, for a store of `nsectors`: a pure function, so the check recomputes it. */
export const LOG_HEADER = 1;
export const LOG_START = 2;
export const BITMAP_START = LOG_START + LOG_SIZE;
export function bitmapSectors(nsectors: number): number {
  return ((nsectors + BITS_PER_SECTOR - 1) / BITS_PER_SECTOR) | 0;
}
export function inodeStart(nsectors: number): number {
  return BITMAP_START + bitmapSectors(nsectors);
}
export function dirStart(nsectors: number): number {
  return inodeStart(nsectors) + NINODES / INODES_PER_SECTOR;
}
export function dataStart(nsectors: number): number {
  return dirStart(nsectors) + NDIRENT / DIRENTS_PER_SECTOR;
}

// ---- bytes ----

export function get32(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24);
}
export function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >> 8;
  b[off + 2] = v >> 16;
  b[off + 3] = v >> 24;
}
export function get16(b: Uint8Array, off: number): number {
  return b[off] | (b[off + 1] << 8);
}
export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >> 8;
}

/** FNV-1a over b[off .. off+len), seeded: cheap, and any one flipped byte changes it. */
export function hashBytes(b: Uint8Array, off: number, len: number, seed: number): number {
  let h = (0x811c9dc5 ^ seed) | 0;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ b[i], 16777619);
  return h;
}

// ---- the superblock: sector 0 ----

/** Every field is derivable from nsectors; they are stored so a reader can see the layout. */
export class Superblock {
  magic = 0;
  version = 0;
  nsectors = 0;
  logStart = 0;
  logSize = 0;
  bitmapStart = 0;
  inodeStart = 0;
  ninodes = 0;
  dirStart = 0;
  ndirent = 0;
  dataStart = 0;
  check = 0;

  /** The layout of a fresh store of n sectors. */
  init(n: number): Superblock {
    this.magic = MAGIC;
    this.version = VERSION;
    this.nsectors = n;
    this.logStart = LOG_START;
    this.logSize = LOG_SIZE;
    this.bitmapStart = BITMAP_START;
    this.inodeStart = inodeStart(n);
    this.ninodes = NINODES;
    this.dirStart = dirStart(n);
    this.ndirent = NDIRENT;
    this.dataStart = dataStart(n);
    return this;
  }

  /** Fields in declaration order as words at 0, 4, ...; the last is a hash of the others. */
  encode(b: Uint8Array): void {
    for (let i = 0; i < SECTOR; i++) b[i] = 0;
    put32(b, 0, this.magic);
    put32(b, 4, this.version);
    put32(b, 8, this.nsectors);
    put32(b, 12, this.logStart);
    put32(b, 16, this.logSize);
    put32(b, 20, this.bitmapStart);
    put32(b, 24, this.inodeStart);
    put32(b, 28, this.ninodes);
    put32(b, 32, this.dirStart);
    put32(b, 36, this.ndirent);
    put32(b, 40, this.dataStart);
    this.check = hashBytes(b, 0, 44, 1);
    put32(b, 44, this.check);
  }

  decode(b: Uint8Array): void {
    this.magic = get32(b, 0);
    this.version = get32(b, 4);
    this.nsectors = get32(b, 8);
    this.logStart = get32(b, 12);
    this.logSize = get32(b, 16);
    this.bitmapStart = get32(b, 20);
    this.inodeStart = get32(b, 24);
    this.ninodes = get32(b, 28);
    this.dirStart = get32(b, 32);
    this.ndirent = get32(b, 36);
    this.dataStart = get32(b, 40);
    this.check = get32(b, 44);
  }
}

// ---- inodes: INODES_PER_SECTOR to a sector ----

/**
 * A file: its size and its blocks (direct, then indirect blocks of PTRS_PER_BLOCK pointers). Files
 * have no holes: block i of a file is allocated exactly when i < ceil(size / SECTOR), which the
 * check verifies, so a pointer beyond the size is corruption, not garbage.
 */
export class Inode {
  type = T_FREE;
  size = 0;
  readonly direct = new Int32Array(NDIRECT);
  readonly indirect = new Int32Array(NINDIRECT);
  check = 0;

  clear(): void {
    this.type = T_FREE;
    this.size = 0;
    for (let i = 0; i < NDIRECT; i++) this.direct[i] = 0;
    for (let i = 0; i < NINDIRECT; i++) this.indirect[i] = 0;
    this.check = 0;
  }

  /** Into b at off: type, size, direct[], indirect[], hash (0 for a free inode: all zero). */
  encode(b: Uint8Array, off: number, inum: number): void {
    put32(b, off, this.type);
    put32(b, off + 4, this.size);
    for (let i = 0; i < NDIRECT; i++) put32(b, off + 8 + 4 * i, this.direct[i]);
    for (let i = 0; i < NINDIRECT; i++) put32(b, off + 8 + 4 * NDIRECT + 4 * i, this.indirect[i]);
    this.check = this.type === T_FREE ? 0 : hashBytes(b, off, INODE_BYTES - 4, inum);
    put32(b, off + INODE_BYTES - 4, this.check);
  }

  decode(b: Uint8Array, off: number): void {
    this.type = get32(b, off);
    this.size = get32(b, off + 4);
    for (let i = 0; i < NDIRECT; i++) this.direct[i] = get32(b, off + 8 + 4 * i);
    for (let i = 0; i < NINDIRECT; i++) this.indirect[i] = get32(b, off + 8 + 4 * NDIRECT + 4 * i);
    this.check = get32(b, off + INODE_BYTES - 4);
  }
}

/** Blocks a file of `size` bytes holds. */
export function blocksFor(size: number): number {
  return ((size + SECTOR - 1) / SECTOR) | 0;
}

// ---- directory entries: inum (u16), hash (u16), name (NAME_MAX bytes, zero-padded) ----

/** The 16-bit hash of an entry (inum and name), seeded by its slot so a moved entry shows. */
export function direntHash(b: Uint8Array, off: number, slot: number): number {
  const h = hashBytes(b, off, 2, slot) ^ hashBytes(b, off + 4, NAME_MAX, slot + 7);
  return (h ^ (h >>> 16)) & 0xffff;
}
