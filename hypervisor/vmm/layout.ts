/**
 * Machine memory of a fully virtualized guest: the monitor's own area first, the guest's RAM after
 * it.
 *
 *   machine 0 .. monitorBytes                      monitor: shadow tables (trap) or the nested table (hw)
 *   machine monitorBytes .. monitorBytes + ram     guest-physical 0 .. ram
 *
 * Guest RAM does not start at machine 0 on purpose: a monitor that forgot to translate a
 * guest-physical address would land in its own tables, and the isolation tests would see it.
 * The guest reaches machine memory only through translations the monitor built (shadow entries,
 * second-level entries), and the monitor builds none that point outside the guest's RAM.
 */
import { PAGE_SHIFT, PAGE_SIZE } from '../../abi/isa.ts';
import type { GuestPhysAddr, MachineAddr } from '../machine/addr.ts';
import { maddr } from '../machine/addr.ts';
import { PhysicalMemory, type GuestMemory } from '../machine/memory.ts';

export { MACHINE_MAX_BYTES } from '../machine/memory.ts';

export class VmMemory implements GuestMemory {
  readonly machine: PhysicalMemory;
  /** Machine address of guest-physical 0 (= the monitor area's size). */
  readonly base: number;
  /** Guest RAM in bytes. */
  readonly size: number;
  readonly frames: number;

  constructor(ramBytes: number, monitorBytes: number) {
    if (monitorBytes % PAGE_SIZE !== 0 || ramBytes % PAGE_SIZE !== 0) throw new RangeError('vmm: memory sizes must be whole pages');
    this.machine = new PhysicalMemory(monitorBytes + ramBytes);
    this.base = monitorBytes;
    this.size = ramBytes;
    this.frames = ramBytes >>> PAGE_SHIFT;
  }

  /** Machine address of guest-physical `gpa` (the caller checked it is inside RAM). */
  toMachine(gpa: GuestPhysAddr): MachineAddr {
    return maddr(this.base + gpa);
  }

  contains(addr: GuestPhysAddr, len: number): boolean {
    return Number.isInteger(addr) && Number.isInteger(len) && addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  read(addr: GuestPhysAddr, len: number): Uint8Array | null {
    return this.contains(addr, len) ? this.machine.u8.slice(this.base + addr, this.base + addr + len) : null;
  }

  write(addr: GuestPhysAddr, data: Uint8Array): boolean {
    if (!this.contains(addr, data.length)) return false;
    this.machine.u8.set(data, this.base + addr);
    return true;
  }

  readU32(addr: GuestPhysAddr): number | null {
    if (!this.contains(addr, 4) || addr % 4 !== 0) return null;
    return this.machine.i32[(this.base + addr) >>> 2]! >>> 0;
  }

  writeU32(addr: GuestPhysAddr, value: number): boolean {
    if (!this.contains(addr, 4) || addr % 4 !== 0) return false;
    this.machine.i32[(this.base + addr) >>> 2] = value | 0;
    return true;
  }

  /** Zero [addr, addr+len) of guest RAM. */
  zero(addr: GuestPhysAddr, len: number): boolean {
    if (!this.contains(addr, len)) return false;
    this.machine.u8.fill(0, this.base + addr, this.base + addr + len);
    return true;
  }
}
