/**
 * The file layer on the real block device, for test/guest-kernel/file.test.ts: a kernel-mode
 * program that boots as the kernel will (platformInit, procInit, consoleInit, diskInit), then
 * exercises descriptors and open files (file.ts) with a few task slots as plain numbers, and reads
 * console input (--input) through the line discipline (dev/console.ts).
 *
 * Every boot counts itself in the file `boots`. The first boot (on a blank disk, formatted) runs
 * the checks; a later one lists the store and checks the first boot's files are still there.
 * Everything is printed by one task, at points that do not depend on where a tick fell, so the
 * transcript is the same in every mode. Exit code: 0, or 2 when diskInit refused the disk (its
 * result printed), or the number of failed checks.
 */
import { consoleInit } from '../../dev/console.ts';
import { conPrint, conWrite, platformInit } from '../../platform/platform.ts';
import { procInit } from '../../proc/proc.ts';
import { O_APPEND, O_CREATE, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../syscall-abi.ts';
import { diskInit, diskSectors, diskStoreSectors } from '../disk.ts';
import {
  fdCloseAll, fdInherit, fdInitConsole, fdKind, fileClose, fileList, fileOpen, fileRead, fileUnlink, fileWrite,
  filesOpen,
} from '../file.ts';
import { isPattern, pattern } from './ramdisk.ts';

const TICK = 20000;
/** Task slots, as the kernel would pass them. */
const INIT = 1;
const CHILD = 2;
const OTHER = 3;

const name = new Uint8Array(64);
const data = new Uint8Array(65536);
const back = new Uint8Array(65536);
const line = new Uint8Array(512);
const entry = new Uint8Array(40);
let failed = 0;

/** s into `name`; its length. */
function nm(s: string): number {
  for (let i = 0; i < s.length; i++) name[i] = s.charCodeAt(i);
  return s.length;
}
function open(task: number, s: string, flags: number): number {
  return fileOpen(task, addressOf(name), nm(s), flags);
}
function check(what: string, ok: boolean): void {
  if (!ok) {
    failed++;
    console.log('FAIL', what);
  }
}
function sizeOf(s: string): number {
  const fd = open(OTHER, s, O_RDONLY);
  if (fd < 0) return fd;
  let n = 0;
  for (;;) {
    const r = fileRead(OTHER, fd, addressOf(back), back.length);
    if (r <= 0) break;
    n += r;
  }
  fileClose(OTHER, fd);
  return n;
}
/** Read file s (up to 64 KiB) into back; its length or an error. */
function slurp(s: string): number {
  const fd = open(OTHER, s, O_RDONLY);
  if (fd < 0) return fd;
  const n = fileRead(OTHER, fd, addressOf(back), back.length);
  fileClose(OTHER, fd);
  return n;
}
function writeStr(task: number, fd: number, s: string): number {
  return fileWrite(task, fd, addressOf(s), s.length);
}

function listAll(): void {
  let files = 0;
  for (let i = 0; ; i++) {
    const n = fileList(i, addressOf(entry), entry.length);
    if (n < 0) {
      console.log('list end', n, 'at', i);
      break;
    }
    if (n === 0) continue;
    files++;
    const size = entry[0] | (entry[1] << 8) | (entry[2] << 16) | (entry[3] << 24);
    conPrint('   ');
    conWrite(addressOf(entry) + 4, n);
    console.log('', size);
  }
  console.log('files', files);
}

/** Console input through fd 0 of INIT: each read's bytes (when short) and length, up to the second end of input. */
function readLines(): void {
  let ends = 0;
  for (let k = 0; k < 12 && ends < 2; k++) {
    const len = k === 3 ? 2 : line.length;
    const n = fileRead(INIT, 0, addressOf(line), len);
    if (n === 0) ends++;
    conPrint('read [');
    for (let i = 0; i < n && n < 100; i++) {
      if (line[i] === 10) conPrint('\\n');
      else conWrite(addressOf(line) + i, 1);
    }
    console.log(']', n);
  }
}

function firstBoot(): void {
  check('console fds', fdInitConsole(INIT) === 0 && fdKind(INIT, 0) === 1 && fdKind(INIT, 2) === 1 && fdKind(INIT, 3) === 0);
  console.log('fd1 write', writeStr(INIT, 1, 'hello through fd 1\n'));
  // Refusals.
  console.log('open bad flags', open(INIT, 'x', 3), open(INIT, 'x', 0x800 | O_RDONLY), 'trunc rdonly', open(INIT, 'x', O_TRUNC | O_RDONLY));
  console.log('open names', open(INIT, '', O_RDWR | O_CREATE), open(INIT, 'a b', O_RDWR | O_CREATE), open(INIT, 'abcdefghijklmnopqrstuvwxyz0123', O_RDWR | O_CREATE));
  console.log('open missing', open(INIT, 'nothing', O_RDONLY), 'bad fd', fileRead(INIT, 7, addressOf(back), 1), fileWrite(INIT, -1, addressOf(back), 1), fileClose(INIT, 8));
  // A file of 40000 bytes (two transactions), read back in pieces.
  pattern(data, 40000, 5, 0);
  const w = open(INIT, 'notes', O_WRONLY | O_CREATE);
  console.log('notes fd', w, 'write', fileWrite(INIT, w, addressOf(data), 40000), 'read on write-only', fileRead(INIT, w, addressOf(back), 10));
  console.log('close', fileClose(INIT, w), 'again', fileClose(INIT, w));
  const r = open(INIT, 'notes', O_RDONLY);
  let got = 0;
  for (;;) {
    const n = fileRead(INIT, r, addressOf(back) + got, 7000);
    if (n <= 0) {
      console.log('read end', n);
      break;
    }
    got += n;
  }
  console.log('notes read', got, isPattern(back, 40000, 5, 0), 'write on read-only', fileWrite(INIT, r, addressOf(data), 1));
  // Unlink refuses an open file.
  console.log('unlink open', fileUnlink(addressOf(name), nm('notes')), 'close', fileClose(INIT, r));
  // O_APPEND and a shared offset through fdInherit.
  const out = open(INIT, 'out.txt', O_WRONLY | O_CREATE);
  console.log('inherit bad', fdInherit(CHILD, INIT, 6), 'inherit', fdInherit(CHILD, INIT, out), 'child fds', fdKind(CHILD, 0), fdKind(CHILD, 1), fdKind(CHILD, 2), fdKind(CHILD, 3));
  writeStr(INIT, out, 'parent;');
  writeStr(CHILD, 1, 'child;');
  writeStr(CHILD, 2, 'child stderr is the console\n');
  fileClose(INIT, out);
  console.log('files open', filesOpen());
  fdCloseAll(CHILD);
  console.log('after child exit', filesOpen(), 'out.txt', slurp('out.txt'));
  conWrite(addressOf(back), 13);
  conPrint('\n');
  const ap = open(INIT, 'out.txt', O_WRONLY | O_APPEND);
  writeStr(INIT, ap, 'more');
  fileClose(INIT, ap);
  console.log('append', sizeOf('out.txt'));
  // O_TRUNC: pending until the first write (one transaction), shown as empty meanwhile.
  pattern(data, 3000, 6, 0);
  const t = open(INIT, 'notes', O_RDWR | O_TRUNC);
  listAll();
  console.log('rewrite', fileWrite(INIT, t, addressOf(data), 3000), 'close', fileClose(INIT, t), 'size', sizeOf('notes'), slurp('notes') === 3000 && isPattern(back, 3000, 6, 0));
  const t2 = open(INIT, 'out.txt', O_WRONLY | O_TRUNC);
  console.log('trunc then close', fileClose(INIT, t2), sizeOf('out.txt'));
  // Descriptors run out; unlink.
  let last = 0;
  let opened = 0;
  for (let i = 0; i < 10; i++) {
    last = open(OTHER, 'notes', O_RDONLY);
    if (last >= 0) opened++;
  }
  console.log('opened', opened, 'then', last);
  fdCloseAll(OTHER);
  console.log('unlink', fileUnlink(addressOf(name), nm('out.txt')), 'again', fileUnlink(addressOf(name), nm('out.txt')), 'long', fileUnlink(addressOf(name), 29));
  // Something for the next boot: big.bin (64 KiB, three transactions).
  pattern(data, 65536, 7, 0);
  const b = open(INIT, 'big.bin', O_WRONLY | O_CREATE | O_TRUNC);
  console.log('big', fileWrite(INIT, b, addressOf(data), 65536), fileClose(INIT, b));
  listAll();
  readLines();
}

function laterBoot(): void {
  listAll();
  check('notes kept', slurp('notes') === 3000 && isPattern(back, 3000, 6, 0));
  check('big.bin kept', slurp('big.bin') === 65536 && isPattern(back, 65536, 7, 0));
  console.log('files kept', failed === 0);
}

export function main(): number {
  platformInit();
  consoleInit(); // before procInit enables interrupts: the UART's line is level-triggered
  procInit(TICK);
  const d = diskInit();
  console.log('disk', d, diskSectors(), diskStoreSectors());
  if (d < 0) return 2;
  // The boot counter: read, then replaced atomically (O_TRUNC + one write).
  const fd = open(OTHER, 'boots', O_RDWR | O_CREATE);
  back[0] = 0;
  const n = fileRead(OTHER, fd, addressOf(back), 4);
  const boot = (n === 1 ? back[0] : 0) + 1;
  fileClose(OTHER, fd);
  const w = open(OTHER, 'boots', O_WRONLY | O_TRUNC);
  data[0] = boot;
  fileWrite(OTHER, w, addressOf(data), 1);
  fileClose(OTHER, w);
  console.log('boot', boot);
  if (boot === 1) firstBoot();
  else laterBoot();
  console.log('failed', failed);
  return failed;
}
