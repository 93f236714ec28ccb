/**
 * Buffered output to fd 1 (print*) and fd 2 (eprint*), and line input from fd 0 (readLine).
 *
 * Each stream has a BUF-byte buffer written with one SYS_WRITE when a newline goes in or when it
 * is full, so a program's output costs few system calls. Writing to fd 2 flushes fd 1 first, so
 * the two keep their order on the console. A program must call `flush()` before it ends if its
 * last output has no newline (the start-up code's SYS_EXIT knows nothing of these buffers), and
 * before it writes to fd 1 directly or spawns a child that writes to the same console.
 */
import { FD_STDERR, FD_STDIN, FD_STDOUT, SYS_READ, SYS_WRITE } from '../../syscall-abi.ts';

const BUF = 512;
/** Stream 0 (fd 1) at [0, BUF), stream 1 (fd 2) at [BUF, 2 * BUF). */
const outBuf = new Uint8Array(2 * BUF);
const outLen = new Int32Array(2);
/** Digits of a number, last digit first. */
const digits = new Uint8Array(16);

/** Write stream s's buffer (s = 0: fd 1, 1: fd 2). The last write's result is kept in lastWriteError. */
function flushStream(s: number): void {
  const n = outLen[s];
  outLen[s] = 0;
  let off = 0;
  while (off < n) {
    const r = syscall(SYS_WRITE, s === 0 ? FD_STDOUT : FD_STDERR, addressOf(outBuf) + s * BUF + off, n - off);
    if (r <= 0) {
      lastWriteError = r;
      return;
    }
    off += r;
  }
}

/** 0, or the negative result of the last failed write of a buffer (e.g. -EBADF, -ENOSPC). */
export let lastWriteError = 0;

/** Write out what fd 1's buffer holds. */
export function flush(): void {
  flushStream(0);
}

/** Write out what fd 2's buffer holds. */
export function eflush(): void {
  flushStream(1);
}

function putTo(s: number, c: number): void {
  if (s === 1 && outLen[0] > 0) flushStream(0);
  const n = outLen[s];
  outBuf[s * BUF + n] = c;
  outLen[s] = n + 1;
  if (c === 10 || n + 1 === BUF) flushStream(s);
}

function strTo(s: number, str: string): void {
  for (let i = 0; i < str.length; i++) putTo(s, str.charCodeAt(i));
}

function bytesTo(s: number, buf: Uint8Array, off: number, len: number): void {
  const end = Math.min(off + len, buf.length);
  for (let i = off < 0 ? 0 : off; i < end; i++) putTo(s, buf[i]);
}

/** The decimal digits of n, signed. */
function numTo(s: number, n: number): void {
  let v = n < 0 ? n : -n; // non-positive, so that -2147483648 needs no special case
  let at = 16;
  do {
    at--;
    digits[at] = 48 - (v % 10);
    v = (v / 10) | 0;
  } while (v !== 0);
  if (n < 0) putTo(s, 45);
  for (let i = at; i < 16; i++) putTo(s, digits[i]);
}

/** The digits of n's 32 bits read unsigned. */
function unsignedTo(s: number, n: number): void {
  if (n >= 0) {
    numTo(s, n);
    return;
  }
  const high = ((n >>> 0) / 10) | 0;
  numTo(s, high);
  putTo(s, 48 + ((n >>> 0) % 10));
}

/** `0x` and `width` (1..8) hex digits of n's low bits, lower-case. */
function hexTo(s: number, n: number, width: number): void {
  putTo(s, 48);
  putTo(s, 120);
  const w = width < 1 ? 1 : width > 8 ? 8 : width;
  for (let i = w - 1; i >= 0; i--) {
    const d = (n >>> (i * 4)) & 15;
    putTo(s, d < 10 ? 48 + d : 87 + d);
  }
}

// fd 1 ------------------------------------------------------------------------------------------

export function putc(c: number): void {
  putTo(0, c);
}
export function print(s: string): void {
  strTo(0, s);
}
export function println(s: string): void {
  strTo(0, s);
  putTo(0, 10);
}
export function printNum(n: number): void {
  numTo(0, n);
}
/** n's 32 bits as an unsigned decimal number (pass `u | 0` for an unsigned value). */
export function printUnsigned(n: number): void {
  unsignedTo(0, n);
}
/** `0x` then 8 hex digits. */
export function printHex(n: number): void {
  hexTo(0, n, 8);
}
/** buf[off .. off+len), clamped to the array. */
export function printBytes(buf: Uint8Array, off: number, len: number): void {
  bytesTo(0, buf, off, len);
}
/** Spaces until `width` characters have been printed since `from` (a count the caller kept), at least one. */
export function pad(printed: number, width: number): void {
  let n = printed;
  do {
    putTo(0, 32);
    n++;
  } while (n < width);
}

// fd 2 ------------------------------------------------------------------------------------------

export function eputc(c: number): void {
  putTo(1, c);
}
export function eprint(s: string): void {
  strTo(1, s);
}
export function eprintln(s: string): void {
  strTo(1, s);
  putTo(1, 10);
}
export function eprintNum(n: number): void {
  numTo(1, n);
}
export function eprintBytes(buf: Uint8Array, off: number, len: number): void {
  bytesTo(1, buf, off, len);
}

/** The number of characters printNum(n) prints. */
export function numWidth(n: number): number {
  let v = n < 0 ? n : -n;
  let w = n < 0 ? 1 : 0;
  do {
    w++;
    v = (v / 10) | 0;
  } while (v !== 0);
  return w;
}

// fd 0 ------------------------------------------------------------------------------------------

const IN_BUF = 256;
/** Bytes read from fd 0 and not yet returned: inBuf[inStart .. inEnd). */
const inBuf = new Uint8Array(IN_BUF);
let inStart = 0;
let inEnd = 0;
let inEof = false;

let tooLong = false;

/**
 * Read one line from fd 0 into buf, without its newline (a '\r' before it is dropped too): its
 * length, or -1 at the end of input (a last line without a newline is returned first), or the
 * read's -errno. The bytes of a line past buf.length are read and dropped: lineTooLong() says so.
 */
export function readLine(buf: Uint8Array): number {
  let n = 0;
  tooLong = false;
  for (;;) {
    while (inStart < inEnd) {
      const c = inBuf[inStart];
      inStart++;
      if (c === 10) {
        if (n > 0 && buf[n - 1] === 13) n--;
        return n;
      }
      if (n < buf.length) {
        buf[n] = c;
        n++;
      } else {
        tooLong = true;
      }
    }
    if (inEof) return n > 0 || tooLong ? n : -1;
    const r = syscall(SYS_READ, FD_STDIN, addressOf(inBuf), IN_BUF);
    if (r < 0) return r;
    if (r === 0) inEof = true;
    inStart = 0;
    inEnd = Math.min(r, IN_BUF);
  }
}

/** Whether the last readLine dropped bytes of a line longer than its buffer. */
export function lineTooLong(): boolean {
  return tooLong;
}
