/**
 * The MMU: a two-level page walk (x86-style, 4 KiB pages) behind a software TLB.
 *
 * The TLB is direct-mapped and split by access kind and privilege, so that the interpreter's fast
 * path is one tag compare with no permission logic:
 * - read entries (also used for instruction fetch: the machine has no execute-disable bit);
 * - write entries, filled only when the page is writable AND its dirty bit is already set, so the
 *   first write to a clean page still walks and sets D, as hardware does;
 * - one set of both for privilege 0 and one for privilege 3 (`base` selects the set), so a user
 *   access never hits an entry filled for the kernel.
 * A tag is the virtual page number, or -1 for an empty slot (a vpn is 20 bits, never -1).
 *
 * Invalidation is explicit, as on x86: INVLPG drops one page, a PTBR or CTRL write drops all.
 * The guest is responsible for issuing them; a test shows the stale entry without them.
 */
import {
  PAGE_MASK,
  PAGE_SHIFT,
  PF_FETCH,
  PF_PRESENT,
  PF_RSVD,
  PF_USER,
  PF_WRITE,
  PTE_A,
  PTE_D,
  PTE_FRAME_MASK,
  PTE_P,
  PTE_U,
  PTE_W,
  Vector,
} from '../../abi/isa.ts';
import type { PhysicalMemory } from './memory.ts';

export const TLB_BITS = 8;
export const TLB_SET = 1 << TLB_BITS;
export const TLB_MASK = TLB_SET - 1;
/** Offset of the privilege-3 set in the TLB arrays. */
export const TLB_USER_BASE = TLB_SET;

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_FETCH = 2;

export class Mmu {
  readonly rTag = new Int32Array(2 * TLB_SET).fill(-1);
  readonly rPhys = new Int32Array(2 * TLB_SET);
  readonly wTag = new Int32Array(2 * TLB_SET).fill(-1);
  readonly wPhys = new Int32Array(2 * TLB_SET);

  paging = false;
  /** Physical address of the page directory. */
  ptbr = 0;

  /** Set when translate() fails: the vector to raise, its error code and the faulting address. */
  faultVector = 0;
  faultErr = 0;
  faultAddr = 0;

  /** Counters for the run report. */
  walks = 0;

  constructor(readonly mem: PhysicalMemory) {}

  flushAll(): void {
    this.rTag.fill(-1);
    this.wTag.fill(-1);
  }

  flushPage(va: number): void {
    const vpn = va >>> PAGE_SHIFT;
    for (const base of [0, TLB_USER_BASE]) {
      const i = base + (vpn & TLB_MASK);
      if (this.rTag[i] === vpn) this.rTag[i] = -1;
      if (this.wTag[i] === vpn) this.wTag[i] = -1;
    }
  }

  /**
   * Translate `va` for an access at privilege `user ? 3 : 0`; fill the TLB on success.
   * Returns the physical address, or -1 with faultVector/faultErr/faultAddr set.
   */
  translate(va: number, access: number, user: boolean): number {
    va >>>= 0;
    const vpn = va >>> PAGE_SHIFT;
    const base = user ? TLB_USER_BASE : 0;
    const i = base + (vpn & TLB_MASK);
    if (!this.paging) {
      if (va >= this.mem.size) return this.fail(Vector.GeneralProtection, 0, va);
      const page = va & PTE_FRAME_MASK;
      this.rTag[i] = vpn;
      this.rPhys[i] = page;
      this.wTag[i] = vpn;
      this.wPhys[i] = page;
      return va;
    }
    this.walks++;
    const write = access === ACCESS_WRITE;
    const errBase = (write ? PF_WRITE : 0) | (user ? PF_USER : 0) | (access === ACCESS_FETCH ? PF_FETCH : 0);
    const i32 = this.mem.i32;
    const size = this.mem.size;

    const pdeAddr = (this.ptbr & PTE_FRAME_MASK) + ((va >>> 22) << 2);
    if (pdeAddr >= size) return this.fail(Vector.PageFault, errBase | PF_RSVD, va);
    const pde = i32[pdeAddr >>> 2]!;
    if (!(pde & PTE_P)) return this.fail(Vector.PageFault, errBase, va);
    const table = pde & PTE_FRAME_MASK;
    if (table >>> 0 >= size) return this.fail(Vector.PageFault, errBase | PF_RSVD | PF_PRESENT, va);
    const pteAddr = table + (((va >>> PAGE_SHIFT) & 1023) << 2);
    const pte = i32[pteAddr >>> 2]!;
    if (!(pte & PTE_P)) return this.fail(Vector.PageFault, errBase, va);
    const frame = pte & PTE_FRAME_MASK;
    if (frame >>> 0 >= size) return this.fail(Vector.PageFault, errBase | PF_RSVD | PF_PRESENT, va);

    const perms = pde & pte;
    if (user && !(perms & PTE_U)) return this.fail(Vector.PageFault, errBase | PF_PRESENT, va);
    // Supervisor writes honour W too (x86 with CR0.WP set): shadow paging and Xen-style direct
    // paging both depend on write-protecting page-table pages from the guest kernel.
    const writable = (perms & PTE_W) !== 0;
    if (write && !writable) return this.fail(Vector.PageFault, errBase | PF_PRESENT, va);

    if (!(pde & PTE_A)) i32[pdeAddr >>> 2] = pde | PTE_A;
    const newPte = pte | PTE_A | (write ? PTE_D : 0);
    if (newPte !== pte) i32[pteAddr >>> 2] = newPte;

    this.rTag[i] = vpn;
    this.rPhys[i] = frame;
    if (writable && newPte & PTE_D) {
      this.wTag[i] = vpn;
      this.wPhys[i] = frame;
    }
    return (frame | (va & PAGE_MASK)) >>> 0;
  }

  /**
   * Translate without side effects (no A/D bits, no TLB fill, no fault recorded): for traces,
   * debuggers and the monitor. Returns the physical address, or -1.
   */
  probe(va: number): number {
    va >>>= 0;
    if (!this.paging) return va < this.mem.size ? va : -1;
    const i32 = this.mem.i32;
    const pdeAddr = (this.ptbr & PTE_FRAME_MASK) + ((va >>> 22) << 2);
    if (pdeAddr >= this.mem.size) return -1;
    const pde = i32[pdeAddr >>> 2]!;
    const table = pde & PTE_FRAME_MASK;
    if (!(pde & PTE_P) || table >>> 0 >= this.mem.size) return -1;
    const pte = i32[(table + (((va >>> PAGE_SHIFT) & 1023) << 2)) >>> 2]!;
    const frame = pte & PTE_FRAME_MASK;
    if (!(pte & PTE_P) || frame >>> 0 >= this.mem.size) return -1;
    return (frame | (va & PAGE_MASK)) >>> 0;
  }

  private fail(vector: number, err: number, va: number): number {
    this.faultVector = vector;
    this.faultErr = err;
    this.faultAddr = va | 0;
    return -1;
  }
}
