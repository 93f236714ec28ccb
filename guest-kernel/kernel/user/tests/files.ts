/**
 * usertests: the file system through the system calls. Files used: ut-rw, ut-big, ut-app,
 * ut-trunc, ut-busy, ut-fds, ut-out, mf00..mf29 (each test removes its own).
 */
import { EBUSY, EMFILE, ENOENT, NFD, O_APPEND, O_CREATE, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../syscall-abi.ts';
import { close, list, open, openb, read, readAt, spawn, unlink, unlinkb, write, writeStr } from '../lib/sys.ts';
import { copyLit, eqLit } from '../lib/str.ts';
import { FNV_START, expectEq, expectErr, expectOk, fail, failGot, fnv, waitFor } from './check.ts';

const buf = new Uint8Array(4096);
const name = new Uint8Array(8);
const entry = new Uint8Array(4 + 32);
const fds = new Int32Array(NFD);

/** Read the whole file `n` into buf: its length (at most buf.length), or -errno. */
function slurp(n: string): number {
  const fd = open(n, O_RDONLY);
  if (fd < 0) return fd;
  let len = 0;
  while (len < buf.length) {
    const r = readAt(fd, buf, len, buf.length - len);
    if (r < 0) {
      close(fd);
      return r;
    }
    if (r === 0) break;
    len += r;
  }
  close(fd);
  return len;
}

/** Whether file `n` holds exactly the literal `want`. */
function holds(n: string, want: string, what: string): boolean {
  const len = slurp(n);
  if (len < 0) return failGot(what, len);
  if (!eqLit(buf, 0, len, want)) return failGot(what, len);
  return true;
}

/** Create, write, read back, unlink; the file is gone afterwards. */
export function testFileReadWrite(): boolean {
  const fd = open('ut-rw', O_RDWR | O_CREATE | O_TRUNC);
  if (!expectOk(fd, 'create ut-rw')) return false;
  const w = writeStr(fd, 'hello, file');
  const c = close(fd);
  const r = open('ut-rw', O_RDONLY);
  const n = read(r, buf, 64);
  const same = eqLit(buf, 0, 11, 'hello, file');
  const end = read(r, buf, 64);
  close(r);
  const ok =
    expectEq(w, 11, 'write 11 bytes') &&
    expectEq(c, 0, 'close') &&
    expectOk(r, 'reopen ut-rw') &&
    expectEq(n, 11, 'read back') &&
    (same || fail('read back other bytes')) &&
    expectEq(end, 0, 'read at the end of the file');
  if (!ok) {
    unlink('ut-rw');
    return false;
  }
  return expectEq(unlink('ut-rw'), 0, 'unlink') && expectErr(open('ut-rw', O_RDONLY), ENOENT, 'open after unlink');
}

const BIG = 256 * 1024;

function bigByte(i: number): number {
  return (i ^ (i >> 8) ^ (i >> 16) ^ 0x5a) & 255;
}

/** A 256 KiB file written in 4 KiB writes, read back in 4 KiB reads, checksum compared. */
export function testFileBig(): boolean {
  const fd = open('ut-big', O_WRONLY | O_CREATE | O_TRUNC);
  if (!expectOk(fd, 'create ut-big')) return false;
  let sumOut = FNV_START;
  for (let off = 0; off < BIG; off += buf.length) {
    for (let i = 0; i < buf.length; i++) buf[i] = bigByte(off + i);
    sumOut = fnv(sumOut, buf, buf.length);
    const w = write(fd, buf, buf.length);
    if (w !== buf.length) {
      close(fd);
      unlink('ut-big');
      return failGot('write at offset', off);
    }
  }
  close(fd);
  const r = open('ut-big', O_RDONLY);
  if (!expectOk(r, 'reopen ut-big')) return false;
  let sumIn = FNV_START;
  let total = 0;
  for (;;) {
    const n = read(r, buf, buf.length);
    if (n < 0) {
      close(r);
      unlink('ut-big');
      return failGot('read', n);
    }
    if (n === 0) break;
    sumIn = fnv(sumIn, buf, n);
    total += n;
  }
  close(r);
  const u = unlink('ut-big');
  return expectEq(total, BIG, 'bytes read back') && expectEq(sumIn, sumOut, 'checksum') && expectEq(u, 0, 'unlink');
}

/** O_APPEND writes at the end, whatever was read or written before. */
export function testFileAppend(): boolean {
  let fd = open('ut-app', O_WRONLY | O_CREATE | O_TRUNC);
  if (!expectOk(fd, 'create ut-app')) return false;
  writeStr(fd, 'abc');
  close(fd);
  fd = open('ut-app', O_WRONLY | O_APPEND);
  if (!expectOk(fd, 'open O_APPEND')) return false;
  const w1 = writeStr(fd, 'de');
  const w2 = writeStr(fd, 'f');
  close(fd);
  const ok = expectEq(w1, 2, 'append 2 bytes') && expectEq(w2, 1, 'append 1 byte') && holds('ut-app', 'abcdef', 'contents after append');
  unlink('ut-app');
  return ok;
}

/** O_TRUNC empties an existing file. */
export function testFileTrunc(): boolean {
  let fd = open('ut-trunc', O_WRONLY | O_CREATE | O_TRUNC);
  if (!expectOk(fd, 'create ut-trunc')) return false;
  writeStr(fd, '0123456789');
  close(fd);
  fd = open('ut-trunc', O_WRONLY | O_TRUNC);
  if (!expectOk(fd, 'open O_TRUNC')) return false;
  const ok1 = holds('ut-trunc', '', 'contents right after O_TRUNC');
  writeStr(fd, 'xy');
  close(fd);
  const ok = ok1 && holds('ut-trunc', 'xy', 'contents after truncate and write');
  unlink('ut-trunc');
  return ok;
}

/** A missing file: open and unlink say -ENOENT; open without O_CREATE creates nothing. */
export function testOpenMissing(): boolean {
  return (
    expectErr(open('ut-missing', O_RDONLY), ENOENT, 'open O_RDONLY') &&
    expectErr(open('ut-missing', O_WRONLY), ENOENT, 'open O_WRONLY without O_CREATE') &&
    expectErr(unlink('ut-missing'), ENOENT, 'unlink') &&
    expectErr(open('ut-missing', O_RDONLY), ENOENT, 'open after the failed ones')
  );
}

/** Name i of many-files into name[0..4): mf00..mf99. */
function mfName(i: number): number {
  copyLit(name, 0, 'mf');
  name[2] = 48 + ((i / 10) | 0);
  name[3] = 48 + (i % 10);
  return 4;
}

/** The number of directory entries whose name starts with "mf". */
function countMf(): number {
  let n = 0;
  for (let i = 0; i < 100000; i++) {
    const r = list(i, entry, entry.length);
    if (r === -ENOENT) break;
    if (r < 0) return r;
    if (r >= 2 && entry[4] === 109 && entry[5] === 102) n++;
  }
  return n;
}

const MANY = 30;

/** 30 files created, listed by SYS_LIST, each with its own content, then all unlinked. */
export function testManyFiles(): boolean {
  for (let i = 0; i < MANY; i++) {
    const fd = openb(name, 0, mfName(i), O_WRONLY | O_CREATE | O_TRUNC);
    if (fd < 0) return failGot('create file', i);
    buf[0] = i;
    write(fd, buf, 1);
    close(fd);
  }
  const listed = countMf();
  let ok = expectEq(listed, MANY, 'files listed');
  for (let i = 0; i < MANY && ok; i++) {
    const fd = openb(name, 0, mfName(i), O_RDONLY);
    const n = read(fd, buf, 8);
    close(fd);
    if (n !== 1 || buf[0] !== i) ok = failGot('content of file', i);
  }
  for (let i = 0; i < MANY; i++) {
    const u = unlinkb(name, 0, mfName(i));
    if (u < 0 && ok) ok = failGot('unlink file', i);
  }
  return ok && expectEq(countMf(), 0, 'files listed after unlink');
}

/** unlink of an open file: -EBUSY; after close it goes. */
export function testUnlinkOpen(): boolean {
  const fd = open('ut-busy', O_RDWR | O_CREATE | O_TRUNC);
  if (!expectOk(fd, 'create ut-busy')) return false;
  const u1 = unlink('ut-busy');
  close(fd);
  return expectErr(u1, EBUSY, 'unlink while open') && expectEq(unlink('ut-busy'), 0, 'unlink after close');
}

/** Open until -EMFILE (NFD descriptors, 0..2 taken), then close them all and open again. */
export function testDescriptorLimit(): boolean {
  const fd0 = open('ut-fds', O_RDWR | O_CREATE | O_TRUNC);
  if (!expectOk(fd0, 'create ut-fds')) return false;
  fds[0] = fd0;
  let n = 1;
  let last = 0;
  while (n < NFD) {
    last = open('ut-fds', O_RDONLY);
    if (last < 0) break;
    fds[n++] = last;
  }
  for (let i = 0; i < n; i++) close(fds[i]);
  const again = open('ut-fds', O_RDONLY);
  close(again);
  unlink('ut-fds');
  return (
    expectErr(last, EMFILE, 'open past the limit') &&
    expectEq(n, NFD - 3, 'descriptors opened') &&
    expectOk(again, 'open after closing them')
  );
}

/** SYS_SPAWN's stdout: `echo hello there` with its fd 1 on a file (the shell's `> FILE`). */
export function testSpawnStdout(): boolean {
  const fd = open('ut-out', O_WRONLY | O_CREATE | O_TRUNC);
  if (!expectOk(fd, 'create ut-out')) return false;
  const pid = spawn('echo', 'hello   there', fd);
  close(fd); // the child keeps its own reference
  if (pid < 0) {
    unlink('ut-out');
    return failGot('spawn echo', pid);
  }
  const status = waitFor(pid);
  const ok = expectEq(status, 0, 'echo exit status') && holds('ut-out', 'hello there\n', 'the file echo wrote');
  unlink('ut-out');
  return ok;
}
