/**
 * A `--disk FILE`, treated as QEMU treats a raw image: opened in place and never replaced.
 *
 * The file is read into `bytes`, which the block devices use in place; the devices report every
 * range the guest writes (noteWrite) and flush() writes back only those sectors, with positional
 * writes into the open file, then fdatasync — as QEMU's raw driver pwrite()s the guest's sectors and
 * fdatasync()s on a guest FLUSH. So:
 * - the file is never rewritten whole and no temporary file is made: a 1 GiB sparse disk with one
 *   sector written costs one 512-byte write and stays sparse;
 * - its permissions, owner and inode stay as they are, a symlink's target is what is written
 *   (open follows it), and a read-only directory does not matter;
 * - writes reach the file at the guest's FLUSH and when the run ends, not before, as a disk with
 *   a volatile write cache (QEMU's cache=writeback reaches the host page cache sooner, but a
 *   guest gets durability only from FLUSH in both).
 *
 * A file nobody may write is refused at open unless the user asks for a read-only disk
 * (`--disk-readonly`, QEMU's `readonly=on`): the devices then fail the guest's writes and the
 * file is opened O_RDONLY. Mode bits are checked as well as access(2) because root passes
 * access(2) whatever the mode.
 */
import { closeSync, constants, fdatasyncSync, fstatSync, openSync, writeSync } from 'node:fs';
import { errnoWords, FileError, MAX_DISK_BYTES, notWritable, openRegularFile, readFully } from './fs-util.ts';

export const DISK_SECTOR_BYTES = 512;
const WHAT = 'disk image';
/** One positional write moves at most this much (a run of dirty sectors is split beyond it). */
const MAX_WRITE = 64 * 1024 * 1024;

export interface DiskFileOptions {
  /** Open read-only: the devices refuse the guest's writes. */
  readOnly?: boolean;
  /** Size limit (default MAX_DISK_BYTES). */
  maxBytes?: number;
}

export class DiskFile {
  /** Sectors written since the last flush: one bit each, bounded by the disk size. */
  private readonly dirty: Uint32Array;
  private dirtyCount = 0;
  /** Lowest and one past the highest dirty sector: flush scans only between them. */
  private lo = Infinity;
  private hi = 0;
  private fd: number | null;
  /** Sectors written to the file so far, and flushes that wrote something (for tests and traces). */
  readonly stats = { sectorsFlushed: 0, flushes: 0 };

  private constructor(
    readonly path: string,
    fd: number,
    /** The disk, used in place by the devices. */
    readonly bytes: Uint8Array,
    readonly readOnly: boolean,
  ) {
    this.fd = fd;
    this.dirty = new Uint32Array(Math.ceil(Math.ceil(bytes.length / DISK_SECTOR_BYTES) / 32));
  }

  /** Open and read `path`; a FileError (one line) when it is not a regular file, too large, or
   *  not writable without readOnly. */
  static open(path: string, opts: DiskFileOptions = {}): DiskFile {
    const readOnly = opts.readOnly === true;
    const { fd: probe, st } = openRegularFile(path, WHAT, opts.maxBytes ?? MAX_DISK_BYTES);
    let fd = probe;
    try {
      if (!readOnly) {
        const refuse = (reason: string, code?: string): FileError =>
          new FileError(path, `cannot write ${WHAT} '${path}': ${reason}; pass --disk-readonly to use it read-only`, code);
        const no = notWritable(path, st);
        if (no) throw refuse(no);
        let rw: number;
        try {
          rw = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
        } catch (e) {
          throw refuse(errnoWords(e), (e as NodeJS.ErrnoException).code);
        }
        closeSync(probe);
        fd = rw;
        const now = fstatSync(fd);
        if (now.ino !== st.ino || now.dev !== st.dev) throw new FileError(path, `cannot read ${WHAT} '${path}': the file changed while it was being opened`);
      }
      const bytes = new Uint8Array(st.size);
      try {
        readFully(fd, bytes, 0);
      } catch (e) {
        throw new FileError(path, `cannot read ${WHAT} '${path}': ${errnoWords(e)}`, (e as NodeJS.ErrnoException).code);
      }
      return new DiskFile(path, fd, bytes, readOnly);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Sectors written since the last flush. */
  get dirtySectors(): number {
    return this.dirtyCount;
  }

  /** The guest wrote bytes [byteOffset, byteOffset + length) of the disk. */
  noteWrite(byteOffset: number, length: number): void {
    if (this.readOnly || length <= 0) return;
    const first = Math.max(0, Math.floor(byteOffset / DISK_SECTOR_BYTES));
    const end = Math.min(this.dirty.length * 32, Math.ceil(Math.min(byteOffset + length, this.bytes.length) / DISK_SECTOR_BYTES));
    for (let s = first; s < end; s++) {
      const bit = 1 << (s & 31);
      const w = s >>> 5;
      if (this.dirty[w]! & bit) continue;
      this.dirty[w]! |= bit;
      this.dirtyCount++;
    }
    if (first < end) {
      this.lo = Math.min(this.lo, first);
      this.hi = Math.max(this.hi, end);
    }
  }

  private isDirty(s: number): boolean {
    return (this.dirty[s >>> 5]! & (1 << (s & 31))) !== 0;
  }

  /**
   * Write the dirty sectors into the file, adjacent ones in one write, then fdatasync. On failure a
   * FileError (one line) is thrown and the sectors stay dirty, so a later flush tries again; the
   * devices answer the guest's FLUSH with an error.
   */
  flush(): void {
    if (this.dirtyCount === 0) return;
    const fd = this.fd;
    if (fd === null) throw new FileError(this.path, `cannot write ${WHAT} '${this.path}': the disk is closed`);
    try {
      for (let s = this.lo; s < this.hi; ) {
        if (!this.isDirty(s)) {
          s++;
          continue;
        }
        let e = s + 1;
        while (e < this.hi && this.isDirty(e) && (e - s) * DISK_SECTOR_BYTES < MAX_WRITE) e++;
        const start = s * DISK_SECTOR_BYTES;
        const end = Math.min(e * DISK_SECTOR_BYTES, this.bytes.length);
        for (let off = start; off < end; ) off += writeSync(fd, this.bytes, off, end - off, off);
        this.stats.sectorsFlushed += e - s;
        s = e;
      }
      // fdatasync, as QEMU's raw driver on a guest FLUSH: the data and the size, not the times.
      fdatasyncSync(fd);
    } catch (e) {
      throw new FileError(this.path, `cannot write ${WHAT} '${this.path}': ${errnoWords(e)}`, (e as NodeJS.ErrnoException).code);
    }
    this.dirty.fill(0);
    this.dirtyCount = 0;
    this.lo = Infinity;
    this.hi = 0;
    this.stats.flushes++;
  }

  /** Close the file (unflushed writes are not written: flush first). */
  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }
}
