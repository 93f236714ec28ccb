/**
 * Start of day for a paravirtual domain, as Xen's domain builder: allocate the domain's frames,
 * load the image at its linked (guest-virtual) addresses, build the initial page tables, the
 * start-of-day page and the shared-info page, pin the tables through the same checks every later
 * update goes through, and set the vcpu at the entry point with r1 = the start-of-day page.
 * The layout is abi/hypercall-numbers.ts's PV_* constants.
 */
import type { ConsoleSink } from '../devices/console-log.ts';
import { SEG_W, type GuestImage } from '../../abi/image.ts';
import { Cr, PAGE_SHIFT, PAGE_SIZE, PTE_P, PTE_U, PTE_W, REG_SP } from '../../abi/isa.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import { SI_UPCALL_MASK } from '../../abi/shared-info.ts';
import { ABI_MAJOR, ABI_MINOR } from '../../abi/version.ts';
import { Domain } from './domain.ts';
import { FrameTable, FrameType } from './frames.ts';
import { abiRefusal } from '../machine/abi-check.ts';
import type { PvHost } from './pv-host.ts';
import type { VirtioOptions } from './virtio.ts';

export interface BootOptions {
  /** Memory the domain gets at start, in bytes (a multiple of 4 KiB). */
  memoryBytes: number;
  /** Quota for the balloon; default: twice the start size. */
  maxBytes?: number;
  cmdline?: string;
  onConsoleOutput?: ConsoleSink;
  /** Console input, read by the guest with console_io read; its arrival raises VIRQ_CONSOLE. */
  consoleInput?: Uint8Array;
  /** The domain's virtio devices: disk, EVENT_IDX (virtio.ts). */
  virtio?: VirtioOptions;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** Pages of the initial address space: guest-virtual page -> index in the domain's frame list, and flags. */
class Layout {
  readonly pages = new Map<number, { pfn: number; flags: number }>();
  next = 0;

  map(va: number, flags: number): number {
    const vpn = va >>> PAGE_SHIFT;
    const have = this.pages.get(vpn);
    if (have) {
      have.flags |= flags;
      return have.pfn;
    }
    const pfn = this.next++;
    this.pages.set(vpn, { pfn, flags });
    return pfn;
  }
}

export function bootDomain(h: PvHost, id: number, image: GuestImage, opts: BootOptions): Domain | string {
  // The CLI checks these too (hypervisor/run.ts); a host built by hand must not skip them.
  if (image.target !== 'pv') return `image is built for target '${image.target}', a pv domain needs a 'pv' image`;
  const tooNew = abiRefusal(image.abi.major, image.abi.minor);
  if (tooNew) return tooNew;
  // The field holds bytes with a NUL after them: measure the UTF-8, not the string's length.
  const cmd = new TextEncoder().encode(opts.cmdline ?? '');
  if (cmd.length > N.SOD_CMDLINE_MAX - 1) return `the command line is ${cmd.length} bytes of UTF-8, the start-of-day page holds at most ${N.SOD_CMDLINE_MAX - 1}`;
  const nrPages = Math.floor(opts.memoryBytes / PAGE_SIZE);
  const user = PTE_P | PTE_U;
  const lay = new Layout();

  for (const [i, seg] of image.segments.entries()) {
    if (seg.addr < PAGE_SIZE || seg.addr + seg.memSize > N.PV_STACK_TOP - N.PV_STACK_PAGES * PAGE_SIZE) {
      return `segment[${i}] at ${hex(seg.addr)}+${hex(seg.memSize)} is outside the pv image area ${hex(PAGE_SIZE)}..${hex(N.PV_STACK_TOP - N.PV_STACK_PAGES * PAGE_SIZE)}`;
    }
    for (let va = seg.addr & ~(PAGE_SIZE - 1); va < seg.addr + seg.memSize; va += PAGE_SIZE) lay.map(va, user | (seg.flags & SEG_W ? PTE_W : 0));
  }
  for (let p = 1; p <= N.PV_STACK_PAGES; p++) lay.map(N.PV_STACK_TOP - p * PAGE_SIZE, user | PTE_W);
  const startInfo = lay.map(N.PV_START_INFO_VA, user);
  const sharedInfo = lay.map(N.PV_SHARED_INFO_VA, user | PTE_W);
  const frameListPages = Math.ceil((nrPages * 4) / PAGE_SIZE);
  for (let i = 0; i < frameListPages; i++) lay.map(N.PV_FRAME_LIST_VA + i * PAGE_SIZE, user | PTE_W);

  // Page tables: one directory and one L1 per 4 MiB region in use, themselves mapped read-only
  // (in the region of the start-of-day page, which already has its L1).
  const allRegions = [...new Set([...lay.pages.keys()].map((vpn) => vpn >>> 10))].sort((a, b) => a - b);
  const ptVa = (k: number): number => N.PV_PAGE_TABLES_VA + k * PAGE_SIZE;
  const dirPfn = lay.map(ptVa(0), user);
  for (let k = 1; k <= allRegions.length; k++) lay.map(ptVa(k), user);
  if (lay.next > nrPages) return `the image and start-of-day pages need ${lay.next} pages, the domain has ${nrPages} (--memory)`;
  if (opts.maxBytes !== undefined && opts.maxBytes < opts.memoryBytes) return `quota ${opts.maxBytes} is below the start size ${opts.memoryBytes}`;

  const frames = h.frames.allocate(nrPages, id + 1);
  if (!frames) return `not enough machine memory for ${nrPages} pages`;
  const mfn = (pfn: number): number => frames[pfn]!;
  const i32 = h.mem.i32;

  // Load the image through the layout: every byte lands in the frame its page was given.
  for (const seg of image.segments) {
    for (let off = 0; off < seg.data.length; ) {
      const va = seg.addr + off;
      const n = Math.min(seg.data.length - off, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
      const pa = (mfn(lay.pages.get(va >>> PAGE_SHIFT)!.pfn) << PAGE_SHIFT) | (va & (PAGE_SIZE - 1));
      h.mem.u8.set(seg.data.subarray(off, off + n), pa);
      off += n;
    }
  }

  // Fill the L1s and the directory (an L1 per region, in order after the directory).
  const l1ForRegion = new Map<number, number>();
  allRegions.forEach((r, k) => l1ForRegion.set(r, mfn(lay.pages.get(ptVa(k + 1) >>> PAGE_SHIFT)!.pfn)));
  for (const [vpn, { pfn, flags }] of lay.pages) {
    const l1 = l1ForRegion.get(vpn >>> 10)!;
    i32[FrameTable.entryAddr(l1, vpn & 1023) >>> 2] = (mfn(pfn) << PAGE_SHIFT) | flags;
  }
  const dir = mfn(dirPfn);
  for (const [r, l1] of l1ForRegion) i32[FrameTable.entryAddr(dir, r) >>> 2] = (l1 << PAGE_SHIFT) | PTE_P | PTE_W | PTE_U;
  i32[FrameTable.entryAddr(dir, N.PV_LINEAR_PT_VA >>> 22) >>> 2] = (dir << PAGE_SHIFT) | PTE_P | PTE_U;

  const d = new Domain(id, h.mem, mfn(sharedInfo) << PAGE_SHIFT, Math.floor((opts.maxBytes ?? 2 * opts.memoryBytes) / PAGE_SIZE), opts.onConsoleOutput);
  d.pages = nrPages;
  for (const l1 of l1ForRegion.values()) {
    const s = h.frames.pin(l1, FrameType.L1, id);
    if (s < 0) throw new Error(`pv boot: pinning the initial page table ${l1} failed (${s}): a domain-builder bug`);
  }
  const s = h.frames.pin(dir, FrameType.L2, id);
  if (s < 0) throw new Error(`pv boot: pinning the initial directory failed (${s}): a domain-builder bug`);
  h.frames.hvRefs[mfn(sharedInfo)]! += 1;

  // Frame list, start-of-day page, shared-info page.
  for (let pfn = 0; pfn < nrPages; pfn++) {
    const va = N.PV_FRAME_LIST_VA + pfn * 4;
    const page = mfn(lay.pages.get(va >>> PAGE_SHIFT)!.pfn);
    i32[((page << PAGE_SHIFT) | (va & (PAGE_SIZE - 1))) >>> 2] = mfn(pfn);
  }
  const sod = mfn(startInfo) << PAGE_SHIFT;
  const put = (off: number, v: number): void => void (i32[(sod + off) >>> 2] = v | 0);
  put(N.SOD_MAGIC, N.SOD_MAGIC_VALUE);
  put(N.SOD_ABI_VERSION, (ABI_MAJOR << 16) | ABI_MINOR);
  put(N.SOD_DOMID, id);
  put(N.SOD_NR_PAGES, nrPages);
  put(N.SOD_SHARED_INFO, N.PV_SHARED_INFO_VA);
  put(N.SOD_FRAME_LIST, N.PV_FRAME_LIST_VA);
  put(N.SOD_PT_BASE, N.PV_PAGE_TABLES_VA);
  put(N.SOD_PT_BASE_MFN, dir);
  put(N.SOD_FIRST_FREE, lay.next);
  put(N.SOD_MAX_PAGES, d.maxPages);
  h.mem.u8.set(cmd, sod + N.SOD_CMDLINE);
  const consolePort = d.evtchn.allocate();
  d.evtchn.bindVirq(consolePort, N.VIRQ_CONSOLE);
  put(N.SOD_CONSOLE_PORT, consolePort);
  if (opts.consoleInput && opts.consoleInput.length > 0) {
    // All of it arrives before the first instruction: the port is pending from the start and the
    // upcall comes once the guest enables events, as a late-binding Xen guest finds VIRQ_CONSOLE.
    d.consoleInput = opts.consoleInput.slice();
    d.evtchn.setPending(consolePort);
  }
  i32[((mfn(sharedInfo) << PAGE_SHIFT) + SI_UPCALL_MASK) >>> 2] = 1; // events start disabled, as in Xen

  // The vcpu: privilege 3 always, paging on, everything intercepted.
  const cpu = d.cpu;
  cpu.reset(image.entry);
  cpu.setCpl(3);
  cpu.cr[Cr.Ctrl] = 1;
  cpu.mmu.paging = true;
  h.setBase(d, 'kernel', dir);
  cpu.regs[REG_SP] = N.PV_STACK_TOP;
  cpu.regs[1] = N.PV_START_INFO_VA;
  cpu.interceptVectors = -1;
  cpu.interceptSyscall = true;
  cpu.hypercallEnabled = true;
  return d;
}
