/**
 * What the two full-virtualization monitors share: the machine (machine memory with the monitor's
 * area and the guest's RAM, one CPU, the same emulated devices as the bare machine), the loop
 * around the CPU, exit accounting and the run report.
 *
 * The loop is the native platform's (machine/native.ts) with exits added: run the CPU up to the
 * next timer deadline, handle the exit that stopped it, let the timer act, and inject a pending
 * interrupt when the guest's (virtual) IF allows. An interrupt is injected at the first stop
 * where it is deliverable, and on the bare machine every change of deliverability stops the CPU
 * too, so a guest takes its interrupts at the same instruction in every mode: virtual time counts
 * guest instructions only, never the monitor's work. Same image, same output, same counts.
 */
import type { GuestImage } from '../../abi/image.ts';
import { vectorName, Vector } from '../../abi/isa.ts';
import { DEFAULT_MEMORY_BYTES } from '../../abi/platform.ts';
import { BlockDevice } from '../devices/block.ts';
import { Pic } from '../devices/pic.ts';
import { PortBus } from '../devices/port-bus.ts';
import { Power } from '../devices/power.ts';
import { Timer } from '../devices/timer.ts';
import { Uart } from '../devices/uart.ts';
import { gpa } from '../machine/addr.ts';
import { Cpu, Stop, type CpuTracer, type VmExitEvent } from '../machine/cpu.ts';
import { countsByVector, type MachineOptions, type MachineRun, type Platform, type PlatformReport } from '../machine/native.ts';
import { ExitCounters, EXIT_REASONS, type Exit, type VmmMode } from './exits.ts';
import { MACHINE_MAX_BYTES, VmMemory } from './layout.ts';

/** What handling an exit left to the loop. */
export const enum Outcome {
  /** Resume the guest. */
  Resume = 0,
  /** The guest executed HLT: idle until an interrupt. */
  Halt = 1,
  /** An event could not be delivered: the machine resets (the run ends). */
  TripleFault = 2,
}

export abstract class Monitor implements Platform {
  readonly vm: VmMemory;
  readonly cpu: Cpu;
  readonly bus = new PortBus();
  readonly pic = new Pic();
  readonly timer: Timer;
  readonly uart: Uart;
  readonly block: BlockDevice;
  readonly power = new Power();
  readonly exits: ExitCounters;
  protected readonly tracer: CpuTracer | null;
  /** A tracer wants exits: only then are qualifications built. */
  protected readonly tracing: boolean;
  /** The event a triple fault could not deliver, for the message. */
  protected triple = { vector: 0, pc: 0 };
  /** Why the machine cannot be built (memory too large), reported by load(). */
  private readonly refusal: string | null;

  constructor(
    readonly mode: VmmMode,
    opts: MachineOptions,
    /** Bytes of monitor memory this guest RAM size needs. */
    monitorBytesFor: (ramBytes: number) => number,
  ) {
    const ram = opts.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    const monitorBytes = monitorBytesFor(ram);
    const fits = ram + monitorBytes <= MACHINE_MAX_BYTES;
    this.refusal = fits
      ? null
      : `${ram / 1024 / 1024} MiB of guest memory and the monitor's ${monitorBytes / 1024} KiB do not fit in a ${MACHINE_MAX_BYTES / 1024 / 1024} MiB machine`;
    this.vm = fits ? new VmMemory(ram, monitorBytes) : new VmMemory(4096, monitorBytesFor(4096));
    this.cpu = new Cpu(this.vm.machine, this.bus);
    this.tracer = opts.tracer ?? null;
    this.tracing = this.tracer?.vmexit !== undefined;
    this.cpu.tracer = this.tracer;
    this.tracer?.attachGuestReader?.((va) => this.peekGuestWord(va));
    const clock = { now: () => this.cpu.icount };
    this.timer = new Timer(clock, this.pic);
    this.uart = new Uart(opts.input, opts.onConsoleByte);
    this.block = new BlockDevice(opts.disk ?? new Uint8Array(0), this.pic);
    for (const dev of [this.uart, this.pic, this.timer, this.block, this.power]) this.bus.attach(dev);
    this.exits = new ExitCounters(mode);
  }

  /** Copy the image into guest RAM and reset the virtual CPU at its entry. */
  load(image: GuestImage): string | null {
    if (this.refusal) return this.refusal;
    for (const [i, seg] of image.segments.entries()) {
      if (!this.vm.contains(gpa(seg.addr), seg.memSize)) {
        return `segment[${i}] at 0x${seg.addr.toString(16)}+0x${seg.memSize.toString(16)} does not fit in ${this.vm.size} bytes of memory`;
      }
      this.vm.zero(gpa(seg.addr), seg.memSize);
      this.vm.write(gpa(seg.addr), seg.data);
    }
    this.resetGuest(image.entry);
    return null;
  }

  /** Run until shutdown, a fatal stop, or `limit` instructions of virtual time. */
  run(limit: number): MachineRun {
    const cpu = this.cpu;
    for (;;) {
      if (this.power.code !== null) return { stop: 'shutdown', exitCode: this.power.code };
      if (cpu.icount >= limit) {
        return { stop: 'limit', exitCode: null, message: `stopped after ${limit} instructions (--max-instructions) at pc 0x${(cpu.pc >>> 0).toString(16)}` };
      }
      const stop = cpu.run(Math.min(limit, this.timer.nextDeadline()));
      let outcome = Outcome.Resume;
      if (stop === Stop.Exit) outcome = this.handleExit();
      else if (stop === Stop.TripleFault) outcome = this.cpuTripleFault();
      else if (stop === Stop.Halt) outcome = Outcome.Halt;
      if (outcome === Outcome.TripleFault) return this.tripleFault();
      if (outcome === Outcome.Halt && !this.idle(limit)) {
        return { stop: 'halted', exitCode: null, message: `halted with ${this.guestIf() ? 'no interrupt source armed' : 'interrupts disabled'} at pc 0x${(cpu.pc >>> 0).toString(16)}` };
      }
      this.timer.advance(cpu.icount);
      if (this.guestIf() && this.power.code === null) {
        const line = this.pic.deliverable();
        if (line >= 0) {
          this.pic.acknowledge(line);
          if (this.injectInterrupt(Vector.IrqBase + line) === Outcome.TripleFault) return this.tripleFault();
        }
      }
    }
  }

  report(): PlatformReport {
    return {
      console: new TextDecoder().decode(this.uart.output()),
      instructions: this.cpu.icount - this.cpu.idle,
      idleInstructions: this.cpu.idle,
      events: countsByVector(this.guestVectorCounts()),
      disk: { ...this.block.stats },
      exits: this.exits.report(),
    };
  }

  /** Invariants of the monitor's own structures (tests): empty when all hold. */
  abstract audit(): string[];
  /** The guest's architectural privilege, IF and control registers (Time aside), wherever they live. */
  abstract virtualCpu(): { cpl: number; iflag: boolean; cr: Int32Array };

  /** Put the virtual CPU in the bare machine's reset state at `entry`. */
  protected abstract resetGuest(entry: number): void;
  /** The CPU stopped with Stop.Exit: handle `cpu.exit`. */
  protected abstract handleExit(): Outcome;
  /** Deliver external interrupt `vector` into the guest (its IF was checked). */
  protected abstract injectInterrupt(vector: number): Outcome;
  /** The guest's interrupt flag. */
  protected abstract guestIf(): boolean;
  /** The guest's vector table base, for messages. */
  protected abstract guestVbar(): number;
  /** Exceptions, interrupts and system calls the guest took, by vector. */
  protected abstract guestVectorCounts(): Float64Array;
  /** The instruction word at guest-virtual `va`, without side effects, for traces. */
  protected abstract peekGuestWord(va: number): number | undefined;

  /** The CPU itself failed to deliver an event (hw: the guest's table or stack is unusable). */
  protected cpuTripleFault(): Outcome {
    this.triple = { vector: this.cpu.exit.vector, pc: this.cpu.exit.pc };
    return Outcome.TripleFault;
  }

  /** A port read on the guest's behalf (the emulated devices, as on the bare machine). */
  portIn(port: number, pc: number): number {
    const v = this.bus.portIn(port) | 0;
    if (this.tracer) this.tracer.portIn(this.cpu, port, v, pc);
    return v;
  }

  /** A port write on the guest's behalf. */
  portOut(port: number, value: number, pc: number): void {
    if (this.tracer) this.tracer.portOut(this.cpu, port, value, pc);
    this.bus.portOut(port, value);
  }

  /** Report exit `e` to the tracer (callers check `tracing` first, so untraced runs build nothing). */
  protected traceExit(e: Exit, pc: number, insn: number | null, qual: Record<string, number | string>): void {
    const ev: VmExitEvent = { reason: EXIT_REASONS[e]!, pc, insn, qual };
    this.tracer!.vmexit!(this.cpu, ev);
  }

  /** HLT: skip virtual time to the next deadline, as the bare machine does. False: nothing can wake it. */
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
      message: `triple fault: could not deliver ${vectorName(x.vector)} (vector table at 0x${(this.guestVbar() >>> 0).toString(16)} or kernel stack unusable) at pc 0x${(x.pc >>> 0).toString(16)}`,
    };
  }
}
