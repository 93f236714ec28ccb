/**
 * The physical page allocator: 4 KiB frames of [start, end), in the style of xv6's kalloc.c.
 *
 * As in xv6, the free frames form a singly linked list threaded through the frames themselves
 * (the first word of a free frame holds the address of the next one, 0 ends the list), so the
 * allocator needs no memory of its own for the list and alloc and free are O(1).
 *
 * What a kernel needs beyond xv6 (which panics on a bad kfree and leaves junk in new pages):
 * - pageAlloc returns 0 when no frame is left, and never faults: the caller decides (a system
 *   call returns an error, a task is killed), not the allocator;
 * - pageFree refuses, with an error code, an address that is not page-aligned, lies outside the
 *   range, or is already free. A double free would put a frame on the list twice, and two owners
 *   would then share it; the bitmap below catches it in O(1);
 * - frames are zero-filled when handed out, so one task never sees what another left there;
 * - counters (free frames, allocations, frees, refused frees) for the statistics call.
 *
 * Addresses are plain numbers, below MAX_PHYS_BYTES (1 GiB), so they stay positive int32s and
 * compare signed. Frame 0 is never managed: 0 is the "no memory" answer.
 */

export const PAGE_SIZE = 4096;
const PAGE_MASK = 4095;
const PAGE_SHIFT = 12;

/** The largest physical memory the allocator manages: 1 GiB. */
export const MAX_PHYS_BYTES = 0x40000000;

/** pageFree: the frame went back on the free list. */
export const FREE_OK = 0;
/** pageFree: the address is not a multiple of PAGE_SIZE. */
export const FREE_MISALIGNED = -1;
/** pageFree: the address is outside [start, end). */
export const FREE_OUT_OF_RANGE = -2;
/** pageFree: the frame is already free (a double free). */
export const FREE_DOUBLE = -3;
/** pageInit: the range is not inside [PAGE_SIZE, MAX_PHYS_BYTES] or holds no whole frame. */
export const INIT_BAD_RANGE = -4;

/** Indexes of pageStats' output. */
export const STAT_FREE = 0;
export const STAT_TOTAL = 1;
export const STAT_ALLOCS = 2;
export const STAT_FREES = 3;
export const STAT_REFUSED = 4;
export const STAT_FAILED_ALLOCS = 5;
export const STAT_COUNT = 6;

/** The allocator's state: one record (xv6's `struct kmem`, without the lock: one CPU). */
class PageAllocator {
  /** The managed range, page-aligned: [start, end). */
  start = 0;
  end = 0;
  /** The first free frame, 0 when none is left. */
  freeHead = 0;
  totalFrames = 0;
  freeFrames = 0;
  allocs = 0;
  frees = 0;
  refusedFrees = 0;
  failedAllocs = 0;
}

const kmem = new PageAllocator();

/**
 * One bit per frame of the largest memory, set while the frame is free: 1 GiB / 4 KiB / 8 =
 * 32 KiB. Indexed by absolute frame number, so it does not depend on where the range starts.
 * Only bits of frames inside the range are ever read (pageFree checks the range first), so
 * pageInit need not clear the others.
 */
const freeMap = new Uint8Array(MAX_PHYS_BYTES / PAGE_SIZE / 8);

function isFree(pa: number): boolean {
  const f = pa >>> PAGE_SHIFT;
  return (freeMap[f >>> 3] & (1 << (f & 7))) !== 0;
}

function markFree(pa: number): void {
  const f = pa >>> PAGE_SHIFT;
  freeMap[f >>> 3] |= 1 << (f & 7);
}

function markUsed(pa: number): void {
  const f = pa >>> PAGE_SHIFT;
  freeMap[f >>> 3] &= ~(1 << (f & 7));
}

/**
 * Manage the frames of [start, end): start rounded up and end down to a page boundary, as xv6's
 * freerange does. Every frame starts free and the counters start at 0. Returns the number of
 * frames, or INIT_BAD_RANGE when the range reaches below PAGE_SIZE (address 0 means "none") or
 * above MAX_PHYS_BYTES, or holds no whole frame. Calling it again starts over on a new range.
 */
export function pageInit(start: number, end: number): number {
  if (start < PAGE_SIZE || end > MAX_PHYS_BYTES) return INIT_BAD_RANGE;
  const lo = (start + PAGE_MASK) & ~PAGE_MASK;
  const hi = end & ~PAGE_MASK;
  if (lo >= hi) return INIT_BAD_RANGE;
  kmem.start = lo;
  kmem.end = hi;
  kmem.freeHead = 0;
  kmem.allocs = 0;
  kmem.frees = 0;
  kmem.refusedFrees = 0;
  kmem.failedAllocs = 0;
  // Push from the top down, so that the list hands frames out in ascending order: the lowest
  // first, which keeps early allocations (and a test's transcript) predictable.
  for (let pa = hi - PAGE_SIZE; pa >= lo; pa -= PAGE_SIZE) {
    store32(pa, kmem.freeHead);
    kmem.freeHead = pa;
    markFree(pa);
  }
  kmem.totalFrames = (hi - lo) >>> PAGE_SHIFT;
  kmem.freeFrames = kmem.totalFrames;
  return kmem.totalFrames;
}

/** A zero-filled frame, its physical address; 0 when none is free (counted, never a fault). */
export function pageAlloc(): number {
  const pa = kmem.freeHead;
  if (pa === 0) {
    kmem.failedAllocs++;
    return 0;
  }
  kmem.freeHead = load32(pa);
  markUsed(pa);
  kmem.freeFrames--;
  kmem.allocs++;
  // Zero the whole frame, the link word included: the previous owner's data must not leak.
  for (let a = pa; a < pa + PAGE_SIZE; a += 16) {
    store32(a, 0);
    store32(a + 4, 0);
    store32(a + 8, 0);
    store32(a + 12, 0);
  }
  return pa;
}

/**
 * Give frame `pa` back. Returns FREE_OK, or refuses (counted, nothing changed) with
 * FREE_MISALIGNED, FREE_OUT_OF_RANGE or FREE_DOUBLE; xv6 would panic, but a kernel that frees on
 * behalf of a task (unmap) must survive the task's mistakes.
 */
export function pageFree(pa: number): number {
  let err = FREE_OK;
  if ((pa & PAGE_MASK) !== 0) err = FREE_MISALIGNED;
  else if (pa < kmem.start || pa >= kmem.end) err = FREE_OUT_OF_RANGE;
  else if (isFree(pa)) err = FREE_DOUBLE;
  if (err !== FREE_OK) {
    kmem.refusedFrees++;
    return err;
  }
  store32(pa, kmem.freeHead);
  kmem.freeHead = pa;
  markFree(pa);
  kmem.freeFrames++;
  kmem.frees++;
  return FREE_OK;
}

/** Free frames now: what a caller checks before a multi-page operation it cannot undo. */
export function pageFreeCount(): number {
  return kmem.freeFrames;
}

/** The counters, into out[STAT_FREE .. STAT_COUNT - 1] (out needs STAT_COUNT elements). */
export function pageStats(out: Int32Array): void {
  out[STAT_FREE] = kmem.freeFrames;
  out[STAT_TOTAL] = kmem.totalFrames;
  out[STAT_ALLOCS] = kmem.allocs;
  out[STAT_FREES] = kmem.frees;
  out[STAT_REFUSED] = kmem.refusedFrees;
  out[STAT_FAILED_ALLOCS] = kmem.failedAllocs;
}
