/**
 * The machine frame table: who owns each frame of machine memory and what it is used as, as
 * Xen's struct page_info with its type and reference counts. This is what makes direct paging
 * safe: a guest's page tables hold machine frames and the CPU walks them as they are, so every
 * entry must name a frame the guest may reach, and no page-table page may ever be writable
 * through any mapping (or the guest could rewrite its own page tables unchecked).
 *
 * Invariants kept by every operation here:
 * - a present entry of a pinned table names a frame its domain owns, or a frame granted to it
 *   (grant-table.ts), never a free frame or a hypervisor frame;
 * - a frame typed L1 or L2 has no writable mapping (writable[f] === 0);
 * - a present directory entry of a pinned L2 names a pinned L1 of the same domain;
 * - counts (refs, writable, l1Refs) equal what the pinned tables actually contain.
 * Types change only through pin and unpin, so a batch of entry updates can be validated in full
 * before any of it is applied (mmu_update is all-or-nothing, stricter than Xen).
 */
import { PAGE_SHIFT, PTE_P, PTE_W } from '../../abi/isa.ts';
import * as E from '../../abi/errors.ts';
import type { PhysicalMemory } from '../machine/memory.ts';

export const enum FrameType {
  None = 0,
  L1 = 1,
  L2 = 2,
}

/** Owner value of a free frame; of a frame the hypervisor keeps for itself. */
export const FREE = 0;
export const HYPERVISOR = -1;

/** The result of a frame-table operation: 0 or a negative error code for the guest. */
export type Status = number;

export class FrameTable {
  readonly count: number;
  /** Owner of each frame: FREE, HYPERVISOR, or domain id + 1. */
  readonly owner: Int32Array;
  readonly type: Uint8Array;
  /** Present entries in pinned L1 tables that map this frame. */
  readonly refs: Int32Array;
  /** Of those, the writable ones. */
  readonly writable: Int32Array;
  /** Present entries in pinned L2 tables that name this L1. */
  readonly l1Refs: Int32Array;
  /** References the hypervisor holds (shared-info page, grant table, a vcpu's base pointer). */
  readonly hvRefs: Int32Array;

  constructor(readonly mem: PhysicalMemory) {
    this.count = mem.frames;
    this.owner = new Int32Array(this.count);
    this.type = new Uint8Array(this.count);
    this.refs = new Int32Array(this.count);
    this.writable = new Int32Array(this.count);
    this.l1Refs = new Int32Array(this.count);
    this.hvRefs = new Int32Array(this.count);
  }

  ownedBy(f: number, domid: number): boolean {
    return f >= 0 && f < this.count && this.owner[f] === domid + 1;
  }

  /**
   * Lowest free frames first, so allocation is deterministic. Returns null when short. A free
   * frame is all zeros already (machine memory starts zeroed and `free` scrubs), so nothing is
   * written here: a 1 GiB domain would otherwise touch every page of the host's memory at boot.
   */
  allocate(n: number, owner: number): number[] | null {
    const got: number[] = [];
    for (let f = 0; f < this.count && got.length < n; f++) if (this.owner[f] === FREE) got.push(f);
    if (got.length < n) return null;
    for (const f of got) this.owner[f] = owner;
    return got;
  }

  /** Give frames back: the caller checked that nothing references them. Scrubbed on the way out. */
  free(frames: readonly number[]): void {
    for (const f of frames) {
      this.mem.u8.fill(0, f << PAGE_SHIFT, (f + 1) << PAGE_SHIFT);
      this.owner[f] = FREE;
      this.type[f] = FrameType.None;
    }
  }

  /** May frame f be given back by domain d? */
  releasable(f: number, domid: number): Status {
    if (!this.ownedBy(f, domid)) return -E.EPERM;
    if (this.type[f] !== FrameType.None || this.refs[f]! > 0 || this.hvRefs[f]! > 0) return -E.EBUSY;
    return 0;
  }

  private entry(tableFrame: number, i: number): number {
    return this.mem.i32[(tableFrame << (PAGE_SHIFT - 2)) + i]!;
  }

  /**
   * May entry value `val` stand in an L1 table of domain `domid`? `allowForeign` is for the
   * hypervisor's own grant mappings, whose frames belong to the granter.
   */
  checkL1Entry(val: number, domid: number, allowForeign = false): Status {
    if (!(val & PTE_P)) return 0;
    const f = val >>> PAGE_SHIFT;
    if (f >= this.count) return -E.EINVAL;
    if (!allowForeign && !this.ownedBy(f, domid)) return -E.EPERM;
    if (val & PTE_W && this.type[f] !== FrameType.None) return -E.EPERM; // a page table, writable
    return 0;
  }

  /**
   * May entry value `val` stand in L2 table `table` of domain `domid`? Besides pinned L1s, a
   * directory may name itself read-only: a linear page table (Xen's, and the classic self-map),
   * through which the guest reads every entry of its page tables at PV_LINEAR_PT_VA.
   */
  checkL2Entry(val: number, domid: number, table: number): Status {
    if (!(val & PTE_P)) return 0;
    const f = val >>> PAGE_SHIFT;
    if (!this.ownedBy(f, domid)) return -E.EPERM;
    if (f === table) return val & PTE_W ? -E.EPERM : 0;
    if (this.type[f] !== FrameType.L1) return -E.EINVAL;
    return 0;
  }

  /**
   * Account for `val` entering (delta +1) or leaving (-1) pinned table `table` of type `t`.
   * A directory's read-only entry naming itself (the linear page table) holds no reference.
   */
  account(t: FrameType, val: number, delta: number, table: number): void {
    if (!(val & PTE_P)) return;
    const f = val >>> PAGE_SHIFT;
    if (t === FrameType.L2 && f === table) return;
    if (t === FrameType.L1) {
      this.refs[f]! += delta;
      if (val & PTE_W) this.writable[f]! += delta;
    } else {
      this.l1Refs[f]! += delta;
    }
  }

  /** Validate frame f as a table of type t for domain d and pin it. */
  pin(f: number, t: FrameType.L1 | FrameType.L2, domid: number): Status {
    if (!this.ownedBy(f, domid)) return -E.EPERM;
    if (this.type[f] !== FrameType.None) return -E.EEXIST;
    if (this.writable[f]! > 0) return -E.EBUSY; // still mapped writable somewhere: unmap first
    // The hypervisor writes into frames it holds (shared info, grant table): as a page table,
    // those writes would be unchecked page-table entries.
    if (this.hvRefs[f]! > 0) return -E.EBUSY;
    for (let i = 0; i < 1024; i++) {
      const v = this.entry(f, i);
      const s = t === FrameType.L1 ? this.checkL1Entry(v, domid) : this.checkL2Entry(v, domid, f);
      if (s < 0) return s;
      // An L1 that maps itself writable would become a writable page table the moment it is typed.
      if (t === FrameType.L1 && v & PTE_P && v & PTE_W && v >>> PAGE_SHIFT === f) return -E.EPERM;
    }
    this.type[f] = t;
    for (let i = 0; i < 1024; i++) this.account(t, this.entry(f, i), +1, f);
    return 0;
  }

  /** Unpin table f of domain d, when nothing references it. */
  unpin(f: number, domid: number): Status {
    if (!this.ownedBy(f, domid)) return -E.EPERM;
    const t = this.type[f]! as FrameType;
    if (t === FrameType.None) return -E.EINVAL;
    if (this.hvRefs[f]! > 0 || (t === FrameType.L1 && this.l1Refs[f]! > 0)) return -E.EBUSY;
    if (t === FrameType.L1) {
      // Grant mappings live in L1 tables; they must be unmapped through the grant table first.
      for (let i = 0; i < 1024; i++) {
        const v = this.entry(f, i);
        if (v & PTE_P && !this.ownedBy(v >>> PAGE_SHIFT, domid)) return -E.EBUSY;
      }
    }
    for (let i = 0; i < 1024; i++) this.account(t, this.entry(f, i), -1, f);
    this.type[f] = FrameType.None;
    return 0;
  }

  /** Physical address of entry `index` of table `f`. */
  static entryAddr(f: number, index: number): number {
    return (f << PAGE_SHIFT) | (index << 2);
  }
}

