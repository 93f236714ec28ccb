/**
 * The paravirtual platform: what the kernel's platform operations (platform.ts) do in a pv domain,
 * where the kernel runs at privilege 3 and may execute no privileged or sensitive instruction.
 * Everything goes through the hypercall wrappers (hypercalls.ts), the shared-info page, event
 * channels and the virtio front ends of ../drivers — Linux's `xen_*` paravirt ops, Mini-OS's
 * hypervisor.c and events.c.
 *
 *  - The interrupt flag is virtual and lives in shared memory (Mini-OS's __cli/__sti, lguest's
 *    irq_enabled): disabling is one store to UPCALL_MASK, no hypercall. Enabling is a store too,
 *    then a look at UPCALL_PENDING, because an event that arrived while masked is not delivered
 *    by itself (the hypervisor only enters the callback when it gets control); if one is pending
 *    we run the event dispatch here, as Mini-OS's force_evtchn_callback does, with no hypercall.
 *  - Page-table updates are queued between mmu batch begin and end and go to the hypervisor as
 *    one mmu_update (Linux's lazy MMU mode, xen_mc_batch / xen_mc_issue).
 *  - The timer is set_timer_op's one-shot deadline; a periodic timer re-arms itself on each tick.
 *
 * Only platform.ts calls these, inside `if (TARGET_PV)`, so a native build contains none of them.
 */
import {
  BF_FLAG_EVENTS,
  BF_FLAG_USER,
  CONSOLEIO_MAX,
  MMU_NORMAL_PT_UPDATE,
  PV_LINEAR_PT_VA,
  PV_SHARED_INFO_VA,
  PV_START_INFO_VA,
  SOD_CONSOLE_PORT,
  SOD_PT_BASE,
  SOD_PT_BASE_MFN,
  UVMF_INVLPG,
  VIRQ_TIMER,
} from '../../../abi/hypercall-numbers.ts';
import { PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { VIRTIO_BLK_S_OK } from '../../../abi/ring.ts';
import { EVTCHN_WORDS, SI_EVTCHN_PENDING, SI_PENDING_SEL, SI_TIME_HI, SI_TIME_LO, SI_UPCALL_MASK, SI_UPCALL_PENDING } from '../../../abi/shared-info.ts';
import { blkCapacity, blkInit, blkRead, blkWrite } from '../drivers/block.ts';
import { FRAME_ERRCODE, FRAME_FAULTADDR, FRAME_FLAGS, FRAME_VECTOR } from '../../lib/trap-frame.ts';
import { eventsInit, eventTake } from '../drivers/events.ts';
import { machineAddr } from '../drivers/memory.ts';
import {
  hcConsoleIoRead,
  hcConsoleIoWrite,
  hcEventChannelBindVirq,
  hcMmuextInvlpgLocal,
  hcMmuextNewBaseptr,
  hcMmuextNewUserBaseptr,
  hcMmuextPinL1Table,
  hcMmuextPinL2Table,
  hcMmuextUnpinTable,
  hcMmuUpdate,
  hcSchedBlock,
  hcSchedShutdown,
  hcSetCallbacks,
  hcSetTimerOp,
  hcSetTrapTable,
  hcStackSwitch,
  hcUpdateVaMapping,
} from './hypercalls.ts';

const EIO = -5;
const EFAULT = -14;
const MASK_AT = PV_SHARED_INFO_VA + SI_UPCALL_MASK;
const PENDING_AT = PV_SHARED_INFO_VA + SI_UPCALL_PENDING;
/** The linear page table's base as a signed word, so that address arithmetic stays in int32. */
const LPT = PV_LINEAR_PT_VA | 0;
/** The page directory seen through the linear page table: its own last entry maps it here. */
const LPT_DIR = LPT + 0x3ff000;
/** Largest batch we queue; a longer one goes as several mmu_update calls (MMU_UPDATE_MAX allows 1024). */
const MMU_BATCH = 128;

/** Queued {ptr, val} requests, two words each, in the layout mmu_update reads. */
const mmuReqs = new Int32Array(MMU_BATCH * 2);
let mmuQueued = 0;
let mmuBatching = false;
/** The page directory in use, as a machine address (frame << 12). */
let base = 0;

let timerPort = 0;
let consolePort = 0;
/** 0: one-shot; otherwise the period, re-armed from each deadline. */
let period = 0;
let deadlineLo = 0;
let deadlineHi = 0;
let blkError = 0;
/** Hypercalls the platform layer made itself (the drivers' own are the run's business). */
let calls = 0;
const inBuf = new Uint8Array(4);

type Tick = () => void;
type Device = (source: number) => void;
function noTick(): void {}
function noDevice(source: number): void {}
let tickHook: Tick = noTick;
let deviceHook: Device = noDevice;
type Syscall = (frame: number) => void;
function noSyscall(frame: number): void {}
let syscallHook: Syscall = noSyscall;
/** The bounce frame of the upcall being handled (pvFrame), 0 outside one (or in irqEnable's dispatch). */
let upcallFrame = 0;

/** The port's bit in pending word w, or 0. */
function bitOf(port: number, w: number): number {
  return port > 0 && port >>> 5 === w ? 1 << (port & 31) : 0;
}

/**
 * Take what is pending and act on our ports (timer, console input). Device ports are the
 * drivers': an event only wakes them up and they read their rings, so their bits are dropped as
 * events.ts's handler drops them. A driver that waited may have taken our timer bit into
 * events.ts's record (its wait clears every pending bit): eventTake gets it back.
 */
function dispatch(): void {
  store32(PENDING_AT, 0);
  store32(PV_SHARED_INFO_VA + SI_PENDING_SEL, 0);
  let timer = eventTake(timerPort);
  let input = false;
  for (let w = 0; w < EVTCHN_WORDS; w++) {
    const at = PV_SHARED_INFO_VA + SI_EVTCHN_PENDING + w * 4;
    const bits = load32(at);
    if (bits === 0) continue;
    store32(at, 0);
    if ((bits & bitOf(timerPort, w)) !== 0) timer = true;
    if ((bits & bitOf(consolePort, w)) !== 0) input = true;
  }
  if (timer) {
    if (period > 0) rearm();
    tickHook();
  }
  if (input) deviceHook(1);
}

/** The upcall entry: the hypervisor masked events on the way in; iret puts the flag back. */
function onUpcall(frame: number): void {
  upcallFrame = frame;
  dispatch();
  upcallFrame = 0;
}

/**
 * The system-call entry. The hypervisor bounces a SYSCALL without masking events (Xen's syscall
 * callback leaves them as they were), so mask them first; the iret hypercall puts back the
 * frame's flag (the caller's, or the next task's when the kernel switched by rewriting the frame).
 */
function onSyscallBounce(frame: number): void {
  store32(MASK_AT, 1);
  syscallHook(frame);
}

/** Register the system-call entry with set_callbacks (the upcall entry stays as it was). */
export function pvSetSyscall(h: Syscall): void {
  syscallHook = h;
  calls++;
  hcSetCallbacks(interruptEntry(onUpcall), interruptEntry(onSyscallBounce));
}

/** The kernel's exception handler (pvSetFault). */
type Fault = (frame: number, vector: number, addr: number) => void;
function noFault(frame: number, vector: number, addr: number): void {}
let faultHook: Fault = noFault;
/** The exception vectors the machine raises (abi/isa.ts VECTOR_NAMES below 32), as set_trap_table entries. */
const TRAP_VECTORS = new Int32Array([0, 3, 4, 5, 6, 8, 13, 14, 17]);
const trapTable = new Int32Array(18);

/** An exception's bounce: vector and address from the frame (the error code is in FRAME_ERRCODE). */
function onExceptionBounce(frame: number): void {
  store32(MASK_AT, 1);
  faultHook(frame, load32(frame + FRAME_VECTOR), load32(frame + FRAME_FAULTADDR));
}

/** Route every exception vector to `h` with set_trap_table (replacing start-up's table). */
export function pvSetFault(h: Fault): void {
  faultHook = h;
  const entry = interruptEntry(onExceptionBounce);
  for (let i = 0; i < TRAP_VECTORS.length; i++) {
    trapTable[2 * i] = TRAP_VECTORS[i];
    trapTable[2 * i + 1] = entry;
  }
  calls++;
  hcSetTrapTable(addressOf(trapTable), TRAP_VECTORS.length);
}

/** Whether the bounce came from guest user mode (BF_FLAG_USER). */
export function pvFrameIsUser(frame: number): boolean {
  return (load32(frame + FRAME_FLAGS) & BF_FLAG_USER) === BF_FLAG_USER;
}

/** A fresh user task's first flags: guest user mode, events enabled. */
export function pvUserFlags(): number {
  return BF_FLAG_USER | BF_FLAG_EVENTS;
}

export function pvShutdown(code: number): void {
  calls++;
  hcSchedShutdown(code);
}

/** stack_switch: the kernel stack of bounces from guest user mode (Xen's, as Linux's xen_load_sp0). */
export function pvSetKernelStack(top: number): void {
  calls++;
  hcStackSwitch(top);
}

/** A page-fault error code for the kernel's message (pv reports it in the frame). */
export function pvFrameErrCode(frame: number): number {
  return load32(frame + FRAME_ERRCODE);
}

/** The bounce frame of the upcall being handled, 0 outside one. */
export function pvFrame(): number {
  return upcallFrame;
}

/**
 * Register the upcall (after the drivers' eventsInit, so that ours is the one in force: the
 * drivers call eventsInit again from blkInit, which does nothing the second time), bind the
 * timer's virtual interrupt, and find the block device. Events stay masked.
 */
export function pvInit(tick: Tick, device: Device): void {
  tickHook = tick;
  deviceHook = device;
  store32(MASK_AT, 1);
  eventsInit();
  hcSetCallbacks(interruptEntry(onUpcall), 0);
  timerPort = hcEventChannelBindVirq(VIRQ_TIMER);
  calls += 2;
  consolePort = load32(PV_START_INFO_VA + SOD_CONSOLE_PORT);
  base = load32(PV_START_INFO_VA + SOD_PT_BASE_MFN) << 12;
  const r = blkInit(0, 8, 0);
  blkError = r < 0 ? r : 0;
  store32(MASK_AT, 1); // blkInit's set-up may have unmasked events (a driver wait)
}

// cpu -------------------------------------------------------------------------------------------

/** sched_op block: enables events and sleeps unless one is pending; the upcall runs on the way back. */
export function pvHalt(): void {
  calls++;
  hcSchedBlock();
}

export function pvIrqDisable(): void {
  store32(MASK_AT, 1);
}

export function pvIrqEnable(): void {
  store32(MASK_AT, 0);
  // order: the unmask is visible before we look at the pending flag (program order on this machine)
  while (load32(PENDING_AT) !== 0) {
    store32(MASK_AT, 1);
    dispatch();
    store32(MASK_AT, 0);
  }
}

export function pvIrqSave(): number {
  const f = load32(MASK_AT) === 0 ? 1 : 0;
  store32(MASK_AT, 1);
  return f;
}

export function pvIrqRestore(flags: number): void {
  if (flags !== 0) pvIrqEnable();
  else store32(MASK_AT, 1);
}

// mmu -------------------------------------------------------------------------------------------

/** The machine address of the entry that maps `va`, or EFAULT when no page table covers it. */
function pteMachineAddr(va: number): number {
  if ((load32(LPT_DIR + (va >>> 22) * 4) & PTE_P) === 0) return EFAULT;
  return machineAddr(LPT + (va >>> 12) * 4);
}

/** Send what is queued: one mmu_update. Entries applied, or -errno. */
function mmuFlush(): number {
  if (mmuQueued === 0) return 0;
  const n = mmuQueued;
  mmuQueued = 0;
  calls++;
  return hcMmuUpdate(addressOf(mmuReqs), n);
}

export function pvBatchBegin(): void {
  mmuBatching = true;
}

/** Issue the batch. Its mmu_update's result: entries applied, or -errno (then nothing was applied). */
export function pvBatchEnd(): number {
  mmuBatching = false;
  return mmuFlush();
}

/**
 * Outside a batch, one update_va_mapping (the entry and its TLB entry); inside, queue it. The
 * hypervisor validates either way: a frame we do not own, or a writable mapping of a page table,
 * is refused.
 */
export function pvSetPte(va: number, pte: number): number {
  const at = pteMachineAddr(va);
  if (at < 0) return at;
  if (!mmuBatching) {
    calls++;
    return hcUpdateVaMapping(va, pte, UVMF_INVLPG);
  }
  mmuReqs[mmuQueued * 2] = at | MMU_NORMAL_PT_UPDATE;
  mmuReqs[mmuQueued * 2 + 1] = pte;
  mmuQueued++;
  if (mmuQueued === MMU_BATCH) return mmuFlush();
  return 0;
}

/** The machine frame address that maps `va`, or EFAULT. */
export function pvFrameOf(va: number): number {
  if ((load32(LPT_DIR + (va >>> 22) * 4) & PTE_P) === 0) return EFAULT;
  const pte = load32(LPT + (va >>> 12) * 4);
  if ((pte & PTE_P) === 0) return EFAULT;
  return pte & ~0xfff;
}

/** A kernel mapping's entry: U set, since the pv kernel itself runs at privilege 3. */
export function pvMakePte(frame: number, writable: boolean): number {
  return (frame & ~0xfff) | PTE_P | PTE_U | (writable ? PTE_W : 0);
}

/** Queue one {ptr, val} (machine address of an entry, its new value); outside a batch, send it at once. */
function queueUpdate(ptr: number, val: number): number {
  mmuReqs[mmuQueued * 2] = ptr | MMU_NORMAL_PT_UPDATE;
  mmuReqs[mmuQueued * 2 + 1] = val;
  mmuQueued++;
  if (!mmuBatching || mmuQueued === MMU_BATCH) return mmuFlush();
  return 0;
}

/** Remap the kernel's own page at `va` read-only or writable (a page about to become, or no longer, a page table). */
function remap(va: number, writable: boolean): number {
  const frame = pvFrameOf(va);
  if (frame < 0) return frame;
  calls++;
  return hcUpdateVaMapping(va, pvMakePte(frame, writable), UVMF_INVLPG);
}

/**
 * Two fresh (zeroed) pages as a task's address space, as Xen's Linux pgd_alloc makes a kernel and
 * a user directory for a 64-bit PV process: `dir` gets the kernel's slots (all but the user range
 * [userSlot, userEnd) and the last, copied from the directory in use) and its own read-only
 * self-map in the last slot (the linear page table); `udir` gets nothing but, later, the same user
 * slots, so that the task at privilege 3 sees only its own pages. Both are made read-only here
 * and pinned as directories. 0 or -errno (then nothing is pinned).
 */
export function pvSpaceInit(dir: number, udir: number, userSlot: number, userEnd: number): number {
  for (let s = 0; s < 1023; s++) {
    if (s < userSlot || s >= userEnd) store32(dir + s * 4, load32(LPT_DIR + s * 4));
  }
  const dirFrame = pvFrameOf(dir);
  const udirFrame = pvFrameOf(udir);
  if (dirFrame < 0 || udirFrame < 0) return EFAULT;
  store32(dir + 1023 * 4, dirFrame | (load32(LPT_DIR + 1023 * 4) & 0xfff));
  let r = remap(dir, false);
  if (r >= 0) r = remap(udir, false);
  calls++;
  if (r >= 0) r = hcMmuextPinL2Table(dirFrame >>> 12);
  if (r < 0) return r;
  calls++;
  r = hcMmuextPinL2Table(udirFrame >>> 12);
  if (r < 0) {
    calls++;
    hcMmuextUnpinTable(dirFrame >>> 12);
  }
  return r;
}

/** Undo pvSpaceInit (the space is not in use; its user slots are empty): unpin, writable again. */
export function pvSpaceDestroy(dir: number, udir: number): number {
  calls += 2;
  let r = hcMmuextUnpinTable(pvFrameOf(dir) >>> 12);
  const r2 = hcMmuextUnpinTable(pvFrameOf(udir) >>> 12);
  if (r >= 0) r = r2;
  remap(dir, true);
  remap(udir, true);
  return r;
}

/** A fresh (zeroed) page as a page table: read-only, pinned. 0 or -errno. */
export function pvTableInit(table: number): number {
  let r = remap(table, false);
  calls++;
  if (r >= 0) r = hcMmuextPinL1Table(pvFrameOf(table) >>> 12);
  return r;
}

/** Undo pvTableInit (no directory names it any more). */
export function pvTableDestroy(table: number): number {
  calls++;
  const r = hcMmuextUnpinTable(pvFrameOf(table) >>> 12);
  remap(table, true);
  return r;
}

/** User slot `slot` of both directories names `table` (0: none): two requests of the batch. */
export function pvSetDirEntry(dir: number, udir: number, slot: number, table: number): number {
  const val = table === 0 ? 0 : pvFrameOf(table) | PTE_P | PTE_U | PTE_W;
  const r = queueUpdate(pvFrameOf(dir) + slot * 4, val);
  if (r < 0) return r;
  return queueUpdate(pvFrameOf(udir) + slot * 4, val);
}

/** Entry `index` of page table `table`: one request of the batch (the hypervisor flushes the TLB). */
export function pvSetTableEntry(table: number, index: number, pte: number): number {
  return queueUpdate(pvFrameOf(table) + index * 4, pte);
}

/** The boot directory's (read-only) virtual address: the kernel's own space. */
export function pvKernelSpace(): number {
  return load32(PV_START_INFO_VA + SOD_PT_BASE);
}

/** Switch to a task's pair of directories (udir 0: the kernel's space, no user space). */
export function pvSwitchSpace(dir: number, udir: number): number {
  calls += 2;
  const r = hcMmuextNewBaseptr(pvFrameOf(dir) >>> 12);
  if (r < 0) return r;
  base = pvFrameOf(dir);
  return hcMmuextNewUserBaseptr(udir === 0 ? 0 : pvFrameOf(udir) >>> 12);
}

export function pvFlushPage(va: number): void {
  calls++;
  hcMmuextInvlpgLocal(va);
}

/** Switch to the pinned directory at machine address `dir`. */
export function pvSwitch(dir: number): number {
  calls++;
  const r = hcMmuextNewBaseptr(dir >>> 12);
  if (r >= 0) base = dir;
  return r;
}

export function pvCurrentBase(): number {
  return base;
}

// time ------------------------------------------------------------------------------------------

/**
 * The hypervisor stamps virtual time into the shared-info page each time it enters us (a bounce or
 * an upcall), and there is no counter a privilege-3 guest can read in between (Xen has the TSC),
 * so the clock is the last stamp: exact in a tick handler, behind elsewhere.
 */
export function pvClock(): number {
  return load32(PV_SHARED_INFO_VA + SI_TIME_LO);
}

/** Deadline = (hi:lo) + delta, set with set_timer_op. */
function armAt(lo: number, hi: number, delta: number): void {
  const nlo = (lo + delta) | 0;
  deadlineHi = (nlo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  deadlineLo = nlo;
  calls++;
  hcSetTimerOp(deadlineLo, deadlineHi);
}

/** Re-arm a periodic timer from the last deadline (no drift), or from now if that has passed. */
function rearm(): void {
  const nowLo = load32(PV_SHARED_INFO_VA + SI_TIME_LO);
  const nowHi = load32(PV_SHARED_INFO_VA + SI_TIME_HI);
  const lo = (deadlineLo + period) | 0;
  const hi = (lo >>> 0) < (deadlineLo >>> 0) ? (deadlineHi + 1) | 0 : deadlineHi;
  if (hi > nowHi || (hi === nowHi && (lo >>> 0) > (nowLo >>> 0))) armAt(deadlineLo, deadlineHi, period);
  else armAt(nowLo, nowHi, period);
}

export function pvTimerArm(delta: number, periodic: boolean): void {
  period = periodic ? delta : 0;
  armAt(load32(PV_SHARED_INFO_VA + SI_TIME_LO), load32(PV_SHARED_INFO_VA + SI_TIME_HI), delta);
}

export function pvTimerStop(): void {
  period = 0;
  calls++;
  hcSetTimerOp(0, 0);
}

// console ---------------------------------------------------------------------------------------

export function pvConWrite(addr: number, len: number): void {
  for (let at = 0; at < len; at += CONSOLEIO_MAX) {
    calls++;
    hcConsoleIoWrite(addr + at, Math.min(CONSOLEIO_MAX, len - at));
  }
}

export function pvConRead(): number {
  calls++;
  if (hcConsoleIoRead(addressOf(inBuf), 1) <= 0) return -1;
  return inBuf[0];
}

// block: virtio-blk through ../drivers/block.ts, one request at a time -------------------------

function blkResult(status: number): number {
  if (status === VIRTIO_BLK_S_OK) return 0;
  return status < 0 ? status : EIO;
}

/**
 * The driver waits for the device with its own protocol (events.ts: mask, re-check, block), which
 * leaves events enabled: the caller's flag is put back afterwards.
 */
export function pvBlkRead(sector: number, addr: number): number {
  if (blkError < 0) return blkError;
  const f = pvIrqSave();
  const r = blkResult(blkRead(sector, addr, 512));
  pvIrqRestore(f);
  return r;
}

export function pvBlkWrite(sector: number, addr: number): number {
  if (blkError < 0) return blkError;
  const f = pvIrqSave();
  const r = blkResult(blkWrite(sector, addr, 512));
  pvIrqRestore(f);
  return r;
}

/** The block device's size in sectors (0: none). */
export function pvBlkSectors(): number {
  if (blkError < 0) return 0;
  return blkCapacity();
}

export function pvHypercalls(): number {
  return calls;
}
