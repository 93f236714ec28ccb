/**
 * RingMemory over a PhysicalMemory (machine memory), with a predicate saying which ranges the
 * device may touch. Tests use it with a region or with no restriction; the pv layer uses it
 * with a predicate over the frame table: every frame of the range owned by the domain and, for
 * a write, not a page table (a device write must not change a pinned table behind the
 * hypervisor's back).
 */
import type { MachineAddr } from '../../machine/addr.ts';
import type { PhysicalMemory } from '../../machine/memory.ts';
import type { RingMemory } from './virtqueue.ts';

/**
 * Copies up to this many bytes go byte by byte: descriptors (16), request headers, status bytes
 * then allocate nothing. TypedArray.set has no source offset, so a longer copy needs a view of
 * one side: one short-lived object per buffer segment, which the copy itself outweighs (a byte
 * loop is several times slower than set() from 128 bytes up on Node 20).
 */
const SHORT_COPY = 64;

/** May the device touch [addr, addr+len) (len > 0, inside memory)? Called once per access. */
export type RangePredicate = (addr: number, len: number, write: boolean) => boolean;

export class PhysicalRingMemory implements RingMemory {
  constructor(
    readonly mem: PhysicalMemory,
    private readonly allowed: RangePredicate = () => true,
  ) {}

  check(addr: MachineAddr, len: number, write: boolean): boolean {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > this.mem.size) return false;
    return len === 0 || this.allowed(addr, len, write);
  }

  readU16(addr: MachineAddr): number | null {
    if (!this.check(addr, 2, false)) return null;
    const b = this.mem.u8;
    return b[addr]! | (b[addr + 1]! << 8);
  }

  readU32(addr: MachineAddr): number | null {
    if (!this.check(addr, 4, false)) return null;
    const b = this.mem.u8;
    return (b[addr]! | (b[addr + 1]! << 8) | (b[addr + 2]! << 16) | (b[addr + 3]! << 24)) >>> 0;
  }

  writeU16(addr: MachineAddr, value: number): boolean {
    if (!this.check(addr, 2, true)) return false;
    const b = this.mem.u8;
    b[addr] = value;
    b[addr + 1] = value >>> 8;
    return true;
  }

  writeU32(addr: MachineAddr, value: number): boolean {
    if (!this.check(addr, 4, true)) return false;
    const b = this.mem.u8;
    b[addr] = value;
    b[addr + 1] = value >>> 8;
    b[addr + 2] = value >>> 16;
    b[addr + 3] = value >>> 24;
    return true;
  }

  readInto(addr: MachineAddr, dst: Uint8Array, at: number, len: number): boolean {
    if (!this.check(addr, len, false)) return false;
    const m = this.mem.u8;
    if (len <= SHORT_COPY) {
      for (let k = 0; k < len; k++) dst[at + k] = m[addr + k]!;
    } else {
      dst.set(m.subarray(addr, addr + len), at);
    }
    return true;
  }

  writeFrom(addr: MachineAddr, src: Uint8Array, at: number, len: number): boolean {
    if (!this.check(addr, len, true)) return false;
    const m = this.mem.u8;
    if (len <= SHORT_COPY) {
      for (let k = 0; k < len; k++) m[addr + k] = src[at + k]!;
    } else if (at === 0 && len === src.length) {
      m.set(src, addr);
    } else {
      m.set(src.subarray(at, at + len), addr);
    }
    return true;
  }

  fill(addr: MachineAddr, len: number, value: number): boolean {
    if (!this.check(addr, len, true)) return false;
    this.mem.u8.fill(value, addr, addr + len);
    return true;
  }
}

/** A predicate for one contiguous region [start, end): a test's stand-in for a domain. */
export function region(start: number, end: number): RangePredicate {
  return (addr, len) => addr >= start && addr + len <= end;
}
