/**
 * The page allocator's differential test program (test/guest-kernel/page-alloc.test.ts runs it in
 * Node and in every mode, and compares the transcripts).
 *
 * It owns its memory: a static array a page longer than NPAGES pages, aligned at run time. Under
 * Node the test shims addressOf to a page-aligned address of the shim's memory, since every
 * access goes through load32/store32; the transcript therefore names frames by their index
 * from the base, never by address, so that it is the same everywhere.
 */
import {
  FREE_DOUBLE,
  FREE_MISALIGNED,
  FREE_OK,
  FREE_OUT_OF_RANGE,
  INIT_BAD_RANGE,
  PAGE_SIZE,
  STAT_ALLOCS,
  STAT_COUNT,
  STAT_FAILED_ALLOCS,
  STAT_FREE,
  STAT_FREES,
  STAT_REFUSED,
  STAT_TOTAL,
  pageAlloc,
  pageFree,
  pageFreeCount,
  pageInit,
  pageStats,
} from '../page-alloc.ts';

const NPAGES = 16;
const arena = new Uint8Array((NPAGES + 1) * PAGE_SIZE);
const frames = new Int32Array(NPAGES);
const stats = new Int32Array(STAT_COUNT);
let failures = 0;
let base = 0;

function check(ok: boolean, what: string): void {
  if (!ok) {
    failures++;
    console.log('FAIL', what);
  }
}

/** Frame index from the base, for a transcript that does not depend on where the arena lies. */
function index(pa: number): number {
  return (pa - base) >> 12;
}

/** Words of the frame at pa that are not zero. */
function dirtyWords(pa: number): number {
  let n = 0;
  for (let a = pa; a < pa + PAGE_SIZE; a += 4) if (load32(a) !== 0) n++;
  return n;
}

/** Fill the frame at pa with a pattern, as a task's data would. */
function scribble(pa: number, tag: number): void {
  for (let a = pa; a < pa + PAGE_SIZE; a += 4) store32(a, (0x5a000000 | (tag << 12) | (a & 4095)) | 0);
}

function printStats(label: string): void {
  pageStats(stats);
  console.log(label);
  console.log('  free', stats[STAT_FREE], 'total', stats[STAT_TOTAL], 'allocs', stats[STAT_ALLOCS], 'frees', stats[STAT_FREES], 'refused', stats[STAT_REFUSED], 'failed', stats[STAT_FAILED_ALLOCS]);
}

export function main(): number {
  base = (addressOf(arena) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  const top = base + NPAGES * PAGE_SIZE;
  // Dirty the whole arena first, so that zero-fill is tested and not just inherited.
  for (let i = 0; i < NPAGES; i++) scribble(base + i * PAGE_SIZE, 0xee);

  // Ranges: page 0 and beyond 1 GiB are refused, an empty range too, and ends are rounded inwards.
  check(pageInit(0, top) === INIT_BAD_RANGE, 'init from 0');
  check(pageInit(base, 0x40001000) === INIT_BAD_RANGE, 'init past 1 GiB');
  check(pageInit(base, base + 100) === INIT_BAD_RANGE, 'init of less than a page');
  const rounded = pageInit(base + 1, base + 3 * PAGE_SIZE - 1);
  console.log('init rounded inwards:', rounded, 'frame(s), first', index(pageAlloc()));
  check(rounded === 1, 'rounding');

  const n = pageInit(base, top + 123);
  console.log('init:', n, 'frames');
  check(n === NPAGES, 'init count');

  // Allocate until empty: every frame once, ascending, zero-filled.
  let got = 0;
  for (;;) {
    const pa = pageAlloc();
    if (pa === 0) break;
    check((pa & (PAGE_SIZE - 1)) === 0 && pa >= base && pa < top, 'alloc in range');
    const dirty = dirtyWords(pa);
    console.log('alloc frame', index(pa), 'dirty words', dirty);
    check(dirty === 0, 'zero-filled');
    frames[got] = pa;
    got++;
    scribble(pa, got);
  }
  console.log('allocated', got, 'then out of memory; free count', pageFreeCount());
  check(got === NPAGES && pageAlloc() === 0, 'out of memory returns 0 again');
  printStats('stats after exhausting:');

  // Free the even frames; then the refusals, none of which may change anything.
  for (let i = 0; i < NPAGES; i += 2) check(pageFree(frames[i]) === FREE_OK, 'free');
  const double = pageFree(frames[2]);
  const misaligned = pageFree(frames[3] + 4);
  const below = pageFree(base - PAGE_SIZE);
  const above = pageFree(top);
  const zero = pageFree(0);
  const negative = pageFree(-PAGE_SIZE);
  console.log('double', double, 'misaligned', misaligned, 'below', below, 'above', above, 'zero', zero, 'negative', negative);
  check(double === FREE_DOUBLE && misaligned === FREE_MISALIGNED, 'double and misaligned');
  check(below === FREE_OUT_OF_RANGE && above === FREE_OUT_OF_RANGE && zero === FREE_OUT_OF_RANGE && negative === FREE_OUT_OF_RANGE, 'out of range');
  printStats('stats after frees:');

  // Reuse: the freed frames come back (last freed first), zero-filled over the scribbles.
  for (let i = 0; i < NPAGES / 2; i++) {
    const pa = pageAlloc();
    const dirty = dirtyWords(pa);
    console.log('realloc frame', index(pa), 'dirty words', dirty);
    check(pa !== 0 && (index(pa) & 1) === 0 && dirty === 0, 'reuse');
    scribble(pa, 0x77);
  }
  check(pageAlloc() === 0, 'empty again');

  // Give everything back, then check that the list holds each frame exactly once.
  for (let i = 0; i < NPAGES; i++) check(pageFree(base + i * PAGE_SIZE) === FREE_OK, 'free all');
  check(pageFree(base) === FREE_DOUBLE, 'double free after free all');
  let again = 0;
  while (pageAlloc() !== 0) again++;
  console.log('after freeing all, allocated', again, 'again');
  check(again === NPAGES, 'list intact');
  printStats('final stats:');
  console.log(failures === 0 ? 'page allocator: ok' : 'page allocator: FAILED');
  return failures;
}
