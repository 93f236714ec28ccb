/**
 * Distinct address types, as rust-vmm's GuestAddress: a guest-virtual address is translated by the
 * guest's page tables into a guest-physical one, which the hypervisor maps to a machine address.
 * On the bare machine guest-physical and machine addresses coincide, but the types still keep
 * the layers honest: nothing passes a bare number between them.
 *
 * The brands cost nothing at run time (they are numbers); the hot interpreter loop works on raw
 * int32 values and only its slow paths and the layers around it use these types.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type GuestVirtAddr = Brand<number, 'GuestVirtAddr'>;
export type GuestPhysAddr = Brand<number, 'GuestPhysAddr'>;
export type MachineAddr = Brand<number, 'MachineAddr'>;
/** A machine page frame number (machine address >>> 12), Xen's MFN. */
export type MachineFrame = Brand<number, 'MachineFrame'>;

export const gva = (n: number): GuestVirtAddr => (n >>> 0) as GuestVirtAddr;
export const gpa = (n: number): GuestPhysAddr => (n >>> 0) as GuestPhysAddr;
export const maddr = (n: number): MachineAddr => (n >>> 0) as MachineAddr;
export const mfn = (n: number): MachineFrame => (n >>> 0) as MachineFrame;

/** `base + offset`, or null when the sum leaves the 32-bit space (checked arithmetic). */
export function checkedAdd<A extends number>(base: A, offset: number): A | null {
  const r = base + offset;
  return r < 0 || r > 0xffffffff ? null : (r as A);
}
