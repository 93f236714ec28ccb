/**
 * The CPU: an interpreter for the ISA in abi/isa.ts.
 *
 * Shape of the hot path, written for V8:
 * - registers live in an Int32Array, memory in typed views of one ArrayBuffer;
 * - `run` keeps pc, virtual time and the current code page in locals and dispatches on the opcode
 *   byte in one switch, so the function stays small enough for TurboFan and monomorphic;
 * - every common instruction is a case of that switch; everything rare or privileged (port I/O,
 *   control registers, IRET, HLT, SYSCALL, PUSHF/POPF, HYPERCALL, invalid opcodes) goes through
 *   `system`, which classifies it with the ISA's class table;
 * - nothing allocates per instruction. A fault records its vector in fields and leaves the inner
 *   loop; the outer loop delivers it and re-enters.
 *
 * The CPU knows nothing of devices: it reaches them through a PortIo, and external interrupts
 * arrive from outside through `interrupt()`, between runs. `run(until)` returns as soon as
 * something may have changed whether an interrupt can be taken (STI, POPF, IRET, a port write, a
 * control-register write), so the platform around it can inject one at an exact instruction.
 *
 * Virtual time (`icount`) counts retired instructions plus time idled in HLT; a faulting
 * instruction does not retire. Same image, same inputs: same counts.
 *
 * Guest mode (for hypervisor/vmm's `hw` mode, like VT-x's VMX non-root operation): with
 * `exitControls` set, each instruction whose opcode is marked there leaves `run` with Stop.Exit
 * and `exit.kind` Instruction instead of executing, after the privilege check (at privilege 3 a
 * privileged instruction still raises #GP in the guest, as on VT-x). Under nested paging the MMU
 * may fail with an EPT violation, which exits with kind Nested, also while delivering an event.
 * All of it is in the slow paths (`system`, `deliver`, the MMU's `translate`).
 */
import {
  CLASS_TABLE,
  ClassCode,
  Cr,
  CR_COUNT,
  CTRL_PG,
  FLAG_CPL_MASK,
  FLAG_CPL_SHIFT,
  FLAG_IF,
  PAGE_MASK,
  PTE_FRAME_MASK,
  REG_COUNT,
  REG_SP,
  TRAP_FRAME_BYTES,
  Vector,
} from '../../abi/isa.ts';
import type { PhysicalMemory } from './memory.ts';
import { ACCESS_FETCH, ACCESS_READ, ACCESS_WRITE, Mmu, TLB_MASK, TLB_USER_BASE, VMEXIT_NESTED } from './mmu.ts';

/** Why `run` returned. */
export const enum Stop {
  /** Virtual time reached `until`. */
  Budget = 0,
  /** Interrupt deliverability may have changed (STI, POPF, IRET, OUT, MTCR): look, then resume. */
  Event = 1,
  /** HLT: idle until an interrupt. */
  Halt = 2,
  /**
   * An exception could not be delivered (bad vector table or kernel stack) and neither could the
   * double fault that followed (or CR Dfsp is 0): the machine resets.
   */
  TripleFault = 3,
  /** A virtualization exit: see `exit` (intercepted exception, hypercall, sensitive instruction). */
  Exit = 4,
}

/** How the CPU reaches devices. Values are 32-bit words. */
export interface PortIo {
  portIn(port: number): number;
  portOut(port: number, value: number): void;
}

/** Optional observer for `--trace`: called from slow paths only. */
export interface CpuTracer {
  exception(cpu: Cpu, vector: number, err: number, pc: number): void;
  portIn(cpu: Cpu, port: number, value: number, pc: number): void;
  portOut(cpu: Cpu, port: number, value: number, pc: number): void;
  /** A virtualization exit, as a monitor (hypervisor/vmm) handled it. */
  vmexit?(cpu: Cpu, exit: VmExitEvent): void;
  /**
   * A monitor hands the tracer its way of reading a guest instruction at a guest-virtual
   * address (through the guest's own tables, without side effects), for the disassembly.
   */
  attachGuestReader?(read: (va: number) => number | undefined): void;
}

/** One exit as a monitor reports it to a tracer (built only when tracing). */
export interface VmExitEvent {
  /** The exit reason, e.g. 'io-out', 'shadow-fill' (hypervisor/vmm/exits.ts). */
  reason: string;
  /** Address of the guest instruction the exit is about (for an interrupt: where it lands back). */
  pc: number;
  /** The instruction word, when an instruction caused the exit. */
  insn: number | null;
  /** The exit qualification: port, direction and value; control register and value; addresses. */
  qual: Readonly<Record<string, number | string>>;
}

/** What kind of event stopped the CPU with Stop.Exit. */
export const enum ExitKind {
  /** An intercepted exception or SYSCALL: `vector`, `err`, `pc` (the resume address). */
  Exception = 0,
  /** HYPERCALL with `hypercallEnabled`: retired, `vector` -1, `pc` its address. */
  Hypercall = 1,
  /** Guest mode: an instruction marked in `exitControls`, not retired; `insn`, `pc`. */
  Instruction = 2,
  /** Nested paging: a second-level fault (EPT violation), not retired; `gpa`, `err` = access. */
  Nested = 3,
}

/** What caused a Stop.Exit; filled by the CPU, consumed by a hypervisor. */
export interface ExitInfo {
  kind: ExitKind;
  /** The exception vector for an intercepted exception, -1 for a hypercall, 0x100/0x101 otherwise. */
  vector: number;
  err: number;
  /** Address of the instruction that caused the exit (for a trap: the one after it). */
  pc: number;
  /** Instruction exits: the instruction word. */
  insn: number;
  /** Nested exits: the guest-physical address, and the guest-virtual one being translated. */
  gpa: number;
  gva: number;
  /**
   * Nested exits during event delivery (VT-x's IDT-vectoring information): the vector that was
   * being delivered and its error code, to deliver again once the monitor has mapped the page;
   * -1 otherwise.
   */
  vectoring: number;
  vectoringErr: number;
}

/** Pseudo-vector of an instruction exit in guest mode; never delivered to a guest. */
export const VMEXIT_INSN = 0x100;

/** Bitmask over vectors 0..31: set bits are intercepted instead of delivered to the guest. */
export type VectorMask = number;

const NO_VECTOR = -1;

// The interpreter's hot path uses these module-local literals rather than the imported names:
// V8 loads an imported binding from its module cell on every use, and in the dispatch loop that
// cost a third of the speed. A test checks they equal abi/isa.ts and mmu.ts.
const OFFSET_MASK = 0xfff; // PAGE_MASK
const SP = 15; // REG_SP
const TLB_INDEX_MASK = 0xff; // TLB_MASK
export const HOT_CONSTANTS = { OFFSET_MASK, SP, TLB_INDEX_MASK } as const;

/**
 * The high 32 bits of the signed 64-bit product a * b (MULH), exactly and without BigInt (which
 * would allocate per instruction). With a = ah·2^16 + al and b = bh·2^16 + bl (ah, bh signed; al,
 * bl unsigned 16-bit), a·b = ah·bh·2^32 + (ah·bl + al·bh)·2^16 + al·bl; the last two terms sum to
 * under 2^49 in magnitude, so every step is exact in a double, and the floor of their sum over
 * 2^32 is the carry into the high word.
 */
export function mulh(a: number, b: number): number {
  const ah = a >> 16;
  const al = a & 0xffff;
  const bh = b >> 16;
  const bl = b & 0xffff;
  const low = (ah * bl + al * bh) * 65536 + al * bl;
  return (ah * bh + Math.floor(low / 4294967296)) | 0;
}

export class Cpu {
  readonly regs = new Int32Array(REG_COUNT);
  /** Control registers. Time is not stored here: reading CR Time returns `icount`. */
  readonly cr = new Int32Array(CR_COUNT);
  readonly mmu: Mmu;
  pc = 0;
  /** Current privilege: 0 or 3. */
  cpl = 0;
  /** IF: external interrupts enabled. */
  iflag = false;
  /** Virtual time: retired instructions plus idle time. A double, exact to 2^53. */
  icount = 0;
  /** Part of icount spent idle in HLT. */
  idle = 0;

  /** Times each vector was delivered (exceptions, interrupts, syscalls). */
  readonly vectorCounts = new Float64Array(256);
  tracer: CpuTracer | null = null;

  /** Vectors 0..31 that cause Stop.Exit instead of delivery; SYSCALL too when interceptSyscall. */
  interceptVectors: VectorMask = 0;
  interceptSyscall = false;
  /** When set, HYPERCALL exits (Stop.Exit with vector -1) instead of raising invalid opcode. */
  hypercallEnabled = false;
  /**
   * Guest mode's VM-execution controls: when not null, an instruction whose opcode is marked 1
   * here exits (ExitKind.Instruction) instead of executing. Null on the bare machine.
   */
  exitControls: Uint8Array | null = null;
  readonly exit: ExitInfo = { kind: ExitKind.Exception, vector: NO_VECTOR, err: 0, pc: 0, insn: 0, gpa: 0, gva: 0, vectoring: NO_VECTOR, vectoringErr: 0 };
  /** The first nested fault met while delivering an event, or -1 (see `deliver`). */
  private deliveryGpa = NO_VECTOR;
  private deliveryGva = 0;
  private deliveryAccess = 0;

  private pendingVector = NO_VECTOR;
  private pendingErr = 0;
  /** The pending exception is a trap (resume after the instruction) rather than a fault. */
  private pendingIsTrap = false;
  private stopReason: Stop = Stop.Budget;
  /** 0 or TLB_USER_BASE: which TLB set the current privilege uses. */
  private tlbBase = 0;

  constructor(
    readonly mem: PhysicalMemory,
    public io: PortIo,
  ) {
    this.mmu = new Mmu(mem);
  }

  /** Reset to the bare machine's start state (abi/platform.ts). */
  reset(entry: number): void {
    this.regs.fill(0);
    this.cr.fill(0);
    this.regs[REG_SP] = this.mem.size;
    this.pc = entry | 0;
    this.setCpl(0);
    this.iflag = false;
    this.mmu.paging = false;
    this.mmu.ptbr = 0;
    this.mmu.flushAll();
  }

  /** FLAGS as PUSHF and trap entry see them. */
  flags(): number {
    return (this.iflag ? FLAG_IF : 0) | (this.cpl << FLAG_CPL_SHIFT);
  }

  setCpl(cpl: number): void {
    this.cpl = cpl;
    this.tlbBase = cpl === 0 ? 0 : TLB_USER_BASE;
  }

  /**
   * Take external interrupt `vector` now (the caller checked IF), or, from a monitor, deliver an
   * exception with error code `err` (event injection: set CR FaultAddr first for a #PF). Resumes
   * at `pc` after the handler's IRET. Returns Stop.Budget when the guest's handler was entered,
   * TripleFault when delivery failed, Exit when intercepted or when a nested fault stopped it.
   */
  interrupt(vector: number, err = 0): Stop {
    this.stopReason = Stop.Budget;
    this.deliver(vector, err, this.pc);
    return this.stopReason;
  }

  /** Translate for a CPU-internal access (trap frames, vector table) at privilege 0. */
  private kernelAddr(va: number, access: number): number {
    const pa = this.mmu.translate(va, access, false);
    if (pa < 0 && this.mmu.faultVector === VMEXIT_NESTED && this.deliveryGpa === NO_VECTOR) {
      this.deliveryGpa = this.mmu.faultGpa;
      this.deliveryGva = va;
      this.deliveryAccess = access;
    }
    return pa >= 0 && (pa & 3) === 0 ? pa : -1;
  }

  /** Record an exit: the caller sets `stopReason` or leaves `run` with it. */
  private recordExit(kind: ExitKind, vector: number, err: number, pc: number): void {
    const x = this.exit;
    x.kind = kind;
    x.vector = vector;
    x.err = err;
    x.pc = pc;
    x.vectoring = NO_VECTOR;
    this.stopReason = Stop.Exit;
  }

  /**
   * Deliver an exception or interrupt through the guest's vector table, or record an exit when
   * the vector is intercepted.
   *
   * Double fault: when the vector-table entry or a word of the trap frame cannot be reached
   * through the guest's tables, the vector is not DoubleFault itself and CR Dfsp is set, the CPU
   * delivers DoubleFault instead, with error code 0 and its frame at Dfsp whatever the privilege
   * (x86-64's IST stack for #DF): the frame's pc is `resumePc`, the pc of the event that failed,
   * its sp the sp at the time, and CR FaultAddr still names the original page fault's address. So
   * a kernel whose stack ran into an unmapped guard page can say where. If Dfsp is 0 or #DF cannot
   * be delivered either, stop with TripleFault: x86 resets on the third fault.
   *
   * DoubleFault itself is always delivered on Dfsp when it is set (an IST vector), so a monitor
   * that delivers it again after a nested fault, or injects it, gets the same frame.
   *
   * Under nested paging every second-level miss on the way exits first (and the event is
   * delivered again once mapped): only a failure in the guest's own tables leads to #DF.
   */
  private deliver(vector: number, err: number, resumePc: number): void {
    if (vector > 0xff) {
      // A guest-mode exit (VMEXIT_INSN, VMEXIT_NESTED): the instruction did not retire.
      const nested = vector === VMEXIT_NESTED;
      this.recordExit(nested ? ExitKind.Nested : ExitKind.Instruction, vector, err, resumePc);
      if (nested) {
        this.exit.gpa = this.mmu.faultGpa;
        this.exit.gva = this.mmu.faultAddr;
      }
      return;
    }
    if ((vector < 32 && (this.interceptVectors >>> vector) & 1) || (vector === Vector.Syscall && this.interceptSyscall)) {
      this.recordExit(ExitKind.Exception, vector, err, resumePc);
      return;
    }
    const i32 = this.mem.i32;
    const oldSp = this.regs[REG_SP]!;
    const dfsp = this.cr[Cr.Dfsp]!;
    let v = vector;
    let e = err;
    let sp = v === Vector.DoubleFault && dfsp !== 0 ? dfsp : this.cpl === 0 ? oldSp : this.cr[Cr.Ksp]!;
    // At most twice: the event, then (if it could not be delivered) the double fault.
    for (;;) {
      this.deliveryGpa = NO_VECTOR;
      const entryAddr = this.kernelAddr((this.cr[Cr.Vbar]! + v * 4) | 0, ACCESS_READ);
      const a0 = this.kernelAddr((sp - 4) | 0, ACCESS_WRITE);
      const a1 = this.kernelAddr((sp - 8) | 0, ACCESS_WRITE);
      const a2 = this.kernelAddr((sp - 12) | 0, ACCESS_WRITE);
      if (this.deliveryGpa !== NO_VECTOR) {
        // Nested paging: a page of the vector table or the stack is not mapped in the second-level
        // table yet. Exit with the event as vectoring information; the monitor maps the page and
        // delivers the event again, and the guest never knows.
        this.recordExit(ExitKind.Nested, VMEXIT_NESTED, this.deliveryAccess, resumePc);
        this.exit.gpa = this.deliveryGpa;
        this.exit.gva = this.deliveryGva;
        this.exit.vectoring = v;
        this.exit.vectoringErr = e;
        return;
      }
      this.vectorCounts[v]! += 1;
      if (this.tracer) this.tracer.exception(this, v, e, resumePc);
      if (entryAddr >= 0 && a0 >= 0 && a1 >= 0 && a2 >= 0) {
        i32[a0 >>> 2] = oldSp;
        i32[a1 >>> 2] = this.flags();
        i32[a2 >>> 2] = resumePc;
        this.regs[REG_SP] = (sp - TRAP_FRAME_BYTES) | 0;
        this.cr[Cr.Cause] = v;
        this.cr[Cr.ErrCode] = e;
        this.iflag = false;
        this.setCpl(0);
        this.pc = i32[entryAddr >>> 2]!;
        return;
      }
      if (v === Vector.DoubleFault || dfsp === 0) {
        this.stopReason = Stop.TripleFault;
        this.exit.vector = v;
        this.exit.err = e;
        this.exit.pc = resumePc;
        return;
      }
      v = Vector.DoubleFault;
      e = 0;
      sp = dfsp;
      if ((this.interceptVectors >>> v) & 1) {
        // A monitor that intercepts #DF (VT-x's exception bitmap, bit 8) gets it here instead.
        this.recordExit(ExitKind.Exception, v, e, resumePc);
        return;
      }
    }
  }

  /**
   * Slow path of a data access: TLB miss, misalignment, or fault. Returns the physical address,
   * or -1 with the exception pending.
   */
  private slowAddr(va: number, alignMask: number, access: number): number {
    if (va & alignMask) return this.raise(Vector.AlignmentCheck, 0);
    const pa = this.mmu.translate(va, access, this.cpl !== 0);
    if (pa < 0) return this.fault();
    return pa;
  }

  private fault(): number {
    const m = this.mmu;
    if (m.faultVector === Vector.PageFault) this.cr[Cr.FaultAddr] = m.faultAddr;
    return this.raise(m.faultVector, m.faultErr);
  }

  private raise(vector: number, err: number): number {
    this.pendingVector = vector;
    this.pendingErr = err;
    this.pendingIsTrap = false;
    return -1;
  }

  /** Physical address for a load of `va`, or -1 (exception pending). */
  private rd(va: number, alignMask: number): number {
    const vpn = va >>> 12;
    const i = this.tlbBase + (vpn & TLB_INDEX_MASK);
    if (this.mmu.rTag[i] === vpn && (va & alignMask) === 0) return this.mmu.rPhys[i]! | (va & OFFSET_MASK);
    return this.slowAddr(va, alignMask, ACCESS_READ);
  }

  /** Physical address for a store to `va`, or -1 (exception pending). */
  private wr(va: number, alignMask: number): number {
    const vpn = va >>> 12;
    const i = this.tlbBase + (vpn & TLB_INDEX_MASK);
    if (this.mmu.wTag[i] === vpn && (va & alignMask) === 0) return this.mmu.wPhys[i]! | (va & OFFSET_MASK);
    return this.slowAddr(va, alignMask, ACCESS_WRITE);
  }

  /**
   * Run until virtual time reaches `until` or something stops the CPU. Returns why.
   * The caller must not assume any particular number of instructions ran.
   */
  run(until: number): Stop {
    const regs = this.regs;
    const i32 = this.mem.i32;
    const i16 = this.mem.i16;
    const u16 = this.mem.u16;
    const u8 = this.mem.u8;
    const mmu = this.mmu;
    this.stopReason = Stop.Budget;

    for (;;) {
      let pc = this.pc | 0;
      let ipc = pc;
      // Count the slice down in a small integer: V8 keeps it untagged, where a double icount
      // compared against a double `until` cost a fifth of the loop.
      const start = this.icount;
      const slice = Math.min(until - start, 0x3fffffff) | 0;
      let left = slice;
      let fetchVpn = -1;
      let fetchBase = 0;
      this.pendingVector = NO_VECTOR;

      run: while (left > 0) {
        ipc = pc;
        if (pc >>> 12 !== fetchVpn) {
          // A fetch fault leaves before the instruction is counted: count it here, since the
          // fault path below takes one back (a faulting instruction does not retire).
          if (pc & 3) {
            this.raise(Vector.GeneralProtection, 0);
            left = (left - 1) | 0;
            break run;
          }
          // Entering another code page: fetch uses the TLB's read entries as loads do (the machine
          // has no execute-disable bit), so a walk is for a miss only. A call-heavy guest crosses
          // pages on most calls and returns; walking each time cost it a fifth of its speed.
          const t = this.tlbBase + ((pc >>> 12) & TLB_INDEX_MASK);
          let pa = mmu.rPhys[t]! | (pc & OFFSET_MASK);
          if (mmu.rTag[t] !== pc >>> 12) {
            pa = mmu.translate(pc, ACCESS_FETCH, this.cpl !== 0);
            if (pa < 0) {
              this.fault();
              left = (left - 1) | 0;
              break run;
            }
          }
          fetchVpn = pc >>> 12;
          fetchBase = (pa >>> 2) - ((pc & OFFSET_MASK) >>> 2);
        }
        const insn = i32[fetchBase + ((pc & OFFSET_MASK) >>> 2)]!;
        pc = (pc + 4) | 0;
        left = (left - 1) | 0;

        switch (insn & 0xff) {
          case 0x01: // nop
            break;
          case 0x10: // add
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! + regs[(insn >>> 16) & 15]!;
            break;
          case 0x11: // sub
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! - regs[(insn >>> 16) & 15]!;
            break;
          case 0x12: // mul
            regs[(insn >>> 8) & 15] = Math.imul(regs[(insn >>> 12) & 15]!, regs[(insn >>> 16) & 15]!);
            break;
          case 0x13: {
            // div: INT_MIN / -1 wraps to INT_MIN, as `| 0` does (x86 would raise #DE; we follow JS)
            const b = regs[(insn >>> 16) & 15]!;
            if (b === 0) {
              this.raise(Vector.DivideError, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = (regs[(insn >>> 12) & 15]! / b) | 0;
            break;
          }
          case 0x14: {
            // divu
            const b = regs[(insn >>> 16) & 15]! >>> 0;
            if (b === 0) {
              this.raise(Vector.DivideError, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = (regs[(insn >>> 12) & 15]! >>> 0) / b;
            break;
          }
          case 0x15: {
            // rem
            const b = regs[(insn >>> 16) & 15]!;
            if (b === 0) {
              this.raise(Vector.DivideError, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! % b;
            break;
          }
          case 0x16: {
            // remu
            const b = regs[(insn >>> 16) & 15]! >>> 0;
            if (b === 0) {
              this.raise(Vector.DivideError, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = (regs[(insn >>> 12) & 15]! >>> 0) % b;
            break;
          }
          case 0x17: // and
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! & regs[(insn >>> 16) & 15]!;
            break;
          case 0x18: // or
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! | regs[(insn >>> 16) & 15]!;
            break;
          case 0x19: // xor
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! ^ regs[(insn >>> 16) & 15]!;
            break;
          case 0x1a: // shl
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! << regs[(insn >>> 16) & 15]!;
            break;
          case 0x1b: // shr
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! >>> regs[(insn >>> 16) & 15]!;
            break;
          case 0x1c: // sar
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! >> regs[(insn >>> 16) & 15]!;
            break;
          case 0x1d: // slt
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! < regs[(insn >>> 16) & 15]! ? 1 : 0;
            break;
          case 0x1e: // sltu
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! >>> 0 < regs[(insn >>> 16) & 15]! >>> 0 ? 1 : 0;
            break;
          case 0x1f: // seq
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! === regs[(insn >>> 16) & 15]! ? 1 : 0;
            break;
          case 0x20: // sne
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! !== regs[(insn >>> 16) & 15]! ? 1 : 0;
            break;
          // Checked arithmetic: the exact result is computed as a double (a sum of two int32 is
          // exact; a product outside int32 stays outside after rounding), and one that does not
          // fit int32 raises #OF as a fault: rd unchanged, not retired, pc at the instruction.
          case 0x21: {
            // addo
            const s = regs[(insn >>> 12) & 15]! + regs[(insn >>> 16) & 15]!;
            if ((s | 0) !== s) {
              this.raise(Vector.Overflow, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = s;
            break;
          }
          case 0x22: {
            // subo
            const s = regs[(insn >>> 12) & 15]! - regs[(insn >>> 16) & 15]!;
            if ((s | 0) !== s) {
              this.raise(Vector.Overflow, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = s;
            break;
          }
          case 0x23: {
            // mulo (a zero product may be -0, which `| 0` and === both take for 0)
            const p = regs[(insn >>> 12) & 15]! * regs[(insn >>> 16) & 15]!;
            if ((p | 0) !== p) {
              this.raise(Vector.Overflow, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = p;
            break;
          }
          case 0x24: // mulh
            regs[(insn >>> 8) & 15] = mulh(regs[(insn >>> 12) & 15]!, regs[(insn >>> 16) & 15]!);
            break;
          case 0x25: // chk: one unsigned compare, so a negative index is out of range too
            if (regs[(insn >>> 8) & 15]! >>> 0 >= regs[(insn >>> 12) & 15]! >>> 0) {
              this.raise(Vector.BoundRange, 0);
              break run;
            }
            break;

          case 0x28: // addi
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! + (insn >> 16);
            break;
          case 0x29: // muli
            regs[(insn >>> 8) & 15] = Math.imul(regs[(insn >>> 12) & 15]!, insn >> 16);
            break;
          case 0x2a: // andi
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! & (insn >>> 16);
            break;
          case 0x2b: // ori
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! | (insn >>> 16);
            break;
          case 0x2c: // xori
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! ^ (insn >>> 16);
            break;
          case 0x2d: // shli
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! << (insn >>> 16);
            break;
          case 0x2e: // shri
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! >>> (insn >>> 16);
            break;
          case 0x2f: // sari
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! >> (insn >>> 16);
            break;
          case 0x30: // slti
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! < insn >> 16 ? 1 : 0;
            break;
          case 0x31: // sltiu
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! >>> 0 < (insn >> 16) >>> 0 ? 1 : 0;
            break;
          case 0x32: {
            // addio
            const s = regs[(insn >>> 12) & 15]! + (insn >> 16);
            if ((s | 0) !== s) {
              this.raise(Vector.Overflow, 0);
              break run;
            }
            regs[(insn >>> 8) & 15] = s;
            break;
          }
          case 0x33: // chki
            if (regs[(insn >>> 8) & 15]! >>> 0 >= insn >>> 16) {
              this.raise(Vector.BoundRange, 0);
              break run;
            }
            break;

          case 0x38: // mov
            regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]!;
            break;
          case 0x39: // li
            regs[(insn >>> 8) & 15] = insn >> 16;
            break;
          case 0x3a: // lui
            regs[(insn >>> 8) & 15] = insn & 0xffff0000;
            break;
          case 0x3b: // not
            regs[(insn >>> 8) & 15] = ~regs[(insn >>> 12) & 15]!;
            break;
          case 0x3c: // neg
            regs[(insn >>> 8) & 15] = -regs[(insn >>> 12) & 15]!;
            break;

          case 0x40: {
            // ldw
            const pa = this.rd((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 3);
            if (pa < 0) break run;
            regs[(insn >>> 8) & 15] = i32[pa >>> 2]!;
            break;
          }
          case 0x41: {
            // ldh
            const pa = this.rd((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 1);
            if (pa < 0) break run;
            regs[(insn >>> 8) & 15] = i16[pa >>> 1]!;
            break;
          }
          case 0x42: {
            // ldhu
            const pa = this.rd((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 1);
            if (pa < 0) break run;
            regs[(insn >>> 8) & 15] = u16[pa >>> 1]!;
            break;
          }
          case 0x43: {
            // ldb
            const pa = this.rd((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 0);
            if (pa < 0) break run;
            regs[(insn >>> 8) & 15] = (u8[pa]! << 24) >> 24;
            break;
          }
          case 0x44: {
            // ldbu
            const pa = this.rd((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 0);
            if (pa < 0) break run;
            regs[(insn >>> 8) & 15] = u8[pa]!;
            break;
          }
          case 0x45: {
            // stw
            const pa = this.wr((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 3);
            if (pa < 0) break run;
            i32[pa >>> 2] = regs[(insn >>> 8) & 15]!;
            break;
          }
          case 0x46: {
            // sth
            const pa = this.wr((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 1);
            if (pa < 0) break run;
            u16[pa >>> 1] = regs[(insn >>> 8) & 15]!;
            break;
          }
          case 0x47: {
            // stb
            const pa = this.wr((regs[(insn >>> 12) & 15]! + (insn >> 16)) | 0, 0);
            if (pa < 0) break run;
            u8[pa] = regs[(insn >>> 8) & 15]!;
            break;
          }
          case 0x48: {
            // push
            const sp = (regs[SP]! - 4) | 0;
            const pa = this.wr(sp, 3);
            if (pa < 0) break run;
            i32[pa >>> 2] = regs[(insn >>> 8) & 15]!;
            regs[SP] = sp;
            break;
          }
          case 0x49: {
            // pop (sp is bumped before rd is written, so `pop sp` loads sp)
            const sp = regs[SP]!;
            const pa = this.rd(sp, 3);
            if (pa < 0) break run;
            regs[SP] = (sp + 4) | 0;
            regs[(insn >>> 8) & 15] = i32[pa >>> 2]!;
            break;
          }

          case 0x50: // beq
            if (regs[(insn >>> 8) & 15] === regs[(insn >>> 12) & 15]) pc = (pc + ((insn >> 16) << 2)) | 0;
            break;
          case 0x51: // bne
            if (regs[(insn >>> 8) & 15] !== regs[(insn >>> 12) & 15]) pc = (pc + ((insn >> 16) << 2)) | 0;
            break;
          case 0x52: // blt
            if (regs[(insn >>> 8) & 15]! < regs[(insn >>> 12) & 15]!) pc = (pc + ((insn >> 16) << 2)) | 0;
            break;
          case 0x53: // bge
            if (regs[(insn >>> 8) & 15]! >= regs[(insn >>> 12) & 15]!) pc = (pc + ((insn >> 16) << 2)) | 0;
            break;
          case 0x54: // bltu
            if (regs[(insn >>> 8) & 15]! >>> 0 < regs[(insn >>> 12) & 15]! >>> 0) pc = (pc + ((insn >> 16) << 2)) | 0;
            break;
          case 0x55: // bgeu
            if (regs[(insn >>> 8) & 15]! >>> 0 >= regs[(insn >>> 12) & 15]! >>> 0) pc = (pc + ((insn >> 16) << 2)) | 0;
            break;

          case 0x58: // jmp
            pc = (pc + ((insn >> 8) << 2)) | 0;
            break;
          case 0x59: {
            // call
            const sp = (regs[SP]! - 4) | 0;
            const pa = this.wr(sp, 3);
            if (pa < 0) break run;
            i32[pa >>> 2] = pc;
            regs[SP] = sp;
            pc = (pc + ((insn >> 8) << 2)) | 0;
            break;
          }
          case 0x5a: // jr: a misaligned target must take the fetch path, which faults
            pc = regs[(insn >>> 8) & 15]!;
            if (pc & 3) fetchVpn = -1;
            break;
          case 0x5b: {
            // callr
            const sp = (regs[SP]! - 4) | 0;
            const pa = this.wr(sp, 3);
            if (pa < 0) break run;
            i32[pa >>> 2] = pc;
            regs[SP] = sp;
            pc = regs[(insn >>> 8) & 15]!;
            if (pc & 3) fetchVpn = -1;
            break;
          }
          case 0x5c: {
            // ret
            const sp = regs[SP]!;
            const pa = this.rd(sp, 3);
            if (pa < 0) break run;
            regs[SP] = (sp + 4) | 0;
            pc = i32[pa >>> 2]!;
            if (pc & 3) fetchVpn = -1;
            break;
          }

          default: {
            // Rare, privileged, sensitive and invalid instructions.
            this.pc = pc;
            this.icount = start + (slice - left);
            const stop = this.system(insn, ipc);
            pc = this.pc;
            fetchVpn = -1;
            if (stop) break run;
          }
        }
      }

      const icount = start + (slice - left);
      if (this.pendingVector !== NO_VECTOR) {
        // A fault resumes at the faulting instruction, which did not retire; a trap after it.
        if (this.pendingIsTrap) {
          this.icount = icount;
        } else {
          pc = ipc;
          this.icount = icount - 1;
        }
        // An exit leaves pc where the guest resumes; a delivery moves it to the handler.
        this.pc = pc;
        this.deliver(this.pendingVector, this.pendingErr, pc);
        this.pendingVector = NO_VECTOR;
        if (this.stopReason !== Stop.Budget) return this.stopReason;
        continue;
      }
      this.pc = pc;
      this.icount = icount;
      // A slice shorter than `until` (the clamp above) ends quietly: go round again.
      if (this.stopReason === Stop.Budget && icount < until) continue;
      return this.stopReason;
    }
  }

  /**
   * The slow path: classify with the ISA's class table, enforce privilege, execute. Returns true
   * when `run` must leave its inner loop (an exception is pending or a stop reason is set).
   * `this.pc` holds the next instruction's address on entry and the resume address on exit.
   */
  private system(insn: number, ipc: number): boolean {
    const opcode = insn & 0xff;
    const cls = CLASS_TABLE[opcode]!;
    if (cls === ClassCode.Invalid) return this.except(Vector.InvalidOpcode);
    if (cls === ClassCode.Privileged && this.cpl !== 0) return this.except(Vector.GeneralProtection);
    if (this.exitControls !== null && this.exitControls[opcode] === 1) {
      // Guest mode: leave as a fault does (not retired, pc at the instruction); deliver() records it.
      this.exit.insn = insn;
      return this.except(VMEXIT_INSN);
    }
    const regs = this.regs;
    const rd = (insn >>> 8) & 15;
    const ra = (insn >>> 12) & 15;
    const imm = insn >>> 16;
    switch (opcode) {
      case 0x60: // syscall
        return this.trap(Vector.Syscall);
      case 0x61: // brk
        return this.trap(Vector.Breakpoint);
      case 0x62: // hypercall
        if (!this.hypercallEnabled) return this.except(Vector.InvalidOpcode);
        this.recordExit(ExitKind.Hypercall, NO_VECTOR, 0, ipc);
        return true;
      case 0x63: // pushf: reveals IF and CPL at any privilege (sensitive, does not trap)
        return this.push(this.flags());
      case 0x64: {
        // popf: the Popek-Goldberg trap door. At privilege 3 the IF bit is silently ignored.
        const v = this.pop();
        if (v === null) return true;
        if (this.cpl === 0) {
          this.iflag = (v & FLAG_IF) !== 0;
          this.stopReason = Stop.Event;
          return true;
        }
        return false;
      }
      case 0x70: // in
        regs[rd] = this.portIn(imm, ipc);
        return false;
      case 0x71: // out
        this.portOut(imm, regs[rd]!, ipc);
        return true;
      case 0x72: // inr
        regs[rd] = this.portIn(regs[ra]! & 0xffff, ipc);
        return false;
      case 0x73: // outr
        this.portOut(regs[ra]! & 0xffff, regs[rd]!, ipc);
        return true;
      case 0x74: // mfcr
        if (imm >= CR_COUNT) return this.except(Vector.GeneralProtection);
        // Time reads the instructions retired before this one.
        regs[rd] = imm === Cr.Time ? this.icount - 1 : this.cr[imm]!;
        return false;
      case 0x75: // mtcr
        return this.writeCr(imm, regs[rd]!);
      case 0x76: // cli
        this.iflag = false;
        return false;
      case 0x77: // sti
        this.iflag = true;
        this.stopReason = Stop.Event;
        return true;
      case 0x78: // hlt
        this.stopReason = Stop.Halt;
        return true;
      case 0x79: // iret
        return this.iret(false);
      case 0x7a: // sysret
        return this.iret(true);
      case 0x7b: // invlpg
        this.mmu.flushPage(regs[rd]!);
        return false;
    }
    throw new Error(`cpu: opcode 0x${opcode.toString(16)} is in the ISA table but has no implementation`);
  }

  /** Raise a fault with error code 0 from the slow path; always true (leave the inner loop). */
  private except(vector: number): true {
    this.raise(vector, 0);
    return true;
  }

  private trap(vector: number): boolean {
    this.pendingVector = vector;
    this.pendingErr = 0;
    this.pendingIsTrap = true;
    return true;
  }

  private portIn(port: number, ipc: number): number {
    const v = this.io.portIn(port) | 0;
    if (this.tracer) this.tracer.portIn(this, port, v, ipc);
    return v;
  }

  private portOut(port: number, value: number, ipc: number): void {
    if (this.tracer) this.tracer.portOut(this, port, value, ipc);
    this.io.portOut(port, value);
    // A port write may unmask or acknowledge an interrupt, or power the machine off.
    this.stopReason = Stop.Event;
  }

  private writeCr(n: number, v: number): boolean {
    switch (n) {
      case Cr.Ctrl:
        if (v & ~CTRL_PG) return this.except(Vector.GeneralProtection);
        this.cr[n] = v;
        this.mmu.paging = (v & CTRL_PG) !== 0;
        this.mmu.flushAll();
        break;
      case Cr.Ptbr:
        if (v & PAGE_MASK) return this.except(Vector.GeneralProtection);
        this.cr[n] = v;
        this.mmu.ptbr = v & PTE_FRAME_MASK;
        this.mmu.flushAll();
        break;
      case Cr.Time:
        return this.except(Vector.GeneralProtection);
      default:
        if (n >= CR_COUNT) return this.except(Vector.GeneralProtection);
        this.cr[n] = v;
    }
    this.stopReason = Stop.Event;
    return true;
  }

  /** Pop the trap frame. `toUser` (SYSRET) forces privilege 3 whatever the frame says. */
  private iret(toUser: boolean): boolean {
    const sp = this.regs[REG_SP]!;
    const a0 = this.rd(sp, 3);
    if (a0 < 0) return true;
    const a1 = this.rd((sp + 4) | 0, 3);
    if (a1 < 0) return true;
    const a2 = this.rd((sp + 8) | 0, 3);
    if (a2 < 0) return true;
    const i32 = this.mem.i32;
    const flags = i32[a1 >>> 2]!;
    const cpl = toUser ? 3 : (flags & FLAG_CPL_MASK) >>> FLAG_CPL_SHIFT;
    if (cpl !== 0 && cpl !== 3) return this.except(Vector.GeneralProtection);
    this.pc = i32[a0 >>> 2]!;
    this.regs[REG_SP] = i32[a2 >>> 2]!;
    this.iflag = (flags & FLAG_IF) !== 0;
    this.setCpl(cpl);
    this.stopReason = Stop.Event;
    return true;
  }

  private push(v: number): boolean {
    const sp = (this.regs[REG_SP]! - 4) | 0;
    const pa = this.wr(sp, 3);
    if (pa < 0) return true;
    this.mem.i32[pa >>> 2] = v;
    this.regs[REG_SP] = sp;
    return false;
  }

  private pop(): number | null {
    const sp = this.regs[REG_SP]!;
    const pa = this.rd(sp, 3);
    if (pa < 0) return null;
    this.regs[REG_SP] = (sp + 4) | 0;
    return this.mem.i32[pa >>> 2]!;
  }
}
