/**
 * The pv double fault: Xen crashes a PV domain whose bounce frame cannot be written; we bounce a
 * double fault (vector 8) onto the stack the kernel registered with stack_switch instead, when
 * its trap table has an entry for vector 8, as x86-64's IST stack lets a native kernel take #DF
 * on a known-good stack. So a pv kernel whose stack ran into an unmapped page can report its own
 * stack overflow. Without the entry or the stack, the domain crashes with the same message as
 * before.
 */
import { describe, expect, it } from 'vitest';
import * as N from '../../../abi/hypercall-numbers.ts';
import { Vector } from '../../../abi/isa.ts';
import { SI_UPCALL_MASK } from '../../../abi/shared-info.ts';
import { PvHost } from '../../../hypervisor/pv/pv-host.ts';
import type { Domain } from '../../../hypervisor/pv/domain.ts';
import { asm } from '../harness.ts';

/** The bottom of the start-of-day stack: nothing is mapped below it. */
const STACK_BOTTOM = N.PV_STACK_TOP - N.PV_STACK_PAGES * 4096;

/**
 * A pv kernel that registers handlers for #PF and (with `df`) #DF, optionally a stack_switch
 * stack, enables events, points sp at the bottom of its stack and pushes: the push faults, and
 * the #PF bounce frame would go below the stack too. The #DF handler keeps the bounce frame's
 * words in r4..r9 and its sp in r10, then shuts down with the saved pc.
 */
function guest(opts: { df: boolean; stackSwitch: boolean }): string {
  return `.target pv
start:  li      r0, ${N.HC_SET_TRAP_TABLE}
        la      r1, traps
        li      r2, ${opts.df ? 2 : 1}
        hypercall
        ${opts.stackSwitch ? `li r0, ${N.HC_STACK_SWITCH}\n        la r1, dftop\n        hypercall` : ''}
        li32    r1, ${N.PV_SHARED_INFO_VA + SI_UPCALL_MASK}
        li      r2, 0
        stw     r2, [r1]
        li32    sp, ${STACK_BOTTOM}
        li      r3, 0x77
bad:    push    r3
        li      r0, ${N.HC_SCHED_OP}
        li      r1, ${N.SCHEDOP_SHUTDOWN}
        li      r2, 1
        hypercall
pf:     li      r0, ${N.HC_SCHED_OP}
        li      r1, ${N.SCHEDOP_SHUTDOWN}
        li      r2, 2
        hypercall
df:     ldw     r4, [sp+${N.BF_VECTOR}]
        ldw     r5, [sp+${N.BF_ERRCODE}]
        ldw     r6, [sp+${N.BF_FAULTADDR}]
        ldw     r7, [sp+${N.BF_PC}]
        ldw     r8, [sp+${N.BF_FLAGS}]
        ldw     r9, [sp+${N.BF_SP}]
        mov     r10, sp
        li      r0, ${N.HC_SCHED_OP}
        li      r1, ${N.SCHEDOP_SHUTDOWN}
        mov     r2, r7
        hypercall
        .align 4
traps:  .word ${Vector.PageFault}, pf, ${Vector.DoubleFault}, df
.org 0x10000, rw
dfstack: .space 256
dftop:
`;
}

function run(opts: { df: boolean; stackSwitch: boolean }): { d: Domain; symbols: Record<string, number> } {
  const host = new PvHost({ machineBytes: 2 * (1 << 20) + 64 * 1024 });
  const image = asm(guest(opts), 'pv');
  const d = host.createDomain(image, { memoryBytes: 1 << 20 });
  if (typeof d === 'string') throw new Error(d);
  host.run(1_000_000);
  return { d, symbols: image.symbols! };
}

describe('pv: a bounce frame that cannot be written', () => {
  it('bounces a double fault onto the stack_switch stack when the kernel has a #DF handler', () => {
    const { d, symbols } = run({ df: true, stackSwitch: true });
    expect(d.crashMessage).toBeUndefined();
    expect([d.state, d.exitCode]).toEqual(['shutdown', symbols.bad]);
    const r = d.cpu.regs;
    expect(Array.from(r.subarray(4, 11))).toEqual([
      Vector.DoubleFault,
      0, // error code
      STACK_BOTTOM - 4, // the original page fault's address
      symbols.bad, // the pc of the event that failed: the push
      N.BF_FLAG_EVENTS, // events were enabled, guest kernel mode
      STACK_BOTTOM, // the sp at the time
      symbols.dftop! - N.BF_BYTES, // the frame is on the stack_switch stack
    ]);
    expect(d.evtchn.eventsEnabled()).toBe(false); // masked on the way in
    expect(Object.fromEntries(d.bounces)).toEqual({ 'double-fault': 1 });
  });

  it('crashes the domain as before without a stack_switch stack', () => {
    const { d } = run({ df: true, stackSwitch: false });
    expect(d.state).toBe('crashed');
    expect(d.crashMessage).toBe(`domain 0 crashed: cannot write a bounce frame for page-fault at 0x${(STACK_BOTTOM - N.BF_BYTES).toString(16)} (kernel stack unmapped)`);
    expect(d.bounces.size).toBe(0);
  });

  it('crashes the domain as before without a trap-table entry for vector 8', () => {
    const { d } = run({ df: false, stackSwitch: true });
    expect(d.state).toBe('crashed');
    expect(d.crashMessage).toBe(`domain 0 crashed: cannot write a bounce frame for page-fault at 0x${(STACK_BOTTOM - N.BF_BYTES).toString(16)} (kernel stack unmapped)`);
  });

  it('crashes, naming both, when the double-fault frame cannot be written either', () => {
    const src = guest({ df: true, stackSwitch: true }).replace('la r1, dftop', `li32 r1, ${STACK_BOTTOM - 0x1000}`);
    const host = new PvHost({ machineBytes: 2 * (1 << 20) + 64 * 1024 });
    const d = host.createDomain(asm(src, 'pv'), { memoryBytes: 1 << 20 });
    if (typeof d === 'string') throw new Error(d);
    host.run(1_000_000);
    expect(d.state).toBe('crashed');
    expect(d.crashMessage).toBe(
      `domain 0 crashed: cannot write a bounce frame for page-fault at 0x${(STACK_BOTTOM - N.BF_BYTES).toString(16)} (kernel stack unmapped), nor for the double fault at 0x${(STACK_BOTTOM - 0x1000 - N.BF_BYTES).toString(16)}`,
    );
  });

  it('routes #OF and #BR to the trap table like any exception, and crashes on them without an entry', () => {
    const src = (trap: boolean): string => `.target pv
start:  li      r0, ${N.HC_SET_TRAP_TABLE}
        la      r1, traps
        li      r2, ${trap ? 2 : 0}
        hypercall
        li32    r1, 0x7fffffff
        li      r2, 1
ovf:    addo    r3, r1, r2
        li      r4, -1
oob:    chki    r4, 4
        li      r0, ${N.HC_SCHED_OP}
        li      r1, ${N.SCHEDOP_SHUTDOWN}
        mov     r2, r9
        hypercall
h:      ldw     r5, [sp+${N.BF_VECTOR}]
        add     r9, r9, r5
        ldw     r5, [sp+${N.BF_PC}]
        addi    r5, r5, 4
        stw     r5, [sp+${N.BF_PC}]
        addi    sp, sp, ${N.BF_FAULTADDR}
        li      r0, ${N.HC_IRET}
        hypercall
        .align 4
traps:  .word ${Vector.Overflow}, h, ${Vector.BoundRange}, h
`;
    const host = new PvHost({ machineBytes: 4 * (1 << 20) + 64 * 1024 });
    const image = asm(src(true), 'pv');
    const ok = host.createDomain(image, { memoryBytes: 1 << 20 }) as Domain;
    const bare = host.createDomain(asm(src(false), 'pv'), { memoryBytes: 1 << 20 }) as Domain;
    host.run(1_000_000);
    expect(ok.crashMessage).toBeUndefined();
    expect(ok.exitCode).toBe(Vector.Overflow + Vector.BoundRange);
    expect(Object.fromEntries(ok.bounces)).toEqual({ overflow: 1, 'bound-range': 1 });
    expect(bare.crashMessage).toBe(`domain 1 crashed: unhandled overflow at pc 0x${image.symbols!.ovf!.toString(16)}, no trap-table entry`);
  });
});
