/**
 * copy_from_guest / copy_to_guest: the hypervisor reading and writing a domain's memory by
 * guest-virtual address, through the domain's own page tables and with the guest's own
 * permissions (present, user, and writable for writes), as Xen's copy_*_guest. A buffer may
 * cross pages; every page is checked before any byte moves, so a failed copy changes nothing.
 * The walk has no side effects (no accessed/dirty bits, no TLB fill).
 */
import { PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, PTE_FRAME_MASK, PTE_P, PTE_U, PTE_W } from '../../abi/isa.ts';
import type { PhysicalMemory } from '../machine/memory.ts';

export class GuestAccess {
  constructor(
    private readonly mem: PhysicalMemory,
    /** Machine address of the directory of the address space to use (the vcpu's current one). */
    private readonly ptbr: () => number,
  ) {}

  /** Machine address for guest-virtual `va`, or -1 when the guest itself could not make the access. */
  translate(va: number, write: boolean): number {
    va >>>= 0;
    const i32 = this.mem.i32;
    const need = PTE_P | PTE_U | (write ? PTE_W : 0);
    const pde = i32[((this.ptbr() & PTE_FRAME_MASK) >>> 2) + (va >>> 22)]!;
    if ((pde & need) !== need || (pde & PTE_FRAME_MASK) >>> 0 >= this.mem.size) return -1;
    const pte = i32[((pde & PTE_FRAME_MASK) >>> 2) + ((va >>> PAGE_SHIFT) & 1023)]!;
    if ((pte & need) !== need || (pte & PTE_FRAME_MASK) >>> 0 >= this.mem.size) return -1;
    return ((pte & PTE_FRAME_MASK) | (va & PAGE_MASK)) >>> 0;
  }

  /** Machine addresses of each page piece of [va, va+len), or null if any page is not accessible. */
  private pieces(va: number, len: number, write: boolean): Array<[number, number]> | null {
    const out: Array<[number, number]> = [];
    let v = va >>> 0;
    let left = len;
    if (v + len > 0x100000000) return null;
    while (left > 0) {
      const pa = this.translate(v, write);
      if (pa < 0) return null;
      const n = Math.min(left, PAGE_SIZE - (v & PAGE_MASK));
      out.push([pa, n]);
      v += n;
      left -= n;
    }
    return out;
  }

  read(va: number, len: number): Uint8Array | null {
    if ((va & PAGE_MASK) + len <= PAGE_SIZE) {
      // Within one page (almost every hypercall argument): one walk, one copy.
      const pa = this.translate(va, false);
      return pa < 0 ? null : this.mem.u8.slice(pa, pa + len);
    }
    const ps = this.pieces(va, len, false);
    if (!ps) return null;
    const out = new Uint8Array(len);
    let o = 0;
    for (const [pa, n] of ps) {
      out.set(this.mem.u8.subarray(pa, pa + n), o);
      o += n;
    }
    return out;
  }

  /** True when the whole range is writable by the guest (check before changing other state). */
  writable(va: number, len: number): boolean {
    return this.pieces(va, len, true) !== null;
  }

  write(va: number, data: Uint8Array): boolean {
    const ps = this.pieces(va, data.length, true);
    if (!ps) return false;
    let o = 0;
    for (const [pa, n] of ps) {
      this.mem.u8.set(data.subarray(o, o + n), pa);
      o += n;
    }
    return true;
  }

  readU32(va: number): number | null {
    if (va & 3) return null;
    const pa = this.translate(va, false);
    return pa < 0 ? null : this.mem.i32[pa >>> 2]! >>> 0;
  }

  writeU32(va: number, value: number): boolean {
    if (va & 3) return false;
    const pa = this.translate(va, true);
    if (pa < 0) return false;
    this.mem.i32[pa >>> 2] = value | 0;
    return true;
  }

  /**
   * `n` consecutive u32 words from va into `out` (from index 0), without allocating: the hot
   * paths (mmu_update batches, iret frames) read into a buffer they keep. False, with `out`
   * partly written, when va is unaligned or any page is not readable by the guest.
   */
  readWordsInto(va: number, n: number, out: Uint32Array): boolean {
    if (va & 3 || n > out.length) return false;
    va >>>= 0;
    if (va + n * 4 > 0x100000000) return false;
    const i32 = this.mem.i32;
    let o = 0;
    while (o < n) {
      const pa = this.translate(va, false);
      if (pa < 0) return false;
      const k = Math.min(n - o, (PAGE_SIZE - (va & PAGE_MASK)) >>> 2);
      const w = pa >>> 2;
      for (let i = 0; i < k; i++) out[o + i] = i32[w + i]!;
      o += k;
      va += k * 4;
    }
    return true;
  }

  /** `n` consecutive u32 words from va, in a new array, or null (cold paths; see readWordsInto). */
  readWords(va: number, n: number): Uint32Array | null {
    const out = new Uint32Array(n);
    return this.readWordsInto(va, n, out) ? out : null;
  }
}
