/**
 * The native platform: what the kernel's platform operations (platform.ts) do on the bare machine,
 * and, unmodified, under trap and hw (full virtualization). Privileged instructions and the
 * emulated PC-like devices of abi/platform.ts: the UART, the 8259-like PIC, the one-channel timer
 * and the ATA-like disk driven by PIO. This is Linux's `native_*` paravirt ops: each operation is
 * the instruction itself, and the batching hooks (lazy MMU mode) do nothing.
 *
 * Only platform.ts calls these, inside the `else` arm of `if (TARGET_PV)`, so a pv build contains
 * none of them (a test disassembles both images).
 */
import { Cr, FLAG_CPL_MASK, FLAG_IF, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W, Vector } from '../../../abi/isa.ts';
import { FRAME_FLAGS } from '../../lib/trap-frame.ts';
import {
  BLK_CMD_READ,
  BLK_CAPACITY,
  BLK_CMD_WRITE,
  BLK_COMMAND,
  BLK_COUNT,
  BLK_DATA,
  BLK_SECTOR,
  BLK_STATUS_DRQ,
  BLK_STATUS_ERROR,
  IRQ_TIMER,
  IRQ_UART,
  PIC_EOI,
  PIC_MASK,
  POWER_SHUTDOWN,
  TIMER_PERIOD,
  UART_DATA,
  UART_IER,
  UART_IER_RX,
  UART_STATUS,
  UART_STATUS_RX_READY,
} from '../../../abi/platform.ts';

/** -EIO: the disk set its error bit, or did not ask for data. */
const EIO = -5;
/** -EFAULT: no page table maps that address. */
const EFAULT = -14;

/**
 * Our vector table. The compiler's start-up code already installed one whose exceptions enter the
 * run-time error handler; we copy it (so a stray fault is still reported with its source line)
 * and add the interrupt lines.
 */
const vectors = new Int32Array(256);
/** The page directory in use: kept here so that the walk does not read CR Ptbr (an exit under trap). */
let base = 0;
/** start-up's directory: the kernel's own address space (kernel tasks run on it). */
let kernelDir = 0;
/**
 * The interrupt flag as the kernel set it. Read here rather than with `pushf`: under trap mode the
 * kernel runs deprivileged and pushf reveals the real IF, not the virtual one (the sensitive,
 * unprivileged instruction of DESIGN.md). Interrupt gates clear IF on entry, so the entries below
 * clear this too and put it back on the way out, as iret does.
 */
let ifShadow = false;
let oneShot = false;
let timerTicks = 0;

/** The platform's timer tick: platform.ts's, which counts and calls the kernel's handler. */
type Tick = () => void;
function noTick(): void {}
let tickHook: Tick = noTick;
/** The platform's device event (console input): platform.ts's, called with its SRC_*. */
type Device = (source: number) => void;
function noDevice(source: number): void {}
let deviceHook: Device = noDevice;
/** The kernel's exception handler (irqSetFaultHandler): the frame, the vector, the fault address. */
type Fault = (frame: number, vector: number, addr: number) => void;
function noFault(frame: number, vector: number, addr: number): void {}
let faultHook: Fault = noFault;
/** The kernel's system-call handler (irqSetSyscallHandler), called with the entry's frame. */
type Syscall = (frame: number) => void;
function noSyscall(frame: number): void {}
let syscallHook: Syscall = noSyscall;
/** The frame of the interrupt being handled, timer or UART (nativeFrame), 0 outside one. */
let tickFrame = 0;

/**
 * After a handler, the shadow takes the interrupt flag of the frame that iret is about to pop:
 * the interrupted code's, or, when the kernel switched tasks by rewriting the frame, the next
 * task's (which may resume with interrupts off, inside its own check-and-sleep).
 */
function shadowFromFrame(frame: number): void {
  ifShadow = (load32(frame + FRAME_FLAGS) & FLAG_IF) !== 0;
}

function onTimerIrq(frame: number): void {
  ifShadow = false;
  tickFrame = frame;
  timerTicks++;
  // A one-shot timer is the periodic channel stopped at its first tick (the device has only the
  // periodic mode, as a PIT programmed in mode 2).
  if (oneShot) {
    portOut(TIMER_PERIOD, 0);
    oneShot = false;
  }
  portOut(PIC_EOI, 0);
  tickHook();
  tickFrame = 0;
  shadowFromFrame(frame);
}

/** The system-call vector's entry: the gate cleared IF; iret puts back the frame's. */
function onSyscallTrap(frame: number): void {
  ifShadow = false;
  syscallHook(frame);
  shadowFromFrame(frame);
}

/**
 * The UART's receive interrupt (IRQ_UART, level-triggered): the kernel's handler drains the input
 * with conRead, then the EOI; a byte that came meanwhile raises the line again at once.
 */
function onUartIrq(frame: number): void {
  ifShadow = false;
  tickFrame = frame;
  deviceHook(1);
  tickFrame = 0;
  portOut(PIC_EOI, 0);
  shadowFromFrame(frame);
}

/**
 * The kernel has a device handler: let the UART interrupt on input. Not before: the line is
 * level-triggered, and a handler that does not read the input would be entered again at once.
 */
export function nativeEnableConsoleIrq(): void {
  portOut(UART_IER, UART_IER_RX);
  portOut(PIC_MASK, 0xff & ~((1 << IRQ_TIMER) | (1 << IRQ_UART)));
}

/** Every exception vector's entry: the vector from CR Cause, the address from CR FaultAddr. */
function onException(frame: number): void {
  ifShadow = false;
  faultHook(frame, readCr(Cr.Cause), readCr(Cr.FaultAddr));
  shadowFromFrame(frame);
}

/**
 * Route the exceptions (vectors 0..31) to `h`. Start-up's double-fault stack (CR Dfsp) stays, so
 * a kernel stack overflow still reaches `h`, on that stack.
 */
export function nativeSetFault(h: Fault): void {
  faultHook = h;
  const entry = interruptEntry(onException);
  for (let v = 0; v < 32; v++) vectors[v] = entry;
}

/** Whether the frame's code ran at privilege 3 (the CPL field of the flags it pushed). */
export function nativeFrameIsUser(frame: number): boolean {
  return (load32(frame + FRAME_FLAGS) & FLAG_CPL_MASK) === FLAG_CPL_MASK;
}

/** The flags of a fresh user task's first frame: privilege 3, interrupts on. */
export function nativeUserFlags(): number {
  return FLAG_CPL_MASK | FLAG_IF;
}

export function nativeShutdown(code: number): void {
  portOut(POWER_SHUTDOWN, code);
}

/** Where the CPU puts sp on a trap from privilege 3 (x86's TSS.esp0, Linux's load_sp0). */
export function nativeSetKernelStack(top: number): void {
  writeCr(Cr.Ksp, top);
}

/** Route SYSCALL (vector Syscall) to `h(frame)`. */
export function nativeSetSyscall(h: Syscall): void {
  syscallHook = h;
  vectors[Vector.Syscall] = interruptEntry(onSyscallTrap);
}

/** The trap frame of the interrupt being handled (timer or UART), 0 outside one. */
export function nativeFrame(): number {
  return tickFrame;
}

/** Install our vector table (interrupt entries added to the start-up one); masks everything. */
export function nativeInit(tick: Tick, device: Device): void {
  const old = readCr(Cr.Vbar);
  for (let v = 0; v < 256; v++) vectors[v] = load32(old + v * 4);
  vectors[Vector.IrqBase + IRQ_TIMER] = interruptEntry(onTimerIrq);
  vectors[Vector.IrqBase + IRQ_UART] = interruptEntry(onUartIrq);
  tickHook = tick;
  deviceHook = device;
  cli();
  ifShadow = false;
  writeCr(Cr.Vbar, addressOf(vectors));
  portOut(PIC_MASK, 0xff & ~(1 << IRQ_TIMER));
  base = readCr(Cr.Ptbr);
  kernelDir = base;
}

/** The kernel's own directory (identity-mapped, so its address is its virtual address). */
export function nativeKernelSpace(): number {
  return kernelDir;
}

// cpu -------------------------------------------------------------------------------------------

/** Linux's native_safe_halt: `sti; hlt`. Returns after the interrupt's handler, interrupts on. */
export function nativeHalt(): void {
  ifShadow = true;
  sti();
  hlt();
}

export function nativeIrqDisable(): void {
  cli();
  ifShadow = false;
}

export function nativeIrqEnable(): void {
  ifShadow = true;
  sti();
}

/** The flag before (1 enabled, 0 disabled), and interrupts off. */
export function nativeIrqSave(): number {
  const f = ifShadow ? 1 : 0;
  cli();
  ifShadow = false;
  return f;
}

export function nativeIrqRestore(flags: number): void {
  if (flags !== 0) {
    ifShadow = true;
    sti();
  } else {
    cli();
    ifShadow = false;
  }
}

// mmu -------------------------------------------------------------------------------------------

/** Where the entry that maps `va` lies (physical = virtual: start-up identity-maps memory), or EFAULT. */
function pteAddr(va: number): number {
  const pde = load32(base + (va >>> 22) * 4);
  if ((pde & PTE_P) === 0) return EFAULT;
  return (pde & ~0xfff) + ((va >>> 12) & 1023) * 4;
}

/**
 * Write the entry and drop the stale translation at once. Native needs no batching (Linux's
 * native lazy-MMU hooks are empty): a store is as cheap as a queued request. The invlpg also keeps
 * trap mode's shadow page tables right, as it would a real TLB.
 */
export function nativeSetPte(va: number, pte: number): number {
  const at = pteAddr(va);
  if (at < 0) return at;
  store32(at, pte);
  invlpg(va);
  return 0;
}

/** A user mapping's entry: P U [W]; the walker sets A and D. */
export function nativeMakeUserPte(frame: number, writable: boolean): number {
  return (frame & ~0xfff) | PTE_P | PTE_U | (writable ? PTE_W : 0);
}

/**
 * A fresh (zeroed) page as a task's page directory: the kernel's half, slots below `userSlot`,
 * copied from the directory in use (they name the same page tables, which have no U bit, so a
 * task at privilege 3 cannot touch them). The kernel's memory is identity-mapped, so the page's
 * address is its physical address.
 */
export function nativeSpaceInit(dir: number, userSlot: number): void {
  for (let s = 0; s < userSlot; s++) store32(dir + s * 4, load32(base + s * 4));
}

/** Directory entry `slot` of `dir` names page table `table` (0: none). */
export function nativeSetDirEntry(dir: number, slot: number, table: number): void {
  store32(dir + slot * 4, table === 0 ? 0 : table | PTE_P | PTE_W | PTE_U | PTE_A);
}

/** Entry `index` of page table `table`; the caller flushes the TLB entry if the space is in use. */
export function nativeSetTableEntry(table: number, index: number, pte: number): void {
  store32(table + index * 4, pte);
}

/** The physical frame address that maps `va`, or EFAULT. */
export function nativeFrameOf(va: number): number {
  const at = pteAddr(va);
  if (at < 0) return at;
  const pte = load32(at);
  if ((pte & PTE_P) === 0) return EFAULT;
  return pte & ~0xfff;
}

/** A kernel mapping's entry: the flags start-up's identity map uses (A and D preset, no U). */
export function nativeMakePte(frame: number, writable: boolean): number {
  return (frame & ~0xfff) | PTE_P | PTE_A | (writable ? PTE_W | PTE_D : 0);
}

export function nativeFlushPage(va: number): void {
  invlpg(va);
}

/** Load a page directory (physical address); the write flushes the TLB. */
export function nativeSwitch(dir: number): void {
  base = dir;
  writeCr(Cr.Ptbr, dir);
}

export function nativeCurrentBase(): number {
  return base;
}

// time ------------------------------------------------------------------------------------------

/** Tick after `delta` instructions of virtual time, periodically or once. */
export function nativeTimerArm(delta: number, periodic: boolean): void {
  oneShot = !periodic;
  portOut(TIMER_PERIOD, delta);
}

export function nativeTimerStop(): void {
  oneShot = false;
  portOut(TIMER_PERIOD, 0);
}

/** Virtual time, low 32 bits (CR Time: instructions retired plus idled). */
export function nativeClock(): number {
  return readCr(Cr.Time);
}

// console ---------------------------------------------------------------------------------------

export function nativeConWrite(addr: number, len: number): void {
  for (let i = 0; i < len; i++) portOut(UART_DATA, load8(addr + i));
}

/** The next input byte, or -1 (read until -1 in the receive interrupt: the line stays high while a byte waits). */
export function nativeConRead(): number {
  if ((portIn(UART_STATUS) & UART_STATUS_RX_READY) === 0) return -1;
  return portIn(UART_DATA) & 0xff;
}

// block: ATA PIO, polled (the disk's line stays masked), as programs/bench/ata.ts --------------

function ataStart(cmd: number, sector: number): number {
  portOut(BLK_SECTOR, sector);
  portOut(BLK_COUNT, 1);
  portOut(BLK_COMMAND, cmd);
  const status = portIn(BLK_COMMAND);
  if ((status & BLK_STATUS_ERROR) !== 0 || (status & BLK_STATUS_DRQ) === 0) return EIO;
  return 0;
}

function ataDone(): number {
  return (portIn(BLK_COMMAND) & (BLK_STATUS_ERROR | BLK_STATUS_DRQ)) !== 0 ? EIO : 0;
}

/** The disk's size in sectors (0: no disk). */
export function nativeBlkSectors(): number {
  return portIn(BLK_CAPACITY);
}

/** Read one 512-byte sector into `addr` (4-aligned). 0 or EIO. */
export function nativeBlkRead(sector: number, addr: number): number {
  if (ataStart(BLK_CMD_READ, sector) < 0) return EIO;
  for (let o = 0; o < 512; o += 4) store32(addr + o, portIn(BLK_DATA));
  return ataDone();
}

/** Write one 512-byte sector from `addr` (4-aligned). 0 or EIO. */
export function nativeBlkWrite(sector: number, addr: number): number {
  if (ataStart(BLK_CMD_WRITE, sector) < 0) return EIO;
  for (let o = 0; o < 512; o += 4) portOut(BLK_DATA, load32(addr + o));
  return ataDone();
}

export function nativeTimerTicks(): number {
  return timerTicks;
}
