/**
 * Property tests: random guest programs mixing ordinary, privileged and faulting instructions,
 * port I/O, control registers and timer interrupts (at random periods, so interrupts land
 * between random exits) behave in trap and hw exactly as on the bare machine: same console,
 * registers, counts, and the same interrupt and exception at the same instruction. POPF and PUSHF
 * are in the mix for hw only (trap differs there by design). Garbage words are in the mix too:
 * whatever a guest does, the monitor never throws and its invariants hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asm, expectSameInEveryMode, monitor, runMode, VMM_MODES } from './harness.ts';
import { LOGGING_HANDLERS, loggingKernelSetup } from './logging-kernel.ts';

const R = (max = 11): fc.Arbitrary<string> => fc.integer({ min: 1, max }).map((n) => `r${n}`);
const SRC = fc.integer({ min: 0, max: 13 }).map((n) => `r${n}`);
const imm = fc.integer({ min: -40, max: 40 });

function instruction(sensitive: boolean): fc.Arbitrary<string> {
  const common: fc.Arbitrary<string>[] = [
    fc.tuple(fc.constantFrom('add', 'sub', 'mul', 'xor', 'or', 'and', 'shl', 'sltu'), R(), SRC, SRC).map(([op, d, a, b]) => `${op} ${d}, ${a}, ${b}`),
    fc.tuple(fc.constantFrom('div', 'remu'), R(), SRC, SRC).map(([op, d, a, b]) => `${op} ${d}, ${a}, ${b}`),
    fc.tuple(R(), SRC, imm).map(([d, a, i]) => `addi ${d}, ${a}, ${i}`),
    fc.tuple(R(), fc.integer({ min: -2000, max: 2000 })).map(([d, i]) => `li ${d}, ${i}`),
    fc.tuple(fc.constantFrom('ldw', 'ldbu', 'ldh'), R(), fc.integer({ min: 0, max: 64 })).map(([op, d, o]) => `${op} ${d}, [r13+${o}]`),
    fc.tuple(fc.constantFrom('stw', 'stb', 'sth'), SRC, fc.integer({ min: 0, max: 64 })).map(([op, s, o]) => `${op} ${s}, [r13+${o}]`),
    R().map((d) => `push ${d}`),
    fc.constant('nop'),
    fc.constantFrom('in r1, 0x3fd', 'in r2, 0x41', 'in r3, 0x22', 'in r4, 0x23', 'in r5, 0x80', 'in r6, 0x21'),
    fc.tuple(R(), fc.constantFrom('0x80', '0x21', '0x3f8')).map(([s, p]) => `out ${p}, ${s}`),
    fc.integer({ min: 0, max: 9 }).map((c) => `mfcr r7, cr${c}`),
    fc.tuple(fc.constantFrom('scratch', 'ksp', 'cause', 'time'), SRC).map(([c, s]) => `mtcr ${c}, ${s}`),
    fc.constantFrom('cli', 'sti', 'sti', 'hlt', 'brk', 'syscall', 'hypercall', 'invlpg r3'),
    fc.integer({ min: 0, max: 0xffffffff }).map((w) => `.word ${w}`),
  ];
  return fc.oneof(...common, ...(sensitive ? [fc.constantFrom('pushf', 'popf', 'pushf\npop r8')] : []));
}

/** Print r1..r12 (four bytes each) and power off with their xor: the registers are the result. */
const DUMP = Array.from({ length: 12 }, (_, i) => `mov r14, r${i + 1}\n` + 'out 0x3f8, r14\nshri r14, r14, 8\n'.repeat(4)).join('') +
  'li r14, 0\n' + Array.from({ length: 12 }, (_, i) => `xor r14, r14, r${i + 1}\n`).join('') + 'out 0xf4, r14';

/** A kernel with a logging handler for every vector (faults skip the instruction), a timer, and `body`. */
function program(body: string[], period: number): string {
  return `
    li sp, 0x7000
    li r13, 0x8000
    ${loggingKernelSetup(period)}
    sti
    ${body.join('\n    ')}
    ${DUMP}
  ${LOGGING_HANDLERS}`;
}

const programs = (sensitive: boolean) =>
  fc.record({ body: fc.array(instruction(sensitive), { minLength: 5, maxLength: 60 }), period: fc.integer({ min: 3, max: 120 }) });

describe('random guest programs', () => {
  it('trap and hw agree with the bare machine (no POPF/PUSHF)', () => {
    fc.assert(
      fc.property(programs(false), ({ body, period }) => {
        expectSameInEveryMode(asm(program(body, period)), { memoryBytes: 1 << 20, maxInstructions: 20_000 });
      }),
      { numRuns: 150, seed: 61 },
    );
  });

  it('hw agrees with the bare machine with POPF and PUSHF in the mix', () => {
    fc.assert(
      fc.property(programs(true), ({ body, period }) => {
        const image = asm(program(body, period));
        const opts = { memoryBytes: 1 << 20, maxInstructions: 20_000 };
        expect(runMode(image, 'hw', opts).seen).toEqual(runMode(image, 'native', opts).seen);
      }),
      { numRuns: 100, seed: 62 },
    );
  });

  it('whatever the guest does, the monitors do not throw and their invariants hold', () => {
    fc.assert(
      fc.property(programs(true), ({ body, period }) => {
        const image = asm(program(body, period));
        for (const mode of VMM_MODES) {
          const { m } = monitor(mode, image);
          m.run(20_000);
          expect(m.audit()).toEqual([]);
        }
      }),
      { numRuns: 60, seed: 63 },
    );
  });
});
