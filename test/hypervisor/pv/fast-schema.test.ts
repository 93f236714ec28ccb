import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GrantCopyRequest, HYPERCALLS, IretFrame, MmuUpdateRequest, TrapTableEntry, VirtqConfig, type CallSpec } from '../../../abi/hypercalls.ts';
import { compileFields, compileSchema, isCompilable } from '../../../hypervisor/pv/fast-schema.ts';

const specs: CallSpec[] = Object.values(HYPERCALLS).flatMap((h) => (h.kind === 'call' ? [h.spec] : Object.values(h.family.commands)));
const structures: Array<[string, z.ZodObject | z.ZodType]> = [
  ['MmuUpdateRequest', MmuUpdateRequest],
  ['TrapTableEntry', TrapTableEntry],
  ['GrantCopyRequest', GrantCopyRequest],
  ['IretFrame', IretFrame],
  ['VirtqConfig', VirtqConfig],
];
const all: Array<[string, z.ZodType, string[]]> = [
  ...specs.map((s): [string, z.ZodType, string[]] => [s.name, s.schema, [...s.args]]),
  ...structures.map(([n, s]): [string, z.ZodType, string[]] => [n, s, Object.keys((s as unknown as { _zod: { def: { shape: object } } })._zod.def.shape)]),
];

/** Values at and around every boundary the ABI uses, plus ones of the wrong kind. */
const value = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 22, 31, 32, 252, 255, 256, 32768, 32769, 511, 512, 4095, 4096, 4097, 0x7ff0, 0xffff, 0x10000, 0x1fffff, 0x200000, 0x7fffffff, 0xffffffff, 0x100000000),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: -5, max: -1 }),
  fc.constantFrom(0.5, NaN, Infinity, -0, '1', null, undefined, true),
);

describe('compiled schemas', () => {
  it('compiles every hypercall schema and every guest-memory structure (no slow fallback)', () => {
    expect(all.filter(([, s]) => !isCompilable(s)).map(([n]) => n)).toEqual([]);
  });

  for (const [name, schema, keys] of all) {
    it(`${name}: answers exactly as zod's safeParse`, () => {
      const valid = compileSchema(schema);
      fc.assert(
        fc.property(fc.tuple(...keys.map(() => value)), (vals) => {
          const obj = Object.fromEntries(keys.map((k, i) => [k, vals[i]]));
          expect(valid(obj)).toBe(schema.safeParse(obj).success);
        }),
        { numRuns: 300 },
      );
    });
  }

  for (const [name, schema, keys] of all) {
    it(`${name}: checked in place (compileFields), answers exactly as zod's safeParse of the object`, () => {
      const valid = compileFields(schema);
      if (name === 'GrantCopyRequest') {
        expect(valid).toBeNull(); // an object-level refinement: checked as an object
        return;
      }
      expect(valid).not.toBeNull();
      fc.assert(
        fc.property(fc.nat(3), fc.tuple(...keys.map(() => value)), (at, vals) => {
          const regs = [...Array<unknown>(at).fill(NaN), ...vals] as number[];
          expect(valid!(regs, at)).toBe(schema.safeParse(Object.fromEntries(keys.map((k, i) => [k, vals[i]]))).success);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('falls back to safeParse for a schema it does not know', () => {
    const s = z.object({ name: z.string() });
    expect(isCompilable(s)).toBe(false);
    expect(compileSchema(s)({ name: 'x' })).toBe(true);
    expect(compileSchema(s)({ name: 1 })).toBe(false);
  });
});
