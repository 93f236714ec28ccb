/**
 * Memory virtualization: shadow paging under trap, nested paging under hw. A guest that remaps
 * pages, changes permissions, maps on demand and switches address spaces sees exactly what it sees
 * on the bare machine (paging.s, and many address spaces below); its writes to its own page tables
 * are ptemod exits under trap and nothing at all under hw; the shadow pool survives running out.
 */
import { describe, expect, it } from 'vitest';
import { PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { Exit } from '../../../hypervisor/vmm/exits.ts';
import type { HwMachine } from '../../../hypervisor/vmm/hw.ts';
import { TrapMachine } from '../../../hypervisor/vmm/trap.ts';
import { asm, exitCounts, expectSameInEveryMode, monitor, program, runMode } from './harness.ts';

describe('paging.s: remap, permissions, demand paging, two address spaces, a user task', () => {
  const image = program('paging.s');
  let cached: ReturnType<typeof expectSameInEveryMode> | undefined;
  const results = (): ReturnType<typeof expectSameInEveryMode> => (cached ??= expectSameInEveryMode(image));

  it('sees in trap and hw exactly what it sees on the bare machine', () => {
    results();
  });

  it('prints what the bare machine prints', () => {
    const c = results().native!.console;
    expect(c).toContain('page fault at 0x00400000 err 0x00000003'); // the read-only write
    expect(c).toContain('hello from user mode');
    expect(c).toContain('page fault at 0x00022000 err 0x00000005'); // the user task touching a kernel page
    expect(results().native!.exitCode).toBe(7);
  });

  it('trap: page-table writes are ptemod exits, first touches are hidden faults, the guest\'s own faults are reflected', () => {
    const x = exitCounts(results().trap!);
    expect(x.ptemod).toBe(4); // remap, read-only, the handler's fix, the demand directory entry
    expect(x['page-fault']).toBe(3);
    expect(x['shadow-fill']).toBeGreaterThan(10);
    expect(x['ept-violation']).toBeUndefined();
  });

  it('hw: nothing about guest paging exits; only first touches of guest-physical pages do', () => {
    const x = exitCounts(results().hw!);
    expect(x.ptemod).toBeUndefined();
    expect(x['page-fault']).toBeUndefined();
    expect(x['shadow-fill']).toBeUndefined();
    expect(x['ept-violation']).toBeGreaterThan(5);
    expect(results().hw!.events).toEqual({ 'page-fault': 3, syscall: 1 });
  });

  it('the monitors\' structures hold their invariants afterwards', () => {
    for (const mode of ['trap', 'hw'] as const) {
      const { m } = monitor(mode, image, { memoryBytes: 16 << 20 });
      expect(m.run(1_000_000).stop).toBe('shutdown');
      expect(m.audit()).toEqual([]);
    }
  });
});

/**
 * N address spaces sharing a kernel table, each mapping VA to a frame of its own holding i * 3;
 * the guest switches through them three times, reads and writes VA in each, and powers off with
 * the sum. Each switch is a PTBR write; under trap each space has its own shadow.
 */
function manySpaces(n: number, rounds = 3): string {
  return `
    li sp, 0x7f000
    li r1, 0x10000               ; kernel table: identity map of 1 MiB
    li r2, ${PTE_P | PTE_W}
    li r3, 256
    li r4, 0x1000
    li r5, 0
  k: stw r2, [r1]
    addi r1, r1, 4
    add r2, r2, r4
    addi r3, r3, -1
    bne r3, r5, k
    li r6, 0                     ; i
    li r7, ${n}
  mk: shli r8, r6, 13
    li r9, 0x20000
    add r8, r8, r9               ; directory i at 0x20000 + i * 0x2000, its table 0x1000 above
    li r9, ${0x10000 | PTE_P | PTE_W | PTE_U}
    stw r9, [r8]
    addi r10, r8, 0x1000
    ori r9, r10, ${PTE_P | PTE_W | PTE_U}
    stw r9, [r8+4]
    shli r11, r6, 12
    li r9, 0x80000
    add r11, r11, r9             ; frame i at 0x80000 + i * 0x1000
    muli r12, r6, 3
    stw r12, [r11]
    ori r9, r11, ${PTE_P | PTE_W}
    stw r9, [r10]
    addi r6, r6, 1
    bne r6, r7, mk
    li r1, 0x20000
    mtcr ptbr, r1
    li r1, 1
    mtcr ctrl, r1
    li r13, 0                    ; sum
    li r14, ${rounds}                    ; rounds
    lui r2, 0x40                 ; VA
  round:
    li r6, 0
  sw: shli r8, r6, 13
    li r9, 0x20000
    add r8, r8, r9
    mtcr ptbr, r8
    ldw r3, [r2]
    add r13, r13, r3
    stw r13, [r2+4]
    addi r6, r6, 1
    bne r6, r7, sw
    addi r14, r14, -1
    bne r14, r5, round
    li r6, 0                     ; read back what the last round wrote, through space 0's directory
    li r8, 0x20000
    mtcr ptbr, r8
    ldw r3, [r2+4]
    add r13, r13, r3
    out 0xf4, r13`;
}

describe('many address spaces', () => {
  it('30 spaces switched through three times: the same sum in every mode', () => {
    const image = asm(manySpaces(30));
    const r = expectSameInEveryMode(image, { memoryBytes: 1 << 20 });
    expect(r.native!.stop).toBe('shutdown');
    expect(exitCounts(r.trap!)['cr-write']).toBe(2 + 3 * 30 + 1);
  });

  it('trap: a PTBR write switches to the space\'s cached shadow; only the first round fills', () => {
    const one = exitCounts(runMode(asm(manySpaces(30, 1)), 'trap', { memoryBytes: 1 << 20 }).result);
    const three = exitCounts(runMode(asm(manySpaces(30, 3)), 'trap', { memoryBytes: 1 << 20 }).result);
    expect(three['cr-write']! - one['cr-write']!).toBe(2 * 30);
    expect(one['shadow-fill']).toBeGreaterThan(30); // each space's VA page, at least
    expect(three['shadow-fill']).toBe(one['shadow-fill']);
  });

  it('hw: guest PTBR writes flush the guest TLB but not the nested TLB or the second level', () => {
    const walks = (rounds: number): { ept: number; guestWalks: number; nestedWalks: number; mapped: number } => {
      const { m } = monitor('hw', asm(manySpaces(30, rounds)), { memoryBytes: 1 << 20 });
      expect(m.run(10_000_000).stop).toBe('shutdown');
      const hw = m as HwMachine;
      return { ept: m.exits.count[Exit.EptViolation]!, guestWalks: hw.cpu.mmu.walks, nestedWalks: hw.cpu.mmu.nestedWalks, mapped: hw.nested.mapped };
    };
    const one = walks(1);
    const three = walks(3);
    // Every space switch makes the guest walk its tables again...
    expect(three.guestWalks).toBeGreaterThan(one.guestWalks + 2 * 30);
    // ...but with 1 MiB of guest RAM every guest frame has its own nested TLB slot, and nothing the
    // guest does empties them: the second level is walked once per frame mapped, never again.
    expect(three.ept).toBe(one.ept);
    expect(three.mapped).toBe(one.mapped);
    expect(three.nestedWalks).toBe(three.mapped);
  });

  it('a shadow pool too small for them is dropped and rebuilt, and the guest does not notice', () => {
    const image = asm(manySpaces(30));
    const native = runMode(image, 'native', { memoryBytes: 1 << 20 }).result;
    const m = new TrapMachine({ memoryBytes: 1 << 20 }, 8);
    m.load(image);
    const r = m.run(10_000_000);
    expect(r).toEqual({ stop: 'shutdown', exitCode: native.exitCode });
    expect(m.report().instructions).toBe(native.instructions);
    expect(m.shadow.resets).toBeGreaterThan(5);
    expect(m.audit()).toEqual([]);
  });
});

describe('shadow bookkeeping', () => {
  it('a page dropped and refilled 5,000 times leaves one reverse-map entry, not 5,000', () => {
    // Paging off: the identity shadow. INVLPG drops the entry, the store refills it writable.
    const image = asm(`li r9, 0x40000\nli r10, 5000\nl: invlpg r9\nstw r10, [r9]\naddi r10, r10, -1\nbne r10, r0, l\nout 0xf4, r0`);
    const { m } = monitor('trap', image, { memoryBytes: 1 << 20 });
    expect(m.run(1_000_000).stop).toBe('shutdown');
    expect(m.exits.count[Exit.ShadowFill]).toBeGreaterThan(5000);
    const writers = Reflect.get((m as TrapMachine).shadow, 'writers') as Map<number, Set<number>>;
    expect(writers.get(0x40)?.size).toBe(1);
    expect(m.audit()).toEqual([]);
  });
});

describe('coherence', () => {
  // The bare machine's TLB keeps a stale translation until INVLPG (mmu.test.ts); the shadow
  // tables are kept coherent by write protection, so a guest sees its change at once. Both are
  // what the architecture allows (a guest must INVLPG); this pins the documented difference.
  const src = `
    li sp, 0x7f000
    li r1, 0x11000
    li r2, ${0x10000 | PTE_P | PTE_W}
    stw r2, [r1]
    li r2, ${0x12000 | PTE_P | PTE_W}
    stw r2, [r1+4]
    li r1, 0x10000
    li r2, ${PTE_P | PTE_W}
    li r3, 256
    li r4, 0x1000
    li r5, 0
  k: stw r2, [r1]
    addi r1, r1, 4
    add r2, r2, r4
    addi r3, r3, -1
    bne r3, r5, k
    li r1, 0x30000
    li r2, 111
    stw r2, [r1]
    li r1, 0x31000
    li r2, 222
    stw r2, [r1]
    li r1, 0x12000
    li r2, ${0x30000 | PTE_P | PTE_W}
    stw r2, [r1]
    li r1, 0x11000
    mtcr ptbr, r1
    li r1, 1
    mtcr ctrl, r1
    lui r9, 0x40
    ldw r6, [r9]
    li r1, 0x12000
    li r2, ${0x31000 | PTE_P | PTE_W}
    stw r2, [r1]                 ; remap without INVLPG
    ldw r7, [r9]
    muli r6, r6, 1000
    add r6, r6, r7
    out 0xf4, r6`;

  it('without INVLPG the bare machine may use the stale entry; shadow and nested paging need not', () => {
    const image = asm(src);
    expect(runMode(image, 'native').seen.exitCode).toBe(111 * 1000 + 111);
    expect(runMode(image, 'trap').seen.exitCode).toBe(111 * 1000 + 222);
    // hw walks the guest's table on a TLB miss like the bare machine, and its TLB is as stale.
    expect(runMode(image, 'hw').seen.exitCode).toBe(111 * 1000 + 111);
  });
});
