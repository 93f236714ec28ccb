/**
 * The board around the CPU: the bare machine's devices on their ports (abi/platform.ts), and the
 * loop that runs the CPU up to the next device deadline, lets the timer act, and injects a pending
 * interrupt when the guest's IF allows — at exact points in virtual time, so every mode takes a
 * guest's interrupts at the same instruction. HLT skips virtual time ahead to the next deadline
 * (counted as idle).
 *
 * The native platform and the full-virtualization monitors are boards: they differ only in who
 * owns the CPU's privileged state. The native guest owns it outright; a monitor keeps a virtual
 * one and handles the CPU's exits. Those differences are the abstract methods below.
 */
import type { GuestImage } from '../../abi/image.ts';
import { Cr, Vector, vectorName } from '../../abi/isa.ts';
import { IRQ_UART, UART_IER_RX } from '../../abi/platform.ts';
import { BlockDevice } from '../devices/block.ts';
import { Pic } from '../devices/pic.ts';
import { PortBus } from '../devices/port-bus.ts';
import { Power } from '../devices/power.ts';
import { Timer } from '../devices/timer.ts';
import { Uart } from '../devices/uart.ts';
import { consoleReport } from '../devices/console-log.ts';
import { gpa } from './addr.ts';
import { Cpu, Stop } from './cpu.ts';
import type { GuestMemory, PhysicalMemory } from './memory.ts';
import type { MachineOptions, MachineRun, Platform, PlatformReport } from './native.ts';

/** What handling a stop left to the loop. */
export const enum Outcome {
  /** Resume the guest. */
  Resume = 0,
  /** The guest executed HLT: idle until an interrupt. */
  Halt = 1,
  /** An event could not be delivered: the machine resets (the run ends). */
  TripleFault = 2,
}

export abstract class Board implements Platform {
  readonly cpu: Cpu;
  readonly bus = new PortBus();
  readonly pic = new Pic();
  readonly timer: Timer;
  readonly uart: Uart;
  readonly block: BlockDevice;
  readonly power = new Power();
  /** The event a triple fault could not deliver, for the message. */
  protected triple = { vector: 0, pc: 0 };
  /** The guest is in HLT waiting for live console input (the last run paused waitingForInput). */
  private waitingInHalt = false;

  /** `machine`: the memory the CPU addresses (the guest's RAM, and a monitor's area if any). */
  constructor(machine: PhysicalMemory, opts: MachineOptions) {
    this.cpu = new Cpu(machine, this.bus);
    this.cpu.tracer = opts.tracer ?? null;
    const clock = { now: () => this.cpu.icount };
    this.timer = new Timer(clock, this.pic);
    this.uart = new Uart(opts.input, opts.onConsoleOutput, this.pic);
    this.block = new BlockDevice(opts.disk ?? new Uint8Array(0), this.pic, opts.onFlush, { ...(opts.onDiskWrite ? { onWrite: opts.onDiskWrite } : {}), readOnly: opts.diskReadOnly === true });
    for (const dev of [this.uart, this.pic, this.timer, this.block, this.power]) this.bus.attach(dev);
  }

  /** The guest's RAM, addressed guest-physically. */
  protected abstract ram(): GuestMemory;
  /** Put the guest's CPU in the bare machine's reset state at `entry`. */
  protected abstract resetGuest(entry: number): void;
  /** The CPU stopped with Stop.Exit: handle `cpu.exit`. */
  protected abstract handleExit(): Outcome;
  /** Deliver external interrupt `vector` into the guest (its IF was checked). */
  protected abstract injectInterrupt(vector: number): Outcome;

  // Where the guest owns the CPU's privileged state (native, hw's guest mode), its IF, vector
  // table and vector counts are the CPU's; a monitor that keeps them virtual overrides these.

  /** The guest's interrupt flag. */
  protected guestIf(): boolean {
    return this.cpu.iflag;
  }

  /** The guest's vector table base, for messages. */
  protected guestVbar(): number {
    return this.cpu.cr[Cr.Vbar]!;
  }

  /** Exceptions, interrupts and system calls the guest took, by vector. */
  protected guestVectorCounts(): Float64Array {
    return this.cpu.vectorCounts;
  }

  /** Why this board cannot take an image at all (e.g. too much memory asked), or null. */
  protected refusal(): string | null {
    return null;
  }

  /** Fields a mode adds to the report. */
  protected reportExtra(): Partial<PlatformReport> {
    return {};
  }

  /** Copy the image's segments into guest RAM and reset the guest's CPU at its entry. */
  load(image: GuestImage): string | null {
    const refused = this.refusal();
    if (refused) return refused;
    const ram = this.ram();
    for (const [i, seg] of image.segments.entries()) {
      if (!ram.contains(gpa(seg.addr), seg.memSize)) {
        return `segment[${i}] at 0x${seg.addr.toString(16)}+0x${seg.memSize.toString(16)} does not fit in ${ram.size} bytes of memory`;
      }
      ram.write(gpa(seg.addr), new Uint8Array(seg.memSize));
      ram.write(gpa(seg.addr), seg.data);
    }
    this.resetGuest(image.entry);
    return null;
  }

  /** Run until shutdown, a fatal stop, or `limit` instructions of virtual time. */
  run(limit: number, pauseAt = Infinity): MachineRun {
    const cpu = this.cpu;
    // Live input fed since the last run may have raised a line: take it now, at the point where
    // the run went on. (Otherwise a no-op: every run ends after the check at the loop's end.)
    if (!this.waitingInHalt && !this.deliver()) return this.tripleFault();
    for (;;) {
      if (this.power.code !== null) return { stop: 'shutdown', exitCode: this.power.code };
      if (cpu.icount >= limit) {
        return { stop: 'limit', exitCode: null, message: `stopped after ${limit} instructions (--max-instructions) at pc 0x${(cpu.pc >>> 0).toString(16)}` };
      }
      // Safe anywhere: the CPU returns whenever something may change whether an interrupt can be
      // taken, so cutting its run at pauseAt and going on later delivers every interrupt at the
      // same instruction.
      if (cpu.icount >= pauseAt) return PAUSED;
      let outcome = Outcome.Resume;
      if (this.waitingInHalt) {
        // Still in the HLT that paused for input: look again for something to wake it.
        this.waitingInHalt = false;
        outcome = Outcome.Halt;
      } else {
        const stop = cpu.run(Math.min(limit, pauseAt, this.timer.nextDeadline()));
        if (stop === Stop.Exit) outcome = this.handleExit();
        else if (stop === Stop.TripleFault) outcome = this.cpuTripleFault();
        else if (stop === Stop.Halt) outcome = Outcome.Halt;
      }
      if (outcome === Outcome.TripleFault) return this.tripleFault();
      if (outcome === Outcome.Halt && !this.idle(limit)) {
        // Wait for live input only when it could wake the guest: its receive interrupt enabled
        // and unmasked. Any other HLT that nothing can end stops as it always did.
        if (this.uart.inputOpen && this.guestIf() && this.uart.ier & UART_IER_RX && !(this.pic.mask & (1 << IRQ_UART))) {
          this.waitingInHalt = true;
          return WAITING;
        }
        return { stop: 'halted', exitCode: null, message: `halted with ${this.guestIf() ? 'no interrupt source armed' : 'interrupts disabled'} at pc 0x${(cpu.pc >>> 0).toString(16)}` };
      }
      this.timer.advance(cpu.icount);
      if (!this.deliver()) return this.tripleFault();
    }
  }

  /** Inject the deliverable interrupt, if the guest's IF allows one; false on a triple fault. */
  private deliver(): boolean {
    if (this.guestIf() && this.power.code === null) {
      const line = this.pic.deliverable();
      if (line >= 0) {
        this.pic.acknowledge(line);
        if (this.injectInterrupt(Vector.IrqBase + line) === Outcome.TripleFault) return false;
      }
    }
    return true;
  }

  virtualTime(): number {
    return this.cpu.icount;
  }

  idleTime(): number {
    return this.cpu.idle;
  }

  feedInput(bytes: Uint8Array): void {
    this.uart.feed(bytes);
  }

  setInputOpen(open: boolean): void {
    this.uart.inputOpen = open;
  }

  inputWaiting(): number {
    return this.uart.waiting();
  }

  report(): PlatformReport {
    return {
      ...consoleReport(this.uart.log),
      instructions: this.cpu.icount - this.cpu.idle,
      idleInstructions: this.cpu.idle,
      events: countsByVector(this.guestVectorCounts()),
      disk: { ...this.block.stats },
      ...this.reportExtra(),
    };
  }

  /** The CPU itself failed to deliver an event: remember which, for the message. */
  protected cpuTripleFault(): Outcome {
    this.triple = { vector: this.cpu.exit.vector, pc: this.cpu.exit.pc };
    return Outcome.TripleFault;
  }

  /**
   * HLT: skip virtual time to the next deadline. False when nothing can ever wake the guest (IF
   * clear, or no interrupt pending and no timer armed before the limit).
   */
  private idle(limit: number): boolean {
    const cpu = this.cpu;
    if (!this.guestIf()) return false;
    if (this.pic.deliverable() >= 0) return true;
    const wake = this.timer.nextDeadline();
    if (wake === Infinity) return false;
    const to = Math.min(wake, limit);
    if (to > cpu.icount) {
      cpu.idle += to - cpu.icount;
      cpu.icount = to;
    }
    return true;
  }

  private tripleFault(): MachineRun {
    const x = this.triple;
    return {
      stop: 'triple-fault',
      exitCode: null,
      message: `triple fault: could not deliver ${vectorName(x.vector)} (vector table at 0x${(this.guestVbar() >>> 0).toString(16)} or ${x.vector === Vector.DoubleFault ? 'double-fault' : 'kernel'} stack unusable) at pc 0x${(x.pc >>> 0).toString(16)}`,
    };
  }
}

const PAUSED: MachineRun = { stop: 'paused', exitCode: null };
const WAITING: MachineRun = { stop: 'paused', exitCode: null, waitingForInput: true };

/** Vector counts by name, only the ones that happened. */
export function countsByVector(counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  counts.forEach((n, v) => {
    if (n > 0) out[vectorName(v)] = n;
  });
  return out;
}
