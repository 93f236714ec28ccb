/**
 * What the monitors need from the machine, tested at the machine's level: the CPU's guest mode
 * (instruction exits), and three page walkers that must agree entry for entry — the bare
 * machine's MMU, the monitor's software walk of the guest's tables (trap mode's shadow fills are
 * built from it), and the MMU's two-dimensional walk under nested paging (hw mode).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPCODES, PAGE_SIZE, PTE_P, Vector } from '../../../abi/isa.ts';
import { ExitKind, Stop, VMEXIT_INSN } from '../../../hypervisor/machine/cpu.ts';
import { PhysicalMemory } from '../../../hypervisor/machine/memory.ts';
import { Mmu, VMEXIT_NESTED } from '../../../hypervisor/machine/mmu.ts';
import { GuestWalker } from '../../../hypervisor/vmm/guest-walk.ts';
import { HW_EXIT_CONTROLS } from '../../../hypervisor/vmm/hw.ts';
import { VmMemory } from '../../../hypervisor/vmm/layout.ts';
import { NestedTable } from '../../../hypervisor/vmm/nested.ts';
import { exec } from '../harness.ts';

describe("the CPU's guest mode", () => {
  const guest = (m: { cpu: { exitControls: Uint8Array | null } }): void => void (m.cpu.exitControls = HW_EXIT_CONTROLS);

  it('marks exactly the privileged, sensitive and hypercall instructions', () => {
    const marked = OPCODES.filter((o) => HW_EXIT_CONTROLS[o.opcode] === 1).map((o) => o.cls);
    expect(new Set(marked)).toEqual(new Set(['privileged', 'sensitive', 'hypercall']));
    expect(marked.length).toBe(OPCODES.filter((o) => o.cls !== 'normal').length);
  });

  it('an exiting instruction leaves run() before it executes: not retired, pc at it, the word in exit.insn', () => {
    const o = exec('nop\nli r1, 5\nout 0x3f8, r1\nbrk', { setup: guest });
    expect(o.stop).toBe(Stop.Exit);
    const x = o.m.cpu.exit;
    expect([x.kind, x.vector, x.pc]).toEqual([ExitKind.Instruction, VMEXIT_INSN, 0x1008]);
    expect(x.insn & 0xff).toBe(0x71);
    expect(o.m.cpu.pc).toBe(0x1008);
    expect(o.m.cpu.icount).toBe(2);
    expect(o.m.uart.output().length).toBe(0);
  });

  it('the privilege check comes first: at privilege 3 a privileged instruction is the guest\'s #GP', () => {
    const o = exec('cli\nbrk', { cpl3: true, setup: guest });
    expect([o.m.cpu.exit.kind, o.vector]).toEqual([ExitKind.Exception, Vector.GeneralProtection]);
  });

  it('POPF and PUSHF exit at any privilege', () => {
    for (const cpl3 of [false, true]) {
      const o = exec('li r1, 1\npush r1\npopf\nbrk', { cpl3, setup: guest });
      expect([o.m.cpu.exit.kind, o.m.cpu.exit.pc]).toEqual([ExitKind.Instruction, 0x1008]);
    }
  });

  it('a fetch fault does not take back the retirement of the instruction before it', () => {
    // Two instructions retire, then the jump target faults at fetch: virtual time stays 2.
    const o = exec('lui r2, 0x80\njr r2', {
      setup: (m) => {
        m.cpu.mmu.paging = true;
        m.cpu.mmu.ptbr = 0x10000;
        m.mem.i32[0x10000 >>> 2] = 0x11000 | PTE_P;
        for (let p = 0; p < 16; p++) m.mem.i32[(0x11000 >>> 2) + p] = (p << 12) | PTE_P;
      },
    });
    expect(o.vector).toBe(Vector.PageFault);
    expect(o.m.cpu.icount).toBe(2);
    expect(o.m.cpu.pc).toBe(0x800000);
  });
});

describe('the page walkers agree (property)', () => {
  const RAM = 16 * PAGE_SIZE;

  /** Memory with random page tables: a directory at frame 1, tables anywhere, entries of any value. */
  const world = fc.record({
    words: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 64, maxLength: 64 }),
    frames: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 64, maxLength: 64 }),
    accesses: fc.array(fc.record({ page: fc.integer({ min: 0, max: 40 }), dir: fc.integer({ min: 0, max: 3 }), access: fc.integer({ min: 0, max: 2 }), user: fc.boolean() }), {
      minLength: 1,
      maxLength: 30,
    }),
  });

  it('bare MMU, software guest walk and nested MMU: same results, same faults, same A/D bits', () => {
    fc.assert(
      fc.property(world, ({ words, frames, accesses }) => {
        // Build the same guest memory three times: bare, and guest RAM inside a machine for each monitor.
        const bare = new PhysicalMemory(RAM);
        const vmT = new VmMemory(RAM, 2 * PAGE_SIZE);
        const vmN = new VmMemory(RAM, NestedTable.bytesFor(RAM));
        const put = (addr: number, v: number): void => {
          bare.i32[addr >>> 2] = v;
          vmT.writeU32(addr as never, v);
          vmN.writeU32(addr as never, v);
        };
        // Directory at 0x1000: four entries (any flags) naming the tables at frames 2..5, or any
        // frame (past RAM too); each table's first 15 entries name any frame with any flags.
        for (let d = 0; d < 4; d++) put(0x1000 + d * 4, ((((frames[d]! & 1) === 0 ? 2 + d : frames[d]!) << 12) | (words[d]! & 0x67)) >>> 0);
        for (let i = 0; i < 60; i++) put((2 + (i >> 4)) * PAGE_SIZE + (i & 15) * 4, ((frames[i + 4]! << 12) | (words[i + 4]! & 0x67)) >>> 0);
        const mBare = new Mmu(bare);
        mBare.paging = true;
        mBare.ptbr = 0x1000;
        const walker = new GuestWalker(vmT.machine.i32, vmT.base, vmT.size);
        walker.paging = true;
        walker.ptbr = 0x1000;
        const nested = new NestedTable(vmN, 0);
        for (let f = 0; f < vmN.frames; f++) nested.map(f);
        const mN = new Mmu(vmN.machine);
        Object.assign(mN, { nested: true, paging: true, ptbr: 0x1000, nptbr: nested.root, guestLimit: RAM });
        for (const a of accesses) {
          const va = ((a.dir << 22) | (a.page << 12) | 0x24) >>> 0;
          const r1 = mBare.translate(va, a.access, a.user);
          const r2 = walker.translate(va, a.access, a.user);
          const r3 = mN.translate(va, a.access, a.user);
          expect(r2).toBe(r1);
          expect(r3 < 0 ? r3 : r3 - vmN.base).toBe(r1);
          if (r1 < 0) {
            expect([walker.fault.vector, walker.fault.err, walker.fault.addr]).toEqual([mBare.faultVector, mBare.faultErr, mBare.faultAddr]);
            expect([mN.faultVector, mN.faultErr, mN.faultAddr]).toEqual([mBare.faultVector, mBare.faultErr, mBare.faultAddr]);
          }
        }
        // The same accessed and dirty bits everywhere (compared whole: a mismatch shows as false).
        expect(Buffer.from(vmT.read(0 as never, RAM)!).equals(Buffer.from(bare.u8))).toBe(true);
        expect(Buffer.from(vmN.read(0 as never, RAM)!).equals(Buffer.from(bare.u8))).toBe(true);
      }),
      { numRuns: 200, seed: 64 },
    );
  });

  it('a missing second-level entry is an EPT violation naming the guest-physical address', () => {
    const vm = new VmMemory(RAM, NestedTable.bytesFor(RAM));
    const nested = new NestedTable(vm, 0);
    const mmu = new Mmu(vm.machine);
    Object.assign(mmu, { nested: true, paging: false, nptbr: nested.root, guestLimit: RAM });
    expect(mmu.translate(0x3004, 1, false)).toBe(-1);
    expect([mmu.faultVector, mmu.faultGpa, mmu.faultErr]).toEqual([VMEXIT_NESTED, 0x3004, 1]);
    nested.map(3);
    expect(mmu.translate(0x3004, 1, false)).toBe(vm.base + 0x3004);
    expect(mmu.translate(RAM, 0, false)).toBe(-1);
    expect(mmu.faultVector).toBe(Vector.GeneralProtection); // past the guest's memory: the bare machine's #GP
    expect(nested.audit()).toEqual([]);
  });
});
