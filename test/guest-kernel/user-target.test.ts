/**
 * The compiler's `user` target: a program of the guest kernel (guest-kernel/kernel/syscall-abi.ts),
 * linked at USER_BASE, run at privilege 3 and entered with sp and pc set. Its image says 'user',
 * holds no privileged instruction and no hypercall, starts with SYS_TRAP, calls main and exits
 * with SYS_EXIT; its console is SYS_WRITE; a run-time error goes to FD_STDERR and exits 134. The
 * hypervisor refuses to boot such an image with one line.
 *
 * The programs are run for real on the machine's CPU under a host-side stand-in for the kernel
 * (`runUser` below: a page table with the image, the user stack and its guard page, the CPU at
 * privilege 3 with SYSCALL and every exception intercepted), which implements the four calls a
 * compiled user program makes and delivers a fault to the SYS_TRAP entry as the ABI says.
 */
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeImage, formatImageError, SEG_W, SEG_X, type GuestImage } from '../../abi/image.ts';
import { CLASS_TABLE, ClassCode, Cr, decode, PAGE_SIZE, PTE_P, PTE_U, PTE_W, REG_SP, Vector } from '../../abi/isa.ts';
import { RUNTIME_ERROR_EXIT_CODE } from '../../abi/platform.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import { NODE_SHIMS } from '../../guest-kernel/compiler/node-shim.ts';
import {
  FAULT_STATUS,
  FD_STDERR,
  FD_STDOUT,
  SYS_EXIT,
  SYS_TRAP,
  SYS_WRITE,
  USER_BASE,
  USER_IMAGE_MAX,
  USER_STACK_PAGES,
  USER_STACK_TOP,
} from '../../guest-kernel/kernel/syscall-abi.ts';
import { Cpu, ExitKind, Stop } from '../../hypervisor/machine/cpu.ts';
import { PhysicalMemory } from '../../hypervisor/machine/memory.ts';
import { IMPLEMENTED_MODES, runImage, USER_IMAGE_REFUSAL } from '../../hypervisor/run.ts';
import { compileSource, compileSources, functionAsm } from './helpers.ts';

const FILE = 'guest-kernel/programs/__test__/main.ts';
const CONSOLE = "import { print, println, printlnNumber, putc } from '../../lib/console.ts';";

const HELLO = `${CONSOLE}
export function main(): number {
  println('hello from user mode');
  print('n = ');
  printlnNumber(-1234);
  putc(33);
  putc(10);
  return 7;
}
`;

// ---------------------------------------------------------------------------------------------
// A stand-in for the kernel, on the host

interface UserRun {
  /** Bytes written to FD_STDOUT and FD_STDERR, in order (both are the console). */
  console: string;
  stdout: string;
  stderr: string;
  /** The status passed to SYS_EXIT, or FAULT_STATUS when a fault found no SYS_TRAP entry. */
  status: number;
  /** Every system call made: [nr, a1, a2, a3]. */
  calls: number[][];
  /** The SYS_TRAP registration: [entry, stack top]. */
  trap: [number, number] | undefined;
  /** Faults delivered to the entry: [vector, pc, fault address]. */
  faults: number[][];
}

/**
 * Load `image` into a fresh address space as the kernel's loader would (segments at their
 * addresses, user pages, writable where the segment is; USER_STACK_PAGES of stack below
 * USER_STACK_TOP with the page under them unmapped) and run it at privilege 3 until it exits.
 */
function runUser(image: GuestImage, maxInstructions = 20_000_000): UserRun {
  const mem = new PhysicalMemory(4 * 1024 * 1024);
  let nextFrame = 1; // frame 0: the page directory
  const pd = 0;
  const frames = new Map<number, number>(); // vpn -> physical address of its frame
  const map = (va: number, writable: boolean): number => {
    const vpn = va >>> 12;
    const have = frames.get(vpn);
    if (have !== undefined) return have;
    const pdeAt = pd + (vpn >>> 10) * 4;
    let table = mem.i32[pdeAt >>> 2]! & ~(PAGE_SIZE - 1);
    if (table === 0) {
      table = nextFrame++ * PAGE_SIZE;
      mem.i32[pdeAt >>> 2] = table | PTE_P | PTE_W | PTE_U;
    }
    const frame = nextFrame++ * PAGE_SIZE;
    mem.i32[(table + (vpn & 1023) * 4) >>> 2] = frame | PTE_P | PTE_U | (writable ? PTE_W : 0);
    frames.set(vpn, frame);
    return frame;
  };
  for (const seg of image.segments) {
    for (let va = seg.addr & ~(PAGE_SIZE - 1); va < seg.addr + seg.memSize; va += PAGE_SIZE) map(va, (seg.flags & SEG_W) !== 0);
    for (let i = 0; i < seg.data.length; i++) mem.u8[map(seg.addr + i, false) + ((seg.addr + i) & (PAGE_SIZE - 1))] = seg.data[i]!;
  }
  for (let p = 1; p <= USER_STACK_PAGES; p++) map(USER_STACK_TOP - p * PAGE_SIZE, true);
  const byte = (va: number): number => {
    const frame = frames.get(va >>> 12);
    if (frame === undefined) throw new Error(`the program passed an unmapped address 0x${(va >>> 0).toString(16)}`);
    return mem.u8[frame + (va & (PAGE_SIZE - 1))]!;
  };

  const cpu = new Cpu(mem, { portIn: () => 0, portOut: () => undefined });
  cpu.reset(image.entry);
  cpu.mmu.ptbr = pd;
  cpu.mmu.paging = true;
  cpu.mmu.flushAll();
  cpu.setCpl(3);
  cpu.regs[REG_SP] = USER_STACK_TOP;
  cpu.interceptSyscall = true;
  cpu.interceptVectors = 0xffffffff | 0;

  const out: UserRun = { console: '', stdout: '', stderr: '', status: -1, calls: [], trap: undefined, faults: [] };
  while (cpu.icount < maxInstructions) {
    const stop = cpu.run(maxInstructions);
    if (stop === Stop.Budget || stop === Stop.Event) continue;
    if (stop !== Stop.Exit || cpu.exit.kind !== ExitKind.Exception) throw new Error(`unexpected stop ${stop} at pc 0x${(cpu.pc >>> 0).toString(16)}`);
    const r = cpu.regs;
    if (cpu.exit.vector === Vector.Syscall) {
      cpu.pc = cpu.exit.pc;
      const [nr, a1, a2, a3] = [r[0]!, r[1]!, r[2]!, r[3]!];
      out.calls.push([nr, a1, a2, a3]);
      if (nr === SYS_EXIT) {
        out.status = a1;
        return out;
      } else if (nr === SYS_TRAP) {
        out.trap = [a1 >>> 0, a2 >>> 0];
        r[0] = 0;
      } else if (nr === SYS_WRITE && (a1 === FD_STDOUT || a1 === FD_STDERR)) {
        const text = String.fromCharCode(...Array.from({ length: a3 }, (_, i) => byte(a2 + i)));
        out.console += text;
        if (a1 === FD_STDOUT) out.stdout += text;
        else out.stderr += text;
        r[0] = a3;
      } else {
        r[0] = -38; // -ENOSYS
      }
      continue;
    }
    // A fault: to the registered entry once, as SYS_TRAP says; without one, the task ends.
    const vector = cpu.exit.vector;
    const faultAddr = vector === Vector.PageFault ? cpu.cr[Cr.FaultAddr]! : 0;
    out.faults.push([vector, cpu.exit.pc >>> 0, faultAddr >>> 0]);
    if (!out.trap) {
      out.status = FAULT_STATUS;
      return out;
    }
    cpu.pc = out.trap[0];
    r[REG_SP] = out.trap[1];
    r[0] = vector;
    r[1] = cpu.exit.pc;
    r[2] = faultAddr;
    out.trap = undefined;
  }
  throw new Error(`no exit within ${maxInstructions} instructions`);
}

/** Classes of the instructions the line table describes (start-up, functions, handler entry). */
function codeClasses(image: GuestImage): Set<number> {
  const start = image.symbols!['_start']!;
  const end = image.symbols!['__rt.code_end']!;
  const seg = image.segments.find((s) => s.flags & SEG_X && s.addr <= start && end <= s.addr + s.data.length)!;
  const view = new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength);
  const found = new Set<number>();
  for (let a = start; a < end; a += 4) {
    const insn = decode(view.getUint32(a - seg.addr, true));
    if (insn) found.add(CLASS_TABLE[insn.opcode]!);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

describe('the user target: the image', () => {
  const c = compileSource(HELLO, 'user');

  it("says 'user' and lies at or above USER_BASE, inside the user image area", () => {
    expect(c.image.target).toBe('user');
    expect(c.image.entry).toBe(USER_BASE);
    for (const s of c.image.segments) {
      expect(s.addr).toBeGreaterThanOrEqual(USER_BASE);
      expect(s.addr + s.memSize).toBeLessThanOrEqual(USER_BASE + USER_IMAGE_MAX);
    }
    expect(c.asm).toMatch(/^\.target user$/m);
    expect(c.listing).toContain('target user');
  });

  it('an explicit load address wins', () => {
    const at = USER_BASE + 0x100000;
    const moved = compileSource(HELLO, 'user', { loadAddress: at });
    expect(moved.image.entry).toBe(at);
    expect(Math.min(...moved.image.segments.map((s) => s.addr))).toBe(at);
  });

  it('holds no privileged instruction and no hypercall (nor a vector table, a trap table or paging)', () => {
    const classes = codeClasses(c.image);
    expect(classes.has(ClassCode.Normal)).toBe(true);
    expect(classes.has(ClassCode.Privileged)).toBe(false);
    expect(classes.has(ClassCode.Hypercall)).toBe(false);
    expect(classes.has(ClassCode.Sensitive)).toBe(false);
    expect(c.asm).not.toMatch(/^ +(mtcr|mfcr|iret|sysret|hlt|cli|sti|out|outr|in|inr|invlpg|hypercall)\b/m);
    expect(c.image.symbols).not.toHaveProperty('__rt.vectors');
    expect(c.image.symbols).not.toHaveProperty('__rt.traps');
    expect(c.image.symbols).not.toHaveProperty('__rt.pd');
    // The same program for native does have them: the check above can see them.
    const native = codeClasses(compileSource(HELLO, 'native').image);
    expect(native.has(ClassCode.Privileged)).toBe(true);
    expect(codeClasses(compileSource(HELLO, 'pv').image).has(ClassCode.Hypercall)).toBe(true);
  });

  it('starts with SYS_TRAP(entry, fault stack), calls main, exits with its result, then spins', () => {
    expect(functionAsm(c.asm, '_start')).toEqual([
      '; faults enter the default handler on the fault stack: syscall(SYS_TRAP, entry, stack top)',
      'la r1, __rt.entry',
      'la r2, __rt.stack_top',
      `li r0, ${SYS_TRAP}`,
      'syscall',
      'call main',
      "; exit(main's result)",
      'mov r1, r0',
      `li r0, ${SYS_EXIT}`,
      'syscall',
      '_start.spin:',
      'jmp _start.spin',
      '; default exception handler entry (user): runtimeError(vector, pc, fault address, tables) on the fault stack',
      '__rt.entry:',
      'la sp, __rt.stack_top',
      'la r3, __rt.tables',
      'call runtimeError',
      '__rt.entry.spin:',
      'jmp __rt.entry.spin',
    ]);
  });

  it('writes its console with syscall(SYS_WRITE, FD_STDOUT, ...) and its run-time errors to FD_STDERR', () => {
    // writeBytes keeps the call's constant arguments in registers across its loop.
    const write = functionAsm(c.asm, 'writeBytes');
    expect(write).toContain('syscall');
    expect(write).toContain(`li r10, ${SYS_WRITE}`);
    expect(write).toContain(`li r11, ${FD_STDOUT}`);
    expect(write.slice(write.indexOf('mov r0, r10'), write.indexOf('syscall') + 1)).toEqual(['mov r0, r10', 'mov r1, r11', 'mov r2, r8', 'mov r3, r9', 'syscall']);
    for (const f of ['print', 'putc', 'printDigits']) expect(functionAsm(c.asm, f)).not.toContainEqual(expect.stringMatching(/^(out|outr|hypercall)\b/));
    const report = functionAsm(c.asm, 'runtimeError').join('\n');
    expect(report).toContain(`li r0, ${SYS_WRITE}\nli r1, ${FD_STDERR}\nla r2, message\nla r3, length\nldw r3, [r3]\nsyscall\ncall shutdown`);
    expect(report).not.toMatch(/^(out|outr|hypercall)\b/m);
    expect(functionAsm(c.asm, 'shutdown')).toEqual([`li r0, ${SYS_EXIT}`, `li r1, ${RUNTIME_ERROR_EXIT_CODE}`, 'syscall', 'ret']);
  });

  it('round-trips through the image format with target code 2', () => {
    const bytes = encodeImage(c.image);
    expect(bytes[6]).toBe(2);
    const back = decodeImage(bytes);
    expect(back.ok && back.image.target).toBe('user');
    expect(back.ok && back.image.segments.map((s) => s.addr)).toEqual(c.image.segments.map((s) => s.addr));
    if (!back.ok) throw new Error(formatImageError(back.error));
  });
});

describe('the user target: running under a kernel', () => {
  it('registers its reporter, prints through SYS_WRITE and exits with main’s result', () => {
    const c = compileSource(HELLO, 'user');
    const r = runUser(c.image);
    expect(r.stdout).toBe('hello from user mode\nn = -1234\n!\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(7);
    expect(r.calls[0]).toEqual([SYS_TRAP, c.image.symbols!['__rt.entry'], c.image.symbols!['__rt.stack_top'], expect.any(Number)]);
    expect(r.calls.at(-1)).toEqual([SYS_EXIT, 7, expect.any(Number), expect.any(Number)]);
    expect(r.calls.slice(1, -1).every(([nr, fd]) => nr === SYS_WRITE && fd === FD_STDOUT)).toBe(true);
  });

  it('reports a run-time check on FD_STDERR with its source line and exits with 134', () => {
    const src = `${CONSOLE}
let big = 0x7fffffff;
export function main(): number {
  println('before');
  big = big + 1;
  return 0;
}
`;
    const r = runUser(compileSource(src, 'user').image);
    expect(r.stdout).toBe('before\n');
    expect(r.stderr).toBe(`${FILE}:5:9: integer overflow in 'big + 1'\n`);
    expect(r.status).toBe(RUNTIME_ERROR_EXIT_CODE);
    expect(r.faults.map(([v]) => v)).toEqual([Vector.Overflow]);
  });

  it('names a stack overflow in the guard page below the user stack, and a wild page fault', () => {
    const deep = `
function down(n: number): number { return n === 0 ? 0 : down(n - 1) + 1; }
export function main(): number { return down(1000000); }
`;
    const r = runUser(compileSource(deep, 'user').image);
    expect(r.stderr).toMatch(new RegExp(`^${FILE}:2: stack overflow at pc 0x4000[0-9a-f]{4}\\n$`));
    expect(r.status).toBe(RUNTIME_ERROR_EXIT_CODE);
    const guard = USER_STACK_TOP - (USER_STACK_PAGES + 1) * PAGE_SIZE;
    expect(r.faults[0]![2]! >>> 12).toBe(guard >>> 12);

    const wild = `export function main(): number { return load32(0x1000); }\n`;
    const w = runUser(compileSource(wild, 'user').image);
    expect(w.stderr).toMatch(new RegExp(`^${FILE}:1: page-fault \\(vector 14\\) at pc 0x4000[0-9a-f]{4}, address 0x1000\\n$`));
    expect(w.status).toBe(RUNTIME_ERROR_EXIT_CODE);
  });
});

describe('TARGET_USER', () => {
  const src = `export function main(): number { if (TARGET_USER) return 1; return TARGET_PV ? 2 : 3; }\n`;

  it('folds to true for user only, and TARGET_PV to false there', () => {
    expect(functionAsm(compileSource(src, 'user').asm, 'main')).toEqual(['li r0, 1', 'ret']);
    expect(functionAsm(compileSource(src, 'pv').asm, 'main')).toEqual(['li r0, 2', 'ret']);
    expect(functionAsm(compileSource(src, 'native').asm, 'main')).toEqual(['li r0, 3', 'ret']);
  });

  it('is false under Node', () => {
    expect(NODE_SHIMS['TARGET_USER']).toBe(false);
    expect(NODE_SHIMS['TARGET_PV']).toBe(false);
  });

  it('interruptEntry is refused in a user program', () => {
    const r = compileSources(
      { 'main.ts': `function h(frame: number): void {}\nexport function main(): number { return interruptEntry(h); }\n` },
      'user',
    );
    expect(r.ok).toBe(false);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${FILE}:2:41: error TSG2021: interruptEntry is for kernels: a user program (target user) takes no interrupts; the kernel reports its faults (SYS_TRAP)`,
    ]);
  });
});

describe('the hypervisor and a user image', () => {
  it('refuses to boot it in every mode, with one line', () => {
    const image = compileSource(HELLO, 'user').image;
    for (const mode of IMPLEMENTED_MODES) {
      const r = runImage(image, { mode });
      expect(r.stop).toBe('refused');
      expect(r.message).toBe(USER_IMAGE_REFUSAL);
      expect(r.instructions).toBe(0);
    }
    expect(USER_IMAGE_REFUSAL).not.toContain('\n');
  });
});
