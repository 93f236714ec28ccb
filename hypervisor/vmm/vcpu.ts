/**
 * The virtual CPU as the instruction emulator sees it: the guest's architectural state, wherever
 * a monitor keeps it. `trap` keeps privilege, IF and the control registers in the monitor (the
 * real CPU runs the guest kernel at privilege 3 and knows none of it); `hw` keeps them in the
 * real CPU, which in guest mode runs with the guest's own state, as VT-x keeps them in the VMCS.
 * The general registers, pc and virtual time are the real CPU's in both.
 */

/** A fault the monitor found on the guest's behalf: what to deliver to the guest. */
export interface GuestFault {
  vector: number;
  err: number;
  /** The faulting guest-virtual address (CR FaultAddr for a page fault). */
  addr: number;
}

export interface Vcpu {
  readonly regs: Int32Array;
  /** The guest's pc: the exiting instruction on entry to the emulator, the resume address after. */
  pc: number;
  /** Virtual time: instructions retired plus idled (the real CPU's counter). */
  icount: number;
  /** The guest's privilege, 0 or 3, as the guest's architecture defines it. */
  readonly cpl: number;
  setCpl(cpl: number): void;
  /** The guest's interrupt flag. */
  iflag: boolean;
  /** FLAGS as the guest's PUSHF and trap entry must see them. */
  flags(): number;
  /** A control register other than Time. */
  readCr(n: number): number;
  /** A control-register write the emulator has validated; Ctrl and Ptbr act on the guest's paging. */
  writeCr(n: number, value: number): void;
  /**
   * Translate guest-virtual `va` for `access` (mmu.ts ACCESS_*) at the guest's privilege, with the
   * guest's A/D updates: the machine address, or -1 with `fault` set.
   */
  translate(va: number, access: number): number;
  readonly fault: GuestFault;
  /** Machine memory, for reads at addresses `translate` returned. */
  readonly i32: Int32Array;
  /** Store a word at a machine address `translate` returned (a monitor may watch page tables). */
  write32(ma: number, value: number): void;
  /** INVLPG: the guest drops its translation of `va`. */
  flushPage(va: number): void;
  portIn(port: number, pc: number): number;
  portOut(port: number, value: number, pc: number): void;
}
