/**
 * `trap` mode: classic trap-and-emulate (Popek & Goldberg, 1974), with shadow paging.
 *
 * The guest kernel is deprivileged: the real CPU runs it, and its user tasks, at privilege 3 with
 * every exception and SYSCALL intercepted. The monitor keeps the virtual CPU apart: the guest's
 * privilege (`vcpl`), interrupt flag (`vif`) and control registers (`vcr`, among them its vector
 * table and page-table base). Then:
 * - a privileged instruction in the guest kernel raises #GP at real privilege 3; the monitor
 *   decodes it and emulates it against the virtual state (emulate.ts): port I/O on the same
 *   devices as the bare machine, control registers, CLI/STI on the virtual IF, HLT idling until
 *   the next virtual interrupt, IRET/SYSRET from the guest's frame;
 * - the same instruction in a guest user task is the guest's own #GP, reflected to it;
 * - exceptions, SYSCALL and interrupts are reflected into the guest's own vector table with the
 *   frame the bare machine would push;
 * - page faults go to the shadow MMU (shadow.ts): hidden faults are filled, the guest's own are
 *   reflected, writes to the guest's page tables are emulated.
 *
 * What it cannot do, by construction, is catch POPF and PUSHF: they are sensitive but not
 * privileged, so at real privilege 3 they do not trap. POPF silently leaves IF alone (the guest
 * kernel cannot disable interrupts with it) and PUSHF shows the real privilege 3. That is the
 * Popek–Goldberg violation that forced VMware to binary translation; this mode shows it instead
 * of hiding it (guest-kernel/programs/asm/popf-critical.s).
 */
import {
  CLASS_TABLE,
  ClassCode,
  Cr,
  CR_COUNT,
  CTRL_PG,
  FLAG_CPL_SHIFT,
  FLAG_IF,
  Op,
  PF_FETCH,
  PF_WRITE,
  PTE_FRAME_MASK,
  REG_SP,
  TRAP_FRAME_BYTES,
  Vector,
  vectorName,
} from '../../abi/isa.ts';
import type { MachineOptions } from '../machine/native.ts';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE } from '../machine/mmu.ts';
import { emulate, Emulated } from './emulate.ts';
import { Exit, INSN_EXIT } from './exits.ts';
import { GuestWalker } from './guest-walk.ts';
import { Monitor, Outcome } from './monitor.ts';
import { Fill, ShadowPaging } from './shadow.ts';
import type { GuestFault, Vcpu } from './vcpu.ts';
import { faultQual, instructionQual } from './qualify.ts';

/** Shadow frames in the pool: 1 MiB of monitor memory, plenty for the guests in this tree. */
export const SHADOW_POOL_FRAMES = 256;

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const ACCESS_NAMES = ['read', 'write', 'fetch'] as const;

export class TrapMachine extends Monitor {
  /** The virtual CPU: the guest's privilege, IF and control registers. */
  vcpl = 0;
  vif = false;
  readonly vcr = new Int32Array(CR_COUNT);
  /** Vectors delivered to the guest, by vector (the report's `events`). */
  readonly vectorCounts = new Float64Array(256);
  readonly walker: GuestWalker;
  readonly shadow: ShadowPaging;
  private readonly vcpu: Vcpu;
  /** The last hidden fault, to catch a monitor that would fill the same entry forever. */
  private lastFill = { icount: -1, pc: 0, gva: 0, access: 0 };

  /** `poolFrames`: shadow frames (at least 8: one instruction may need a directory and two tables). */
  constructor(opts: MachineOptions = {}, poolFrames = SHADOW_POOL_FRAMES) {
    if (!Number.isInteger(poolFrames) || poolFrames < 8) throw new RangeError(`vmm: a shadow pool needs at least 8 frames, got ${poolFrames}`);
    super('trap', opts, () => ShadowPaging.bytesFor(poolFrames));
    const i32 = this.vm.machine.i32;
    this.walker = new GuestWalker(i32, this.vm.base, this.vm.size);
    this.shadow = new ShadowPaging(this.vm, this.cpu.mmu, this.walker, 0, poolFrames);
    this.vcpu = new TrapVcpu(this);
  }

  audit(): string[] {
    const out = this.shadow.audit();
    if (this.cpu.cpl !== 3) out.push('the guest runs at real privilege 0');
    if (!this.cpu.mmu.paging) out.push('the real MMU runs without the shadow tables');
    return out;
  }

  virtualCpu(): { cpl: number; iflag: boolean; cr: Int32Array } {
    return { cpl: this.vcpl, iflag: this.vif, cr: this.vcr };
  }

  protected resetGuest(entry: number): void {
    const cpu = this.cpu;
    cpu.reset(entry);
    cpu.regs[REG_SP] = this.vm.size;
    // The real CPU: privilege 3, interrupts on (the host's), every exception and SYSCALL exits.
    cpu.setCpl(3);
    cpu.iflag = true;
    cpu.interceptVectors = -1;
    cpu.interceptSyscall = true;
    cpu.mmu.paging = true;
    // The virtual CPU: the bare machine's reset state.
    this.vcpl = 0;
    this.vif = false;
    this.vcr.fill(0);
    this.walker.paging = false;
    this.walker.ptbr = 0;
    this.shadow.activate(false);
  }

  protected override guestIf(): boolean {
    return this.vif;
  }

  protected override guestVbar(): number {
    return this.vcr[Cr.Vbar]!;
  }

  protected override guestVectorCounts(): Float64Array {
    return this.vectorCounts;
  }

  protected peekGuestWord(va: number): number | undefined {
    const g = this.walker.peek(va & ~3);
    return g < 0 ? undefined : this.vm.machine.i32[(this.vm.base + g) >>> 2];
  }

  protected handleExit(): Outcome {
    const x = this.cpu.exit;
    const vector = x.vector;
    switch (vector) {
      case Vector.PageFault:
        return this.pageFault(this.exits.begin());
      case Vector.GeneralProtection:
        return this.generalProtection();
      case Vector.Syscall: {
        // A trap: x.pc is the resume address, after the instruction.
        const t0 = this.exits.begin();
        const out = this.reflect(Vector.Syscall, 0, x.pc);
        this.exits.add(Exit.Syscall, t0);
        if (this.tracing) this.traceExit(Exit.Syscall, (x.pc - 4) | 0, null, { nr: this.cpu.regs[0]! });
        return out;
      }
      default: {
        const t0 = this.exits.begin();
        const err = x.err;
        const resume = x.pc;
        // #UD from HYPERCALL is the 'hypercall' exit of a native guest: the bare machine has no hypervisor.
        const hc = vector === Vector.InvalidOpcode && ((this.peekGuestWord(resume) ?? 0) & 0xff) === Op.hypercall;
        const out = this.reflect(vector, err, resume);
        const e = hc ? Exit.Hypercall : Exit.Exception;
        this.exits.add(e, t0);
        if (this.tracing) {
          const qual: Record<string, number | string> = hc ? { nr: this.cpu.regs[0]!, vector: vectorName(vector) } : { vector: vectorName(vector), err };
          this.traceExit(e, vector === Vector.Breakpoint ? (resume - 4) | 0 : resume, null, qual);
        }
        return out;
      }
    }
  }

  protected injectInterrupt(vector: number): Outcome {
    const t0 = this.exits.begin();
    const pc = this.cpu.pc;
    const out = this.reflect(vector, 0, pc);
    this.exits.add(Exit.Interrupt, t0);
    if (this.tracing) this.traceExit(Exit.Interrupt, pc, null, { vector: vectorName(vector) });
    return out;
  }

  /** A real #GP: a privileged instruction of the guest kernel (emulate it) or the guest's own #GP. */
  private generalProtection(): Outcome {
    const cpu = this.cpu;
    const pc = cpu.exit.pc;
    const insn = (pc & 3) === 0 ? this.peekGuestWord(pc) : undefined;
    if (insn === undefined || CLASS_TABLE[insn & 0xff] !== ClassCode.Privileged || this.vcpl !== 0) {
      const t0 = this.exits.begin();
      const err = cpu.exit.err;
      const out = this.reflect(Vector.GeneralProtection, err, pc);
      this.exits.add(Exit.Exception, t0);
      if (this.tracing) this.traceExit(Exit.Exception, pc, null, { vector: 'general-protection', err });
      return out;
    }
    const e = INSN_EXIT[insn & 0xff]! as Exit;
    const t0 = this.exits.begin();
    const regs = cpu.regs;
    const a = regs[(insn >>> 12) & 15]!;
    const d = regs[(insn >>> 8) & 15]!;
    const r = emulate(this.vcpu, insn);
    if (r === Emulated.Fault) {
      const f = this.vcpu.fault;
      const out = this.reflectFault(f, pc);
      this.exits.add(e, t0);
      if (this.tracing) this.traceExit(e, pc, insn, faultQual(instructionQual(insn, a, d, this.vcpu), f));
      return out;
    }
    this.exits.add(e, t0);
    if (this.tracing) this.traceExit(e, pc, insn, instructionQual(insn, a, d, this.vcpu));
    return r === Emulated.Halt ? Outcome.Halt : Outcome.Resume;
  }

  /** A real page fault: a hidden fault, the guest's own fault, or a write to the guest's page tables. */
  private pageFault(t0: number): Outcome {
    const cpu = this.cpu;
    const x = cpu.exit;
    const pc = x.pc;
    const gva = cpu.cr[Cr.FaultAddr]! >>> 0;
    const access = x.err & PF_WRITE ? ACCESS_WRITE : x.err & PF_FETCH ? ACCESS_FETCH : ACCESS_READ;
    switch (this.shadow.fill(gva, access, this.vcpl === 3)) {
      case Fill.Filled: {
        const last = this.lastFill;
        if (last.icount === cpu.icount && last.pc === pc && last.gva === gva && last.access === access) {
          throw new Error(`vmm: shadow fill of ${hex(gva)} (${ACCESS_NAMES[access]}) at pc ${hex(pc)} did not take (host bug)`);
        }
        last.icount = cpu.icount;
        last.pc = pc;
        last.gva = gva;
        last.access = access;
        this.exits.add(Exit.ShadowFill, t0);
        if (this.tracing) this.traceExit(Exit.ShadowFill, pc, null, { addr: hex(gva), gpa: hex(this.shadow.lastGpa), access: ACCESS_NAMES[access]! });
        return Outcome.Resume;
      }
      case Fill.GuestFault: {
        const f = this.walker.fault;
        const fault = { vector: f.vector, addr: f.addr, err: f.err };
        const out = this.reflectFault(f, pc);
        const e = fault.vector === Vector.PageFault ? Exit.PageFault : Exit.Exception;
        this.exits.add(e, t0);
        if (this.tracing) this.traceExit(e, pc, null, { vector: vectorName(fault.vector), addr: hex(fault.addr), err: fault.err, access: ACCESS_NAMES[access]! });
        return out;
      }
      case Fill.PageTableWrite: {
        const gpa = this.shadow.lastGpa;
        const insn = this.peekGuestWord(pc) ?? null;
        const value = this.emulatePageTableWrite(gva, gpa);
        this.exits.add(Exit.Ptemod, t0);
        if (this.tracing) this.traceExit(Exit.Ptemod, pc, insn, { addr: hex(gva), gpa: hex(gpa), value: hex(value) });
        return Outcome.Resume;
      }
    }
  }

  /**
   * The guest stored to one of its page-table pages, which the shadows map read-only: do the
   * store on its behalf, drop the shadow entries built from the word, retire the instruction.
   * Returns the word's new value. Only stores reach here (a write fault comes from one).
   */
  private emulatePageTableWrite(gva: number, gpa: number): number {
    const cpu = this.cpu;
    const regs = cpu.regs;
    const pc = cpu.pc;
    const insn = this.peekGuestWord(pc);
    if (insn === undefined) throw new Error(`vmm: page-table write at ${hex(gva)} from an unreadable pc ${hex(pc)} (host bug)`);
    const rd = (insn >>> 8) & 15;
    const sp = regs[REG_SP]!;
    let width = 4;
    let value: number;
    let nextPc = (pc + 4) | 0;
    let newSp: number | null = (sp - 4) | 0;
    let ea = newSp;
    switch (insn & 0xff) {
      case Op.stw:
      case Op.sth:
      case Op.stb:
        ea = (regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0;
        value = regs[rd]!;
        width = (insn & 0xff) === Op.stw ? 4 : (insn & 0xff) === Op.sth ? 2 : 1;
        newSp = null;
        break;
      case Op.push:
        value = regs[rd]!;
        break;
      case Op.pushf: // unprivileged: the real CPU's FLAGS, as it would have pushed them
        value = cpu.flags();
        break;
      case Op.call:
        value = nextPc;
        nextPc = (nextPc + ((insn >> 8) << 2)) | 0;
        break;
      case Op.callr:
        value = nextPc;
        nextPc = -1; // regs[rd] after sp moves, as the CPU reads it
        break;
      default:
        throw new Error(`vmm: write fault at ${hex(gva)} from a non-store instruction 0x${insn.toString(16)} at ${hex(pc)} (host bug)`);
    }
    if (ea >>> 0 !== gva) throw new Error(`vmm: store at ${hex(ea)} but the fault was at ${hex(gva)} (host bug)`);
    const m = this.vm.machine;
    const ma = this.vm.base + gpa;
    if (width === 4) m.i32[ma >>> 2] = value;
    else if (width === 2) m.u16[ma >>> 1] = value;
    else m.u8[ma] = value;
    this.shadow.pageTableWritten(gpa & ~3);
    if (newSp !== null) regs[REG_SP] = newSp;
    cpu.pc = nextPc === -1 ? regs[rd]! : nextPc;
    cpu.icount += 1;
    return m.i32[ma >>> 2]!;
  }

  /** Reflect a fault the monitor found (the walker's, or the emulator's) to the guest at `pc`. */
  private reflectFault(f: GuestFault, pc: number): Outcome {
    if (f.vector === Vector.PageFault) {
      this.vcr[Cr.FaultAddr] = f.addr;
      this.cpu.cr[Cr.FaultAddr] = f.addr; // the tracer shows the real CR
    }
    return this.reflect(f.vector, f.err, pc);
  }

  /**
   * Deliver `vector` through the guest's own vector table, as the bare machine's CPU would
   * (Cpu.deliver): the same translations in the same order, the same frame, the same failure,
   * and the same double fault on the guest's Dfsp stack when the event cannot be delivered.
   */
  private reflect(vector: number, err: number, resumePc: number): Outcome {
    const cpu = this.cpu;
    const regs = cpu.regs;
    const oldSp = regs[REG_SP]!;
    const dfsp = this.vcr[Cr.Dfsp]!;
    let v = vector;
    let e = err;
    let sp = v === Vector.DoubleFault && dfsp !== 0 ? dfsp : this.vcpl === 0 ? oldSp : this.vcr[Cr.Ksp]!;
    for (;;) {
      const entry = this.kernelAddr((this.vcr[Cr.Vbar]! + v * 4) | 0, ACCESS_READ);
      const a0 = this.kernelAddr((sp - 4) | 0, ACCESS_WRITE);
      const a1 = this.kernelAddr((sp - 8) | 0, ACCESS_WRITE);
      const a2 = this.kernelAddr((sp - 12) | 0, ACCESS_WRITE);
      this.vectorCounts[v]! += 1;
      if (this.tracer) this.tracer.exception(cpu, v, e, resumePc);
      if (entry >= 0 && a0 >= 0 && a1 >= 0 && a2 >= 0) {
        this.writeGuest(a0, oldSp);
        this.writeGuest(a1, this.vflags());
        this.writeGuest(a2, resumePc);
        regs[REG_SP] = (sp - TRAP_FRAME_BYTES) | 0;
        this.vcr[Cr.Cause] = v;
        this.vcr[Cr.ErrCode] = e;
        this.vif = false;
        this.setVcpl(0);
        cpu.pc = this.vm.machine.i32[(this.vm.base + entry) >>> 2]!;
        return Outcome.Resume;
      }
      if (v === Vector.DoubleFault || dfsp === 0) {
        this.triple = { vector: v, pc: resumePc };
        return Outcome.TripleFault;
      }
      v = Vector.DoubleFault;
      e = 0;
      sp = dfsp;
    }
  }

  /** Guest-physical address of a word the CPU touches at guest privilege 0 (Cpu.kernelAddr), or -1. */
  private kernelAddr(va: number, access: number): number {
    const g = this.walker.translate(va, access, false);
    return g >= 0 && (g & 3) === 0 ? g : -1;
  }

  /** A word store by the monitor into guest memory at guest-physical `g`; shadows stay coherent. */
  writeGuest(g: number, value: number): void {
    this.vm.machine.i32[(this.vm.base + g) >>> 2] = value;
    if (this.shadow.isProtected(g >>> 12)) this.shadow.pageTableWritten(g);
  }

  /** The guest's FLAGS: its IF and privilege. */
  vflags(): number {
    return (this.vif ? FLAG_IF : 0) | (this.vcpl << FLAG_CPL_SHIFT);
  }

  /** The guest changes privilege: the shadow of its other view takes over. */
  setVcpl(cpl: number): void {
    if (cpl === this.vcpl) return;
    this.vcpl = cpl;
    if (this.walker.paging) this.shadow.activate(cpl === 3);
  }

  /** A validated control-register write: CTRL and PTBR switch shadows. */
  writeVcr(n: number, value: number): void {
    this.vcr[n] = value;
    if (n === Cr.Ctrl) {
      this.walker.paging = (value & CTRL_PG) !== 0;
      this.shadow.activate(this.vcpl === 3);
    } else if (n === Cr.Ptbr) {
      this.walker.ptbr = value & PTE_FRAME_MASK;
      if (this.walker.paging) this.shadow.activate(this.vcpl === 3);
    }
  }
}

/**
 * The guest's architectural state as the emulator sees it: the monitor's virtual privilege, IF
 * and control registers; the real CPU's registers, pc and time; memory through the guest's own
 * tables. (A class, so every machine shares one shape and the emulator's calls stay monomorphic.)
 */
class TrapVcpu implements Vcpu {
  readonly regs: Int32Array;
  readonly i32: Int32Array;
  readonly fault: GuestFault = { vector: 0, err: 0, addr: 0 };

  constructor(private readonly m: TrapMachine) {
    this.regs = m.cpu.regs;
    this.i32 = m.vm.machine.i32;
  }

  get pc(): number {
    return this.m.cpu.pc;
  }
  set pc(v: number) {
    this.m.cpu.pc = v;
  }
  get icount(): number {
    return this.m.cpu.icount;
  }
  set icount(v: number) {
    this.m.cpu.icount = v;
  }
  get cpl(): number {
    return this.m.vcpl;
  }
  setCpl(cpl: number): void {
    this.m.setVcpl(cpl);
  }
  get iflag(): boolean {
    return this.m.vif;
  }
  set iflag(v: boolean) {
    this.m.vif = v;
  }
  flags(): number {
    return this.m.vflags();
  }
  readCr(n: number): number {
    return this.m.vcr[n]!;
  }
  writeCr(n: number, value: number): void {
    this.m.writeVcr(n, value);
  }
  translate(va: number, access: number): number {
    const m = this.m;
    const g = m.walker.translate(va, access, m.vcpl !== 0);
    if (g >= 0) return m.vm.base + g;
    const f = m.walker.fault;
    this.fault.vector = f.vector;
    this.fault.err = f.err;
    this.fault.addr = f.addr;
    return -1;
  }
  write32(ma: number, value: number): void {
    this.m.writeGuest(ma - this.m.vm.base, value);
  }
  flushPage(va: number): void {
    this.m.shadow.invlpg(va);
  }
  portIn(port: number, pc: number): number {
    return this.m.portIn(port, pc);
  }
  portOut(port: number, value: number, pc: number): void {
    this.m.portOut(port, value, pc);
  }
}
