/**
 * Physical memory of one machine (or one domain): a single ArrayBuffer with typed views.
 *
 * The CPU indexes the views directly in its hot loop. Everything else (loaders, devices, the
 * hypervisor) goes through the narrow, bounds-checked GuestMemory interface, as rust-vmm's
 * devices see memory only through GuestMemory: a device cannot reach past the end of RAM.
 */
import { PAGE_SIZE } from '../../abi/isa.ts';
import type { GuestPhysAddr } from './addr.ts';

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The typed-array views below are only little-endian on a little-endian host.
  throw new Error('tsvisor needs a little-endian host');
}

/** What a device or loader may do with guest memory: checked reads and writes, nothing else. */
export interface GuestMemory {
  readonly size: number;
  /** True when [addr, addr+len) lies inside memory. */
  contains(addr: GuestPhysAddr, len: number): boolean;
  read(addr: GuestPhysAddr, len: number): Uint8Array | null;
  write(addr: GuestPhysAddr, data: Uint8Array): boolean;
  readU32(addr: GuestPhysAddr): number | null;
  writeU32(addr: GuestPhysAddr, value: number): boolean;
}

/**
 * The largest machine memory: 1 GiB for a guest (limits.ts MAX_MEMORY_MIB, the same in every
 * mode) and 4 MiB beside it for what a hypervisor keeps (pv's frame 0 and shared frames, a
 * monitor's shadow or nested tables for 1 GiB of guest memory).
 */
export const MACHINE_MAX_BYTES = 0x40000000 + 0x400000;

export class PhysicalMemory implements GuestMemory {
  readonly size: number;
  readonly frames: number;
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly i16: Int16Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;

  constructor(bytes: number) {
    if (!Number.isInteger(bytes) || bytes < PAGE_SIZE || bytes % PAGE_SIZE !== 0 || bytes > MACHINE_MAX_BYTES) {
      throw new RangeError(`memory size must be a multiple of ${PAGE_SIZE} bytes between 4 KiB and ${MACHINE_MAX_BYTES / 1024 / 1024} MiB, got ${bytes}`);
    }
    this.size = bytes;
    this.frames = bytes / PAGE_SIZE;
    this.buffer = new ArrayBuffer(bytes);
    this.u8 = new Uint8Array(this.buffer);
    this.i16 = new Int16Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
  }

  contains(addr: GuestPhysAddr, len: number): boolean {
    return Number.isInteger(addr) && Number.isInteger(len) && addr >= 0 && len >= 0 && addr + len <= this.size;
  }

  read(addr: GuestPhysAddr, len: number): Uint8Array | null {
    return this.contains(addr, len) ? this.u8.slice(addr, addr + len) : null;
  }

  write(addr: GuestPhysAddr, data: Uint8Array): boolean {
    if (!this.contains(addr, data.length)) return false;
    this.u8.set(data, addr);
    return true;
  }

  readU32(addr: GuestPhysAddr): number | null {
    if (!this.contains(addr, 4) || addr % 4 !== 0) return null;
    return this.i32[addr >>> 2]! >>> 0;
  }

  writeU32(addr: GuestPhysAddr, value: number): boolean {
    if (!this.contains(addr, 4) || addr % 4 !== 0) return false;
    this.i32[addr >>> 2] = value | 0;
    return true;
  }
}
