/**
 * Byte strings: a Uint8Array with an explicit length (and often an offset), since the subset has
 * no string values but literals. Compare with a literal, parse a decimal number, split into
 * words, copy.
 */

/** What parseDec returns for text that is not a decimal int32. */
export const NOT_A_NUMBER = -2147483648;

/** Whether buf[off .. off+len) holds exactly the bytes of the literal s. */
export function eqLit(buf: Uint8Array, off: number, len: number, s: string): boolean {
  if (len !== s.length || off < 0 || off + len > buf.length) return false;
  for (let i = 0; i < len; i++) if (buf[off + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Whether a[aOff .. aOff+aLen) and b[bOff .. bOff+bLen) hold the same bytes. */
export function eqBytes(a: Uint8Array, aOff: number, aLen: number, b: Uint8Array, bOff: number, bLen: number): boolean {
  if (aLen !== bLen || aOff < 0 || bOff < 0 || aOff + aLen > a.length || bOff + bLen > b.length) return false;
  for (let i = 0; i < aLen; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/**
 * The decimal number in buf[off .. off+len): an optional '-' then 1 to 10 digits, within int32;
 * NOT_A_NUMBER otherwise (including for "-2147483648" itself).
 */
export function parseDec(buf: Uint8Array, off: number, len: number): number {
  if (len <= 0 || off < 0 || off + len > buf.length) return NOT_A_NUMBER;
  let i = off;
  const end = off + len;
  const negative = buf[i] === 45;
  if (negative) i++;
  if (i === end || end - i > 10) return NOT_A_NUMBER;
  let v = 0;
  for (; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NOT_A_NUMBER;
    if (v > 214748364 || (v === 214748364 && d > 7)) return NOT_A_NUMBER;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

/** Whether c separates words (space, tab, newline, carriage return). */
export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Split buf[0 .. len) into words separated by spaces: word k is buf[starts[k] .. starts[k]+lens[k]).
 * The number of words, at most starts.length (and lens.length); further words are dropped.
 */
export function splitWords(buf: Uint8Array, len: number, starts: Int32Array, lens: Int32Array): number {
  const max = Math.min(starts.length, lens.length);
  const end = Math.min(len, buf.length);
  let n = 0;
  let i = 0;
  while (i < end && n < max) {
    while (i < end && isSpace(buf[i])) i++;
    if (i === end) break;
    const start = i;
    while (i < end && !isSpace(buf[i])) i++;
    starts[n] = start;
    lens[n] = i - start;
    n++;
  }
  return n;
}

/** Copy src[srcOff .. srcOff+n) to dst[dstOff ..], clamped to both arrays: the bytes copied. */
export function copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): number {
  if (dstOff < 0 || srcOff < 0) return 0;
  const m = Math.min(n, dst.length - dstOff, src.length - srcOff);
  for (let i = 0; i < m; i++) dst[dstOff + i] = src[srcOff + i];
  return m < 0 ? 0 : m;
}

/** Copy the literal s to dst[dstOff ..], clamped: the bytes copied. */
export function copyLit(dst: Uint8Array, dstOff: number, s: string): number {
  if (dstOff < 0) return 0;
  const m = Math.min(s.length, dst.length - dstOff);
  for (let i = 0; i < m; i++) dst[dstOff + i] = s.charCodeAt(i);
  return m < 0 ? 0 : m;
}

/** The decimal digits of n (n >= 0) into dst[dstOff ..]: the bytes written (0 when they do not fit). */
export function putDec(dst: Uint8Array, dstOff: number, n: number): number {
  let w = 1;
  for (let v = n; v >= 10; v = (v / 10) | 0) w++;
  if (n < 0 || dstOff < 0 || dstOff + w > dst.length) return 0;
  let v = n;
  for (let i = w - 1; i >= 0; i--) {
    dst[dstOff + i] = 48 + (v % 10);
    v = (v / 10) | 0;
  }
  return w;
}
