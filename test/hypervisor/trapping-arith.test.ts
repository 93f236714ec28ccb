/**
 * The checked instructions a compiled guest uses to keep Node's answer or stop with a clear error
 * (../shared/DESIGN.md, "Guest code: Node's answer or a clear error"): addo, subo, mulo and addio
 * raise #OF when the exact result leaves int32 (MIPS's trapping add/sub), mulh gives the high word
 * of the 64-bit product (RISC-V MULH: the compiler's check that a product stays below 2^53), and
 * chk/chki raise #BR unless an index is below a bound, unsigned (x86's BOUND vector).
 *
 * #OF and #BR are faults, like #DE and page faults: rd is unchanged, the instruction does not
 * retire, and the saved pc is the instruction itself. Each boundary is checked against BigInt, and
 * the same guest gives the same result in native, trap and hw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode, Op, Vector, vectorName, VECTOR_NAMES } from '../../abi/isa.ts';
import { LOAD_BASE } from '../../abi/platform.ts';
import { gpa } from '../../hypervisor/machine/addr.ts';
import { mulh, Stop } from '../../hypervisor/machine/cpu.ts';
import { NativeMachine } from '../../hypervisor/machine/native.ts';
import { HwMachine } from '../../hypervisor/vmm/hw.ts';
import { TrapMachine } from '../../hypervisor/vmm/trap.ts';
import { asm, boot } from './harness.ts';
import { expectSameInEveryMode } from './vmm/harness.ts';

const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;
/** What rd holds before the instruction: a fault must leave it there. */
const SENTINEL = 0x5a5a5a5a;

/**
 * One machine, every exception intercepted: `step` puts `word` then `brk` at the load address,
 * sets r1 = a and r2 = b (r3 = SENTINEL) and runs. A clean instruction ends at the brk (vector 3,
 * two retired); a fault stops at the instruction itself with nothing retired.
 */
const m = boot('nop\nbrk');
m.cpu.interceptVectors = -1;

interface Step {
  vector: number;
  /** Where the CPU stopped: the instruction for a fault, after the brk for the clean case. */
  pc: number;
  retired: number;
  regs: number[];
}

function step(word: number, a: number, b: number): Step {
  const cpu = m.cpu;
  m.mem.i32[LOAD_BASE >>> 2] = word;
  m.mem.i32[(LOAD_BASE + 4) >>> 2] = Op.brk!;
  cpu.regs.fill(0);
  cpu.regs[1] = a;
  cpu.regs[2] = b;
  cpu.regs[3] = SENTINEL;
  cpu.regs[15] = 0x8000;
  cpu.pc = LOAD_BASE;
  const before = cpu.icount;
  expect(cpu.run(before + 10)).toBe(Stop.Exit);
  return { vector: cpu.exit.vector, pc: cpu.exit.pc, retired: cpu.icount - before, regs: Array.from(cpu.regs) };
}

const rrr = (mnemonic: string): number => encode({ opcode: Op[mnemonic]!, rd: 3, ra: 1, rb: 2, imm: 0 }) as number;

/** The clean case: rd = `value`, every other register as it was, both instructions retired. */
function expectResult(s: Step, value: number, what: string): void {
  expect(s.vector, what).toBe(Vector.Breakpoint);
  expect(s.retired, what).toBe(2);
  expect(s.regs[3], what).toBe(value | 0);
}

/** The fault: `vector` at the instruction, nothing retired, no register changed. */
function expectFault(s: Step, vector: number, a: number, b: number, what: string): void {
  expect(s.vector, what).toBe(vector);
  expect(s.pc, what).toBe(LOAD_BASE);
  expect(s.retired, what).toBe(0);
  expect(s.regs.slice(0, 4), what).toEqual([0, a | 0, b | 0, SENTINEL]);
  expect(s.regs[15], what).toBe(0x8000);
}

const exact = {
  addo: (a: number, b: number) => BigInt(a) + BigInt(b),
  subo: (a: number, b: number) => BigInt(a) - BigInt(b),
  mulo: (a: number, b: number) => BigInt(a) * BigInt(b),
};
const fitsInt32 = (x: bigint): boolean => x >= BigInt(INT_MIN) && x <= BigInt(INT_MAX);
const mulhRef = (a: number, b: number): number => Number(BigInt.asIntN(32, (BigInt(a) * BigInt(b)) >> 32n));

/** Checks one checked-arithmetic instruction on (a, b) against the exact result. */
function checkArith(name: keyof typeof exact, a: number, b: number): void {
  const x = exact[name](a, b);
  const s = step(rrr(name), a, b);
  const what = `${name} ${a}, ${b}`;
  if (fitsInt32(x)) expectResult(s, Number(x), what);
  else expectFault(s, Vector.Overflow, a, b, what);
}

/** int32 values, half of them at or next to the edges where overflow starts. */
const int32 = fc.oneof(
  fc.integer({ min: INT_MIN, max: INT_MAX }),
  fc.constantFrom(INT_MIN, INT_MIN + 1, -46341, -46340, -65536, -32768, -2, -1, 0, 1, 2, 32768, 65536, 46340, 46341, INT_MAX - 1, INT_MAX),
  fc.integer({ min: -0x10000, max: 0x10000 }),
);

describe('addo, subo, mulo: #OF when the exact result is outside int32', () => {
  const cases: [keyof typeof exact, number, number, number | 'OF'][] = [
    ['addo', INT_MAX, 1, 'OF'], // INT_MAX + 1
    ['addo', 1, INT_MAX, 'OF'],
    ['addo', INT_MIN, -1, 'OF'], // INT_MIN - 1
    ['addo', INT_MIN, INT_MIN, 'OF'],
    ['addo', INT_MAX, INT_MAX, 'OF'],
    ['addo', INT_MAX, 0, INT_MAX],
    ['addo', INT_MIN, 0, INT_MIN],
    ['addo', INT_MAX, INT_MIN, -1],
    ['addo', INT_MAX - 1, 1, INT_MAX],
    ['addo', -1, 1, 0],
    ['subo', INT_MIN, 1, 'OF'], // INT_MIN - 1
    ['subo', INT_MAX, -1, 'OF'], // INT_MAX + 1
    ['subo', 0, INT_MIN, 'OF'], // -INT_MIN
    ['subo', -1, INT_MIN, INT_MAX],
    ['subo', INT_MIN, 0, INT_MIN],
    ['subo', INT_MIN + 1, 1, INT_MIN],
    ['subo', 0, INT_MAX, -INT_MAX],
    ['mulo', INT_MIN, -1, 'OF'], // INT_MIN * -1
    ['mulo', -1, INT_MIN, 'OF'], // -1 * INT_MIN
    ['mulo', INT_MIN, 1, INT_MIN],
    ['mulo', -1, INT_MAX, -INT_MAX],
    ['mulo', 46341, 46341, 'OF'], // 2,147,488,281
    ['mulo', 46340, 46340, 2147395600],
    ['mulo', -46341, 46341, 'OF'],
    ['mulo', 65536, 32768, 'OF'], // 2^31
    ['mulo', -65536, 32768, INT_MIN], // -2^31 fits
    ['mulo', 65536, -32768, INT_MIN],
    ['mulo', -65536, -32768, 'OF'],
    ['mulo', INT_MAX, INT_MAX, 'OF'], // large products, both signs
    ['mulo', INT_MIN, INT_MIN, 'OF'],
    ['mulo', INT_MIN, INT_MAX, 'OF'],
    ['mulo', INT_MAX, -2, 'OF'],
    ['mulo', 0x10000, 0x10000, 'OF'], // 2^32: the low word is 0, as mul would give
    ['mulo', 0, -5, 0], // not -0
    ['mulo', -5, 0, 0],
  ];
  it.each(cases)('%s %i, %i = %s', (name, a, b, want) => {
    const s = step(rrr(name), a, b);
    if (want === 'OF') expectFault(s, Vector.Overflow, a, b, `${name} ${a}, ${b}`);
    else expectResult(s, want, `${name} ${a}, ${b}`);
    expect(Object.is(s.regs[3], -0)).toBe(false);
  });

  it('agree with BigInt on random operands, the edges weighted', () => {
    fc.assert(
      fc.property(fc.constantFrom<keyof typeof exact>('addo', 'subo', 'mulo'), int32, int32, (name, a, b) => checkArith(name, a, b)),
      { numRuns: 4000, seed: 0x4f46 },
    );
  });

  it('give the wrapping instruction its result whenever they do not trap', () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        for (const [checked, wrapping] of [['addo', 'add'], ['subo', 'sub'], ['mulo', 'mul']] as const) {
          const c = step(rrr(checked), a, b);
          if (c.vector === Vector.Breakpoint) expect(c.regs[3]).toBe(step(rrr(wrapping), a, b).regs[3]);
        }
      }),
      { numRuns: 1000, seed: 0x4f47 },
    );
  });

  it('leave rd unchanged when it is also a source', () => {
    const word = encode({ opcode: Op.addo!, rd: 1, ra: 1, rb: 2, imm: 0 }) as number;
    const s = step(word, INT_MAX, 1);
    expect([s.vector, s.regs[1], s.retired, s.pc]).toEqual([Vector.Overflow, INT_MAX, 0, LOAD_BASE]);
  });
});

describe('addio: addi that traps', () => {
  const addio = (imm: number): number => encode({ opcode: Op.addio!, rd: 3, ra: 1, rb: 0, imm }) as number;
  const cases: [number, number, number | 'OF'][] = [
    [INT_MAX, 1, 'OF'],
    [INT_MIN, -1, 'OF'],
    [INT_MAX, -32768, INT_MAX - 32768],
    [INT_MIN, 32767, INT_MIN + 32767],
    [0x7fff8000, 0x7fff, INT_MAX],
    [0x7fff8001, 0x7fff, 'OF'],
    [INT_MIN + 0x7fff, -0x8000, 'OF'],
    [INT_MIN + 0x8000, -0x8000, INT_MIN],
    [-1, 1, 0],
  ];
  it.each(cases)('addio %i, %i = %s', (a, imm, want) => {
    const s = step(addio(imm), a, 0);
    if (want === 'OF') expectFault(s, Vector.Overflow, a, 0, `addio ${a}, ${imm}`);
    else expectResult(s, want, `addio ${a}, ${imm}`);
  });

  it('agrees with BigInt over random operands and every immediate range', () => {
    fc.assert(
      fc.property(int32, fc.integer({ min: -0x8000, max: 0x7fff }), (a, imm) => {
        const x = BigInt(a) + BigInt(imm);
        const s = step(addio(imm), a, 0);
        if (fitsInt32(x)) expectResult(s, Number(x), `addio ${a}, ${imm}`);
        else expectFault(s, Vector.Overflow, a, 0, `addio ${a}, ${imm}`);
      }),
      { numRuns: 2000, seed: 0x4f48 },
    );
  });
});

describe('mulh: the high word of the signed 64-bit product', () => {
  const cases: [number, number][] = [
    [INT_MIN, INT_MIN], // 2^62: 0x40000000
    [INT_MIN, -1], // 2^31: 0
    [INT_MIN, 1], // -2^31: -1
    [INT_MAX, INT_MAX], // 0x3fffffff_00000001
    [INT_MIN, INT_MAX], // -0x3fffffff_80000000
    [-1, -1],
    [-1, 1],
    [0, INT_MIN],
    [0x10000, 0x10000], // 2^32: 1
    [-0x10000, 0x10000],
    [0x1fffff, 0x7fffffff], // near 2^53, where JavaScript stops being exact
    [-0x200000, 0x7fffffff],
    [94906265, 94906266], // just above 2^53
  ];
  it.each(cases)('mulh %i, %i', (a, b) => {
    const s = step(rrr('mulh'), a, b);
    expectResult(s, mulhRef(a, b), `mulh ${a}, ${b}`);
    expect(mulh(a, b)).toBe(mulhRef(a, b));
  });

  it('agrees with BigInt on random operands, and never traps', () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        expect(mulh(a, b)).toBe(mulhRef(a, b));
        expectResult(step(rrr('mulh'), a, b), mulhRef(a, b), `mulh ${a}, ${b}`);
      }),
      { numRuns: 4000, seed: 0x4d48 },
    );
  });

  it('with mul gives the whole 64-bit product', () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        const hi = step(rrr('mulh'), a, b).regs[3]!;
        const lo = step(rrr('mul'), a, b).regs[3]!;
        expect((BigInt(hi) << 32n) | BigInt(lo >>> 0)).toBe(BigInt(a) * BigInt(b));
      }),
      { numRuns: 500, seed: 0x4d49 },
    );
  });
});

describe('chk and chki: #BR unless the index is below the bound, unsigned', () => {
  const chk = encode({ opcode: Op.chk!, rd: 1, ra: 2, rb: 0, imm: 0 }) as number;
  const cases: [number, number, boolean][] = [
    [0, 1, true],
    [9, 10, true],
    [10, 10, false],
    [11, 10, false],
    [0, 0, false], // an empty array has no index
    [-1, 10, false], // a negative index is a huge unsigned number
    [INT_MIN, 10, false],
    [-1, -1, false], // 0xffffffff < 0xffffffff is false
    [INT_MAX, -1, true], // a bound above 2^31 (unsigned)
    [INT_MAX, INT_MIN, true],
    [INT_MIN, INT_MAX, false],
  ];
  it.each(cases)('chk %i, %i passes: %s', (index, bound, ok) => {
    const s = step(chk, index, bound);
    if (ok) {
      expect([s.vector, s.retired]).toEqual([Vector.Breakpoint, 2]);
      expect(s.regs.slice(0, 4)).toEqual([0, index | 0, bound | 0, SENTINEL]); // writes nothing
    } else expectFault(s, Vector.BoundRange, index, bound, `chk ${index}, ${bound}`);
  });

  it('chk agrees with an unsigned compare on random operands', () => {
    fc.assert(
      fc.property(int32, int32, (index, bound) => {
        const s = step(chk, index, bound);
        if (index >>> 0 < bound >>> 0) expect([s.vector, s.regs[3]]).toEqual([Vector.Breakpoint, SENTINEL]);
        else expectFault(s, Vector.BoundRange, index, bound, `chk ${index}, ${bound}`);
      }),
      { numRuns: 2000, seed: 0x4252 },
    );
  });

  const chki = (imm: number): number => encode({ opcode: Op.chki!, rd: 1, ra: 0, rb: 0, imm }) as number;
  const immCases: [number, number, boolean][] = [
    [0, 0, false],
    [0, 1, true],
    [9, 10, true],
    [10, 10, false],
    [65534, 65535, true],
    [65535, 65535, false],
    [-1, 65535, false],
    [INT_MIN, 65535, false],
    [0x10000, 65535, false],
  ];
  it.each(immCases)('chki %i, %i passes: %s', (index, bound, ok) => {
    const s = step(chki(bound), index, 0);
    if (ok) expect([s.vector, s.retired, s.regs[1], s.regs[3]]).toEqual([Vector.Breakpoint, 2, index | 0, SENTINEL]);
    else expectFault(s, Vector.BoundRange, index, 0, `chki ${index}, ${bound}`);
  });

  it('chki agrees with an unsigned compare over every immediate range', () => {
    fc.assert(
      fc.property(fc.oneof(int32, fc.integer({ min: -2, max: 0x10001 })), fc.integer({ min: 0, max: 0xffff }), (index, bound) => {
        const s = step(chki(bound), index, 0);
        expect(s.vector).toBe(index >>> 0 < bound ? Vector.Breakpoint : Vector.BoundRange);
      }),
      { numRuns: 2000, seed: 0x4253 },
    );
  });
});

describe('#OF and #BR delivered through the vector table', () => {
  it('are named overflow (4) and bound-range (5), with double-fault (8)', () => {
    expect([vectorName(Vector.Overflow), vectorName(Vector.BoundRange), vectorName(Vector.DoubleFault)]).toEqual(['overflow', 'bound-range', 'double-fault']);
    expect([Vector.Overflow, Vector.BoundRange, Vector.DoubleFault]).toEqual([4, 5, 8]);
    expect(VECTOR_NAMES[4]).toBe('overflow');
  });

  /**
   * A kernel whose #OF and #BR handlers log (cause, saved pc, errcode) at `log` and skip the
   * faulting instruction; each checked instruction must leave r3 = 0x55. It powers off with r3.
   */
  const GUEST = `
        la r1, table
        mtcr vbar, r1
        la r2, h
        stw r2, [r1+16]
        stw r2, [r1+20]
        la r13, log
        li32 r1, 0x7fffffff
        li r2, 1
        li r3, 0x55
  f1:   addo r3, r1, r2
  f2:   addio r3, r1, 1
        lui r4, 0x8000
        li r5, -1
  f3:   mulo r3, r4, r5
  f4:   subo r3, r4, r2
        li r6, -1
        li r7, 10
  f5:   chk r6, r7
  f6:   chki r7, 10
        li r8, 9
        chk r8, r7
        chki r8, 10
        mulh r9, r4, r4
        out 0xf4, r3
        hlt
  h:    push r1
        mfcr r1, cause
        stw r1, [r13]
        ldw r1, [sp+4]
        stw r1, [r13+4]
        addi r1, r1, 4
        stw r1, [sp+4]
        mfcr r1, errcode
        stw r1, [r13+8]
        addi r13, r13, 12
        pop r1
        iret
        .align 4
  log:  .space 96
  table: .space 1024`;

  it('as faults at the instruction, with rd unchanged, the same in native, trap and hw', () => {
    const image = asm(GUEST);
    const sym = image.symbols!;
    const want = [
      [Vector.Overflow, sym.f1!, 0],
      [Vector.Overflow, sym.f2!, 0],
      [Vector.Overflow, sym.f3!, 0],
      [Vector.Overflow, sym.f4!, 0],
      [Vector.BoundRange, sym.f5!, 0],
      [Vector.BoundRange, sym.f6!, 0],
    ];
    const results = expectSameInEveryMode(image, { memoryBytes: 1 << 20 });
    const native = results.native!;
    expect([native.stop, native.exitCode]).toEqual(['shutdown', 0x55]);
    expect(native.events).toEqual({ overflow: 4, 'bound-range': 2 });
    expect(results.trap!.exits?.exception?.count).toBe(6); // each reflected by the monitor
    expect(results.hw!.exits?.exception).toBeUndefined(); // delivered by the CPU in guest mode
    for (const make of [() => new NativeMachine({ memoryBytes: 1 << 20 }), () => new TrapMachine({ memoryBytes: 1 << 20 }), () => new HwMachine({ memoryBytes: 1 << 20 })]) {
      const mm = make();
      expect(mm.load(image)).toBeNull();
      expect(mm.run(100_000).stop).toBe('shutdown');
      const ram = mm instanceof NativeMachine ? mm.mem : (mm as TrapMachine | HwMachine).vm;
      const log = Array.from({ length: 18 }, (_, i) => ram.readU32(gpa(sym.log! + 4 * i))!);
      expect(log, mm.constructor.name).toEqual(want.flat());
      expect(mm.cpu.regs[9], mm.constructor.name).toBe(0x40000000); // mulh never traps
    }
  });
});
