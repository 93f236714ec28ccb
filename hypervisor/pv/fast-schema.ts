/**
 * Run the ABI's zod schemas faster, without changing them. zod 4's safeParse costs 150-350 ns
 * for the two-to-five-field objects of a hypercall here, more than the rest of a null hypercall
 * round trip, so the dispatcher compiles each schema once into a chain of plain checks that
 * decide valid/invalid the same way: number formats and bounds, literals, and the schema's own
 * refinement functions, called as they are. On the rare invalid input the original schema runs
 * to produce zod's own issue (path and message). A schema using anything this compiler does not
 * know is not compiled: its validator is safeParse itself. A property test checks that every
 * compiled validator agrees with safeParse.
 */
import type { z } from 'zod';

type Check = (v: unknown) => boolean;

interface CheckDef {
  check: string;
  value?: number;
  inclusive?: boolean;
  fn?: (v: unknown) => unknown;
  format?: string;
}

// zod 4 keeps a schema's definition in `_zod.def`; checks are schemas of their own with a def.
interface Def {
  type: string;
  format?: string;
  check?: string;
  values?: readonly unknown[];
  shape?: Record<string, { _zod: { def: Def } }>;
  checks?: ReadonlyArray<{ _zod: { def: CheckDef } }>;
}

const FORMATS: Record<string, readonly [number, number]> = {
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
  safeint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function compileCheck(c: CheckDef): Check | null {
  switch (c.check) {
    case 'less_than': {
      const max = c.value!;
      return c.inclusive ? (v) => (v as number) <= max : (v) => (v as number) < max;
    }
    case 'greater_than': {
      const min = c.value!;
      return c.inclusive ? (v) => (v as number) >= min : (v) => (v as number) > min;
    }
    case 'custom': {
      const fn = c.fn!;
      return (v) => fn(v) === true;
    }
    default:
      return null;
  }
}

function compileNode(def: Def): Check | null {
  const checks: Check[] = [];
  if (def.type === 'number') {
    if (def.format !== undefined) {
      const range = FORMATS[def.format];
      if (!range) return null;
      const [lo, hi] = range;
      checks.push((v) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi);
    } else {
      checks.push((v) => typeof v === 'number' && Number.isFinite(v));
    }
  } else if (def.type === 'literal') {
    const values = def.values!;
    checks.push(values.length === 1 ? ((one) => (v: unknown) => v === one)(values[0]) : (v) => values.includes(v));
  } else if (def.type === 'object') {
    const fields = Object.entries(def.shape!).map(([k, s]) => [k, compileNode(s._zod.def)] as const);
    if (fields.some(([, f]) => f === null)) return null;
    const keys = fields.map(([k]) => k);
    const fieldChecks = fields.map(([, f]) => f!);
    checks.push((v) => {
      if (typeof v !== 'object' || v === null) return false;
      const o = v as Record<string, unknown>;
      for (let i = 0; i < keys.length; i++) if (!fieldChecks[i]!(o[keys[i]!])) return false;
      return true;
    });
  } else {
    return null;
  }
  for (const c of def.checks ?? []) {
    const k = compileCheck(c._zod.def);
    if (!k) return null;
    checks.push(k);
  }
  if (checks.length === 1) return checks[0]!;
  return (v) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(v)) return false;
    return true;
  };
}

/** A validator that answers exactly as `schema.safeParse(v).success`, faster where it can. */
export function compileSchema(schema: z.ZodType): (v: unknown) => boolean {
  const compiled = compileNode((schema as unknown as { _zod: { def: Def } })._zod.def);
  return compiled ?? ((v) => schema.safeParse(v).success);
}

/** A validator of an object schema's fields read in place: field i is `w[at + i]`, in shape order. */
export type FieldsCheck = (w: ArrayLike<number>, at: number) => boolean;

/**
 * The same answers as `schema.safeParse({k0: w[at], k1: w[at+1], ...}).success` (keys in shape
 * order), without building the object: for hypercall registers and the records a hypercall reads
 * from guest memory, checked where they lie. Null when the schema is not a plain object of
 * compilable fields (an object-level refinement, say): use compileSchema on an object then.
 */
export function compileFields(schema: z.ZodType): FieldsCheck | null {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  if (def.type !== 'object' || (def.checks?.length ?? 0) > 0) return null;
  const fields = Object.values(def.shape!).map((f) => compileNode(f._zod.def));
  if (fields.some((f) => f === null)) return null;
  const checks = fields as Check[];
  // Specialised by count, so the common short records run without a loop.
  switch (checks.length) {
    case 0:
      return () => true;
    case 1: {
      const [c0] = checks as [Check];
      return (w, at) => c0(w[at]);
    }
    case 2: {
      const [c0, c1] = checks as [Check, Check];
      return (w, at) => c0(w[at]) && c1(w[at + 1]);
    }
    default:
      return (w, at) => {
        for (let i = 0; i < checks.length; i++) if (!checks[i]!(w[at + i])) return false;
        return true;
      };
  }
}

/** True when compileSchema could compile `schema` (for tests and the benchmark's report). */
export function isCompilable(schema: z.ZodType): boolean {
  return compileNode((schema as unknown as { _zod: { def: Def } })._zod.def) !== null;
}
