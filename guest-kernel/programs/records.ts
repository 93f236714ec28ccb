/** Records: a task table with states, round-robin scheduling, methods, nested records. */
import { print, printlnNumber, println } from '../lib/console.ts';

const enum State {
  Unused,
  Runnable,
  Running,
  Sleeping,
  Zombie,
}

class Context {
  pc = 0;
  sp = 0;
  readonly regs = new Int32Array(4);
}

class Task {
  state = State.Unused;
  pid = 0;
  ticks = 0;
  killed = false;
  readonly name = new Uint8Array(8);
  readonly ctx = new Context();

  wake(): void {
    if (this.state === State.Sleeping) this.state = State.Runnable;
  }

  run(): number {
    this.state = State.Running;
    this.ticks++;
    this.ctx.pc += 4;
    this.ctx.regs[this.ticks & 3] += this.pid;
    return this.pid;
  }
}

const NTASK = 8;
const tasks = recordArray(Task, NTASK);
const idle = new Task();
let current: Task = idle;
let nextPid = 1;

function spawn(c: number): Task {
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i];
    if (t.state === State.Unused) {
      t.state = State.Runnable;
      t.pid = nextPid++;
      t.name[0] = c;
      t.ctx.sp = 4096 * (i + 1);
      return t;
    }
  }
  return idle;
}

function schedule(): Task {
  let start = 0;
  for (let i = 0; i < NTASK; i++) if (tasks[i] === current) start = i + 1;
  for (let k = 0; k < NTASK; k++) {
    const t = tasks[(start + k) % NTASK];
    if (t.state === State.Runnable) return t;
  }
  return idle;
}

function sumTicks(ts: RecordArray<Task>): number {
  let s = 0;
  for (let i = 0; i < ts.length; i++) s += ts[i].ticks;
  return s;
}

export function main(): number {
  for (let c = 65; c < 70; c++) spawn(c);
  tasks[2].state = State.Sleeping;
  for (let round = 0; round < 20; round++) {
    const t = schedule();
    if (t === idle) {
      println('idle');
      continue;
    }
    if (current !== idle && current.state === State.Running) current.state = State.Runnable;
    current = t;
    print('run ');
    printlnNumber(t.run());
    if (round === 7) tasks[2].wake();
  }
  for (let i = 0; i < NTASK; i++) {
    const t = tasks[i];
    if (t.state === State.Unused) continue;
    print('task ');
    printlnNumber(t.pid);
    printlnNumber(t.name[0]);
    printlnNumber(t.ticks);
    printlnNumber(t.ctx.pc + t.ctx.regs[1] + t.ctx.regs[2]);
  }
  printlnNumber(sumTicks(tasks));
  printlnNumber(idle.ticks);
  return tasks[0].ticks * 10 + nextPid;
}
