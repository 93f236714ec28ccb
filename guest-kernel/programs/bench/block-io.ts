/**
 * Block workload: write BLOCK_BYTES to the disk from sector 0, in runs of 64 KiB (16 requests
 * of 4 KiB), flush, read it all back into a buffer poisoned beforehand, and compare checksums.
 * The word at byte `offset` of the disk is blockWord(offset), so a test can rebuild what the disk
 * must hold. Native: the ATA-style PIO driver (ata.ts), one port access per word; pv: the virtio
 * block front end, one kick per run at most (disk.ts).
 *
 * Prints the two checksums and shuts down with 0 when they match, 1 when they do not, and
 * otherwise with the step that failed: 10 set-up, 11 a disk smaller than BLOCK_BYTES, 12 the
 * flush, 20 a write, 30 a read.
 */
import { print, printHex } from '../../lib/console.ts';
import { diskFlush, diskInit, diskRead, diskSectors, diskWrite } from './disk.ts';
import { BLOCK_BYTES } from './sizes.ts';

const RUN = 64 * 1024;
const PAGE = 4096;
/** The run buffer, page-aligned at run time (static arrays have no particular alignment). */
const store = new Uint8Array(RUN + PAGE);
/** Written over the buffer before each read, so a read that moved nothing cannot match. */
const POISON = 0xdeadbeef;

/** The word the disk holds at byte `offset` (a multiple of 4). */
export function blockWord(offset: number): number {
  return Math.imul(offset ^ 0x5bd1e995, 0x01000193) ^ (offset >>> 7);
}

function mix(sum: number, w: number): number {
  return (Math.imul(sum ^ w, 0x01000193) + 0x3c6ef372) | 0;
}

export function main(): number {
  const buf = (addressOf(store) + PAGE - 1) & ~(PAGE - 1);
  if (diskInit() < 0) return 10;
  if (diskSectors() < BLOCK_BYTES / 512) return 11;

  let written = 0;
  for (let base = 0; base < BLOCK_BYTES; base += RUN) {
    for (let o = 0; o < RUN; o += 4) {
      const w = blockWord(base + o);
      store32(buf + o, w);
      written = mix(written, w);
    }
    if (diskWrite(base / 512, buf, RUN) < 0) return 20;
  }
  if (diskFlush() < 0) return 12;

  let read = 0;
  for (let base = 0; base < BLOCK_BYTES; base += RUN) {
    for (let o = 0; o < RUN; o += 4) store32(buf + o, POISON);
    if (diskRead(base / 512, buf, RUN) < 0) return 30;
    for (let o = 0; o < RUN; o += 4) read = mix(read, load32(buf + o));
  }

  print('block: written ');
  printHex(written);
  print(', read back ');
  printHex(read);
  print('\n');
  return written === read ? 0 : 1;
}
