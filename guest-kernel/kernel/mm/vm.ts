/**
 * Task address spaces (xv6's vm.c): a two-level page table per task whose kernel slots are the
 * kernel's and whose user slots [USER_SLOT, USER_END_SLOT), 1 GiB from USER_BASE, name page tables
 * of the task's own. Every change goes through the platform's mmu operations (platform.ts), so
 * the same code runs native (stores, invlpg) and pv (pinned tables, batched mmu_update, a second,
 * user-only directory as Xen's 64-bit PV needs).
 *
 * Space `s` belongs to task slot `s` (proc.ts). Each user page table has a shadow page beside it
 * holding the kernel virtual address of each mapped frame: a page-table entry holds a physical
 * (native) or machine (pv) address, and the kernel needs its own address of the frame to copy
 * into it and to give it back to the page allocator (pv has no machine-to-kernel map: Linux
 * keeps one, the M2P; a shadow per table is simpler).
 *
 * Pointers a task passes to a system call are checked here (vmCheck) against the task's own
 * entries, present, user and writable where the kernel will write, before the kernel touches them.
 */
import { PAGE_SIZE, pageAlloc, pageFree } from './page-alloc.ts';
import {
  mmuBegin,
  mmuEnd,
  mmuFrameOf,
  mmuKernelSpace,
  mmuMakeUserPte,
  mmuSetDirEntry,
  mmuSetTableEntry,
  mmuSpaceDestroy,
  mmuSpaceInit,
  mmuSwitchSpace,
  mmuTableDestroy,
  mmuTableInit,
} from '../platform/platform.ts';
import { PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { USER_BASE } from '../syscall-abi.ts';

/** The first user slot of a directory, and the end of the user slots. */
export const USER_SLOT = USER_BASE >>> 22;
export const USER_END_SLOT = USER_SLOT + 256;
const ENOMEM = -12;
const EINVAL = -22;
/** The highest user address + 1 is 2^31: addresses stay positive int32s. */
const USER_LIMIT = 0x7fffffff;

/** One task's space: its directories, and the page table and shadow of each user slot in use. */
class Space {
  /** Kernel virtual address of the directory (0: no space). */
  dir = 0;
  /** pv's user-only directory (native: 0). */
  udir = 0;
  /** Pages mapped for the task (not counting tables). */
  pages = 0;
  /** Page tables, directories included. */
  tablePages = 0;
  readonly tables = new Int32Array(256);
  readonly shadows = new Int32Array(256);
}

const NSPACE = 16;
const spaces = recordArray(Space, NSPACE);
/** The space in use: a slot, or -1 for the kernel's own (kernel tasks run on whatever is loaded). */
let active = -1;

/** Counters: spaces made and destroyed, pages mapped and unmapped, refused pointer checks. */
export const VM_SPACES = 0;
export const VM_MAPS = 1;
export const VM_UNMAPS = 2;
export const VM_BAD_POINTERS = 3;
export const VM_STAT_COUNT = 4;
const stats = new Int32Array(VM_STAT_COUNT);

export function vmStats(out: Int32Array): void {
  for (let i = 0; i < VM_STAT_COUNT && i < out.length; i++) out[i] = stats[i];
}

/** Undo what vmCreate did when it fails half-way. */
function freeDirs(sp: Space): void {
  if (sp.dir !== 0) pageFree(sp.dir);
  if (sp.udir !== 0) pageFree(sp.udir);
  sp.dir = 0;
  sp.udir = 0;
}

/** Give slot `s` a fresh, empty space. 0, or -ENOMEM. */
export function vmCreate(s: number): number {
  const sp = spaces[s];
  sp.pages = 0;
  sp.tablePages = 0;
  sp.dir = pageAlloc();
  // pv needs the user-only directory; native ignores it, but taking the page in both builds
  // keeps the two builds' page counts, and so their transcripts, the same.
  sp.udir = pageAlloc();
  if (sp.dir === 0 || sp.udir === 0) {
    freeDirs(sp);
    return ENOMEM;
  }
  if (mmuSpaceInit(sp.dir, sp.udir, USER_SLOT, USER_END_SLOT) < 0) {
    freeDirs(sp);
    return ENOMEM;
  }
  sp.tablePages = 2;
  for (let i = 0; i < 256; i++) {
    sp.tables[i] = 0;
    sp.shadows[i] = 0;
  }
  stats[VM_SPACES]++;
  return 0;
}

export function vmHasSpace(s: number): boolean {
  return spaces[s].dir !== 0;
}

/** Load space `s` (a user task about to run); nothing if it is loaded already. */
export function vmActivate(s: number): void {
  if (active === s) return;
  const sp = spaces[s];
  mmuSwitchSpace(sp.dir, sp.udir);
  active = s;
}

/** Back to the kernel's own space (before the loaded one is destroyed). */
function activateKernel(): void {
  if (active === -1) return;
  mmuSwitchSpace(mmuKernelSpace(), 0);
  active = -1;
}

/** The page table of user slot index i (0..255), made on first use; 0 when out of memory. */
function tableFor(sp: Space, i: number): number {
  if (sp.tables[i] !== 0) return sp.tables[i];
  const table = pageAlloc();
  const shadow = pageAlloc();
  if (table === 0 || shadow === 0 || mmuTableInit(table) < 0) {
    if (table !== 0) pageFree(table);
    if (shadow !== 0) pageFree(shadow);
    return 0;
  }
  mmuSetDirEntry(sp.dir, sp.udir, USER_SLOT + i, table);
  sp.tables[i] = table;
  sp.shadows[i] = shadow;
  sp.tablePages += 2;
  return table;
}

/** Whether `va` is a page-aligned user address. */
function userPage(va: number): boolean {
  return va >= USER_BASE && (va & (PAGE_SIZE - 1)) === 0;
}

/**
 * Map a fresh zeroed page at user address `va` (page-aligned, not mapped yet) in space `s`; the
 * kernel's address of the new frame (to fill it), or 0 (out of memory, or a bad or mapped va).
 * Call between mmuBegin and mmuEnd to send a run of them as one batch on pv.
 */
export function vmMap(s: number, va: number, writable: boolean): number {
  if (!userPage(va)) return 0;
  const sp = spaces[s];
  const i = (va >>> 22) - USER_SLOT;
  const table = tableFor(sp, i);
  if (table === 0) return 0;
  const index = (va >>> 12) & 1023;
  if (load32(sp.shadows[i] + index * 4) !== 0) return 0;
  const frame = pageAlloc();
  if (frame === 0) return 0;
  mmuSetTableEntry(table, index, mmuMakeUserPte(mmuFrameOf(frame), writable), active === s ? va : -1);
  store32(sp.shadows[i] + index * 4, frame);
  sp.pages++;
  stats[VM_MAPS]++;
  return frame;
}

/** Unmap the page at `va` and free its frame. 0, or -EINVAL when it is not mapped. */
export function vmUnmap(s: number, va: number): number {
  if (!userPage(va)) return EINVAL;
  const sp = spaces[s];
  const i = (va >>> 22) - USER_SLOT;
  if (sp.tables[i] === 0) return EINVAL;
  const index = (va >>> 12) & 1023;
  const frame = load32(sp.shadows[i] + index * 4);
  if (frame === 0) return EINVAL;
  mmuSetTableEntry(sp.tables[i], index, 0, active === s ? va : -1);
  store32(sp.shadows[i] + index * 4, 0);
  pageFree(frame);
  sp.pages--;
  stats[VM_UNMAPS]++;
  return 0;
}

/** Whether `va` is mapped in space `s`. */
export function vmMapped(s: number, va: number): boolean {
  if (va < USER_BASE) return false;
  const sp = spaces[s];
  const i = (va >>> 22) - USER_SLOT;
  if (sp.tables[i] === 0) return false;
  return load32(sp.shadows[i] + ((va >>> 12) & 1023) * 4) !== 0;
}

/**
 * May the kernel read (or, with `write`, write) [va, va + len) on behalf of the task of space
 * `s`? Every page must be mapped present and user (and writable) in the task's own tables: a
 * pointer into the kernel, to an unmapped page or past the user range is refused, never followed.
 * `len` must be checked against its limit first (it is at most 2^31 - 1 here).
 */
export function vmCheck(s: number, va: number, len: number, write: boolean): boolean {
  if (len < 0 || va < USER_BASE || va > USER_LIMIT - len) {
    stats[VM_BAD_POINTERS]++;
    return false;
  }
  if (len === 0) return true;
  const sp = spaces[s];
  const need = PTE_P | PTE_U | (write ? PTE_W : 0);
  const last = (va + len - 1) & ~(PAGE_SIZE - 1);
  for (let page = va & ~(PAGE_SIZE - 1); page <= last; page += PAGE_SIZE) {
    const table = sp.tables[(page >>> 22) - USER_SLOT];
    if (table === 0 || (load32(table + ((page >>> 12) & 1023) * 4) & need) !== need) {
      stats[VM_BAD_POINTERS]++;
      return false;
    }
    if (page === last) break; // the last page of the range may be the last of the user range
  }
  return true;
}

/** Pages mapped for the task of space `s`, and page-table pages (directories included). */
export function vmPages(s: number): number {
  return spaces[s].pages;
}

export function vmTablePages(s: number): number {
  return spaces[s].tablePages;
}

/**
 * Destroy space `s`: every frame and table back to the page allocator (xv6's freevm). The task no
 * longer runs; if its space is still loaded (a kernel task borrowed it), the kernel's is loaded
 * first, since a directory in use cannot be unpinned.
 */
export function vmDestroy(s: number): void {
  const sp = spaces[s];
  if (sp.dir === 0) return;
  if (active === s) activateKernel();
  mmuBegin();
  for (let i = 0; i < 256; i++) {
    if (sp.tables[i] !== 0) mmuSetDirEntry(sp.dir, sp.udir, USER_SLOT + i, 0);
  }
  mmuEnd();
  for (let i = 0; i < 256; i++) {
    const table = sp.tables[i];
    if (table === 0) continue;
    // Unpinning drops the table's references to its frames; then they can be reused.
    mmuTableDestroy(table);
    const shadow = sp.shadows[i];
    for (let k = 0; k < 1024; k++) {
      const frame = load32(shadow + k * 4);
      if (frame !== 0) pageFree(frame);
    }
    pageFree(table);
    pageFree(shadow);
    sp.tables[i] = 0;
    sp.shadows[i] = 0;
  }
  mmuSpaceDestroy(sp.dir, sp.udir);
  freeDirs(sp);
  sp.pages = 0;
  sp.tablePages = 0;
}
