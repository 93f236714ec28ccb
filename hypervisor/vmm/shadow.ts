/**
 * Shadow page tables (trap mode; the binary translator will reuse them): the tables the real MMU
 * walks, built by the monitor from the guest's own tables, in the monitor's area of machine
 * memory. They map guest-virtual addresses straight to machine frames of the guest's RAM.
 *
 * - One shadow address space per guest directory and guest privilege ("view"): the guest kernel
 *   and its user tasks both run at real privilege 3, so the kernel view maps everything the guest
 *   kernel may touch, and the user view only what the guest's tables allow at privilege 3. A
 *   change of guest privilege or of the guest's PTBR switches spaces (and flushes the real TLB);
 *   spaces are kept, so switching back is cheap. Guest paging off has an identity space.
 * - Filled lazily: a real page fault that the guest's own tables would not give is a hidden fault
 *   (`shadow-fill`): the monitor walks the guest's tables (guest-walk.ts, which also sets the
 *   guest's accessed and dirty bits), installs the entry and resumes; the guest never knows. A
 *   fault the guest's tables do give is reflected to the guest (`page-fault`).
 * - Kept coherent by write protection, as VMware's and KVM's shadow MMUs: every guest frame in use
 *   as a directory or table of a shadowed space is mapped read-only in every shadow, so a guest
 *   write to its own page tables faults (`ptemod`); the monitor emulates the store and drops the
 *   shadow entries built from the changed word, so the next access refills them. A frame stops
 *   being protected when no shadow uses it any more; its read-only mappings are upgraded lazily on
 *   the next write fault.
 * - A shadow entry is writable only when the guest's is writable AND already dirty, so the first
 *   guest write to a page faults and the monitor sets the guest's D bit, as the hardware would.
 * - The pool of shadow frames is fixed; when it runs out every shadow is dropped and rebuilt on
 *   demand (KVM zaps all shadow pages the same way).
 *
 * Every entry the monitor writes points into the guest's RAM (a guest-physical address checked by
 * the walker against the guest's memory size, plus the RAM's machine base), so no guest entry can
 * make a shadow reach monitor memory. `audit()` checks that, and the write protection, in tests.
 */
import { PAGE_SHIFT, PAGE_SIZE, PTE_A, PTE_D, PTE_FRAME_MASK, PTE_P, PTE_U, PTE_W } from '../../abi/isa.ts';
import { ACCESS_WRITE, type Mmu } from '../machine/mmu.ts';
import type { GuestWalker } from './guest-walk.ts';
import type { VmMemory } from './layout.ts';

const ENTRIES = 1024;
/** Shadow directory entries grant everything; the leaf entry carries the combined permissions. */
const SHADOW_PDE = PTE_P | PTE_W | PTE_U | PTE_A;
/** Every shadow leaf is user-accessible (the guest always runs at real privilege 3), accessed and dirty. */
const SHADOW_PTE = PTE_P | PTE_U | PTE_A | PTE_D;

interface Space {
  /** guest directory frame * 2 + view (1 = user), or -1 for paging off. */
  readonly key: number;
  readonly rootGfn: number;
  /** Machine address of the shadow directory. */
  readonly pd: number;
  /** Per directory index: the shadow table's machine address (0: none) and the guest table it shadows. */
  readonly pt: Int32Array;
  readonly ptGfn: Int32Array;
}

/** A guest frame used as a directory (index -1) or as the table at directory index `index` of a space. */
interface Use {
  space: Space;
  index: number;
}

export const enum Fill {
  /** The shadow entry is in place: resume the guest at the same instruction. */
  Filled = 0,
  /** The guest's own tables fault: reflect walker.fault to the guest. */
  GuestFault = 1,
  /** A write to a protected page-table frame: emulate it (`lastGpa`). */
  PageTableWrite = 2,
}

export class ShadowPaging {
  private readonly spaces = new Map<number, Space>();
  private current: Space | null = null;
  private readonly free: number[] = [];
  /** Guest frames in use as page tables of some shadow, and where. */
  private readonly users = new Map<number, Use[]>();
  /**
   * Shadow leaf slots (i32 indices) that have mapped a guest frame writable, by guest frame;
   * checked lazily. A set, because a guest that keeps dropping and refilling one page (INVLPG, a
   * ptemod) refills the same slot: an array would grow by one entry per fill for ever.
   */
  private readonly writers = new Map<number, Set<number>>();
  /** The guest-physical address of the last fill's translation. */
  lastGpa = 0;
  /** Times the pool ran out and every shadow was dropped. */
  resets = 0;

  constructor(
    private readonly vm: VmMemory,
    private readonly mmu: Mmu,
    private readonly walker: GuestWalker,
    /** The pool: `frames` frames from machine address `at`, all inside the monitor area. */
    private readonly at: number,
    private readonly frames: number,
  ) {
    this.reset();
    this.resets = 0;
  }

  /** Bytes of monitor memory a pool of `frames` shadow frames takes. */
  static bytesFor(frames: number): number {
    return frames * PAGE_SIZE;
  }

  /** Make the real MMU use the shadow of the guest's current paging state, for view `user`. */
  activate(user: boolean): void {
    const w = this.walker;
    const key = w.paging ? (w.ptbr >>> PAGE_SHIFT) * 2 + (user ? 1 : 0) : -1;
    if (this.current?.key === key) return;
    this.load(this.spaces.get(key) ?? this.createSpace(key, w.paging ? w.ptbr >>> PAGE_SHIFT : -1));
  }

  /** True when guest frame `gfn` is a page table of some shadow (so writes to it must be emulated). */
  isProtected(gfn: number): boolean {
    return this.users.has(gfn);
  }

  /**
   * The real MMU faulted at guest-virtual `gva` for `access` in the current space, the guest
   * being at privilege `user ? 3 : 0`: walk the guest's tables and fill the shadow, or say why not.
   */
  fill(gva: number, access: number, user: boolean): Fill {
    const gpa = this.walker.translate(gva, access, user);
    if (gpa < 0) return Fill.GuestFault;
    this.lastGpa = gpa;
    const gfn = gpa >>> PAGE_SHIFT;
    if (access === ACCESS_WRITE && this.users.has(gfn)) return Fill.PageTableWrite;
    this.install(gva >>> 0, gfn, this.walker.tableGfn, this.walker.writable);
    return Fill.Filled;
  }

  /** The word at guest-physical `gpa` of a protected frame changed: drop what was built from it. */
  pageTableWritten(gpa: number): void {
    const list = this.users.get(gpa >>> PAGE_SHIFT);
    if (!list) return;
    const idx = (gpa & (PAGE_SIZE - 1)) >>> 2;
    for (const u of list.slice()) {
      if (u.index < 0) this.zapPde(u.space, idx);
      else this.zapPte(u.space, u.index, idx);
    }
  }

  /** INVLPG: drop the shadow entries of `gva` in both views of the current directory. */
  invlpg(gva: number): void {
    const cur = this.current;
    if (cur) {
      const pdi = gva >>> 22;
      const idx = (gva >>> PAGE_SHIFT) & (ENTRIES - 1);
      if (cur.key < 0) this.zapPte(cur, pdi, idx);
      else {
        const k = cur.key & ~1;
        for (const key of [k, k + 1]) {
          const s = this.spaces.get(key);
          if (s) this.zapPte(s, pdi, idx);
        }
      }
    }
    this.mmu.flushPage(gva);
  }

  /**
   * Invariants, for tests: shadow tables live in the pool, every leaf maps a frame of the guest's
   * RAM, no leaf maps a protected page-table frame writable, and the real MMU uses the current
   * shadow. Returns what is wrong, empty when nothing is.
   */
  audit(): string[] {
    const out: string[] = [];
    const i32 = this.vm.machine.i32;
    const inPool = (ma: number): boolean => ma >= this.at && ma < this.at + this.frames * PAGE_SIZE && ma % PAGE_SIZE === 0;
    const lo = this.vm.base;
    const hi = this.vm.base + this.vm.size;
    if (this.current && this.mmu.ptbr !== this.current.pd) out.push('the real MMU does not use the current shadow');
    for (const s of this.spaces.values()) {
      if (!inPool(s.pd)) out.push(`space ${s.key}: directory outside the pool`);
      for (let d = 0; d < ENTRIES; d++) {
        const pde = i32[(s.pd >>> 2) + d]!;
        if (!(pde & PTE_P)) continue;
        const table = (pde & PTE_FRAME_MASK) >>> 0;
        if (!inPool(table) || table !== s.pt[d]) out.push(`space ${s.key}: directory entry ${d} -> 0x${table.toString(16)} is not its shadow table`);
        for (let e = 0; e < ENTRIES; e++) {
          const pte = i32[(table >>> 2) + e]!;
          if (!(pte & PTE_P)) continue;
          const frame = (pte & PTE_FRAME_MASK) >>> 0;
          if (frame < lo || frame >= hi) out.push(`space ${s.key}: entry ${d}/${e} maps machine 0x${frame.toString(16)} outside guest RAM`);
          else if (pte & PTE_W && this.users.has((frame - lo) >>> PAGE_SHIFT)) out.push(`space ${s.key}: entry ${d}/${e} maps a guest page table writable`);
        }
      }
    }
    return out;
  }

  private load(s: Space): void {
    this.current = s;
    this.mmu.ptbr = s.pd;
    this.mmu.flushAll();
  }

  private createSpace(key: number, rootGfn: number): Space {
    let pd = this.alloc();
    if (pd < 0) {
      this.reset();
      pd = this.alloc();
    }
    const s: Space = { key, rootGfn, pd, pt: new Int32Array(ENTRIES), ptGfn: new Int32Array(ENTRIES).fill(-1) };
    this.spaces.set(key, s);
    if (rootGfn >= 0 && rootGfn < this.vm.frames) this.protect(rootGfn, s, -1);
    return s;
  }

  private install(gva: number, gfn: number, tableGfn: number, writable: boolean): void {
    const i32 = this.vm.machine.i32;
    let s = this.current!;
    const pdi = gva >>> 22;
    if (s.pt[pdi] !== 0 && s.ptGfn[pdi] !== tableGfn) this.zapPde(s, pdi);
    if (s.pt[pdi] === 0) {
      let pt = this.alloc();
      if (pt < 0) {
        // Out of shadow frames: drop everything, rebuild the current space, go on.
        const { key, rootGfn } = s;
        this.reset();
        s = this.createSpace(key, rootGfn);
        this.load(s);
        pt = this.alloc();
      }
      s.pt[pdi] = pt;
      s.ptGfn[pdi] = tableGfn;
      i32[(s.pd >>> 2) + pdi] = pt | SHADOW_PDE;
      if (tableGfn >= 0 && tableGfn < this.vm.frames) this.protect(tableGfn, s, pdi);
    }
    const w = writable && !this.users.has(gfn);
    const slot = (s.pt[pdi]! >>> 2) + ((gva >>> PAGE_SHIFT) & (ENTRIES - 1));
    i32[slot] = (this.vm.base + (gfn << PAGE_SHIFT)) | SHADOW_PTE | (w ? PTE_W : 0);
    if (w) {
      const set = this.writers.get(gfn);
      if (set) set.add(slot);
      else this.writers.set(gfn, new Set([slot]));
    }
  }

  /** Guest frame `gfn` is now a page table of space `s` (at `index`, -1: its directory). */
  private protect(gfn: number, s: Space, index: number): void {
    const list = this.users.get(gfn);
    if (list) {
      list.push({ space: s, index });
      return;
    }
    this.users.set(gfn, [{ space: s, index }]);
    // Newly protected: no shadow may keep mapping it writable.
    const slots = this.writers.get(gfn);
    if (!slots) return;
    this.writers.delete(gfn);
    const i32 = this.vm.machine.i32;
    const frame = this.vm.base + (gfn << PAGE_SHIFT);
    let changed = false;
    for (const slot of slots) {
      const e = i32[slot]!;
      if (e & PTE_P && e & PTE_W && (e & PTE_FRAME_MASK) >>> 0 === frame) {
        i32[slot] = e & ~PTE_W;
        changed = true;
      }
    }
    if (changed) this.mmu.flushAll();
  }

  private unprotect(gfn: number, s: Space, index: number): void {
    const list = this.users.get(gfn);
    if (!list) return;
    const i = list.findIndex((u) => u.space === s && u.index === index);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.users.delete(gfn);
  }

  private zapPte(s: Space, pdi: number, idx: number): void {
    const pt = s.pt[pdi]!;
    if (pt === 0) return;
    this.vm.machine.i32[(pt >>> 2) + idx] = 0;
    if (s === this.current) this.mmu.flushPage((pdi << 22) | (idx << PAGE_SHIFT));
  }

  private zapPde(s: Space, pdi: number): void {
    const pt = s.pt[pdi]!;
    if (pt === 0) return;
    const g = s.ptGfn[pdi]!;
    if (g >= 0) this.unprotect(g, s, pdi);
    this.vm.machine.i32[(s.pd >>> 2) + pdi] = 0;
    s.pt[pdi] = 0;
    s.ptGfn[pdi] = -1;
    this.free.push(pt);
    if (s === this.current) this.mmu.flushAll();
  }

  private alloc(): number {
    const ma = this.free.pop();
    if (ma === undefined) return -1;
    this.vm.machine.i32.fill(0, ma >>> 2, (ma + PAGE_SIZE) >>> 2);
    return ma;
  }

  private reset(): void {
    this.spaces.clear();
    this.users.clear();
    this.writers.clear();
    this.current = null;
    this.free.length = 0;
    for (let f = this.frames - 1; f >= 0; f--) this.free.push(this.at + f * PAGE_SIZE);
    this.resets++;
  }
}
