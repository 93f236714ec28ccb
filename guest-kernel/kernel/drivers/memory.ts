/**
 * Memory for the virtio drivers of a pv domain: machine addresses, and page-aligned storage.
 *
 * A device reads and writes the domain's memory by MACHINE address (abi/ring.ts), so every
 * address a driver puts in a ring is translated through the read-only linear page table that the
 * hypervisor maps at PV_LINEAR_PT_VA: the entry that maps `va` is the word at
 * PV_LINEAR_PT_VA + (va >>> 12) * 4. Consecutive virtual pages need not be consecutive frames,
 * so anything the device must see as one piece (a ring part, an indirect table, one buffer
 * descriptor) is kept inside one page, and longer buffers are split at page boundaries
 * (virtqueue.ts chainAdd).
 *
 * Storage: the compiler gives module-level typed arrays static storage with no particular
 * alignment, so a pool is one array a page longer than it needs, aligned at run time, and
 * handed out page by page (never freed: drivers set up once, and a reset reuses what a queue
 * already has).
 */
import { PV_LINEAR_PT_VA } from '../../../abi/hypercall-numbers.ts';

export const PAGE_SIZE = 4096;
export const PAGE_MASK = 4095;

/** Pages for rings and indirect tables: one page per queue, and Q * 256 bytes for indirect tables. */
const POOL_PAGES = 40;
const pool = new Uint8Array((POOL_PAGES + 1) * PAGE_SIZE);
let poolUsed = 0;

/** The machine address of guest-virtual `va` (mapped, or the result is meaningless). */
export function machineAddr(va: number): number {
  return (load32(PV_LINEAR_PT_VA + (va >>> 12) * 4) & ~PAGE_MASK) | (va & PAGE_MASK);
}

/** The first page boundary at or above `va`. */
export function pageAlign(va: number): number {
  return (va + PAGE_MASK) & ~PAGE_MASK;
}

/** `n` zeroed, page-aligned pages from the pool, or 0 when it is spent. */
export function allocPages(n: number): number {
  if (poolUsed + n > POOL_PAGES) return 0;
  const va = pageAlign(addressOf(pool)) + poolUsed * PAGE_SIZE;
  poolUsed += n;
  return va;
}

/** Zero `len` bytes at `va` (both multiples of 4). */
export function zeroWords(va: number, len: number): void {
  for (let o = 0; o < len; o += 4) store32(va + o, 0);
}

/** Copy `len` bytes from `src` to `dst` (words while both are aligned, then bytes). */
export function copyBytes(dst: number, src: number, len: number): void {
  let o = 0;
  if (((dst | src) & 3) === 0) {
    for (; o + 4 <= len; o += 4) store32(dst + o, load32(src + o));
  }
  for (; o < len; o++) store8(dst + o, load8(src + o));
}
