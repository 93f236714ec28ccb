/**
 * Kernel tasks: a fixed table of records in xv6's states (unused, runnable, running, sleeping,
 * zombie), each with its own kernel stack, round-robin on the timer tick (preemption) and on
 * `yieldTask`, xv6's `sleep(chan)` / `wakeup(chan)`, `spawn(entry, arg)` of a kernel function,
 * `exit(status)`, `wait(status)`, `kill(pid)`, `getpid()` and `sleepTicks(n)`.
 *
 * Context switch. There is no `swtch` in assembly: every switch goes through an interrupt entry,
 * whose stub (the compiler's interruptEntry) saves r0..r14 below the CPU's trap frame (native:
 * pc, flags, sp) or the hypervisor's bounce frame (pv) and restores them on the way out. The
 * entries are the timer tick (the platform gives the tick handler its frame: irqFrame) and the
 * SYSCALL instruction (irqSetSyscallHandler), which yield, sleep and exit use with SYS_SCHED. The
 * handler copies the frame's registers, pc, flags and sp into the current task's record and the
 * next task's into the frame, so the stub's iret resumes the other task, on its own stack, where
 * it was switched out (or, for a new task, at `taskStart` on an empty stack). The frame left on
 * the old stack lies below the sp saved for it, so nothing there is needed again. Only
 * platform.ts is called for what differs between native and pv (the frame's offsets come from
 * lib/trap-frame.ts, the flag bits from irqFlagsOn / irqFlagsEnabled).
 *
 * Interrupts are this kernel's only lock (one CPU): sleep/wakeup callers save and disable them
 * around the check-and-sleep, as xv6 holds a lock, and a task switched out by SYS_SCHED with them
 * off resumes with them off (its own flags come back with its frame), so no wake-up is lost
 * between the check and the sleep.
 *
 * Task 0 is the idle task (pid 0, `cpuHalt` in a loop), chosen only when nothing else can run;
 * task 1 is the boot context that called procInit (pid 1, init: orphans are given to it).
 * Stacks are static (STACK_BYTES each, in the image's zero-filled data): no guard page between
 * them, so a task that overflows its stack overwrites the next one's (a limit; the page
 * allocator's frames with an unmapped page below would give each a guard).
 */
import {
  cpuHalt,
  cpuSetKernelStack,
  irqFrameIsUser,
  irqKernelFlags,
  irqUserFlags,
  irqFlagsEnabled,
  irqFlagsOn,
  irqFrame,
  irqRestore,
  irqSave,
  irqSetSyscallHandler,
  irqSetTickHandler,
  irqEnable,
  timerArm,
  timerStop,
} from '../platform/platform.ts';
import { FRAME_FLAGS, FRAME_PC, FRAME_SP } from '../../lib/trap-frame.ts';
import { vmActivate, vmDestroy, vmHasSpace } from '../mm/vm.ts';
import { ARGS_MAX, NAME_MAX } from '../syscall-abi.ts';

export const enum TaskState {
  Unused,
  Runnable,
  Running,
  Sleeping,
  Zombie,
  /** Reserved by taskReserve while a user program is loaded into it (xv6's EMBRYO / USED). */
  Embryo,
}

/** Size of the task table (idle and init included). */
export const NTASK = 16;
/** Each task's kernel stack. */
export const STACK_BYTES = 8192;
/** The system-call number of a switch (yield, sleep, exit: the caller has set its state). */
export const SYS_SCHED = 1;
/** -ENOSYS for any other number, until the kernel's system-call table exists. */
const ENOSYS = -38;
/** exit status of a task killed by `kill`, as xv6's -1. */
export const KILLED_STATUS = -1;
/** Channel the tick wakes (sleepTicks); other internal channels are -2 - task index (wait). */
const TICKS_CHAN = -1;

/** A kernel function run by a task. */
export type TaskEntry = (arg: number) => void;

/** A task: xv6's struct proc, with the saved interrupt frame as its context. */
class Task {
  state = 0;
  pid = 0;
  /** The parent's index in the table (-1: none). */
  parent = -1;
  /** What it sleeps on, while Sleeping. */
  chan = 0;
  killed = false;
  /** Inside exit: a kill while exit sleeps (closing files) must not start exit again. */
  exiting = false;
  /** exit status, kept for wait while a Zombie. */
  xstate = 0;
  /** Lowest address of its kernel stack. */
  stackBase = 0;
  /** The first frame's flags are made from the frame that first switches to it (see loadFrame). */
  fresh = false;
  pc = 0;
  flags = 0;
  sp = 0;
  /** Saved r0..r14. */
  readonly regs = new Int32Array(15);
  /** Times switched to. */
  runs = 0;
  /** A user task: it has an address space (../mm/vm.ts space = its slot) and runs at privilege 3. */
  user = false;
  /** Its program's name (ps), NUL-padded. */
  readonly name = new Uint8Array(NAME_MAX + 1);
  /** Its argument text (SYS_ARGS). */
  readonly args = new Uint8Array(ARGS_MAX);
  argsLen = 0;
  /** Where a fault is delivered (SYS_TRAP), 0 for none; the stack it runs on. */
  trapEntry = 0;
  trapStack = 0;
}

const tasks = recordArray(Task, NTASK);
const stacks = new Int32Array((NTASK * STACK_BYTES) / 4);
/** Index of the running task. */
let current = 1;
let nextPid = 2;
let started = false;
/** The task whose kernel stack traps from privilege 3 arrive on (-1: none set yet). */
let kstackOwner = -1;

/** Counters, indexes of procStats' output. */
export const PSTAT_SWITCHES = 0;
export const PSTAT_TICKS = 1;
export const PSTAT_SPAWNS = 2;
export const PSTAT_EXITS = 3;
export const PSTAT_WAKEUPS = 4;
export const PSTAT_KILLS = 5;
export const PSTAT_COUNT = 6;
const stats = new Int32Array(PSTAT_COUNT);

// the switch ------------------------------------------------------------------------------------

function saveFrame(t: Task, frame: number): void {
  for (let r = 0; r < 15; r++) t.regs[r] = load32(frame + 4 * r);
  t.pc = load32(frame + FRAME_PC);
  t.flags = load32(frame + FRAME_FLAGS);
  t.sp = load32(frame + FRAME_SP);
}

function loadFrame(t: Task, frame: number): void {
  if (t.fresh) {
    // The flags word's other bits (privilege; what a hypervisor's virtual frame keeps) are those
    // of a frame of this kernel, taken from the one being returned through.
    t.flags = irqFlagsOn(load32(frame + FRAME_FLAGS));
    t.fresh = false;
  }
  // A killed task that was preempted with interrupts on (not inside a check-and-sleep) exits
  // when it next runs, as xv6 checks p->killed on the way back to user mode.
  if (t.killed && irqFlagsEnabled(t.flags)) {
    t.pc = addressOf(killedExit);
    // A user task resumes in the kernel, on its own (empty) kernel stack, to exit there.
    if (t.user) {
      t.sp = t.stackBase + STACK_BYTES;
      t.flags = irqKernelFlags();
    }
  }
  for (let r = 0; r < 15; r++) store32(frame + 4 * r, t.regs[r]);
  store32(frame + FRAME_PC, t.pc);
  store32(frame + FRAME_FLAGS, t.flags);
  store32(frame + FRAME_SP, t.sp);
}

/** Round-robin after the current task; the idle task only when nothing else is runnable. */
function pickNext(): number {
  for (let k = 1; k <= NTASK; k++) {
    const i = (current + k) % NTASK;
    if (i !== 0 && tasks[i].state === TaskState.Runnable) return i;
  }
  return 0;
}

/** In an entry, interrupts off: switch from the current task to the next through `frame`. */
function schedule(frame: number): void {
  const cur = tasks[current];
  if (cur.state === TaskState.Running) cur.state = TaskState.Runnable;
  const next = pickNext();
  if (next === current) {
    cur.state = TaskState.Running;
    return;
  }
  saveFrame(cur, frame);
  const t = tasks[next];
  t.state = TaskState.Running;
  t.runs++;
  current = next;
  stats[PSTAT_SWITCHES]++;
  // A user task needs its space loaded and its kernel stack where traps from privilege 3 land
  // (Linux's switch_mm and load_sp0). A kernel task runs on whatever space is loaded: the
  // kernel's half is the same in all (Linux's lazy TLB for kernel threads).
  if (next !== 0 && !tickOn) {
    timerArm(tickPeriod, true);
    tickOn = true;
  }
  if (t.user) {
    vmActivate(next);
    if (kstackOwner !== next) {
      cpuSetKernelStack(t.stackBase + STACK_BYTES);
      kstackOwner = next;
    }
  }
  loadFrame(t, frame);
}


/** What a system call from a user task runs (../syscall/), with the entry's frame. */
export type UserSyscall = (frame: number) => void;
function noUserSyscall(frame: number): void {
  store32(frame, ENOSYS);
}
let userSyscall: UserSyscall = noUserSyscall;

/** Route system calls from privilege 3 to `h` (the kernel's system-call table). */
export function procSetUserSyscall(h: UserSyscall): void {
  userSyscall = h;
}

/** What exit runs for a user task before it becomes a zombie (close its descriptors). */
export type ExitHook = (slot: number) => void;
function noExitHook(slot: number): void {}
let exitHook: ExitHook = noExitHook;

export function procSetExitHook(h: ExitHook): void {
  exitHook = h;
}

function onSyscall(frame: number): void {
  if (irqFrameIsUser(frame)) {
    userSyscall(frame);
    return;
  }
  const nr = load32(frame);
  if (nr === SYS_SCHED) {
    store32(frame, 0);
    schedule(frame);
  } else {
    store32(frame, ENOSYS);
  }
}

function onTick(): void {
  stats[PSTAT_TICKS]++;
  wakeup(TICKS_CHAN);
  const frame = irqFrame();
  // pv: a tick dispatched by irqEnable has no frame; the next one preempts.
  if (frame !== 0) schedule(frame);
}

/** Switch away (the caller set its state, interrupts may be on or off). */
function sched(): void {
  syscall(SYS_SCHED);
}

// task bodies -----------------------------------------------------------------------------------

/** Where a new task starts (r0 = arg, r1 = entry, sp = top of its stack). */
function taskStart(arg: number, entry: TaskEntry): void {
  entry(arg);
  exit(0);
}

function killedExit(): void {
  exit(KILLED_STATUS);
}

/**
 * The idle task. With no task asleep on the tick it stops the timer before it halts (Linux's
 * NO_HZ idle), so a machine with nothing to do waits for input instead of ticking through virtual
 * time; schedule() arms it again as soon as another task runs. Interrupts are off from the check
 * to the halt's own enable (native `sti; hlt`, pv `sched_op block`). Natively an interrupt can
 * still land between `sti` and `hlt` (this machine has no interrupt shadow): a device event that
 * makes a task runnable then preempts the idle task at once (procDeviceEvent), so the wake-up is
 * not lost in the halt.
 */
function idle(arg: number): void {
  for (;;) {
    irqSave();
    if (tickOn && !tickSleepers()) {
      timerStop();
      tickOn = false;
    }
    cpuHalt();
  }
}

/** Whether some task sleeps on the tick (sleepTicks), which needs the timer. */
function tickSleepers(): boolean {
  for (let i = 1; i < NTASK; i++) if (tasks[i].state === TaskState.Sleeping && tasks[i].chan === TICKS_CHAN) return true;
  return false;
}

/** The timer is armed (the idle task stops it; a switch to any other task arms it again). */
let tickOn = false;
let tickPeriod = 0;

/**
 * After a device event (console input), inside its interrupt: if the idle task was interrupted
 * and the event made a task runnable, switch to it now rather than at the next tick, which a
 * tickless idle may never take.
 */
export function procDeviceEvent(): void {
  if (current !== 0) return;
  const frame = irqFrame();
  if (frame !== 0 && pickNext() !== 0) schedule(frame);
}

function setup(i: number, entry: TaskEntry, arg: number): void {
  const t = tasks[i];
  t.pid = i === 0 ? 0 : nextPid++;
  t.parent = i === 0 ? -1 : current;
  t.chan = 0;
  t.killed = false;
  t.exiting = false;
  t.xstate = 0;
  t.runs = 0;
  t.user = false;
  t.argsLen = 0;
  t.trapEntry = 0;
  t.trapStack = 0;
  for (let k = 0; k <= NAME_MAX; k++) t.name[k] = 0;
  t.stackBase = addressOf(stacks) + i * STACK_BYTES;
  for (let r = 0; r < 15; r++) t.regs[r] = 0;
  t.regs[0] = arg;
  t.regs[1] = addressOf(entry);
  t.pc = addressOf(taskStart);
  t.sp = t.stackBase + STACK_BYTES;
  t.flags = 0;
  t.fresh = true;
  t.state = TaskState.Runnable;
}

// the interface ---------------------------------------------------------------------------------

/**
 * Make the caller task 1 (pid 1, init), create the idle task, take the tick and SYSCALL, arm a
 * periodic tick every `tickInstructions` of virtual time and enable interrupts. Once, after
 * platformInit.
 */
export function procInit(tickInstructions: number): void {
  if (started) return;
  started = true;
  irqSave();
  for (let i = 0; i < NTASK; i++) tasks[i].state = TaskState.Unused;
  setup(0, idle, 0);
  const init = tasks[1];
  init.pid = 1;
  init.parent = -1;
  init.state = TaskState.Running;
  init.stackBase = 0;
  current = 1;
  nextPid = 2;
  irqSetTickHandler(onTick);
  irqSetSyscallHandler(onSyscall);
  tickPeriod = tickInstructions;
  timerArm(tickInstructions, true);
  tickOn = true;
  irqEnable();
}

/** Start `entry(arg)` in a new task, a child of the caller; its pid, or -1 when the table is full. */
export function spawn(entry: TaskEntry, arg: number): number {
  const f = irqSave();
  let pid = -1;
  for (let i = 2; i < NTASK; i++) {
    if (tasks[i].state === TaskState.Unused) {
      setup(i, entry, arg);
      pid = tasks[i].pid;
      stats[PSTAT_SPAWNS]++;
      break;
    }
  }
  irqRestore(f);
  return pid;
}

/** Give up the CPU; back when the round comes round again. */
export function yieldTask(): void {
  sched();
}

/**
 * xv6's sleep: call with interrupts disabled (irqSave) after checking the condition, so that a
 * wakeup cannot come between the check and the sleep; returns, interrupts still disabled, once
 * woken. A task killed while asleep exits instead of returning.
 */
export function sleep(chan: number): void {
  const f = irqSave();
  const t = tasks[current];
  if (t.killed && !t.exiting) exit(KILLED_STATUS);
  t.chan = chan;
  t.state = TaskState.Sleeping;
  sched();
  t.chan = 0;
  if (t.killed && !t.exiting) exit(KILLED_STATUS);
  irqRestore(f);
}

/** Make every task sleeping on `chan` runnable. */
export function wakeup(chan: number): void {
  const f = irqSave();
  for (let i = 0; i < NTASK; i++) {
    const t = tasks[i];
    if (t.state === TaskState.Sleeping && t.chan === chan) {
      t.state = TaskState.Runnable;
      stats[PSTAT_WAKEUPS]++;
    }
  }
  irqRestore(f);
}

/** End the calling task with `status`; its parent's wait collects it. Never returns. */
export function exit(status: number): void {
  irqSave();
  const t = tasks[current];
  if (t.user && !t.exiting) {
    t.exiting = true;
    exitHook(current);
  }
  // Orphans go to init, which is woken in case one of them is already a zombie.
  for (let i = 2; i < NTASK; i++) {
    if (tasks[i].parent === current && tasks[i].state !== TaskState.Unused) tasks[i].parent = 1;
  }
  t.xstate = status;
  t.state = TaskState.Zombie;
  stats[PSTAT_EXITS]++;
  wakeup(-2 - t.parent);
  wakeup(-2 - 1);
  for (;;) sched();
}

/**
 * Wait for a child to exit: its pid, with its status in `status[0]`; -1 when the caller has no
 * children (or was killed).
 */
export function wait(status: Int32Array): number {
  const f = irqSave();
  for (;;) {
    let children = false;
    for (let i = 2; i < NTASK; i++) {
      const c = tasks[i];
      if (c.parent !== current || c.state === TaskState.Unused) continue;
      children = true;
      if (c.state === TaskState.Zombie) {
        const pid = c.pid;
        if (status.length > 0) status[0] = c.xstate;
        // xv6 frees the child's memory here too: its space is no longer loaded by anyone who
        // needs it (vmDestroy loads the kernel's first if a kernel task borrowed it).
        if (c.user) vmDestroy(i);
        c.user = false;
        c.state = TaskState.Unused;
        c.parent = -1;
        c.pid = 0;
        irqRestore(f);
        return pid;
      }
    }
    if (!children || tasks[current].killed) {
      irqRestore(f);
      return -1;
    }
    sleep(-2 - current);
  }
}

/**
 * Mark task `pid` killed: asleep, it is woken and exits from sleep; running or runnable, it exits
 * the next time it is switched to with interrupts on. 0, or -1 for no such task (or idle, init).
 */
export function kill(pid: number): number {
  const f = irqSave();
  let r = -1;
  for (let i = 2; i < NTASK; i++) {
    const t = tasks[i];
    if (t.pid === pid && t.state !== TaskState.Unused && t.state !== TaskState.Zombie && t.state !== TaskState.Embryo) {
      t.killed = true;
      if (t.state === TaskState.Sleeping) t.state = TaskState.Runnable;
      stats[PSTAT_KILLS]++;
      r = 0;
    }
  }
  irqRestore(f);
  return r;
}

export function getpid(): number {
  return tasks[current].pid;
}

/** Ticks since procInit. */
export function uptime(): number {
  return stats[PSTAT_TICKS];
}

/** Sleep for at least `n` timer ticks (xv6's sys_sleep: on the tick channel). */
export function sleepTicks(n: number): void {
  const f = irqSave();
  const start = stats[PSTAT_TICKS];
  while (stats[PSTAT_TICKS] - start < n) sleep(TICKS_CHAN);
  irqRestore(f);
}

/** The state of task `pid`, or -1 when there is none. */
export function taskState(pid: number): number {
  for (let i = 0; i < NTASK; i++) {
    if (tasks[i].state !== TaskState.Unused && tasks[i].pid === pid) return tasks[i].state;
  }
  return -1;
}

/** Copy the counters (PSTAT_*) into `out`. */
export function procStats(out: Int32Array): void {
  for (let i = 0; i < PSTAT_COUNT && i < out.length; i++) out[i] = stats[i];
}

// user tasks ------------------------------------------------------------------------------------

/** The running task's slot (its address space's index). */
export function currentSlot(): number {
  return current;
}

/** Whether the running task is a user task. */
export function currentIsUser(): boolean {
  return tasks[current].user;
}

/**
 * Reserve a slot for a user program, a child of the caller, with its pid, name and argument text
 * (bytes at kernel addresses): its slot, or -1 when the table is full. The slot stays Embryo (not
 * run, not killed, not waited for) until taskStartUser or taskRelease.
 */
export function taskReserve(name: number, nameLen: number, args: number, argsLen: number): number {
  const f = irqSave();
  let slot = -1;
  for (let i = 2; i < NTASK; i++) {
    if (tasks[i].state === TaskState.Unused) {
      slot = i;
      setup(i, idle, 0);
      tasks[i].state = TaskState.Embryo;
      break;
    }
  }
  irqRestore(f);
  if (slot < 0) return -1;
  const t = tasks[slot];
  for (let k = 0; k < nameLen && k < NAME_MAX; k++) t.name[k] = load8(name + k);
  for (let k = 0; k < argsLen && k < ARGS_MAX; k++) t.args[k] = load8(args + k);
  t.argsLen = argsLen < ARGS_MAX ? argsLen : ARGS_MAX;
  return slot;
}

/** Give a reserved slot back (its program could not be loaded); its space is destroyed if it has one. */
export function taskRelease(slot: number): void {
  const t = tasks[slot];
  if (vmHasSpace(slot)) vmDestroy(slot);
  t.user = false;
  t.parent = -1;
  t.pid = 0;
  t.state = TaskState.Unused;
}

/**
 * Make a reserved slot, whose space holds its program, runnable at user `entry` with user stack
 * `sp`, at privilege 3 with interrupts on. Its pid.
 */
export function taskStartUser(slot: number, entry: number, sp: number): number {
  const t = tasks[slot];
  for (let r = 0; r < 15; r++) t.regs[r] = 0;
  t.pc = entry;
  t.sp = sp;
  t.flags = irqUserFlags();
  t.fresh = false;
  t.user = true;
  const f = irqSave();
  t.state = TaskState.Runnable;
  stats[PSTAT_SPAWNS]++;
  irqRestore(f);
  return t.pid;
}

/** The running task's argument text into `out` (kernel bytes); its length. */
export function currentArgs(out: Uint8Array): number {
  const t = tasks[current];
  for (let k = 0; k < t.argsLen && k < out.length; k++) out[k] = t.args[k];
  return t.argsLen;
}

/** SYS_TRAP's registration for the running task (0 entry: none). */
export function setCurrentTrap(entry: number, stack: number): void {
  tasks[current].trapEntry = entry;
  tasks[current].trapStack = stack;
}

/** The running task's trap entry, dropped as it is taken (a fault in the reporter then kills). */
export function takeCurrentTrap(): number {
  const e = tasks[current].trapEntry;
  tasks[current].trapEntry = 0;
  return e;
}

export function currentTrapStack(): number {
  return tasks[current].trapStack;
}

/** The running task's name, NUL-padded (for messages). */
export function currentName(): Uint8Array {
  return tasks[current].name;
}

/**
 * SYS_PS's record of slot `slot` into `rec` (PS_PID.. words) and `name`: 1 when used, 0 when
 * unused, -1 past the table.
 */
export function taskInfo(slot: number, rec: Int32Array, name: Uint8Array): number {
  if (slot < 0 || slot >= NTASK) return -1;
  const t = tasks[slot];
  if (t.state === TaskState.Unused) return 0;
  rec[0] = t.pid;
  rec[1] = t.parent >= 0 ? tasks[t.parent].pid : 0;
  rec[2] = t.state;
  rec[3] = t.runs;
  for (let k = 0; k <= NAME_MAX && k < name.length; k++) name[k] = t.name[k];
  if (slot === 0 && name.length > 4) {
    name[0] = 105; // idle
    name[1] = 100;
    name[2] = 108;
    name[3] = 101;
  }
  if (slot === 1 && name.length > 4) {
    name[0] = 105; // init
    name[1] = 110;
    name[2] = 105;
    name[3] = 116;
  }
  return 1;
}

/** Whether the running task has been killed (it must not return to user code). */
export function currentIsKilled(): boolean {
  return tasks[current].killed;
}
