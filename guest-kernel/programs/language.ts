/**
 * The language a kernel is written in: local typed arrays (in the stack frame, fresh on every
 * call and every loop iteration), Uint32Array, for...of, Math.min/max/abs/clz32/sign, default
 * parameters, more than six parameters, and console.log, all printing what Node prints.
 */

/** CRC-32 lookup table: its entries go past 2^31, so they are unsigned. */
const crcTable = new Uint32Array(256);
const message = new Uint8Array([116, 115, 118, 105, 115, 111, 114]); // "tsvisor"
const samples = new Int32Array([12, -7, 0, 2147483647, -2147483647, 99, -1, 64]);

function makeCrcTable(): void {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c;
  }
}

function crc32(bytes: Uint8Array): number {
  let crc = -1;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return crc ^ -1;
}

/** Decimal digits of a non-negative number, built in a local buffer: how many there are. */
function digitCount(v: number, base = 10): number {
  const digits = new Uint8Array(12);
  let at = digits.length;
  do {
    at--;
    digits[at] = 48 + (v % base);
    v = (v / base) | 0;
  } while (v > 0);
  let n = 0;
  for (const d of digits) if (d !== 0) n++;
  return n;
}

/** Merge sort with a scratch array in each frame: recursion keeps one per level. */
function sortRange(a: Int32Array, lo: number, hi: number): void {
  if (hi - lo < 2) return;
  const mid = (lo + hi) >> 1;
  sortRange(a, lo, mid);
  sortRange(a, mid, hi);
  const scratch = new Int32Array(16);
  let i = lo;
  let j = mid;
  let k = 0;
  while (i < mid || j < hi) {
    if (j >= hi || (i < mid && a[i] <= a[j])) scratch[k++] = a[i++];
    else scratch[k++] = a[j++];
  }
  for (let m = 0; m < k; m++) a[lo + m] = scratch[m];
}

/** A free-page bitmap: the first free page is found with Math.clz32 on the complement. */
function firstFree(map: Uint32Array): number {
  let index = 0;
  for (const word of map) {
    if (word !== 0xffffffff) return index * 32 + Math.clz32(~word);
    index++;
  }
  return -1;
}

/** Ten parameters: the last four travel on the stack. */
function weigh(a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number): number {
  return (a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j) | 0;
}

/** Seven parameters rotated on each recursive call. */
function rotate(n: number, a: number, b: number, c: number, d: number, e: number, f: number): number {
  if (n === 0) return (a * 100000 + b * 10000 + c * 1000 + d * 100 + e * 10 + f) | 0;
  return rotate(n - 1, b, c, d, e, f, a);
}

function clamp(x: number, lo = 0, hi = 255): number {
  return Math.max(lo, Math.min(x, hi));
}

export function main(): number {
  makeCrcTable();
  const crc = crc32(message) >>> 0;
  console.log('crc32 of tsvisor:', crc, crc > 2147483647, crcTable[255]);
  const top = crcTable[128]; // 0xedb88320: above 2^31, compared and divided unsigned
  console.log('table', top, top > crcTable[1], (top / 16) | 0, top % 1000, Math.max(top, crcTable[255]), Math.clz32(top));

  for (const s of samples) {
    console.log('sample', s, Math.abs(s), Math.sign(s), Math.clz32(s), clamp(s), clamp(s, -10), clamp(s, -10, 10));
  }
  console.log('min/max', Math.min(3, -4, 9), Math.max(3, -4, 9), Math.min(samples[3], samples[4]), Math.max(0));

  const data = new Int32Array([5, -3, 17, 0, 2, 2, -8, 11, 4, 9]);
  sortRange(data, 0, data.length);
  let line = 0;
  for (const x of data) line = (line * 31 + x) | 0;
  console.log('sorted', data[0], data[4], data[9], 'hash', line);

  const pages = new Uint32Array([0xffffffff, 0xffffffff, 0xfff0ffff, 0]);
  console.log('first free page', firstFree(pages), 'of', pages.length * 32);

  let sizes = 0;
  for (let round = 0; round < 3; round++) {
    const fresh = new Uint16Array(4); // zero again on every iteration
    fresh[round] += 1000 + round;
    sizes += fresh[0] + fresh[1] + fresh[2] + fresh[3];
  }
  console.log('digits', digitCount(2147483647), digitCount(0), digitCount(255, 16), 'fresh', sizes);

  console.log('weigh', weigh(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), weigh(weigh(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), 0, 0, 0, 0, 0, 0, 0, clamp(300), -1));
  console.log('rotate', rotate(3, 1, 2, 3, 4, 5, 6), rotate(13, 1, 2, 3, 4, 5, 6));
  return (crc & 0x7f) + firstFree(pages);
}
