/**
 * The file store's test program (test/guest-kernel/fs.test.ts runs it in Node and in every mode and
 * compares the transcripts): format a RAM disk, mount, create files (one of 256 KiB), read them
 * back, list, unlink, remount as a reboot would, then flip bytes in each structure and see the
 * boot-time check refuse the store with its message — and accept it again once restored.
 */
import { putc } from '../../../lib/console.ts';
import { printCheckFailure } from '../check.ts';
import {
  CHUNK, E_CORRUPT, E_EXIST, E_INVAL, E_NAMETOOLONG, E_NOENT, fsCreate, fsDirEntry, fsFormat, fsMount, fsOpen,
  fsRead, fsRewrite, fsSize, fsTruncate, fsUnlink, fsWrite,
} from '../fs.ts';
import { BITMAP_START, DIRENT_BYTES, INODE_BYTES, LOG_HEADER, NAME_MAX, NDIRENT, dirStart, inodeStart } from '../layout.ts';
import { DISK_SECTORS, attachRamDisk, disk, isPattern, nameOf, pattern } from './ramdisk.ts';

const BIG = 262144;
const big = new Uint8Array(BIG);
const back = new Uint8Array(BIG);
const name = new Uint8Array(64);
const out = new Uint8Array(NAME_MAX);
let failures = 0;

function check(ok: boolean, what: string): void {
  if (!ok) {
    failures++;
    console.log('FAIL', what);
  }
}

function create(s: string): number {
  return fsCreate(name, nameOf(s, name));
}
function open(s: string): number {
  return fsOpen(name, nameOf(s, name));
}

/** Print the directory: slot, name, size, one file a line. */
function list(): void {
  let n = 0;
  for (let slot = 0; slot < NDIRENT; slot++) {
    const inum = fsDirEntry(slot, out);
    if (inum <= 0) continue;
    n++;
    for (let i = 0; i < NAME_MAX && out[i] !== 0; i++) putc(out[i]);
    console.log('', fsSize(inum));
  }
  console.log('files', n);
}

/** Whether file inum holds pattern(seed) over its len bytes. */
function holds(inum: number, len: number, seed: number): boolean {
  if (fsSize(inum) !== len) return false;
  if (fsRead(inum, 0, back, 0, len) !== len) return false;
  return isPattern(back, len, seed, 0);
}

/** Flip byte `at` of the disk, mount (which must refuse), print why, restore, mount again. */
function corrupt(at: number, xor: number, what: string): void {
  disk[at] ^= xor;
  const r = fsMount();
  console.log('corrupt', what, '->', r);
  printCheckFailure();
  check(r === E_CORRUPT, what);
  disk[at] ^= xor;
  check(fsMount() === 0, 'remount after restoring');
}

export function main(): number {
  attachRamDisk();
  console.log('format', fsFormat(DISK_SECTORS), 'mount', fsMount());
  const a = create('hello.txt');
  const b = create('notes');
  const c = create('big.bin');
  console.log('create', a, b, c, 'again', create('notes'), 'long', create('abcdefghijklmnopqrstuvwxyz0123'), 'empty', create(''));
  check(create('notes') === E_EXIST && create('abcdefghijklmnopqrstuvwxyz0123') === E_NAMETOOLONG, 'create errors');
  pattern(big, 13, 1, 0);
  console.log('write hello', fsWrite(a, 0, big, 0, 13), 'append', fsWrite(a, 13, big, 13, 0));
  pattern(big, 1000, 2, 0);
  console.log('write notes', fsWrite(b, 0, big, 0, 1000), 'hole', fsWrite(b, 1001, big, 0, 1));
  check(fsWrite(b, 1001, big, 0, 1) === E_INVAL, 'write past the end');
  pattern(big, BIG, 3, 0);
  console.log('write big', fsWrite(c, 0, big, 0, BIG), 'chunk', CHUNK);
  check(holds(a, 13, 1) && holds(b, 1000, 2) && holds(c, BIG, 3), 'read back');
  // A read across block boundaries from the middle.
  console.log('read mid', fsRead(c, 70000, back, 0, 3000), isPattern(back, 3000, 3, 70000));
  console.log('read past end', fsRead(c, BIG - 10, back, 0, 100), fsRead(c, BIG + 5, back, 0, 100));
  // Overwrite in the middle of the big file, then truncate and rewrite the small ones.
  pattern(big, 5000, 3, 100000);
  console.log('overwrite', fsWrite(c, 100000, big, 0, 5000));
  pattern(big, BIG, 3, 0);
  check(holds(c, BIG, 3), 'overwrite keeps the pattern');
  console.log('truncate', fsTruncate(b, 600), fsSize(b), 'grow', fsTruncate(b, 700));
  pattern(big, 600, 2, 0);
  check(holds(b, 600, 2), 'truncated content');
  pattern(big, 4000, 4, 0);
  console.log('rewrite', fsRewrite(a, big, 4000), fsSize(a));
  check(holds(a, 4000, 4), 'rewritten content');
  for (let i = 0; i < 3; i++) {
    const t = create('tmp');
    console.log('tmp', t, fsWrite(t, 0, big, 0, 3000 * (i + 1)), 'unlink', fsUnlink(name, nameOf('tmp', name)), fsOpen(name, 3));
  }
  check(open('tmp') === E_NOENT, 'unlinked');
  list();
  // A reboot: a fresh mount of the same bytes finds the same files.
  console.log('remount', fsMount());
  list();
  check(holds(open('hello.txt'), 4000, 4) && holds(open('notes'), 600, 2), 'small files after remount');
  pattern(big, BIG, 3, 0);
  check(holds(open('big.bin'), BIG, 3), 'big file after remount');
  // Fill the directory: 64 more files are fine.
  let made = 0;
  for (let i = 0; i < 64; i++) {
    nameOf('f--', name);
    name[1] = 48 + ((i / 10) | 0);
    name[2] = 48 + (i % 10);
    if (fsCreate(name, 3) > 0 && fsWrite(fsOpen(name, 3), 0, big, 0, 100) === 100) made++;
  }
  console.log('made', made, 'remount', fsMount(), 'f63 size', fsSize(fsOpen(name, 3)));
  // Corruption, one structure at a time.
  const sb = 0;
  const inodeBig = inodeStart(DISK_SECTORS) * 512 + c * INODE_BYTES;
  const entry = dirStart(DISK_SECTORS) * 512 + 1 * DIRENT_BYTES;
  corrupt(sb, 1, 'superblock magic');
  corrupt(sb + 4, 2, 'superblock version');
  corrupt(sb + 9, 1, 'superblock size');
  corrupt(inodeBig + 4, 1, 'inode size');
  corrupt(inodeBig + 8, 4, 'inode block pointer');
  corrupt(inodeStart(DISK_SECTORS) * 512 + 127 * INODE_BYTES, 1, 'free inode');
  corrupt(entry + 5, 1, 'directory entry name');
  corrupt(entry, 64, 'directory entry inode');
  corrupt(BITMAP_START * 512 + 400, 128, 'bitmap');
  corrupt(LOG_HEADER * 512 + 4, 3, 'log header');
  console.log('after all', fsMount());
  console.log(failures === 0 ? 'file store: ok' : 'file store: FAILED');
  return failures;
}
