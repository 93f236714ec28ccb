/**
 * The second-level table of `hw` mode (Intel's EPT, AMD's NPT): guest-physical frame to machine
 * frame, in the same two-level format as the guest's tables, in the monitor's area of machine
 * memory where no guest address reaches. The MMU walks it after the guest's own table
 * (machine/mmu.ts, `translateNested`) and caches it in a TLB of its own.
 *
 * It is filled lazily, as KVM fills its EPT: every directory entry that covers guest RAM points to
 * a table from the start, but a table entry appears only when the guest first touches the frame
 * and the MMU exits with an EPT violation. Those exits are invisible to the guest, the
 * counterpart of shadow paging's hidden faults, and there is one per guest page touched, not one
 * per guest page-table change. Entries exist only for frames inside the guest's RAM: that, and
 * the MMU's own check of guest-physical addresses against the guest's memory size, is the
 * isolation.
 */
import { PAGE_SHIFT, PAGE_SIZE, PTE_FRAME_MASK, PTE_P, PTE_W } from '../../abi/isa.ts';
import type { VmMemory } from './layout.ts';

const ENTRIES = 1024;

export class NestedTable {
  /** Machine address of the directory (mmu.nptbr). */
  readonly root: number;
  /** Entries filled so far. */
  mapped = 0;

  /** Bytes of monitor memory a table for `ramBytes` of guest memory needs. */
  static bytesFor(ramBytes: number): number {
    return PAGE_SIZE * (1 + Math.ceil(ramBytes / PAGE_SIZE / ENTRIES));
  }

  /** Build the directory at machine address `at` and its tables right after it. */
  constructor(
    private readonly vm: VmMemory,
    at: number,
  ) {
    this.root = at;
    const i32 = vm.machine.i32;
    const tables = Math.ceil(vm.frames / ENTRIES);
    i32.fill(0, at >>> 2, (at + NestedTable.bytesFor(vm.size)) >>> 2);
    for (let t = 0; t < tables; t++) i32[(at >>> 2) + t] = (at + PAGE_SIZE * (1 + t)) | PTE_P | PTE_W;
  }

  /** Map guest frame `gfn` to its machine frame (after an EPT violation). */
  map(gfn: number): void {
    if (!Number.isInteger(gfn) || gfn < 0 || gfn >= this.vm.frames) {
      throw new Error(`vmm: nested fault on guest frame 0x${gfn.toString(16)} outside guest RAM (host bug: the MMU checks the guest's memory size first)`);
    }
    const i32 = this.vm.machine.i32;
    const pde = i32[(this.root >>> 2) + (gfn >>> 10)]!;
    const slot = ((pde & PTE_FRAME_MASK) >>> 2) + (gfn & (ENTRIES - 1));
    if (!(i32[slot]! & PTE_P)) this.mapped++;
    i32[slot] = (this.vm.base + (gfn << PAGE_SHIFT)) | PTE_P | PTE_W;
  }

  /**
   * Invariants, for tests: every present entry maps a frame of the guest's RAM, every table is
   * in the monitor area. Returns what is wrong, empty when nothing is.
   */
  audit(): string[] {
    const out: string[] = [];
    const i32 = this.vm.machine.i32;
    const { base, frames } = this.vm;
    for (let d = 0; d < ENTRIES; d++) {
      const pde = i32[(this.root >>> 2) + d]!;
      if (!(pde & PTE_P)) continue;
      const table = (pde & PTE_FRAME_MASK) >>> 0;
      if (table >= base) out.push(`nested directory entry ${d} points outside the monitor area (0x${table.toString(16)})`);
      if (d * ENTRIES >= frames) out.push(`nested directory entry ${d} covers no guest RAM`);
      for (let e = 0; e < ENTRIES; e++) {
        const pte = i32[(table >>> 2) + e]!;
        if (!(pte & PTE_P)) continue;
        const frame = (pte & PTE_FRAME_MASK) >>> 0;
        const gfn = d * ENTRIES + e;
        if (frame !== base + gfn * PAGE_SIZE) out.push(`nested entry for guest frame 0x${gfn.toString(16)} maps machine 0x${frame.toString(16)}`);
      }
    }
    return out;
  }
}
