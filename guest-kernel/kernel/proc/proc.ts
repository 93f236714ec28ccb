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
  irqFlagsEnabled,
  irqFlagsOn,
  irqFrame,
  irqRestore,
  irqSave,
  irqSetSyscallHandler,
  irqSetTickHandler,
  irqEnable,
  timerArm,
} from '../platform/platform.ts';
import { FRAME_FLAGS, FRAME_PC, FRAME_SP } from '../../lib/trap-frame.ts';

export const enum TaskState {
  Unused,
  Runnable,
  Running,
  Sleeping,
  Zombie,
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
}

const tasks = recordArray(Task, NTASK);
const stacks = new Int32Array((NTASK * STACK_BYTES) / 4);
/** Index of the running task. */
let current = 1;
let nextPid = 2;
let started = false;

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
  if (t.killed && irqFlagsEnabled(t.flags)) t.pc = addressOf(killedExit);
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
  loadFrame(t, frame);
}

function onSyscall(frame: number): void {
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

function idle(arg: number): void {
  for (;;) cpuHalt();
}

function setup(i: number, entry: TaskEntry, arg: number): void {
  const t = tasks[i];
  t.pid = i === 0 ? 0 : nextPid++;
  t.parent = i === 0 ? -1 : current;
  t.chan = 0;
  t.killed = false;
  t.xstate = 0;
  t.runs = 0;
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
  timerArm(tickInstructions, true);
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
  if (t.killed) exit(KILLED_STATUS);
  t.chan = chan;
  t.state = TaskState.Sleeping;
  sched();
  t.chan = 0;
  if (t.killed) exit(KILLED_STATUS);
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
    if (t.pid === pid && t.state !== TaskState.Unused && t.state !== TaskState.Zombie) {
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
