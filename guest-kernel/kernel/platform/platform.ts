/**
 * The platform layer: the only interface between the kernel and what differs between its native
 * and pv builds, grouped as Linux's paravirt ops (pv_cpu_ops, pv_irq_ops, pv_mmu_ops,
 * pv_time_ops) plus the console and the block device. The kernel calls these functions and
 * nothing of native.ts or pv.ts.
 *
 * Each operation counts itself, then dispatches with `if (TARGET_PV)`. TARGET_PV is a
 * compile-time constant, so each build contains one arm only: Linux patches its ops at boot,
 * we choose at build time, and a test proves the pv image has no privileged or sensitive
 * instruction and the native image no hypercall. The counters are the same in both builds for
 * the same calls (they count operations, not their cost), except `pv.hypercalls`, the platform's
 * own hypercalls, which is 0 on native by design.
 *
 * Addresses: a "frame" is what a page-table entry holds, a physical address on native and a
 * machine address on pv (Xen's direct paging); the kernel gets one from mmuFrameOf and builds an
 * entry with mmuMakePte, never by hand.
 */
import {
  nativeBlkSectors,
  nativeEnableConsoleIrq,
  nativeShutdown,
  nativeFrameIsUser,
  nativeKernelSpace,
  nativeMakeUserPte,
  nativeSetDirEntry,
  nativeSetFault,
  nativeSetKernelStack,
  nativeSetTableEntry,
  nativeSpaceInit,
  nativeUserFlags,
  nativeBlkRead,
  nativeBlkWrite,
  nativeClock,
  nativeConRead,
  nativeConWrite,
  nativeCurrentBase,
  nativeFlushPage,
  nativeFrameOf,
  nativeHalt,
  nativeInit,
  nativeIrqDisable,
  nativeIrqEnable,
  nativeIrqRestore,
  nativeIrqSave,
  nativeMakePte,
  nativeFrame,
  nativeSetPte,
  nativeSetSyscall,
  nativeSwitch,
  nativeTimerArm,
  nativeTimerStop,
} from './native.ts';
import {
  pvBlkSectors,
  pvShutdown,
  pvFrameIsUser,
  pvKernelSpace,
  pvSetDirEntry,
  pvSetFault,
  pvSetKernelStack,
  pvSetTableEntry,
  pvSpaceDestroy,
  pvSpaceInit,
  pvSwitchSpace,
  pvTableDestroy,
  pvTableInit,
  pvUserFlags,
  pvBatchBegin,
  pvBatchEnd,
  pvBlkRead,
  pvBlkWrite,
  pvClock,
  pvConRead,
  pvConWrite,
  pvCurrentBase,
  pvFlushPage,
  pvFrame,
  pvFrameOf,
  pvHalt,
  pvHypercalls,
  pvInit,
  pvIrqDisable,
  pvIrqEnable,
  pvIrqRestore,
  pvIrqSave,
  pvMakePte,
  pvSetPte,
  pvSetSyscall,
  pvSwitch,
  pvTimerArm,
  pvTimerStop,
} from './pv.ts';
import { FLAG_IF } from '../../../abi/isa.ts';
import { BF_FLAG_EVENTS } from '../../../abi/hypercall-numbers.ts';

/** Counter indexes, in the order of COUNTER_NAMES. */
export const enum Op {
  Halt,
  IrqDisable,
  IrqEnable,
  IrqSave,
  IrqRestore,
  SetPte,
  FlushPage,
  Switch,
  BatchBegin,
  BatchEnd,
  TimerArm,
  TimerStop,
  Clock,
  ConWrite,
  ConRead,
  BlkRead,
  BlkWrite,
  SetHandler,
  Ticks,
  DeviceEvents,
  Hypercalls,
  SpaceInit,
  SpaceDestroy,
  TableInit,
  TableDestroy,
  SetDirEntry,
  SetTableEntry,
  SetKernelStack,
  Faults,
}
export const COUNTER_COUNT = 29;
/** The counters' names, space-separated, in Op order (the subset has no arrays of strings). */
const COUNTER_NAMES =
  'cpu.halt cpu.irq_disable cpu.irq_enable cpu.irq_save cpu.irq_restore mmu.set_pte mmu.flush_page mmu.switch mmu.batch_begin mmu.batch_end time.timer_arm time.timer_stop time.clock console.write console.read block.read block.write irq.set_handler irq.ticks irq.device pv.hypercalls mmu.space_init mmu.space_destroy mmu.table_init mmu.table_destroy mmu.set_dir_entry mmu.set_table_entry cpu.set_kernel_stack irq.faults';

/**
 * Every platform operation's count, one array (the `stats` system call copies it out). Read
 * platformCounters() rather than this directly: pv.hypercalls is filled in on the way.
 */
export const counters = new Int32Array(COUNTER_COUNT);

/** Console input waiting (a device event's source). */
export const SRC_CONSOLE = 1;
export const SECTOR_BYTES = 512;

/** What the kernel wants called on each timer tick, and on a device event (with its SRC_*). */
export type TickHandler = () => void;
export type DeviceHandler = (source: number) => void;
/** What the kernel wants called on SYSCALL, with the entry's frame (lib/trap-frame.ts offsets). */
export type SyscallHandler = (frame: number) => void;
/** What the kernel wants called on an exception: the entry's frame, the vector, the fault address. */
export type FaultHandler = (frame: number, vector: number, addr: number) => void;
function noTick(): void {}
function noDevice(source: number): void {}
let tickHandler: TickHandler = noTick;
let deviceHandler: DeviceHandler = noDevice;

/** The platform's own tick, called by native.ts's interrupt entry or pv.ts's upcall. */
function onTick(): void {
  counters[Op.Ticks]++;
  tickHandler();
}

function onDevice(source: number): void {
  counters[Op.DeviceEvents]++;
  deviceHandler(source);
}

/** Once, at boot: vector table and PIC (native), upcall, timer port and block device (pv). Interrupts off. */
export function platformInit(): void {
  if (TARGET_PV) pvInit(onTick, onDevice);
  else nativeInit(onTick, onDevice);
}

/** The counters, with pv.hypercalls brought up to date. */
export function platformCounters(): Int32Array {
  counters[Op.Hypercalls] = TARGET_PV ? pvHypercalls() : 0;
  return counters;
}

/** Copy counter i's name into `out`; its length, or -1 for no such counter. */
export function counterName(i: number, out: Uint8Array): number {
  if (i < 0 || i >= COUNTER_COUNT) return -1;
  let at = 0;
  for (let k = 0; k < i; k++) {
    while (COUNTER_NAMES.charCodeAt(at) !== 32) at++;
    at++;
  }
  let n = 0;
  while (at + n < COUNTER_NAMES.length && COUNTER_NAMES.charCodeAt(at + n) !== 32 && n < out.length) {
    out[n] = COUNTER_NAMES.charCodeAt(at + n);
    n++;
  }
  return n;
}

// cpu ---------------------------------------------------------------------------------------------

/** Enable interrupts and wait for one (its handler runs before this returns); interrupts stay on. */
export function cpuHalt(): void {
  counters[Op.Halt]++;
  if (TARGET_PV) pvHalt();
  else nativeHalt();
}

export function irqDisable(): void {
  counters[Op.IrqDisable]++;
  if (TARGET_PV) pvIrqDisable();
  else nativeIrqDisable();
}

/** Enable interrupts; an event that came while they were off is handled now. */
export function irqEnable(): void {
  counters[Op.IrqEnable]++;
  if (TARGET_PV) pvIrqEnable();
  else nativeIrqEnable();
}

/** Disable interrupts, returning the flag as it was (1 enabled, 0 disabled) for irqRestore. */
export function irqSave(): number {
  counters[Op.IrqSave]++;
  if (TARGET_PV) return pvIrqSave();
  return nativeIrqSave();
}

export function irqRestore(flags: number): void {
  counters[Op.IrqRestore]++;
  if (TARGET_PV) pvIrqRestore(flags);
  else nativeIrqRestore(flags);
}

// irq / events ------------------------------------------------------------------------------------

export function irqSetTickHandler(h: TickHandler): void {
  counters[Op.SetHandler]++;
  tickHandler = h;
}

/**
 * Device events: `h(SRC_CONSOLE)` on console input, from the UART's receive interrupt (native,
 * unmasked only now: the line is level-triggered, so `h` must read the input with conRead until
 * -1) or VIRQ_CONSOLE (pv).
 */
export function irqSetDeviceHandler(h: DeviceHandler): void {
  counters[Op.SetHandler]++;
  deviceHandler = h;
  if (!TARGET_PV) nativeEnableConsoleIrq();
}

/**
 * Route the SYSCALL instruction to `h(frame)`, entered like an interrupt (lib/trap-frame.ts): native
 * through the vector table's Syscall entry, pv through set_callbacks' system-call entry (Xen's
 * syscall callback). `h` runs with interrupts off; the return restores the frame's registers and
 * flag, so a handler may rewrite the frame (a result in r0, or another task's state: the task
 * switch of ../proc). Counted as irq.set_handler.
 */
export function irqSetSyscallHandler(h: SyscallHandler): void {
  counters[Op.SetHandler]++;
  if (TARGET_PV) pvSetSyscall(h);
  else nativeSetSyscall(h);
}

/**
 * Route every exception (vectors 0..31) to `h(frame, vector, addr)`, entered like an interrupt,
 * with interrupts off: native through the vector table (vector from CR Cause, address from CR
 * FaultAddr), pv through set_trap_table (both from the bounce frame). `h` decides by
 * irqFrameIsUser whether a task or the kernel faulted. Counted as irq.set_handler; each fault
 * taken as irq.faults.
 */
export function irqSetFaultHandler(h: FaultHandler): void {
  counters[Op.SetHandler]++;
  faultHandler = h;
  if (TARGET_PV) pvSetFault(onFault);
  else nativeSetFault(onFault);
}

function noFault(frame: number, vector: number, addr: number): void {}
let faultHandler: FaultHandler = noFault;

function onFault(frame: number, vector: number, addr: number): void {
  counters[Op.Faults]++;
  faultHandler(frame, vector, addr);
}

/** Whether a frame interrupted privilege-3 code (native: its CPL; pv: guest user mode). Not counted. */
export function irqFrameIsUser(frame: number): boolean {
  if (TARGET_PV) return pvFrameIsUser(frame);
  return nativeFrameIsUser(frame);
}

/** The flags word of a kernel frame with interrupts enabled (privilege 0; pv: guest kernel mode). Not counted. */
export function irqKernelFlags(): number {
  if (TARGET_PV) return BF_FLAG_EVENTS;
  return FLAG_IF;
}

/** Power off with `code` (native: the shutdown port; pv: sched_op shutdown). Never returns. */
export function cpuShutdown(code: number): void {
  if (TARGET_PV) pvShutdown(code);
  else nativeShutdown(code);
  for (;;) cpuHalt();
}

/** The flags word of a user task's first frame: privilege 3, interrupts enabled. Not counted. */
export function irqUserFlags(): number {
  if (TARGET_PV) return pvUserFlags();
  return nativeUserFlags();
}

/**
 * The stack a trap from privilege 3 arrives on (x86's TSS.esp0; Linux's load_sp0, which Xen's
 * paravirt op turns into stack_switch): set it to a task's kernel stack before it runs user code.
 */
export function cpuSetKernelStack(top: number): void {
  counters[Op.SetKernelStack]++;
  if (TARGET_PV) pvSetKernelStack(top);
  else nativeSetKernelStack(top);
}

/**
 * Inside the tick or device handler: the frame of the interrupt entry it runs in (native: the
 * timer or UART interrupt's; pv: the upcall's), which the handler may rewrite like a system
 * call's; 0 when the event was taken without one (pv: an event pending when irqEnable unmasked, dispatched in place,
 * Mini-OS's force_evtchn_callback). Not counted (a read).
 */
export function irqFrame(): number {
  if (TARGET_PV) return pvFrame();
  return nativeFrame();
}

/** A frame's flags word with interrupts enabled (native: IF; pv: the events-enabled bit). Not counted. */
export function irqFlagsOn(flags: number): number {
  if (TARGET_PV) return flags | BF_FLAG_EVENTS;
  return flags | FLAG_IF;
}

/** Whether a frame's flags word resumes with interrupts enabled. Not counted. */
export function irqFlagsEnabled(flags: number): boolean {
  if (TARGET_PV) return (flags & BF_FLAG_EVENTS) !== 0;
  return (flags & FLAG_IF) !== 0;
}

// mmu ---------------------------------------------------------------------------------------------

/** Start queueing PTE updates (Linux's arch_enter_lazy_mmu_mode); nothing is in force until mmuEnd. */
export function mmuBegin(): void {
  counters[Op.BatchBegin]++;
  if (TARGET_PV) pvBatchBegin();
}

/** Apply the batch: pv sends it as one mmu_update. 0 or more on success, -errno on failure. */
export function mmuEnd(): number {
  counters[Op.BatchEnd]++;
  if (TARGET_PV) return pvBatchEnd();
  return 0;
}

/**
 * Set the entry that maps `va` (its page table must exist) to `pte` (from mmuMakePte), with the
 * TLB entry dropped: at once, or at mmuEnd inside a batch. 0, or -errno (-EFAULT: no page table).
 */
export function mmuSetPte(va: number, pte: number): number {
  counters[Op.SetPte]++;
  if (TARGET_PV) return pvSetPte(va, pte);
  return nativeSetPte(va, pte);
}

/** The frame that maps `va`, as a page-table entry holds it; -EFAULT when unmapped. Not counted (a read). */
export function mmuFrameOf(va: number): number {
  if (TARGET_PV) return pvFrameOf(va);
  return nativeFrameOf(va);
}

/** An entry mapping `frame` for the kernel, with this build's flags. Not counted (no effect). */
export function mmuMakePte(frame: number, writable: boolean): number {
  if (TARGET_PV) return pvMakePte(frame, writable);
  return nativeMakePte(frame, writable);
}

export function mmuFlushPage(va: number): void {
  counters[Op.FlushPage]++;
  if (TARGET_PV) pvFlushPage(va);
  else nativeFlushPage(va);
}

/** Switch address space to the page directory at frame `dir` (pv: a pinned one). 0 or -errno. */
export function mmuSwitch(dir: number): number {
  counters[Op.Switch]++;
  if (TARGET_PV) return pvSwitch(dir);
  nativeSwitch(dir);
  return 0;
}

/** The page directory in use, as a frame. */
export function mmuCurrentBase(): number {
  if (TARGET_PV) return pvCurrentBase();
  return nativeCurrentBase();
}

// mmu: task address spaces -----------------------------------------------------------------------
//
// A task's space is a page directory whose kernel slots are the kernel's and whose user slots
// [userSlot, userEnd) name page tables of its own (Linux's pgd_alloc, set_pmd, set_pte; Xen's
// pin and mmu_update). pv needs a second, user-only directory per task (Xen's 64-bit PV: the
// kernel's pages are user pages there, since the kernel runs at privilege 3, so the task must
// run on a directory without them); native passes 0 for it and ignores it. Directories and tables
// are pages of the kernel's (page-aligned, zeroed, from the page allocator), named by their
// kernel virtual address; the kernel reads their entries directly (on pv they are mapped
// read-only once pinned) and changes them only through these operations.

/** The kernel's own space (start-up's directory): what kernel tasks run on. Not counted. */
export function mmuKernelSpace(): number {
  if (TARGET_PV) return pvKernelSpace();
  return nativeKernelSpace();
}

/** Make zeroed pages `dir` (and pv's `udir`) a task's space. 0, or -errno (then nothing changed). */
export function mmuSpaceInit(dir: number, udir: number, userSlot: number, userEnd: number): number {
  counters[Op.SpaceInit]++;
  if (TARGET_PV) return pvSpaceInit(dir, udir, userSlot, userEnd);
  nativeSpaceInit(dir, userSlot);
  return 0;
}

/** Undo mmuSpaceInit: the space is not in use and its user slots are empty. */
export function mmuSpaceDestroy(dir: number, udir: number): number {
  counters[Op.SpaceDestroy]++;
  if (TARGET_PV) return pvSpaceDestroy(dir, udir);
  return 0;
}

/** Make a zeroed page a page table (pv: read-only and pinned). 0 or -errno. */
export function mmuTableInit(table: number): number {
  counters[Op.TableInit]++;
  if (TARGET_PV) return pvTableInit(table);
  return 0;
}

/** Undo mmuTableInit: no directory names the table any more. */
export function mmuTableDestroy(table: number): number {
  counters[Op.TableDestroy]++;
  if (TARGET_PV) return pvTableDestroy(table);
  return 0;
}

/** User slot `slot` of the space names page table `table` (0: none); in a batch on pv. 0 or -errno. */
export function mmuSetDirEntry(dir: number, udir: number, slot: number, table: number): number {
  counters[Op.SetDirEntry]++;
  if (TARGET_PV) return pvSetDirEntry(dir, udir, slot, table);
  nativeSetDirEntry(dir, slot, table);
  return 0;
}

/**
 * Entry `index` of page table `table` (from mmuMakeUserPte, or 0); in a batch on pv. `va` is the
 * address it maps when the space is in use, whose TLB entry native then drops (pv's hypervisor
 * flushes after every update by itself), or -1 when the space is not loaded.
 */
export function mmuSetTableEntry(table: number, index: number, pte: number, va: number): number {
  counters[Op.SetTableEntry]++;
  if (TARGET_PV) return pvSetTableEntry(table, index, pte);
  nativeSetTableEntry(table, index, pte);
  if (va >= 0) nativeFlushPage(va);
  return 0;
}

/** An entry mapping `frame` (from mmuFrameOf) for a task: P U [W]. Not counted. */
export function mmuMakeUserPte(frame: number, writable: boolean): number {
  if (TARGET_PV) return pvMakePte(frame, writable);
  return nativeMakeUserPte(frame, writable);
}

/** Switch to a space (pv: both directories; udir 0 for the kernel's own). Counted as mmu.switch. */
export function mmuSwitchSpace(dir: number, udir: number): number {
  counters[Op.Switch]++;
  if (TARGET_PV) return pvSwitchSpace(dir, udir);
  nativeSwitch(dir);
  return 0;
}

// time --------------------------------------------------------------------------------------------

/** Tick after `delta` instructions of virtual time, then every `delta` if `periodic`. */
export function timerArm(delta: number, periodic: boolean): void {
  counters[Op.TimerArm]++;
  if (TARGET_PV) pvTimerArm(delta, periodic);
  else nativeTimerArm(delta, periodic);
}

export function timerStop(): void {
  counters[Op.TimerStop]++;
  if (TARGET_PV) pvTimerStop();
  else nativeTimerStop();
}

/** Virtual time in instructions, low 32 bits (pv: as of the hypervisor's last entry; pv.ts says why). */
export function clockRead(): number {
  counters[Op.Clock]++;
  if (TARGET_PV) return pvClock();
  return nativeClock();
}

// console -----------------------------------------------------------------------------------------

export function conWrite(addr: number, len: number): void {
  counters[Op.ConWrite]++;
  if (TARGET_PV) pvConWrite(addr, len);
  else nativeConWrite(addr, len);
}

/** A string literal (or any string): one conWrite. */
export function conPrint(s: string): void {
  conWrite(addressOf(s), s.length);
}

/** Decimal digits of conPrintNumber, built right to left. */
const digits = new Uint8Array(12);

/**
 * `n` in decimal, as JavaScript prints it: one conWrite. Digits are taken from the negative of n,
 * so -2147483648 needs no special case.
 */
export function conPrintNumber(n: number): void {
  let v = n < 0 ? n : -n;
  let at = 12;
  do {
    at--;
    digits[at] = 48 - (v % 10);
    v = (v / 10) | 0;
  } while (v !== 0);
  if (n < 0) {
    at--;
    digits[at] = 45;
  }
  conWrite(addressOf(digits) + at, 12 - at);
}

/** The next input byte, or -1 when none is waiting. */
export function conRead(): number {
  counters[Op.ConRead]++;
  if (TARGET_PV) return pvConRead();
  return nativeConRead();
}

// block -------------------------------------------------------------------------------------------

/** The block device's size in sectors; 0 when there is none. Not counted (a probe). */
export function blkSectors(): number {
  if (TARGET_PV) return pvBlkSectors();
  return nativeBlkSectors();
}

/** Read one 512-byte sector into `addr` (4-aligned). 0, or -errno. */
export function blkReadSector(sector: number, addr: number): number {
  counters[Op.BlkRead]++;
  if (TARGET_PV) return pvBlkRead(sector, addr);
  return nativeBlkRead(sector, addr);
}

/** Write one 512-byte sector from `addr` (4-aligned). 0, or -errno. */
export function blkWriteSector(sector: number, addr: number): number {
  counters[Op.BlkWrite]++;
  if (TARGET_PV) return pvBlkWrite(sector, addr);
  return nativeBlkWrite(sector, addr);
}
