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

  read(addr: MachineAddr, len: number): Uint8Array | null {
    return this.check(addr, len, false) ? this.mem.u8.slice(addr, addr + len) : null;
  }

  write(addr: MachineAddr, data: Uint8Array): boolean {
    if (!this.check(addr, data.length, true)) return false;
    this.mem.u8.set(data, addr);
    return true;
  }
}

/** A predicate for one contiguous region [start, end): a test's stand-in for a domain. */
export function region(start: number, end: number): RangePredicate {
  return (addr, len) => addr >= start && addr + len <= end;
}
