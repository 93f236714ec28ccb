/**
 * The crash test's workload on the real block device, as a list of operations that each change
 * the store in one transaction, shared by the workload (disk-crash-workload.ts, which runs them
 * through file.ts) and the checker (disk-crash-check.ts, which works out the state after each
 * prefix of them). Items 0..2 are files rewritten in place, item 3 a file unlinked and created
 * again. An item's state: -2 absent, -1 empty, v >= 0 its content of version v.
 *
 * The operations: setup, for each item, create (-1) then write version 0; then ROUNDS rounds v =
 * 1..ROUNDS: rewrite items 0, 1, 2 to version v (open with O_TRUNC, one write of at most 32 KiB:
 * one transaction, file.ts), then unlink item 3 (-2), create it (-1), write version v.
 */
import { isPattern, pattern } from './ramdisk.ts';

export const ITEMS = 4;
export const ROUNDS = 6;
export const SETUP_OPS = 2 * ITEMS;
export const ROUND_OPS = 6;
export const NOPS = SETUP_OPS + ROUNDS * ROUND_OPS;

/** Operation k: its item into out[0], the item's new state into out[1]. */
export function opAt(k: number, out: Int32Array): void {
  if (k < SETUP_OPS) {
    out[0] = k >> 1;
    out[1] = (k & 1) === 0 ? -1 : 0;
    return;
  }
  const v = 1 + (((k - SETUP_OPS) / ROUND_OPS) | 0);
  const j = (k - SETUP_OPS) % ROUND_OPS;
  if (j < 3) {
    out[0] = j;
    out[1] = v;
  } else {
    out[0] = 3;
    out[1] = j === 3 ? -2 : j === 4 ? -1 : v;
  }
}

/** The item's file name into name; its length. */
export function itemName(item: number, name: Uint8Array): number {
  name[0] = 102; // 'f'
  name[1] = 48 + item;
  return 2;
}

/** Bytes of version v of item: 200 .. 12,199 (at most CHUNK, so one write is one transaction). */
export function sizeOf(item: number, v: number): number {
  return 200 + ((item * 5113 + v * 12007) % 12000);
}

/** Version v of item into b: v, item, then a pattern of (item, v). Its length. */
export function contentOf(item: number, v: number, b: Uint8Array): number {
  const n = sizeOf(item, v);
  pattern(b, n, item * 64 + v, 0);
  b[0] = v;
  b[1] = item;
  return n;
}

/** The version b[0..n) is of item, or -3 when it is no version of it (a torn or mixed file). */
export function versionOf(item: number, b: Uint8Array, n: number): number {
  if (n === 0) return -1;
  if (n < 2) return -3;
  const v = b[0];
  if (b[1] !== item || v > ROUNDS || n !== sizeOf(item, v)) return -3;
  const first = b[0];
  const second = b[1];
  pattern(b, 2, item * 64 + v, 0);
  const ok = isPattern(b, n, item * 64 + v, 0);
  b[0] = first;
  b[1] = second;
  return ok ? v : -3;
}
