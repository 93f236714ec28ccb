/**
 * The guest's page walk done in software by the monitor (trap mode): the guest's two-level tables,
 * in guest-physical memory, walked with exactly the checks, faults and accessed/dirty updates of
 * the hardware walker in machine/mmu.ts, but bounded by the guest's memory size instead of the
 * machine's. It is what the guest would see on the bare machine; the shadow tables are built
 * from its answers.
 *
 * Addresses: `va` is guest-virtual, results are guest-physical. The guest's memory starts at
 * machine address `base`; every guest-physical address is checked against `limit` before it is
 * turned into a machine address, so no guest entry can reach the monitor's memory.
 */
import { PAGE_MASK, PAGE_SHIFT, PF_FETCH, PF_PRESENT, PF_RSVD, PF_USER, PF_WRITE, PTE_A, PTE_D, PTE_FRAME_MASK, PTE_P, PTE_U, PTE_W, Vector } from '../../abi/isa.ts';
import { ACCESS_FETCH, ACCESS_WRITE } from '../machine/mmu.ts';
import type { GuestFault } from './vcpu.ts';

export class GuestWalker {
  /** The guest's CTRL.PG and PTBR (guest-physical). */
  paging = false;
  ptbr = 0;
  readonly fault: GuestFault = { vector: 0, err: 0, addr: 0 };
  /** Of the last successful translate: the guest frame of the page table used (-1 with paging off)... */
  tableGfn = -1;
  /** ...and whether a mapping of it may be writable: W at both levels and D already set (or paging off). */
  writable = false;

  constructor(
    private readonly i32: Int32Array,
    /** Machine address of guest-physical 0. */
    private readonly base: number,
    /** Guest memory size: guest-physical addresses at or past it do not exist. */
    private readonly limit: number,
  ) {}

  /** Guest-physical address of `va` for `access` at privilege `user ? 3 : 0`, or -1 with `fault` set. */
  translate(va: number, access: number, user: boolean): number {
    va >>>= 0;
    const limit = this.limit;
    if (!this.paging) {
      if (va >= limit) return this.fail(Vector.GeneralProtection, 0, va);
      this.tableGfn = -1;
      this.writable = true;
      return va;
    }
    const write = access === ACCESS_WRITE;
    const errBase = (write ? PF_WRITE : 0) | (user ? PF_USER : 0) | (access === ACCESS_FETCH ? PF_FETCH : 0);
    const i32 = this.i32;
    const base = this.base;

    const pdeAddr = ((this.ptbr & PTE_FRAME_MASK) >>> 0) + ((va >>> 22) << 2);
    if (pdeAddr >= limit) return this.fail(Vector.PageFault, errBase | PF_RSVD, va);
    const pde = i32[(base + pdeAddr) >>> 2]!;
    if (!(pde & PTE_P)) return this.fail(Vector.PageFault, errBase, va);
    const table = pde & PTE_FRAME_MASK;
    if (table >>> 0 >= limit) return this.fail(Vector.PageFault, errBase | PF_RSVD | PF_PRESENT, va);
    const pteAddr = table + (((va >>> PAGE_SHIFT) & 1023) << 2);
    const pte = i32[(base + pteAddr) >>> 2]!;
    if (!(pte & PTE_P)) return this.fail(Vector.PageFault, errBase, va);
    const frame = pte & PTE_FRAME_MASK;
    if (frame >>> 0 >= limit) return this.fail(Vector.PageFault, errBase | PF_RSVD | PF_PRESENT, va);

    const perms = pde & pte;
    if (user && !(perms & PTE_U)) return this.fail(Vector.PageFault, errBase | PF_PRESENT, va);
    const writable = (perms & PTE_W) !== 0;
    if (write && !writable) return this.fail(Vector.PageFault, errBase | PF_PRESENT, va);

    if (!(pde & PTE_A)) i32[(base + pdeAddr) >>> 2] = pde | PTE_A;
    const newPte = pte | PTE_A | (write ? PTE_D : 0);
    if (newPte !== pte) i32[(base + pteAddr) >>> 2] = newPte;
    this.tableGfn = table >>> PAGE_SHIFT;
    this.writable = writable && (newPte & PTE_D) !== 0;
    return (frame | (va & PAGE_MASK)) >>> 0;
  }

  /** translate() without side effects (no A/D, no fault recorded): for traces and decoding. */
  peek(va: number): number {
    va >>>= 0;
    const limit = this.limit;
    if (!this.paging) return va < limit ? va : -1;
    const i32 = this.i32;
    const pdeAddr = ((this.ptbr & PTE_FRAME_MASK) >>> 0) + ((va >>> 22) << 2);
    if (pdeAddr >= limit) return -1;
    const pde = i32[(this.base + pdeAddr) >>> 2]!;
    const table = pde & PTE_FRAME_MASK;
    if (!(pde & PTE_P) || table >>> 0 >= limit) return -1;
    const pte = i32[(this.base + table + (((va >>> PAGE_SHIFT) & 1023) << 2)) >>> 2]!;
    const frame = pte & PTE_FRAME_MASK;
    if (!(pte & PTE_P) || frame >>> 0 >= limit) return -1;
    return (frame | (va & PAGE_MASK)) >>> 0;
  }

  private fail(vector: number, err: number, va: number): number {
    this.fault.vector = vector;
    this.fault.err = err;
    this.fault.addr = va | 0;
    return -1;
  }
}
