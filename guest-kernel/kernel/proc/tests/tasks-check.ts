/**
 * A guest that exercises the task core (../proc.ts) through its interface, for
 * test/guest-kernel/tasks.test.ts: tasks taking turns over sleep/wakeup and over yield while a
 * task that never gives up the CPU spins beside them (so they progress only because the tick
 * preempts it), a producer/consumer pair over a two-slot buffer, wait collecting exit statuses,
 * kill of a sleeping task and of the spinner, sleepTicks, and the counters.
 *
 * Where tasks print is a synchronisation point (a turn, a wait), never a place that depends on
 * where a tick fell: virtual time is retired instructions, and the native and pv builds spend
 * different numbers of instructions on the same operation (a UART `out` per byte against one
 * console_io hypercall per line, a port write against a set_timer_op), so the ticks land at
 * different points in the two builds. The transcript is then the same in every mode; the counts
 * that depend on where the ticks fell (ticks, switches) are printed on one line of their own,
 * `sched:`, which the test compares between the modes of one build only. Every line is printed
 * with interrupts off, so two tasks' lines never mix. Needs the machine (not run under Node).
 * Exit code 0 when every check passed, else the number of the first that failed.
 */
import { conPrint, conPrintNumber, conWrite, irqRestore, irqSave, platformInit } from '../../platform/platform.ts';
import {
  exit,
  getpid,
  kill,
  KILLED_STATUS,
  procInit,
  procStats,
  PSTAT_COUNT,
  PSTAT_EXITS,
  PSTAT_KILLS,
  PSTAT_SPAWNS,
  PSTAT_SWITCHES,
  PSTAT_TICKS,
  sleep,
  sleepTicks,
  spawn,
  taskState,
  TaskState,
  uptime,
  wait,
  wakeup,
  yieldTask,
} from '../proc.ts';

/** Virtual-time instructions per tick. */
const TICK = 4000;
const TURN_CHAN = 100;
const NOT_FULL = 200;
const NOT_EMPTY = 201;
const NEVER = 300;
const ITEMS = 8;

const status = new Int32Array(1);
const byPid = new Int32Array(32);
const stats = new Int32Array(PSTAT_COUNT);
const buf = new Int32Array(2);
let failed = 0;
let spins = 0;
let turn = 0;
let yturn = 0;
let head = 0;
let tail = 0;

function check(ok: boolean, step: number): void {
  if (!ok && failed === 0) failed = step;
}


/** `label n\n`, in one piece (interrupts off). */
function say(label: string, n: number): void {
  const f = irqSave();
  conPrint(label);
  conPrintNumber(n);
  conPrint('\n');
  irqRestore(f);
}

/** `label a b\n`, in one piece. */
function say2(label: string, a: number, b: number): void {
  const f = irqSave();
  conPrint(label);
  conPrintNumber(a);
  conPrint(' ');
  conPrintNumber(b);
  conPrint('\n');
  irqRestore(f);
}

// the tasks -------------------------------------------------------------------------------------

/** Never sleeps, never yields: only the tick takes the CPU from it. */
function spinner(arg: number): void {
  for (;;) spins = (spins + 1) | 0;
}

/** Three rounds, each when `turn` comes to it: sleep/wakeup on TURN_CHAN. */
function taker(k: number): void {
  for (let round = 0; round < 3; round++) {
    const f = irqSave();
    while (turn !== k) sleep(TURN_CHAN);
    say2('taker pid/round ', getpid(), round);
    turn = (turn + 1) % 3;
    wakeup(TURN_CHAN);
    irqRestore(f);
  }
  exit(10 + k);
}

/** Two tasks alternating with yield alone (no sleep): busy-waiting politely. */
function yielder(k: number): void {
  for (let round = 0; round < 3; round++) {
    while (yturn !== k) yieldTask();
    say2('yielder k/round ', k, round);
    yturn = 1 - k;
  }
}

/** Puts 1..ITEMS into the two-slot ring, sleeping while it is full. */
function producer(arg: number): void {
  for (let i = 1; i <= ITEMS; i++) {
    const f = irqSave();
    while (head - tail === buf.length) sleep(NOT_FULL);
    buf[head % buf.length] = i;
    head++;
    wakeup(NOT_EMPTY);
    irqRestore(f);
  }
  exit(ITEMS);
}

/** Takes ITEMS items, printing each; exits with their sum. */
function consumer(arg: number): void {
  let sum = 0;
  for (let i = 0; i < ITEMS; i++) {
    const f = irqSave();
    while (head === tail) sleep(NOT_EMPTY);
    const v = buf[tail % buf.length];
    tail++;
    wakeup(NOT_FULL);
    say('consumer got ', v);
    irqRestore(f);
    sum += v;
  }
  exit(sum);
}

/** Sleeps on a channel nobody wakes: only kill ends it. */
function sleeper(arg: number): void {
  const f = irqSave();
  for (;;) sleep(NEVER);
}

/** Wait for `n` children, keeping their statuses by pid; then print them in pid order. */
function collect(n: number, from: number, to: number): void {
  for (let i = 0; i < n; i++) {
    const pid = wait(status);
    check(pid >= from && pid <= to, 10);
    if (pid >= 0 && pid < byPid.length) byPid[pid] = status[0];
  }
  for (let pid = from; pid <= to; pid++) say2('exit status pid/status ', pid, byPid[pid]);
}

export function main(): number {
  platformInit();
  procInit(TICK);
  conPrint('tasks: boot\n');
  say('getpid ', getpid());
  check(getpid() === 1, 1);

  const spin = spawn(spinner, 0);
  say('spawned spinner ', spin);

  // Turn-taking over sleep/wakeup, with the spinner competing.
  for (let k = 0; k < 3; k++) spawn(taker, k);
  collect(3, spin + 1, spin + 3);
  check(byPid[spin + 1] === 10 && byPid[spin + 3] === 12, 2);

  // Turn-taking over yield.
  const y0 = spawn(yielder, 0);
  spawn(yielder, 1);
  collect(2, y0, y0 + 1);

  // Producer and consumer over a two-slot buffer.
  const prod = spawn(producer, 0);
  spawn(consumer, 0);
  collect(2, prod, prod + 1);
  check(byPid[prod] === ITEMS && byPid[prod + 1] === 36, 3);

  // Kill a sleeping task.
  const sl = spawn(sleeper, 0);
  while (taskState(sl) !== TaskState.Sleeping) sleepTicks(1);
  say('sleeper state before kill ', taskState(sl));
  say('kill sleeper ', kill(sl));
  say2('wait sleeper pid/status ', wait(status), status[0]);
  check(status[0] === KILLED_STATUS, 4);

  // Sleep for ticks.
  const t0 = uptime();
  sleepTicks(3);
  say('slept at least 3 ticks ', uptime() - t0 >= 3 ? 1 : 0);
  check(uptime() - t0 >= 3, 5);

  // The spinner never stopped; kill it at its next preemption.
  say('spinner ran ', spins > 0 ? 1 : 0);
  check(spins > 0, 6);
  say('kill spinner ', kill(spin));
  say2('wait spinner pid/status ', wait(status), status[0]);
  check(status[0] === KILLED_STATUS, 7);

  say('wait with no children ', wait(status));
  say('kill of no such task ', kill(99));

  procStats(stats);
  say('spawns ', stats[PSTAT_SPAWNS]);
  say('exits ', stats[PSTAT_EXITS]);
  say('kills ', stats[PSTAT_KILLS]);
  say('preempted and switched ', stats[PSTAT_TICKS] > 0 && stats[PSTAT_SWITCHES] > stats[PSTAT_EXITS] ? 1 : 0);
  say2('sched: ticks/switches ', stats[PSTAT_TICKS], stats[PSTAT_SWITCHES]);
  say('failed ', failed);
  return failed;
}
