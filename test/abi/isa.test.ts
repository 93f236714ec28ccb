import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Cr,
  CR_COUNT,
  CR_NAMES,
  decode,
  disassemble,
  encode,
  immRange,
  OPCODE_BY_MNEMONIC,
  OPCODE_BY_NUMBER,
  OPCODES,
  REG_COUNT,
  Vector,
  vectorName,
  type Instruction,
  type OpcodeInfo,
  type OperandForm,
} from '../../abi/isa.ts';
import { assemble } from '../../guest-kernel/compiler/assembler.ts';

/**
 * Which fields each operand form uses, written out independently of abi/isa.ts so the tests check
 * the encoder against a second statement of the layout. A new form fails to typecheck here.
 */
const FORM_FIELDS: Record<OperandForm, { regs: readonly ('rd' | 'ra' | 'rb')[]; imm: 's16' | 'u16' | 's24' | null }> = {
  none: { regs: [], imm: null },
  rrr: { regs: ['rd', 'ra', 'rb'], imm: null },
  rri: { regs: ['rd', 'ra'], imm: 's16' },
  rru: { regs: ['rd', 'ra'], imm: 'u16' },
  rr: { regs: ['rd', 'ra'], imm: null },
  ri: { regs: ['rd'], imm: 's16' },
  ru: { regs: ['rd'], imm: 'u16' },
  r: { regs: ['rd'], imm: null },
  mem: { regs: ['rd', 'ra'], imm: 's16' },
  branch: { regs: ['rd', 'ra'], imm: 's16' },
  jump: { regs: [], imm: 's24' },
  portIn: { regs: ['rd'], imm: 'u16' },
  portOut: { regs: ['rd'], imm: 'u16' },
  portInR: { regs: ['rd', 'ra'], imm: null },
  portOutR: { regs: ['rd', 'ra'], imm: null },
  crRead: { regs: ['rd'], imm: 'u16' },
  crWrite: { regs: ['rd'], imm: 'u16' },
};

const IMM_BOUNDS = { s16: [-0x8000, 0x7fff], u16: [0, 0xffff], s24: [-0x800000, 0x7fffff] } as const;

/** Bits of the word each field occupies (opcode in bits 0..7). */
const FIELD_BITS = { rd: 0xf00, ra: 0xf000, rb: 0xf0000, s16: 0xffff0000, u16: 0xffff0000, s24: 0xffffff00 } as const;

function reservedBits(form: OperandForm): number {
  const f = FORM_FIELDS[form];
  let used = 0xff;
  for (const r of f.regs) used |= FIELD_BITS[r];
  if (f.imm) used |= FIELD_BITS[f.imm];
  return ~used >>> 0;
}

/** A random valid instruction of the given opcode: every used field anywhere in its range. */
function instructionOf(info: OpcodeInfo): fc.Arbitrary<Instruction> {
  const f = FORM_FIELDS[info.form];
  const reg = (used: boolean) => (used ? fc.integer({ min: 0, max: REG_COUNT - 1 }) : fc.constant(0));
  const [min, max] = f.imm ? IMM_BOUNDS[f.imm] : [0, 0];
  return fc.record({
    opcode: fc.constant(info.opcode),
    rd: reg(f.regs.includes('rd')),
    ra: reg(f.regs.includes('ra')),
    rb: reg(f.regs.includes('rb')),
    imm: fc.integer({ min, max }),
  });
}

const anyInstruction = fc.constantFrom(...OPCODES).chain(instructionOf);

describe('the opcode table', () => {
  it('has no duplicate opcode numbers', () => {
    const numbers = OPCODES.map((o) => o.opcode);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('has no duplicate mnemonics', () => {
    const names = OPCODES.map((o) => o.mnemonic);
    expect(new Set(names).size).toBe(names.length);
  });

  it('keeps opcode 0 invalid so that zeroed memory does not execute', () => {
    expect(OPCODE_BY_NUMBER[0]).toBeUndefined();
    expect(decode(0)).toBeNull();
  });

  it('has the checking instructions, the double-fault stack register and the vectors the compiler codes against', () => {
    const row = (m: string): unknown => {
      const o = OPCODE_BY_MNEMONIC.get(m);
      return o && [o.opcode, o.form, o.cls];
    };
    expect(['addo', 'subo', 'mulo', 'mulh', 'chk', 'addio', 'chki'].map(row)).toEqual([
      [0x21, 'rrr', 'normal'],
      [0x22, 'rrr', 'normal'],
      [0x23, 'rrr', 'normal'],
      [0x24, 'rrr', 'normal'],
      [0x25, 'rr', 'normal'],
      [0x32, 'rri', 'normal'],
      [0x33, 'ru', 'normal'],
    ]);
    expect(disassemble(encode({ opcode: 0x25, rd: 1, ra: 2, rb: 0, imm: 0 }) as number, 0)).toBe('chk r1, r2');
    expect(disassemble(encode({ opcode: 0x33, rd: 4, ra: 0, rb: 0, imm: 16 }) as number, 0)).toBe('chki r4, 0x10');
    expect(disassemble(encode({ opcode: 0x32, rd: 1, ra: 2, rb: 0, imm: -3 }) as number, 0)).toBe('addio r1, r2, -3');
    expect([Cr.Dfsp, CR_COUNT, CR_NAMES[Cr.Dfsp], CR_NAMES.length]).toEqual([9, 10, 'dfsp', CR_COUNT]);
    expect([Vector.Overflow, Vector.BoundRange, Vector.DoubleFault].map((v) => [v, vectorName(v)])).toEqual([
      [4, 'overflow'],
      [5, 'bound-range'],
      [8, 'double-fault'],
    ]);
  });

  it('gives every form the immediate range the layout implies', () => {
    for (const o of OPCODES) {
      const imm = FORM_FIELDS[o.form].imm;
      expect(immRange(o.form), o.mnemonic).toEqual(imm ? IMM_BOUNDS[imm] : null);
    }
  });
});

describe('encode and decode', () => {
  it('encode → decode → encode is the identity for every opcode and operand form', () => {
    fc.assert(
      fc.property(anyInstruction, (ins) => {
        const word = encode(ins);
        expect(typeof word).toBe('number');
        const back = decode(word as number);
        expect(back).toEqual(ins);
        expect(encode(back!)).toBe(word);
      }),
      { numRuns: 5000 },
    );
  });

  it('decodes any word either to null or to an instruction that re-encodes to the same word', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (w) => {
        const ins = decode(w);
        if (ins) expect(encode(ins)).toBe(w);
      }),
      { numRuns: 20000 },
    );
  });

  it('rejects every invalid opcode byte whatever the other bits', () => {
    const invalid = Array.from({ length: 256 }, (_, i) => i).filter((b) => !OPCODE_BY_NUMBER[b]);
    expect(invalid.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.constantFrom(...invalid), fc.integer({ min: 0, max: 0xffffff }), (op, rest) => {
        expect(decode((op | (rest << 8)) >>> 0)).toBeNull();
      }),
    );
  });

  it('rejects non-canonical words: a valid instruction with any reserved bit set', () => {
    const withReserved = OPCODES.filter((o) => reservedBits(o.form) !== 0);
    expect(withReserved.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(
        fc.constantFrom(...withReserved).chain((info) =>
          fc.tuple(instructionOf(info), fc.constantFrom(...bitsOf(reservedBits(info.form)))),
        ),
        ([ins, bit]) => {
          const word = encode(ins) as number;
          expect(decode((word | bit) >>> 0)).toBeNull();
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('returns a field-range error, not a word, for an out-of-range immediate', () => {
    for (const o of OPCODES) {
      const range = immRange(o.form);
      const outside = range ? [range[0] - 1, range[1] + 1] : [1];
      for (const imm of outside) {
        expect(encode({ opcode: o.opcode, rd: 0, ra: 0, rb: 0, imm }), `${o.mnemonic} imm=${imm}`).toMatchObject({
          kind: 'field-range',
          field: 'imm',
          value: imm,
        });
      }
    }
  });

  it('returns a field-range error for register 16 and for a register field the form does not use', () => {
    for (const o of OPCODES) {
      const f = FORM_FIELDS[o.form];
      for (const field of ['rd', 'ra', 'rb'] as const) {
        const value = f.regs.includes(field) ? REG_COUNT : 1;
        const result = encode({ opcode: o.opcode, rd: 0, ra: 0, rb: 0, imm: 0, [field]: value });
        expect(result, `${o.mnemonic} ${field}=${value}`).toMatchObject({ kind: 'field-range', field, value });
      }
    }
  });

  it('returns an unknown-opcode error for opcode numbers outside the table', () => {
    expect(encode({ opcode: 0, rd: 0, ra: 0, rb: 0, imm: 0 })).toEqual({ kind: 'unknown-opcode', opcode: 0 });
    expect(encode({ opcode: 0x101, rd: 0, ra: 0, rb: 0, imm: 0 })).toEqual({ kind: 'unknown-opcode', opcode: 0x101 });
  });
});

describe('disassembler and assembler agree', () => {
  const PC = 0x40000;

  /** Assemble one line at PC and return the word it produced. */
  function reassemble(text: string): number | string {
    const r = assemble(`.org ${PC}\n${text}\n`);
    if (!r.ok) return r.errors.map((e) => e.message).join('; ');
    const data = r.image.segments[0]!.data;
    return new DataView(data.buffer, data.byteOffset).getUint32(0, true);
  }

  it('re-assembles the disassembly of every opcode to the same word', () => {
    for (const o of OPCODES) {
      // Distinct values in every used field, so a swapped operand order would show.
      const f = FORM_FIELDS[o.form];
      const use = (field: 'rd' | 'ra' | 'rb', v: number): number => (f.regs.includes(field) ? v : 0);
      const word = encode({ opcode: o.opcode, rd: use('rd', 3), ra: use('ra', 7), rb: use('rb', 12), imm: f.imm ? -2 & (f.imm === 'u16' ? 0xffff : -1) : 0 });
      expect(typeof word, o.mnemonic).toBe('number');
      expect(reassemble(disassemble(word as number, PC)), o.mnemonic).toBe(word);
    }
  });

  it('re-assembles the disassembly of random instructions, branches and wrapped jumps included', () => {
    fc.assert(
      fc.property(anyInstruction, (ins) => {
        const word = encode(ins) as number;
        const text = disassemble(word, PC);
        expect(reassemble(text), text).toBe(word);
      }),
      { numRuns: 1500 },
    );
  });
});

function bitsOf(mask: number): number[] {
  return Array.from({ length: 32 }, (_, i) => (1 << i) >>> 0).filter((b) => (mask & b) !== 0);
}
