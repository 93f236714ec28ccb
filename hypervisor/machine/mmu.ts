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
 *
 * Nested paging (the `hw` mode's second dimension, like EPT/NPT): when `nested` is set, `ptbr`
 * and every entry of the guest's tables hold guest-physical addresses, checked against the
 * guest's own memory size (`guestLimit`, its MAXPHYADDR: beyond it the guest gets the same #PF
 * with the reserved bit the bare machine gives), and each guest-physical access (the directory
 * entry, the table entry, the final frame) is translated to a machine address by a second
 * two-level table at `nptbr`, which the monitor owns, behind a TLB of its own (`nTag`/`nPhys`)
 * that guest TLB flushes leave alone. A missing second-level entry fails with the pseudo-vector
 * VMEXIT_NESTED (an EPT violation) and `faultGpa`. The combined TLB above caches guest-virtual
 * to machine, so the interpreter's fast path is the same in every mode.
 * All of it lives in `translate` and `probe`, the slow paths.
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

/**
 * Pseudo-vector of a nested (second-level) translation fault, an EPT violation: never delivered
 * to a guest; the CPU turns it into a virtualization exit. Above 255, so no real vector collides.
 */
export const VMEXIT_NESTED = 0x101;

/** Entries of the nested TLB (guest frame -> machine frame), direct-mapped. */
export const NTLB_BITS = 8;
const NTLB_MASK = (1 << NTLB_BITS) - 1;

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

  /** Nested paging on: see the file comment. All fields exist from construction (one shape). */
  nested = false;
  /** Machine address of the second-level directory. */
  nptbr = 0;
  /** Guest-physical memory size under nested paging; addresses at or past it are reserved. */
  guestLimit: number;
  readonly nTag = new Int32Array(1 << NTLB_BITS).fill(-1);
  readonly nPhys = new Int32Array(1 << NTLB_BITS);
  /** The guest-physical address of the last nested fault. */
  faultGpa = 0;
  nestedWalks = 0;

  constructor(readonly mem: PhysicalMemory) {
    this.guestLimit = mem.size;
  }

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
    if (this.nested) return this.translateNested(va, access, user);
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

    const pdeAddr = ((this.ptbr & PTE_FRAME_MASK) >>> 0) + ((va >>> 22) << 2);
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
    if (this.nested) return this.probeNested(va);
    va >>>= 0;
    if (!this.paging) return va < this.mem.size ? va : -1;
    const i32 = this.mem.i32;
    const pdeAddr = ((this.ptbr & PTE_FRAME_MASK) >>> 0) + ((va >>> 22) << 2);
    if (pdeAddr >= this.mem.size) return -1;
    const pde = i32[pdeAddr >>> 2]!;
    const table = pde & PTE_FRAME_MASK;
    if (!(pde & PTE_P) || table >>> 0 >= this.mem.size) return -1;
    const pte = i32[(table + (((va >>> PAGE_SHIFT) & 1023) << 2)) >>> 2]!;
    const frame = pte & PTE_FRAME_MASK;
    if (!(pte & PTE_P) || frame >>> 0 >= this.mem.size) return -1;
    return (frame | (va & PAGE_MASK)) >>> 0;
  }

  /** Drop the nested TLB, and the combined entries built from it (the monitor changed `nptbr`'s table: INVEPT). */
  flushNested(): void {
    this.nTag.fill(-1);
    this.flushAll();
  }

  /**
   * The two-dimensional walk: the guest's table, whose every access is itself translated by the
   * second-level table. Same checks, same order, same A/D updates and the same faults as the
   * one-dimensional walk above, with `guestLimit` in place of the memory size.
   */
  private translateNested(va: number, access: number, user: boolean): number {
    va >>>= 0;
    const vpn = va >>> PAGE_SHIFT;
    const i = (user ? TLB_USER_BASE : 0) + (vpn & TLB_MASK);
    const limit = this.guestLimit;
    if (!this.paging) {
      if (va >= limit) return this.fail(Vector.GeneralProtection, 0, va);
      const ma = this.gpaToMachine(va, access, va);
      if (ma < 0) return -1;
      const page = ma & PTE_FRAME_MASK;
      this.rTag[i] = vpn;
      this.rPhys[i] = page;
      this.wTag[i] = vpn;
      this.wPhys[i] = page;
      return ma;
    }
    this.walks++;
    const write = access === ACCESS_WRITE;
    const errBase = (write ? PF_WRITE : 0) | (user ? PF_USER : 0) | (access === ACCESS_FETCH ? PF_FETCH : 0);
    const i32 = this.mem.i32;

    const pdeGpa = ((this.ptbr & PTE_FRAME_MASK) >>> 0) + ((va >>> 22) << 2);
    if (pdeGpa >= limit) return this.fail(Vector.PageFault, errBase | PF_RSVD, va);
    const pdeMa = this.gpaToMachine(pdeGpa, ACCESS_READ, va);
    if (pdeMa < 0) return -1;
    const pde = i32[pdeMa >>> 2]!;
    if (!(pde & PTE_P)) return this.fail(Vector.PageFault, errBase, va);
    const table = pde & PTE_FRAME_MASK;
    if (table >>> 0 >= limit) return this.fail(Vector.PageFault, errBase | PF_RSVD | PF_PRESENT, va);
    const pteMa = this.gpaToMachine(table + (((va >>> PAGE_SHIFT) & 1023) << 2), ACCESS_READ, va);
    if (pteMa < 0) return -1;
    const pte = i32[pteMa >>> 2]!;
    if (!(pte & PTE_P)) return this.fail(Vector.PageFault, errBase, va);
    const frame = pte & PTE_FRAME_MASK;
    if (frame >>> 0 >= limit) return this.fail(Vector.PageFault, errBase | PF_RSVD | PF_PRESENT, va);

    const perms = pde & pte;
    if (user && !(perms & PTE_U)) return this.fail(Vector.PageFault, errBase | PF_PRESENT, va);
    const writable = (perms & PTE_W) !== 0;
    if (write && !writable) return this.fail(Vector.PageFault, errBase | PF_PRESENT, va);

    const frameMa = this.gpaToMachine(frame, access, va);
    if (frameMa < 0) return -1;
    if (!(pde & PTE_A)) i32[pdeMa >>> 2] = pde | PTE_A;
    const newPte = pte | PTE_A | (write ? PTE_D : 0);
    if (newPte !== pte) i32[pteMa >>> 2] = newPte;

    this.rTag[i] = vpn;
    this.rPhys[i] = frameMa;
    if (writable && newPte & PTE_D) {
      this.wTag[i] = vpn;
      this.wPhys[i] = frameMa;
    }
    return frameMa + (va & PAGE_MASK);
  }

  /**
   * Guest-physical to machine through the nested TLB, walking the second-level table on a miss.
   * Returns the machine address, or -1 with VMEXIT_NESTED pending (`faultGpa`, err = access).
   */
  private gpaToMachine(gpa: number, access: number, va: number): number {
    const gfn = gpa >>> PAGE_SHIFT;
    const j = gfn & NTLB_MASK;
    if (this.nTag[j] === gfn) return this.nPhys[j]! + (gpa & PAGE_MASK);
    const ma = this.nestedLookup(gfn);
    if (ma < 0) {
      this.faultGpa = gpa;
      return this.fail(VMEXIT_NESTED, access, va);
    }
    this.nestedWalks++;
    this.nTag[j] = gfn;
    this.nPhys[j] = ma;
    return ma + (gpa & PAGE_MASK);
  }

  /** Machine address of guest frame `gfn` in the second-level table, or -1 when not present. */
  private nestedLookup(gfn: number): number {
    const i32 = this.mem.i32;
    const npde = i32[((this.nptbr >>> 0) + ((gfn >>> 10) << 2)) >>> 2]!;
    if (!(npde & PTE_P)) return -1;
    const npte = i32[(((npde & PTE_FRAME_MASK) >>> 0) + ((gfn & 1023) << 2)) >>> 2]!;
    if (!(npte & PTE_P)) return -1;
    return (npte & PTE_FRAME_MASK) >>> 0;
  }

  /** probe() under nested paging: both walks, no side effects (no A/D, no TLB fill, no fault). */
  private probeNested(va: number): number {
    va >>>= 0;
    const limit = this.guestLimit;
    const toMachine = (gpa: number): number => {
      const ma = this.nestedLookup(gpa >>> PAGE_SHIFT);
      return ma < 0 ? -1 : ma + (gpa & PAGE_MASK);
    };
    if (!this.paging) return va < limit ? toMachine(va) : -1;
    const i32 = this.mem.i32;
    const pdeGpa = ((this.ptbr & PTE_FRAME_MASK) >>> 0) + ((va >>> 22) << 2);
    if (pdeGpa >= limit) return -1;
    const pdeMa = toMachine(pdeGpa);
    if (pdeMa < 0) return -1;
    const pde = i32[pdeMa >>> 2]!;
    const table = pde & PTE_FRAME_MASK;
    if (!(pde & PTE_P) || table >>> 0 >= limit) return -1;
    const pteMa = toMachine(table + (((va >>> PAGE_SHIFT) & 1023) << 2));
    if (pteMa < 0) return -1;
    const pte = i32[pteMa >>> 2]!;
    const frame = pte & PTE_FRAME_MASK;
    if (!(pte & PTE_P) || frame >>> 0 >= limit) return -1;
    return toMachine(frame | (va & PAGE_MASK));
  }

  private fail(vector: number, err: number, va: number): number {
    this.faultVector = vector;
    this.faultErr = err;
    this.faultAddr = va | 0;
    return -1;
  }
}
