/**
 * `hw` mode: hardware-assisted full virtualization, like VT-x with EPT.
 *
 * The CPU runs the guest in guest mode (machine/cpu.ts, `exitControls`) with the guest's own
 * state, as VT-x runs it from the VMCS: the guest kernel at its own privilege 0, the guest's IF,
 * control registers, vector table and page-table base in the real CPU. What makes it a guest:
 * - every sensitive instruction exits with a reason and qualification (HW_EXIT_CONTROLS): the
 *   privileged ones (port I/O, control registers, CLI/STI, HLT, IRET/SYSRET, INVLPG) and, unlike
 *   `trap`, the sensitive-but-unprivileged PUSHF and POPF, which is what makes this machine
 *   virtualizable here. The monitor emulates each against the guest state (emulate.ts) and
 *   resumes. A privileged instruction at guest privilege 3 raises #GP in the guest directly, as on
 *   VT-x (the privilege check comes before the exit);
 * - memory is virtualized by nested paging (nested.ts): the guest's tables translate guest-virtual
 *   to guest-physical untouched, the monitor's second-level table guest-physical to machine, so
 *   guest page faults and page-table writes never exit; a missing second-level entry exits
 *   (ept-violation) and is filled;
 * - exceptions and SYSCALL are delivered by the CPU through the guest's table (an empty exception
 *   bitmap); external interrupts are injected by the monitor (`cpu.interrupt`, VT-x's event
 *   injection at VM entry).
 */
import { Cr, OPCODES, PTE_FRAME_MASK, CTRL_PG, vectorName, Vector } from '../../abi/isa.ts';
import { ExitKind, Stop, type Cpu } from '../machine/cpu.ts';
import type { MachineOptions } from '../machine/native.ts';
import { VMEXIT_NESTED } from '../machine/mmu.ts';
import { emulate, Emulated } from './emulate.ts';
import { Exit, INSN_EXIT } from './exits.ts';
import { Monitor, Outcome } from './monitor.ts';
import { NestedTable } from './nested.ts';
import { faultQual, instructionQual } from './qualify.ts';
import type { GuestFault, Vcpu } from './vcpu.ts';

/** The VM-execution controls: every privileged and sensitive instruction exits, HYPERCALL too. */
export const HW_EXIT_CONTROLS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const o of OPCODES) if (o.cls !== 'normal') t[o.opcode] = 1;
  return t;
})();

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const ACCESS_NAMES = ['read', 'write', 'fetch'] as const;

export class HwMachine extends Monitor {
  readonly nested: NestedTable;
  private readonly vcpu: Vcpu;

  constructor(opts: MachineOptions = {}) {
    super('hw', opts, NestedTable.bytesFor);
    this.nested = new NestedTable(this.vm, 0);
    this.vcpu = new HwVcpu(this);
  }

  audit(): string[] {
    const out = this.nested.audit();
    const mmu = this.cpu.mmu;
    if (!mmu.nested || mmu.nptbr !== this.nested.root || mmu.guestLimit !== this.vm.size) out.push('the MMU is not in nested mode over this table');
    if (this.cpu.exitControls !== HW_EXIT_CONTROLS) out.push('the CPU is not in guest mode');
    return out;
  }

  virtualCpu(): { cpl: number; iflag: boolean; cr: Int32Array } {
    return { cpl: this.cpu.cpl, iflag: this.cpu.iflag, cr: this.cpu.cr };
  }

  protected resetGuest(entry: number): void {
    const cpu = this.cpu;
    cpu.reset(entry);
    cpu.regs[15] = this.vm.size;
    cpu.exitControls = HW_EXIT_CONTROLS;
    cpu.interceptVectors = 0;
    cpu.interceptSyscall = false;
    cpu.hypercallEnabled = false;
    const mmu = cpu.mmu;
    mmu.nested = true;
    mmu.nptbr = this.nested.root;
    mmu.guestLimit = this.vm.size;
    mmu.flushNested();
  }


  protected peekGuestWord(va: number): number | undefined {
    const ma = this.cpu.mmu.probe(va & ~3);
    return ma < 0 ? undefined : this.vm.machine.i32[ma >>> 2];
  }

  protected handleExit(): Outcome {
    const x = this.cpu.exit;
    if (x.kind === ExitKind.Nested) return this.nestedFault(this.exits.begin());
    if (x.kind !== ExitKind.Instruction) {
      throw new Error(`vmm: unexpected exit kind ${x.kind} (vector ${x.vector}) in hw mode (host bug)`);
    }
    const insn = x.insn;
    const e = INSN_EXIT[insn & 0xff]! as Exit;
    const t0 = this.exits.begin();
    const cpu = this.cpu;
    const pc = x.pc;
    const a = cpu.regs[(insn >>> 12) & 15]!;
    const d = cpu.regs[(insn >>> 8) & 15]!;
    const r = emulate(this.vcpu, insn);
    if (r === Emulated.Fault) {
      const f = this.vcpu.fault;
      const vector = f.vector;
      if (vector === Vector.PageFault) cpu.cr[Cr.FaultAddr] = f.addr;
      if (this.tracing) this.traceExit(e, pc, insn, faultQual(instructionQual(insn, a, d, this.vcpu), f));
      const out = this.inject(vector, f.err);
      this.exits.add(e, t0);
      return out;
    }
    this.exits.add(e, t0);
    if (this.tracing) this.traceExit(e, pc, insn, instructionQual(insn, a, d, this.vcpu));
    return r === Emulated.Halt ? Outcome.Halt : Outcome.Resume;
  }

  protected injectInterrupt(vector: number): Outcome {
    const t0 = this.exits.begin();
    const pc = this.cpu.pc;
    if (this.tracing) this.traceExit(Exit.Interrupt, pc, null, { vector: vectorName(vector) });
    const out = this.inject(vector, 0);
    this.exits.add(Exit.Interrupt, t0);
    return out;
  }

  /** An EPT violation: map the frame; if an event was being delivered, deliver it again. */
  private nestedFault(t0: number): Outcome {
    const x = this.cpu.exit;
    const { gpa, gva, pc } = x;
    const vectoring = x.vectoring;
    this.nested.map(gpa >>> 12);
    this.exits.add(Exit.EptViolation, t0);
    if (this.tracing) {
      const qual: Record<string, number | string> = { gpa: hex(gpa), gva: hex(gva), access: ACCESS_NAMES[x.err] ?? String(x.err) };
      if (vectoring >= 0) qual.delivering = vectorName(vectoring);
      this.traceExit(Exit.EptViolation, pc, null, qual);
    }
    if (vectoring < 0) return Outcome.Resume;
    this.cpu.pc = pc;
    return this.inject(vectoring, x.vectoringErr);
  }

  /**
   * Event injection: the CPU delivers `vector` through the guest's table at cpu.pc. Delivery may
   * meet unmapped second-level entries (each one an ept-violation exit, then delivered again).
   */
  private inject(vector: number, err: number): Outcome {
    const cpu = this.cpu;
    const stop = cpu.interrupt(vector, err);
    if (stop === Stop.TripleFault) return this.cpuTripleFault();
    if (stop === Stop.Exit) return this.nestedFault(this.exits.begin());
    return Outcome.Resume;
  }
}

/**
 * The guest state lives in the real CPU in guest mode: the emulator works on it directly, and
 * reaches memory through the MMU's two-dimensional walk. The monitor maps whatever the second
 * level lacks itself (its own accesses are not exits).
 */
class HwVcpu implements Vcpu {
  readonly regs: Int32Array;
  readonly i32: Int32Array;
  readonly fault: GuestFault = { vector: 0, err: 0, addr: 0 };
  private readonly cpu: Cpu;

  constructor(private readonly m: HwMachine) {
    this.cpu = m.cpu;
    this.regs = m.cpu.regs;
    this.i32 = m.vm.machine.i32;
  }

  get pc(): number {
    return this.cpu.pc;
  }
  set pc(v: number) {
    this.cpu.pc = v;
  }
  get icount(): number {
    return this.cpu.icount;
  }
  set icount(v: number) {
    this.cpu.icount = v;
  }
  get cpl(): number {
    return this.cpu.cpl;
  }
  setCpl(cpl: number): void {
    this.cpu.setCpl(cpl);
  }
  get iflag(): boolean {
    return this.cpu.iflag;
  }
  set iflag(v: boolean) {
    this.cpu.iflag = v;
  }
  flags(): number {
    return this.cpu.flags();
  }
  readCr(n: number): number {
    return this.cpu.cr[n]!;
  }
  writeCr(n: number, value: number): void {
    const cpu = this.cpu;
    cpu.cr[n] = value;
    if (n === Cr.Ctrl) {
      cpu.mmu.paging = (value & CTRL_PG) !== 0;
      cpu.mmu.flushAll();
    } else if (n === Cr.Ptbr) {
      cpu.mmu.ptbr = value & PTE_FRAME_MASK;
      cpu.mmu.flushAll();
    }
  }
  translate(va: number, access: number): number {
    const mmu = this.cpu.mmu;
    for (;;) {
      const ma = mmu.translate(va, access, this.cpu.cpl !== 0);
      if (ma >= 0) return ma;
      if (mmu.faultVector !== VMEXIT_NESTED) break;
      this.m.nested.map(mmu.faultGpa >>> 12);
    }
    this.fault.vector = mmu.faultVector;
    this.fault.err = mmu.faultErr;
    this.fault.addr = mmu.faultAddr;
    return -1;
  }
  write32(ma: number, value: number): void {
    this.i32[ma >>> 2] = value;
  }
  flushPage(va: number): void {
    this.cpu.mmu.flushPage(va);
  }
  portIn(port: number, pc: number): number {
    return this.m.portIn(port, pc);
  }
  portOut(port: number, value: number, pc: number): void {
    this.m.portOut(port, value, pc);
  }
}
