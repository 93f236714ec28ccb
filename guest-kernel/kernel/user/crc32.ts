/**
 * crc32 [N=65536]: the CRC-32 (IEEE 802.3, zlib's) of N bytes of a fixed pattern (patternByte);
 * prints `crc32: N bytes 0x........`. crc32Pattern is pure: Node gives the same value.
 */
import { benchCount } from './lib/bench.ts';
import { print, printHex, printNum, println } from './lib/io.ts';

const crcTable = new Uint32Array(256);
let crcReady = false;

function crcInit(): void {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c;
  }
  crcReady = true;
}

/** Byte i of the input. */
export function patternByte(i: number): number {
  return (Math.imul(i, 7) + (i >>> 8) + 3) & 255;
}

/** CRC-32 of patternByte(0 .. n-1), as int32 bits (`>>> 0` for the unsigned value). */
export function crc32Pattern(n: number): number {
  if (!crcReady) crcInit();
  let c = -1;
  for (let i = 0; i < n; i++) c = crcTable[(c ^ patternByte(i)) & 255] ^ (c >>> 8);
  return c ^ -1;
}

export function main(): number {
  const n = benchCount('crc32', 65536, 1 << 30);
  if (n < 0) return 2;
  print('crc32: ');
  printNum(n);
  print(' bytes ');
  printHex(crc32Pattern(n));
  println('');
  return 0;
}
