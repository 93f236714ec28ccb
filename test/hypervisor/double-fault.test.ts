/**
 * The double fault (#DF, vector 8): when an exception cannot be delivered because its vector-table
 * entry or a word of its trap frame is unreachable, and CR Dfsp is set, the CPU delivers #DF on
 * the Dfsp stack (x86-64's IST stack for #DF) instead of resetting. Its frame names the pc and sp
 * of the event that failed, so a kernel whose stack ran into an unmapped guard page can report
 * its own stack overflow. With Dfsp 0, or when #DF cannot be delivered either, the machine
 * triple-faults exactly as before.
 *
 * The same guests in native, trap (the monitor's virtual delivery) and hw (the CPU's delivery
 * under nested paging, where the Dfsp page is first touched by the delivery itself) must agree.
 */
import { describe, expect, it } from 'vitest';
import { Cr, FLAG_CPL_SHIFT, Vector } from '../../abi/isa.ts';
import { gpa } from '../../hypervisor/machine/addr.ts';
import { Stop } from '../../hypervisor/machine/cpu.ts';
import { NativeMachine } from '../../hypervisor/machine/native.ts';
import type { Monitor } from '../../hypervisor/vmm/monitor.ts';
import { asm } from './harness.ts';
import { expectSameInEveryMode, monitor } from './vmm/harness.ts';

const MEM = 1 << 20;
/** The guard page: every page of the first 64 KiB is mapped one to one but this one. */
const GUARD = 0x5000;
/** The kernel stack's top, just above the guard page. */
const STACK = 0x6000;
/** The double-fault stack: a page nothing touches before the double fault. */
const DFSP = 0x8000;
const USER_SP = 0x4000;

/**
 * A kernel that enables paging with GUARD unmapped, sets Dfsp to `dfsp`, points sp (or, with
 * `user`, ksp) at STACK, and faults: a push into the guard page (kernel), or a load from it at
 * privilege 3 (user), whose #PF frame would go into the guard page too. Its #PF handler must never
 * run (its frame cannot be written); its #DF handler keeps what it saw in r4..r10 and powers off
 * with the saved pc.
 */
function guest(dfsp: number, user = false): string {
  return `
        la r1, table
        mtcr vbar, r1
        la r2, df
        stw r2, [r1+${Vector.DoubleFault * 4}]
        la r2, pf
        stw r2, [r1+${Vector.PageFault * 4}]
        li32 r1, 0xa000
        li r2, 0
        li r3, 16
  pt:   shli r4, r2, 12
        ori r4, r4, 7
        li r5, ${GUARD >>> 12}
        bne r2, r5, map
        li r4, 0
  map:  stw r4, [r1]
        addi r1, r1, 4
        addi r2, r2, 1
        bne r2, r3, pt
        li32 r1, 0xa007
        li32 r2, 0x9000
        stw r1, [r2]
        mtcr ptbr, r2
        li32 r1, ${dfsp}
        mtcr dfsp, r1
        li r1, 1
        mtcr ctrl, r1
        ${user ? userEntry : kernelFault}
  pf:   li r1, 2
        out 0xf4, r1
        hlt
  df:   mfcr r4, cause
        mfcr r5, errcode
        mfcr r6, faultaddr
        ldw r7, [sp]
        ldw r8, [sp+4]
        ldw r9, [sp+8]
        mov r10, sp
        out 0xf4, r7
        hlt
        .align 4
  table: .space 1024`;
}

const kernelFault = `
        li32 sp, ${STACK}
        li r3, 0x77
  bad:  push r3
        li r1, 1
        out 0xf4, r1
        hlt`;

const userEntry = `
        li32 sp, 0x7000
        li32 r1, ${STACK}
        mtcr ksp, r1
        la r1, user
        li32 r2, ${USER_SP}
        push r2
        li r2, ${3 << FLAG_CPL_SHIFT}
        push r2
        push r1
        iret
  user: li32 r2, ${GUARD + 0x10}
  bad:  ldw r3, [r2]
        li r1, 1
        out 0xf4, r1
        hlt`;

interface Seen {
  cause: number;
  err: number;
  faultAddr: number;
  pc: number;
  flags: number;
  sp: number;
  handlerSp: number;
  cpl: number;
  iflag: boolean;
}

function seen(regs: Int32Array, cpl: number, iflag: boolean): Seen {
  return { cause: regs[4]!, err: regs[5]!, faultAddr: regs[6]!, pc: regs[7]!, flags: regs[8]!, sp: regs[9]!, handlerSp: regs[10]!, cpl, iflag };
}

function runNative(src: string): { m: NativeMachine; r: ReturnType<NativeMachine['run']> } {
  const m = new NativeMachine({ memoryBytes: MEM });
  expect(m.load(asm(src))).toBeNull();
  return { m, r: m.run(1_000_000) };
}

describe('double fault on the Dfsp stack', () => {
  it('a kernel stack overflow into the guard page reaches the #DF handler, which sees where it happened', () => {
    const image = asm(guest(DFSP));
    const { m, r } = runNative(guest(DFSP));
    expect(r).toEqual({ stop: 'shutdown', exitCode: image.symbols!.bad });
    expect(seen(m.cpu.regs, m.cpu.cpl, m.cpu.iflag)).toEqual({
      cause: Vector.DoubleFault,
      err: 0,
      faultAddr: STACK - 4, // the original page fault's address is kept
      pc: image.symbols!.bad, // the faulting push: the resume pc of the event that failed
      flags: 0, // privilege 0, IF clear
      sp: STACK, // the sp at the time (the push did not retire)
      handlerSp: DFSP - 12,
      cpl: 0,
      iflag: false,
    });
    expect(m.cpu.cr[Cr.ErrCode]).toBe(0);
    expect(m.report().events).toEqual({ 'page-fault': 1, 'double-fault': 1 });
  });

  it('from privilege 3 with ksp above the guard page: the frame shows the user privilege and sp', () => {
    const image = asm(guest(DFSP, true));
    const { m, r } = runNative(guest(DFSP, true));
    expect(r.exitCode).toBe(image.symbols!.bad);
    const s = seen(m.cpu.regs, m.cpu.cpl, m.cpu.iflag);
    expect(s).toEqual({ cause: 8, err: 0, faultAddr: GUARD + 0x10, pc: image.symbols!.bad, flags: 3 << FLAG_CPL_SHIFT, sp: USER_SP, handlerSp: DFSP - 12, cpl: 0, iflag: false });
  });

  it('with Dfsp 0 the machine triple-faults exactly as before', () => {
    const image = asm(guest(0));
    const { m, r } = runNative(guest(0));
    expect(r.stop).toBe('triple-fault');
    expect(r.message).toBe(`triple fault: could not deliver page-fault (vector table at 0x${image.symbols!.table!.toString(16)} or kernel stack unusable) at pc 0x${image.symbols!.bad!.toString(16)}`);
    expect(m.report().events).toEqual({ 'page-fault': 1 });
    expect(m.cpu.regs[15]).toBe(STACK);
  });

  it('when #DF cannot be delivered either (Dfsp in the guard page), the machine triple-faults naming it', () => {
    const image = asm(guest(GUARD + 0x800));
    const { m, r } = runNative(guest(GUARD + 0x800));
    expect(r.stop).toBe('triple-fault');
    expect(r.message).toBe(`triple fault: could not deliver double-fault (vector table at 0x${image.symbols!.table!.toString(16)} or double-fault stack unusable) at pc 0x${image.symbols!.bad!.toString(16)}`);
    expect(m.report().events).toEqual({ 'page-fault': 1, 'double-fault': 1 });
  });

  it('an injected #DF goes on the Dfsp stack too, and a monitor that intercepts vector 8 gets it instead', () => {
    const { m } = runNative(guest(DFSP));
    const cpu = m.cpu;
    // An IST vector: injected with sp anywhere, its frame is at Dfsp.
    cpu.regs[15] = 0x7000;
    cpu.pc = 0x1000;
    cpu.interrupt(Vector.DoubleFault);
    expect([cpu.regs[15], cpu.mem.i32[(DFSP - 12) >>> 2], cpu.mem.i32[(DFSP - 4) >>> 2]]).toEqual([DFSP - 12, 0x1000, 0x7000]);
    // Intercepting #DF but not #PF (VT-x's exception bitmap bit 8): the escalation exits.
    cpu.interceptVectors = 1 << Vector.DoubleFault;
    cpu.regs[15] = STACK;
    const image = asm(guest(DFSP));
    cpu.pc = image.symbols!.bad!;
    cpu.setCpl(0);
    expect(cpu.run(cpu.icount + 5)).toBe(Stop.Exit);
    expect([cpu.exit.vector, cpu.exit.pc, cpu.regs[15]]).toEqual([Vector.DoubleFault, image.symbols!.bad, STACK]);
  });
});

describe('double fault in every mode', () => {
  const cases: [string, number, boolean][] = [
    ['kernel stack overflow, #DF handled', DFSP, false],
    ['user fault with ksp above the guard page, #DF handled', DFSP, true],
    ['Dfsp 0: triple fault', 0, false],
    ['Dfsp 0 from user mode: triple fault', 0, true],
    ['#DF undeliverable: triple fault', GUARD + 0x800, false],
  ];
  it.each(cases)('%s: trap and hw give what native gives, instruction for instruction', (_name, dfsp, user) => {
    const image = asm(guest(dfsp, user));
    const r = expectSameInEveryMode(image, { memoryBytes: MEM });
    expect(r.native!.stop).toBe(dfsp === DFSP ? 'shutdown' : 'triple-fault');
    // The handler saw the same in every mode.
    const native = runNative(guest(dfsp, user)).m;
    const want = seen(native.cpu.regs, native.cpu.cpl, native.cpu.iflag);
    for (const mode of ['trap', 'hw'] as const) {
      const { m, exits } = monitor(mode, image, { memoryBytes: MEM });
      m.run(1_000_000);
      const v = (m as Monitor).virtualCpu();
      expect(seen(m.cpu.regs, v.cpl, v.iflag), mode).toEqual(want);
      expect(Array.from(v.cr), mode).toEqual(Array.from(native.cpu.cr));
      expect(m.audit()).toEqual([]);
      if (mode === 'hw' && dfsp === DFSP) {
        // The #DF frame's page is touched first by the delivery: an EPT violation while
        // delivering the double fault, then delivered again.
        expect(exits.some((e) => e.reason === 'ept-violation' && e.qual.delivering === 'double-fault')).toBe(true);
      }
      if (mode === 'trap') {
        const ram = (m as Monitor).vm;
        expect(ram.readU32(gpa(DFSP - 12)), mode).toBe(native.mem.readU32(gpa(DFSP - 12)));
      }
    }
  });
});
