/**
 * The tsvisor instruction set, as data.
 *
 * One table (OPCODES) drives the encoder, the decoder, the disassembler, the assembler and the
 * interpreter's classification of instructions, so they cannot drift. This file imports nothing:
 * like Xen's public headers it can be copied into a guest tree on its own.
 *
 * Encoding: every instruction is one little-endian 32-bit word, so one aligned load decodes it
 * and a binary translator can scan a block without a length decoder.
 *
 *   bits  0..7   opcode
 *   bits  8..11  rd   (destination, or the value register of a store / OUT / branch's first operand)
 *   bits 12..15  ra   (first source, base register of a memory operand, branch's second operand)
 *   bits 16..19  rb   (second source, R forms only; bits 20..31 are then zero)
 *   bits 16..31  imm16 (I forms: signed or unsigned by form)
 *   bits  8..31  imm24 (J form: signed word offset from the next instruction)
 */

/** Number of general registers. r15 is the stack pointer (`sp`). */
export const REG_COUNT = 16;
export const REG_SP = 15;

/** Register names accepted by the assembler; `sp` is an alias of r15. */
export const REG_NAMES: readonly string[] = Array.from({ length: REG_COUNT }, (_, i) => (i === REG_SP ? 'sp' : `r${i}`));

/** Width of an instruction in bytes. */
export const INSN_BYTES = 4;

/**
 * Operand forms. Each names the assembler syntax and which fields it uses.
 * Signed immediates are sign-extended 16-bit; unsigned ones zero-extended.
 */
export type OperandForm =
  | 'none' //      op
  | 'rrr' //       op rd, ra, rb
  | 'rri' //       op rd, ra, simm16
  | 'rru' //       op rd, ra, uimm16
  | 'rr' //        op rd, ra
  | 'ri' //        op rd, simm16
  | 'ru' //        op rd, uimm16
  | 'r' //         op rd
  | 'mem' //       op rd, [ra + simm16]        (loads: rd is written; stores: rd is stored)
  | 'branch' //    op rd, ra, target          (simm16 word offset from the next instruction)
  | 'jump' //      op target                  (simm24 word offset from the next instruction)
  | 'portIn' //    op rd, port                (uimm16 port number)
  | 'portOut' //   op port, rd
  | 'portInR' //   op rd, ra                  (port number in ra)
  | 'portOutR' //  op ra, rd                  (port number in ra, value in rd)
  | 'crRead' //    op rd, cr
  | 'crWrite'; //  op cr, rd

/**
 * How an instruction behaves with respect to virtualization (Popek and Goldberg, 1974):
 * - `normal`: innocuous; runs the same at any privilege.
 * - `privileged`: raises general protection at privilege 3. Trap-and-emulate relies on this.
 * - `sensitive`: reads or changes privileged state but does NOT trap at privilege 3; it silently
 *   behaves differently instead. This is the machine's deliberate trap door (x86's PUSHF/POPF).
 * - `hypercall`: a call to the hypervisor; invalid opcode on the bare machine.
 */
export type InsnClass = 'normal' | 'privileged' | 'sensitive' | 'hypercall';

export interface OpcodeInfo {
  readonly mnemonic: string;
  readonly opcode: number;
  readonly form: OperandForm;
  readonly cls: InsnClass;
  /** One line: what it does. `sx` = sign-extend, `zx` = zero-extend. */
  readonly doc: string;
}

const op = (mnemonic: string, opcode: number, form: OperandForm, cls: InsnClass, doc: string): OpcodeInfo => ({
  mnemonic,
  opcode,
  form,
  cls,
  doc,
});

/**
 * The instruction table. Opcode 0x00 is deliberately invalid, so that executing zeroed memory
 * raises invalid opcode instead of sliding.
 */
export const OPCODES: readonly OpcodeInfo[] = [
  op('nop', 0x01, 'none', 'normal', 'do nothing'),

  op('add', 0x10, 'rrr', 'normal', 'rd = ra + rb (wraps)'),
  op('sub', 0x11, 'rrr', 'normal', 'rd = ra - rb (wraps)'),
  op('mul', 0x12, 'rrr', 'normal', 'rd = low 32 bits of ra * rb'),
  op('div', 0x13, 'rrr', 'normal', 'rd = ra / rb signed, truncated; #DE if rb = 0; INT_MIN / -1 = INT_MIN'),
  op('divu', 0x14, 'rrr', 'normal', 'rd = ra / rb unsigned; #DE if rb = 0'),
  op('rem', 0x15, 'rrr', 'normal', 'rd = ra % rb signed (sign of ra); #DE if rb = 0'),
  op('remu', 0x16, 'rrr', 'normal', 'rd = ra % rb unsigned; #DE if rb = 0'),
  op('and', 0x17, 'rrr', 'normal', 'rd = ra & rb'),
  op('or', 0x18, 'rrr', 'normal', 'rd = ra | rb'),
  op('xor', 0x19, 'rrr', 'normal', 'rd = ra ^ rb'),
  op('shl', 0x1a, 'rrr', 'normal', 'rd = ra << (rb & 31)'),
  op('shr', 0x1b, 'rrr', 'normal', 'rd = ra >>> (rb & 31) (logical)'),
  op('sar', 0x1c, 'rrr', 'normal', 'rd = ra >> (rb & 31) (arithmetic)'),
  op('slt', 0x1d, 'rrr', 'normal', 'rd = ra < rb signed ? 1 : 0'),
  op('sltu', 0x1e, 'rrr', 'normal', 'rd = ra < rb unsigned ? 1 : 0'),
  op('seq', 0x1f, 'rrr', 'normal', 'rd = ra == rb ? 1 : 0'),
  op('sne', 0x20, 'rrr', 'normal', 'rd = ra != rb ? 1 : 0'),
  // Checked arithmetic, for compiled code that must stop instead of wrapping (MIPS's trapping
  // add/sub; x86's INTO vector). Each is a fault: rd is unchanged and the pc saved is its own.
  op('addo', 0x21, 'rrr', 'normal', 'rd = ra + rb; #OF if the exact sum is outside int32'),
  op('subo', 0x22, 'rrr', 'normal', 'rd = ra - rb; #OF if the exact difference is outside int32'),
  op('mulo', 0x23, 'rrr', 'normal', 'rd = ra * rb; #OF if the exact product is outside int32'),
  op('mulh', 0x24, 'rrr', 'normal', 'rd = high 32 bits of the signed 64-bit product ra * rb (RISC-V MULH); never traps'),
  op('chk', 0x25, 'rr', 'normal', '#BR unless rd < ra unsigned (a negative index is huge); writes nothing'),

  op('addi', 0x28, 'rri', 'normal', 'rd = ra + sx(imm)'),
  op('muli', 0x29, 'rri', 'normal', 'rd = ra * sx(imm)'),
  op('andi', 0x2a, 'rru', 'normal', 'rd = ra & zx(imm)'),
  op('ori', 0x2b, 'rru', 'normal', 'rd = ra | zx(imm)'),
  op('xori', 0x2c, 'rru', 'normal', 'rd = ra ^ zx(imm)'),
  op('shli', 0x2d, 'rru', 'normal', 'rd = ra << (imm & 31)'),
  op('shri', 0x2e, 'rru', 'normal', 'rd = ra >>> (imm & 31)'),
  op('sari', 0x2f, 'rru', 'normal', 'rd = ra >> (imm & 31)'),
  op('slti', 0x30, 'rri', 'normal', 'rd = ra < sx(imm) signed ? 1 : 0'),
  op('sltiu', 0x31, 'rri', 'normal', 'rd = ra < sx(imm) unsigned ? 1 : 0'),
  op('addio', 0x32, 'rri', 'normal', 'rd = ra + sx(imm); #OF if the exact sum is outside int32'),
  op('chki', 0x33, 'ru', 'normal', '#BR unless rd < zx(imm) unsigned; writes nothing'),

  op('mov', 0x38, 'rr', 'normal', 'rd = ra'),
  op('li', 0x39, 'ri', 'normal', 'rd = sx(imm)'),
  op('lui', 0x3a, 'ru', 'normal', 'rd = imm << 16'),
  op('not', 0x3b, 'rr', 'normal', 'rd = ~ra'),
  op('neg', 0x3c, 'rr', 'normal', 'rd = -ra (wraps)'),

  op('ldw', 0x40, 'mem', 'normal', 'rd = 32-bit word at ra + sx(imm); #AC unless 4-aligned'),
  op('ldh', 0x41, 'mem', 'normal', 'rd = sx(16-bit at ra + sx(imm)); #AC unless 2-aligned'),
  op('ldhu', 0x42, 'mem', 'normal', 'rd = zx(16-bit at ra + sx(imm)); #AC unless 2-aligned'),
  op('ldb', 0x43, 'mem', 'normal', 'rd = sx(byte at ra + sx(imm))'),
  op('ldbu', 0x44, 'mem', 'normal', 'rd = zx(byte at ra + sx(imm))'),
  op('stw', 0x45, 'mem', 'normal', 'word at ra + sx(imm) = rd; #AC unless 4-aligned'),
  op('sth', 0x46, 'mem', 'normal', '16-bit at ra + sx(imm) = low half of rd; #AC unless 2-aligned'),
  op('stb', 0x47, 'mem', 'normal', 'byte at ra + sx(imm) = low byte of rd'),
  op('push', 0x48, 'r', 'normal', 'sp -= 4; word at sp = rd'),
  op('pop', 0x49, 'r', 'normal', 'rd = word at sp; sp += 4'),

  op('beq', 0x50, 'branch', 'normal', 'if rd == ra goto target'),
  op('bne', 0x51, 'branch', 'normal', 'if rd != ra goto target'),
  op('blt', 0x52, 'branch', 'normal', 'if rd < ra (signed) goto target'),
  op('bge', 0x53, 'branch', 'normal', 'if rd >= ra (signed) goto target'),
  op('bltu', 0x54, 'branch', 'normal', 'if rd < ra (unsigned) goto target'),
  op('bgeu', 0x55, 'branch', 'normal', 'if rd >= ra (unsigned) goto target'),

  op('jmp', 0x58, 'jump', 'normal', 'goto target'),
  op('call', 0x59, 'jump', 'normal', 'push address of next instruction; goto target'),
  op('jr', 0x5a, 'r', 'normal', 'goto rd'),
  op('callr', 0x5b, 'r', 'normal', 'push address of next instruction; goto rd'),
  op('ret', 0x5c, 'none', 'normal', 'pop pc'),

  op('syscall', 0x60, 'none', 'normal', 'trap to the kernel through vector SYSCALL (frame as for an interrupt)'),
  op('brk', 0x61, 'none', 'normal', 'raise breakpoint (#BP); the saved pc is the next instruction'),
  op('hypercall', 0x62, 'none', 'hypercall', 'call the hypervisor: number in r0, arguments r1..r5, result in r0; #UD on the bare machine'),
  op('pushf', 0x63, 'none', 'sensitive', 'push FLAGS (IF and CPL): reveals privileged state at any privilege'),
  op('popf', 0x64, 'none', 'sensitive', 'pop FLAGS: at privilege 0 sets IF; at privilege 3 the IF change is silently ignored'),

  op('in', 0x70, 'portIn', 'privileged', 'rd = 32-bit read of I/O port'),
  op('out', 0x71, 'portOut', 'privileged', '32-bit write of rd to I/O port'),
  op('inr', 0x72, 'portInR', 'privileged', 'rd = read of I/O port numbered by ra'),
  op('outr', 0x73, 'portOutR', 'privileged', 'write rd to I/O port numbered by ra'),
  op('mfcr', 0x74, 'crRead', 'privileged', 'rd = control register'),
  op('mtcr', 0x75, 'crWrite', 'privileged', 'control register = rd'),
  op('cli', 0x76, 'none', 'privileged', 'clear IF: mask external interrupts'),
  op('sti', 0x77, 'none', 'privileged', 'set IF: accept external interrupts'),
  op('hlt', 0x78, 'none', 'privileged', 'idle until the next external interrupt (virtual time skips ahead)'),
  op('iret', 0x79, 'none', 'privileged', 'pop pc, FLAGS (IF and CPL) and sp from the trap frame'),
  op('sysret', 0x7a, 'none', 'privileged', 'as iret, but always returns to privilege 3'),
  op('invlpg', 0x7b, 'r', 'privileged', 'drop the TLB entry of the page holding virtual address rd'),
];

/** Opcode numbers by mnemonic, for code that emits instructions (`Op.add`). */
export const Op = Object.freeze(Object.fromEntries(OPCODES.map((o) => [o.mnemonic, o.opcode]))) as Readonly<
  Record<string, number>
>;

/** Table indexed by opcode byte; undefined for invalid opcodes. */
export const OPCODE_BY_NUMBER: readonly (OpcodeInfo | undefined)[] = (() => {
  const t: (OpcodeInfo | undefined)[] = new Array(256).fill(undefined);
  for (const o of OPCODES) {
    if (t[o.opcode]) throw new Error(`isa: opcode 0x${o.opcode.toString(16)} defined twice`);
    t[o.opcode] = o;
  }
  return t;
})();

export const OPCODE_BY_MNEMONIC: ReadonlyMap<string, OpcodeInfo> = new Map(OPCODES.map((o) => [o.mnemonic, o]));

/** Instruction classes as small integers, for the interpreter's per-opcode class table. */
export const enum ClassCode {
  Invalid = 0,
  Normal = 1,
  Privileged = 2,
  Sensitive = 3,
  Hypercall = 4,
}

/** CLASS_TABLE[opcode] is the ClassCode of that opcode: the interpreter's classification. */
export const CLASS_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  const code: Record<InsnClass, number> = { normal: 1, privileged: 2, sensitive: 3, hypercall: 4 };
  for (const o of OPCODES) t[o.opcode] = code[o.cls];
  return t;
})();

// ---------------------------------------------------------------------------------------------
// Control registers, FLAGS, vectors

/**
 * Control registers, read with `mfcr` and written with `mtcr` (both privileged).
 * Numbers are ABI: they never change meaning.
 */
export const enum Cr {
  /** Bit 0 (CTRL_PG): paging enabled. Other bits reserved, must be zero (#GP). */
  Ctrl = 0,
  /** Physical address of the page directory (4 KiB aligned). A write flushes the TLB. */
  Ptbr = 1,
  /** Virtual address of the vector table: 256 words, the handler address of each vector. */
  Vbar = 2,
  /** Faulting virtual address of the last page fault (x86 CR2). */
  FaultAddr = 3,
  /** Vector of the last exception or interrupt taken. */
  Cause = 4,
  /** Error code of the last exception (page-fault bits for #PF, 0 otherwise). */
  ErrCode = 5,
  /** Stack pointer loaded when a trap arrives from privilege 3 (x86's TSS.esp0). */
  Ksp = 6,
  /** Free for the kernel (RISC-V's sscratch): e.g. a per-CPU pointer. */
  Scratch = 7,
  /** Virtual time before this instruction: retired plus idled in HLT, low 32 bits. Read-only. */
  Time = 8,
  /**
   * Stack pointer for double-fault delivery (x86-64's IST stack for #DF); 0 = none. Vector
   * DoubleFault is always delivered on this stack when it is set, whatever the privilege, so a
   * kernel whose own stack overflowed into a guard page can still run a handler.
   */
  Dfsp = 9,
}
export const CR_COUNT = 10;
export const CR_NAMES: readonly string[] = ['ctrl', 'ptbr', 'vbar', 'faultaddr', 'cause', 'errcode', 'ksp', 'scratch', 'time', 'dfsp'];
export const CTRL_PG = 1;

/**
 * FLAGS, as pushed by PUSHF and by trap entry. IF is writable by POPF at privilege 0 only;
 * the CPL field is read-only to POPF and restored only by IRET/SYSRET.
 */
export const FLAG_IF = 1 << 0;
export const FLAG_CPL_SHIFT = 4;
export const FLAG_CPL_MASK = 3 << FLAG_CPL_SHIFT;

/** Exception and interrupt vectors (x86 numbering where x86 has one). */
export const enum Vector {
  DivideError = 0,
  Breakpoint = 3,
  /** #OF: addo, subo, mulo or addio overflowed (x86's INTO vector). A fault. */
  Overflow = 4,
  /** #BR: chk or chki found the index out of range (x86's BOUND vector). A fault. */
  BoundRange = 5,
  InvalidOpcode = 6,
  /**
   * #DF: an exception or interrupt could not be delivered (its vector-table entry or a word of its
   * trap frame unreachable) and CR Dfsp is set. Delivered on the Dfsp stack with error code 0; the
   * frame's pc is the resume pc of the event that failed. If #DF itself cannot be delivered, or
   * Dfsp is 0, the machine triple-faults.
   */
  DoubleFault = 8,
  GeneralProtection = 13,
  PageFault = 14,
  AlignmentCheck = 17,
  /** External interrupt line n arrives on vector IrqBase + n. */
  IrqBase = 32,
  Syscall = 0x80,
}
export const VECTOR_COUNT = 256;
export const VECTOR_NAMES: Readonly<Record<number, string>> = {
  0: 'divide-error',
  3: 'breakpoint',
  4: 'overflow',
  5: 'bound-range',
  6: 'invalid-opcode',
  8: 'double-fault',
  13: 'general-protection',
  14: 'page-fault',
  17: 'alignment-check',
  0x80: 'syscall',
};
export function vectorName(v: number): string {
  if (v >= Vector.IrqBase && v < Vector.IrqBase + 16) return `irq${v - Vector.IrqBase}`;
  return VECTOR_NAMES[v] ?? `vector${v}`;
}

/**
 * Trap frame: on an exception, interrupt or SYSCALL the CPU switches to privilege 0 (taking sp
 * from CR Ksp if it came from privilege 3), clears IF, and pushes three words, so that
 *   [sp + 0] = pc to resume, [sp + 4] = FLAGS before the trap, [sp + 8] = sp before the trap.
 * IRET pops them in that order. Cause and error code go to CR Cause / CR ErrCode.
 * A double fault pushes the same frame at CR Dfsp instead (see Vector.DoubleFault).
 */
export const TRAP_FRAME_BYTES = 12;

// ---------------------------------------------------------------------------------------------
// Paging

/** 4 KiB pages, two levels: bits 31..22 index the directory, 21..12 the table. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;
export const PTE_P = 1 << 0; //   present
export const PTE_W = 1 << 1; //   writable
export const PTE_U = 1 << 2; //   user-accessible
export const PTE_A = 1 << 5; //   accessed (set by the walker)
export const PTE_D = 1 << 6; //   dirty (set by the walker on a write; leaf entries only)
/** The frame number lives in bits 31..12 of an entry. */
export const PTE_FRAME_MASK = ~PAGE_MASK;

/** Page-fault error code bits (x86 layout). */
export const PF_PRESENT = 1 << 0; // the page was present: a protection violation
export const PF_WRITE = 1 << 1; //   the access was a write
export const PF_USER = 1 << 2; //    the access was made at privilege 3
export const PF_RSVD = 1 << 3; //    an entry named a frame outside physical memory
export const PF_FETCH = 1 << 4; //   the access was an instruction fetch

// ---------------------------------------------------------------------------------------------
// Decoded instructions

export interface Instruction {
  readonly opcode: number;
  readonly rd: number;
  readonly ra: number;
  readonly rb: number;
  /** Sign- or zero-extended as the form says; a word offset for branch and jump forms. */
  readonly imm: number;
}

/** Which fields each form uses: the rest must be zero in a canonical encoding. */
function fieldsOf(form: OperandForm): { rd: boolean; ra: boolean; rb: boolean; imm: 'none' | 's16' | 'u16' | 's24' } {
  switch (form) {
    case 'none':
      return { rd: false, ra: false, rb: false, imm: 'none' };
    case 'rrr':
      return { rd: true, ra: true, rb: true, imm: 'none' };
    case 'rri':
    case 'mem':
    case 'branch':
      return { rd: true, ra: true, rb: false, imm: 's16' };
    case 'rru':
      return { rd: true, ra: true, rb: false, imm: 'u16' };
    case 'rr':
    case 'portInR':
    case 'portOutR':
      return { rd: true, ra: true, rb: false, imm: 'none' };
    case 'ri':
      return { rd: true, ra: false, rb: false, imm: 's16' };
    case 'ru':
    case 'portIn':
    case 'portOut':
    case 'crRead':
    case 'crWrite':
      return { rd: true, ra: false, rb: false, imm: 'u16' };
    case 'r':
      return { rd: true, ra: false, rb: false, imm: 'none' };
    case 'jump':
      return { rd: false, ra: false, rb: false, imm: 's24' };
  }
}

/** Range of the immediate a form accepts, for the encoder and the assembler's messages. */
export function immRange(form: OperandForm): readonly [number, number] | null {
  const f = fieldsOf(form).imm;
  if (f === 's16') return [-0x8000, 0x7fff];
  if (f === 'u16') return [0, 0xffff];
  if (f === 's24') return [-0x800000, 0x7fffff];
  return null;
}

export type EncodeError = { kind: 'unknown-opcode'; opcode: number } | { kind: 'field-range'; field: string; value: number; min: number; max: number };

/** Encode one instruction. Returns an error value, never throws, for out-of-range fields. */
export function encode(ins: Instruction): number | EncodeError {
  const info = OPCODE_BY_NUMBER[ins.opcode & 0xff];
  if (!info || ins.opcode !== (ins.opcode & 0xff)) return { kind: 'unknown-opcode', opcode: ins.opcode };
  const f = fieldsOf(info.form);
  for (const [name, used] of [['rd', f.rd], ['ra', f.ra], ['rb', f.rb]] as const) {
    const v = ins[name];
    const max = used ? REG_COUNT - 1 : 0;
    if (!Number.isInteger(v) || v < 0 || v > max) return { kind: 'field-range', field: name, value: v, min: 0, max };
  }
  const range = immRange(info.form) ?? [0, 0];
  if (!Number.isInteger(ins.imm) || ins.imm < range[0] || ins.imm > range[1]) {
    return { kind: 'field-range', field: 'imm', value: ins.imm, min: range[0], max: range[1] };
  }
  if (f.imm === 's24') return (ins.opcode | ((ins.imm & 0xffffff) << 8)) >>> 0;
  return (ins.opcode | (ins.rd << 8) | (ins.ra << 12) | (ins.rb << 16) | ((ins.imm & 0xffff) << 16)) >>> 0;
}

/**
 * Decode one word. Returns null for an invalid opcode or a non-canonical encoding (reserved bits
 * set), so that encode(decode(w)) === w whenever decode(w) is not null.
 */
export function decode(word: number): Instruction | null {
  const w = word >>> 0;
  const info = OPCODE_BY_NUMBER[w & 0xff];
  if (!info) return null;
  const f = fieldsOf(info.form);
  let rd = 0;
  let ra = 0;
  let rb = 0;
  let imm = 0;
  if (f.imm === 's24') {
    imm = (w | 0) >> 8;
  } else {
    rd = (w >>> 8) & 15;
    ra = (w >>> 12) & 15;
    if (f.rb) rb = (w >>> 16) & 15;
    if (f.imm === 's16') imm = (w | 0) >> 16;
    else if (f.imm === 'u16') imm = w >>> 16;
  }
  const ins: Instruction = { opcode: info.opcode, rd, ra, rb, imm };
  return encode(ins) === w ? ins : null;
}

/** Target address of a branch or jump at `pc`: offsets count words from the next instruction. */
export function branchTarget(pc: number, wordOffset: number): number {
  return (pc + INSN_BYTES + wordOffset * INSN_BYTES) >>> 0;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * Disassemble one word at address `pc`. `symbolAt` may name branch targets.
 * Output is valid assembler input (targets as absolute addresses or names).
 */
export function disassemble(word: number, pc: number, symbolAt?: (addr: number) => string | undefined): string {
  const ins = decode(word);
  if (!ins) return `.word ${hex(word)}`;
  const info = OPCODE_BY_NUMBER[ins.opcode]!;
  const r = (n: number): string => REG_NAMES[n]!;
  const cr = (n: number): string => CR_NAMES[n] ?? `cr${n}`;
  const target = (): string => {
    const t = branchTarget(pc, ins.imm);
    return symbolAt?.(t) ?? hex(t);
  };
  const m = info.mnemonic;
  switch (info.form) {
    case 'none':
      return m;
    case 'rrr':
      return `${m} ${r(ins.rd)}, ${r(ins.ra)}, ${r(ins.rb)}`;
    case 'rri':
      return `${m} ${r(ins.rd)}, ${r(ins.ra)}, ${ins.imm}`;
    case 'rru':
      return `${m} ${r(ins.rd)}, ${r(ins.ra)}, ${hex(ins.imm)}`;
    case 'rr':
    case 'portInR':
      return `${m} ${r(ins.rd)}, ${r(ins.ra)}`;
    case 'portOutR':
      return `${m} ${r(ins.ra)}, ${r(ins.rd)}`;
    case 'ri':
      return `${m} ${r(ins.rd)}, ${ins.imm}`;
    case 'ru':
      return `${m} ${r(ins.rd)}, ${hex(ins.imm)}`;
    case 'r':
      return `${m} ${r(ins.rd)}`;
    case 'mem': {
      const off = ins.imm === 0 ? '' : ins.imm > 0 ? `+${ins.imm}` : `${ins.imm}`;
      return `${m} ${r(ins.rd)}, [${r(ins.ra)}${off}]`;
    }
    case 'branch':
      return `${m} ${r(ins.rd)}, ${r(ins.ra)}, ${target()}`;
    case 'jump':
      return `${m} ${target()}`;
    case 'portIn':
      return `${m} ${r(ins.rd)}, ${hex(ins.imm)}`;
    case 'portOut':
      return `${m} ${hex(ins.imm)}, ${r(ins.rd)}`;
    case 'crRead':
      return `${m} ${r(ins.rd)}, ${cr(ins.imm)}`;
    case 'crWrite':
      return `${m} ${cr(ins.imm)}, ${r(ins.rd)}`;
  }
}
