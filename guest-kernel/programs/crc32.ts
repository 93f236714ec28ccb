/** CRC-32 (IEEE 802.3, reflected, as zlib) of a static buffer, table-driven. */
import { print, printHex, putc } from '../lib/console.ts';

const table = new Int32Array(256);
const buffer = new Uint8Array(16384);

function makeTable(): void {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
}

function crc32(buf: Uint8Array, length: number): number {
  let crc = -1;
  for (let i = 0; i < length; i++) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return crc ^ -1;
}

function fill(): void {
  let x = 1;
  for (let i = 0; i < buffer.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    buffer[i] = x >>> 24;
  }
}

const CHECK = '123456789';
const check = new Uint8Array(9);

export function main(): number {
  makeTable();
  for (let i = 0; i < CHECK.length; i++) check[i] = CHECK.charCodeAt(i);
  print('crc32("123456789") = ');
  printHex(crc32(check, 9));
  putc(10);
  fill();
  let crc = 0;
  for (let round = 0; round < 4; round++) crc = crc32(buffer, buffer.length) ^ crc;
  print('crc32 of 16 KiB, 4 rounds xored = ');
  printHex(crc);
  putc(10);
  return (crc32(check, 9) >>> 0) === 0xcbf43926 ? 0 : 1;
}
