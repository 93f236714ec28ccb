/**
 * What the two full-virtualization monitors share: the machine (machine memory with the monitor's
 * area and the guest's RAM, one CPU, the same emulated devices as the bare machine), the loop
 * around the CPU, exit accounting and the run report.
 *
 * The loop is the Board's (machine/board.ts), shared with the native platform, with exits added:
 * run the CPU up to the next timer deadline, handle the exit that stopped it, let the timer act,
 * and inject a pending interrupt when the guest's (virtual) IF allows. An interrupt is injected at the first stop
 * where it is deliverable, and on the bare machine every change of deliverability stops the CPU
 * too, so a guest takes its interrupts at the same instruction in every mode: virtual time counts
 * guest instructions only, never the monitor's work. Same image, same output, same counts.
 */
import { DEFAULT_MEMORY_BYTES } from '../../abi/platform.ts';
import { Board, Outcome } from '../machine/board.ts';
import type { CpuTracer, VmExitEvent } from '../machine/cpu.ts';
import type { GuestMemory } from '../machine/memory.ts';
import type { MachineOptions, PlatformReport } from '../machine/native.ts';
import { ExitCounters, EXIT_REASONS, type Exit, type VmmMode } from './exits.ts';
import { MACHINE_MAX_BYTES, VmMemory } from './layout.ts';

export { Outcome };

export abstract class Monitor extends Board {
  readonly vm: VmMemory;
  readonly exits: ExitCounters;
  protected readonly tracer: CpuTracer | null;
  /** A tracer wants exits: only then are qualifications built. */
  protected readonly tracing: boolean;
  /** Why the machine cannot be built (memory too large), reported by load(). */
  private readonly tooBig: string | null;

  constructor(
    readonly mode: VmmMode,
    opts: MachineOptions,
    /** Bytes of monitor memory this guest RAM size needs. */
    monitorBytesFor: (ramBytes: number) => number,
  ) {
    const ram = opts.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    const monitorBytes = monitorBytesFor(ram);
    const fits = ram + monitorBytes <= MACHINE_MAX_BYTES;
    const vm = fits ? new VmMemory(ram, monitorBytes) : new VmMemory(4096, monitorBytesFor(4096));
    super(vm.machine, opts);
    this.vm = vm;
    this.tooBig = fits
      ? null
      : `${ram / 1024 / 1024} MiB of guest memory and the monitor's ${monitorBytes / 1024} KiB do not fit in a ${MACHINE_MAX_BYTES / 1024 / 1024} MiB machine`;
    this.tracer = opts.tracer ?? null;
    this.tracing = this.tracer?.vmexit !== undefined;
    this.tracer?.attachGuestReader?.((va) => this.peekGuestWord(va));
    this.exits = new ExitCounters(mode);
  }

  protected ram(): GuestMemory {
    return this.vm;
  }

  protected override refusal(): string | null {
    return this.tooBig;
  }

  protected override reportExtra(): Partial<PlatformReport> {
    return { exits: this.exits.report() };
  }

  /** Invariants of the monitor's own structures (tests): empty when all hold. */
  abstract audit(): string[];
  /** The guest's architectural privilege, IF and control registers (Time aside), wherever they live. */
  abstract virtualCpu(): { cpl: number; iflag: boolean; cr: Int32Array };

  /** The instruction word at guest-virtual `va`, without side effects, for traces. */
  protected abstract peekGuestWord(va: number): number | undefined;

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
}
