/**
 * A RAM disk for the file store's test programs: a static array of sectors, and sector operations
 * that copy. It can simulate a crash: after `crashAfter` writes every further write is dropped,
 * as if the machine stopped there (the store's in-memory state is then thrown away by a fresh
 * mount, as a reboot would).
 */
import { fsAttach } from '../log.ts';

export const DISK_SECTORS = 4096; // 2 MiB
export const disk = new Uint8Array(DISK_SECTORS * 512);

class RamState {
  writes = 0;
  /** Writes allowed before the simulated crash; -1 for never. */
  crashAfter = -1;
}
export const ram = new RamState();

function ramRead(sector: number, buf: Uint8Array): number {
  if (sector < 0 || sector >= DISK_SECTORS) return -5;
  const base = sector * 512;
  for (let i = 0; i < 512; i++) buf[i] = disk[base + i];
  return 0;
}

function ramWrite(sector: number, buf: Uint8Array): number {
  if (sector < 0 || sector >= DISK_SECTORS) return -5;
  ram.writes++;
  if (ram.crashAfter >= 0 && ram.writes > ram.crashAfter) return 0;
  const base = sector * 512;
  for (let i = 0; i < 512; i++) disk[base + i] = buf[i];
  return 0;
}

/** Attach the RAM disk (what the platform layer does with the real device at boot). */
export function attachRamDisk(): void {
  fsAttach(ramRead, ramWrite, DISK_SECTORS);
}

/** Copy a string literal's bytes into out; its length. */
export function nameOf(s: string, out: Uint8Array): number {
  for (let i = 0; i < out.length; i++) out[i] = 0;
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return s.length;
}

/** Fill b[0..len) with a pattern of (seed, position): what the tests write and expect back. */
export function pattern(b: Uint8Array, len: number, seed: number, from: number): void {
  for (let i = 0; i < len; i++) b[i] = (Math.imul(from + i, 31) + seed * 7 + ((from + i) >> 9)) & 255;
}

/** Whether b[0..len) holds pattern(seed) from byte `from`. */
export function isPattern(b: Uint8Array, len: number, seed: number, from: number): boolean {
  for (let i = 0; i < len; i++) if (b[i] !== ((Math.imul(from + i, 31) + seed * 7 + ((from + i) >> 9)) & 255)) return false;
  return true;
}
