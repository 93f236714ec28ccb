/**
 * The bare "native" platform: one CPU, physical memory and the emulated devices of
 * abi/platform.ts, with no hypervisor. It is the baseline every other mode is compared with.
 *
 * The platform owns the loop around the CPU: it runs the CPU up to the next device deadline,
 * lets timers act, and injects a pending interrupt when IF allows, at exact points in virtual
 * time. HLT skips virtual time ahead to the next deadline (counted as idle).
 */
import { vectorName, Vector } from '../../abi/isa.ts';
import type { GuestImage } from '../../abi/image.ts';
import { DEFAULT_MEMORY_BYTES } from '../../abi/platform.ts';
import { BlockDevice } from '../devices/block.ts';
import { Pic } from '../devices/pic.ts';
import { PortBus } from '../devices/port-bus.ts';
import { Power } from '../devices/power.ts';
import { Timer } from '../devices/timer.ts';
import { Uart } from '../devices/uart.ts';
import { gpa } from './addr.ts';
import { Cpu, Stop, type CpuTracer } from './cpu.ts';
import { PhysicalMemory } from './memory.ts';

export interface MachineOptions {
  memoryBytes?: number;
  /** Disk image used in place by the block device (its writes land in this array). */
  disk?: Uint8Array;
  /** Bytes the UART will hand the guest, one per IN. */
  input?: Uint8Array;
  /** Called with each console byte as the guest writes it. */
  onConsoleByte?: (byte: number) => void;
  tracer?: CpuTracer;
}

/** Why a run ended. */
export type StopKind = 'shutdown' | 'limit' | 'triple-fault' | 'halted' | 'crashed';

export interface MachineRun {
  stop: StopKind;
  /** The guest's 32-bit shutdown code (unsigned), or null when it did not shut down. */
  exitCode: number | null;
  /** One line explaining a stop other than shutdown. */
  message?: string;
}

/** What a run measured, common to every mode (hypervisor/run.ts adds mode, stop and host time). */
export interface PlatformReport {
  console: string;
  /** Instructions retired by the guest. */
  instructions: number;
  /** Virtual time spent idle in HLT, in instructions. */
  idleInstructions: number;
  /** Exceptions, interrupts and system calls the guest took, by name. */
  events: Record<string, number>;
  disk: { sectorsRead: number; sectorsWritten: number; errors: number };
  /** pv: hypercalls made, by name ('event_channel_op' commands by their own names). */
  hypercalls?: Record<string, number>;
  /** pv: hypercalls refused, by error name (EINVAL, EPERM, ...). */
  hypercallErrors?: Record<string, number>;
  /** pv: events sent by this domain, pending edges that asked for an upcall, upcalls entered. */
  eventChannels?: { sent: number; notified: number; upcalls: number };
  /** pv: virtio devices that were used: kicks, requests, notifications sent and suppressed, ring errors. */
  devices?: Record<string, { kicks: number; requests: number; notifications: number; suppressed: number; errors: number }>;
  /** trap, hw: virtualization exits by reason (hypervisor/vmm/exits.ts); hostNs is not deterministic. */
  exits?: Record<string, { count: number; modelledCycles: number; hostNs: number }>;
}

/** A machine a mode runs guests on: load an image, run it, report. */
export interface Platform {
  load(image: GuestImage): string | null;
  run(limit: number): MachineRun;
  report(): PlatformReport;
}

export class NativeMachine implements Platform {
  readonly mem: PhysicalMemory;
  readonly cpu: Cpu;
  readonly bus = new PortBus();
  readonly pic = new Pic();
  readonly timer: Timer;
  readonly uart: Uart;
  readonly block: BlockDevice;
  readonly power = new Power();

  constructor(opts: MachineOptions = {}) {
    this.mem = new PhysicalMemory(opts.memoryBytes ?? DEFAULT_MEMORY_BYTES);
    this.cpu = new Cpu(this.mem, this.bus);
    this.cpu.tracer = opts.tracer ?? null;
    const clock = { now: () => this.cpu.icount };
    this.timer = new Timer(clock, this.pic);
    this.uart = new Uart(opts.input, opts.onConsoleByte);
    this.block = new BlockDevice(opts.disk ?? new Uint8Array(0), this.pic);
    for (const dev of [this.uart, this.pic, this.timer, this.block, this.power]) this.bus.attach(dev);
  }

  /** Copy the image's segments into physical memory and reset the CPU at its entry. */
  load(image: GuestImage): string | null {
    for (const [i, seg] of image.segments.entries()) {
      if (!this.mem.contains(gpa(seg.addr), seg.memSize)) {
        return `segment[${i}] at 0x${seg.addr.toString(16)}+0x${seg.memSize.toString(16)} does not fit in ${this.mem.size} bytes of memory`;
      }
      this.mem.u8.fill(0, seg.addr, seg.addr + seg.memSize);
      this.mem.write(gpa(seg.addr), seg.data);
    }
    this.cpu.reset(image.entry);
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
      if (stop === Stop.TripleFault) return this.tripleFault();
      if (stop === Stop.Exit) throw new Error('native platform: the CPU reported a virtualization exit with no hypervisor');
      if (stop === Stop.Halt && !this.idle(limit)) {
        return { stop: 'halted', exitCode: null, message: `halted with ${cpu.iflag ? 'no interrupt source armed' : 'interrupts disabled'} at pc 0x${(cpu.pc >>> 0).toString(16)}` };
      }
      this.timer.advance(cpu.icount);
      if (cpu.iflag && this.power.code === null) {
        const line = this.pic.deliverable();
        if (line >= 0) {
          this.pic.acknowledge(line);
          if (cpu.interrupt(Vector.IrqBase + line) === Stop.TripleFault) return this.tripleFault();
        }
      }
    }
  }

  /**
   * The CPU executed HLT: skip virtual time to the next deadline. False when nothing can ever
   * wake it (IF clear, or no interrupt pending and no timer armed before the limit).
   */
  private idle(limit: number): boolean {
    const cpu = this.cpu;
    if (!cpu.iflag) return false;
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
    const x = this.cpu.exit;
    return {
      stop: 'triple-fault',
      exitCode: null,
      message: `triple fault: could not deliver ${vectorName(x.vector)} (vector table at 0x${(this.cpu.cr[2]! >>> 0).toString(16)} or kernel stack unusable) at pc 0x${(x.pc >>> 0).toString(16)}`,
    };
  }

  report(): PlatformReport {
    return {
      console: new TextDecoder().decode(this.uart.output()),
      instructions: this.cpu.icount - this.cpu.idle,
      idleInstructions: this.cpu.idle,
      events: countsByVector(this.cpu.vectorCounts),
      disk: { ...this.block.stats },
    };
  }
}

/** Vector counts by name, only the ones that happened. */
export function countsByVector(counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  counts.forEach((n, v) => {
    if (n > 0) out[vectorName(v)] = n;
  });
  return out;
}
