/**
 * The hypercall ABI's own rules (abi/README.md, ../shared/STYLE.md): abi/ stands alone, every
 * number in hypercall-numbers.ts names exactly one call or command, and every call carries its
 * documentation and a schema for exactly the registers it reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as N from '../../../abi/hypercall-numbers.ts';
import { HYPERCALLS } from '../../../abi/hypercalls.ts';

const ABI = path.resolve(import.meta.dirname, '../../../abi');
const numbers = Object.entries(N) as Array<[string, number]>;
const named = (prefix: string, except: string[] = []): Array<[string, number]> => numbers.filter(([k]) => k.startsWith(prefix) && !except.includes(k));

describe('abi/', () => {
  it('imports nothing outside abi/ but zod', () => {
    for (const file of readdirSync(ABI).filter((f) => f.endsWith('.ts'))) {
      const src = readFileSync(path.join(ABI, file), 'utf8');
      const specifiers = [...src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
      for (const s of specifiers) expect([file, s]).toSatisfy(([, spec]: string[]) => spec === 'zod' || /^\.\/[\w-]+\.ts$/.test(spec!));
    }
  });

  it('keeps hypercall-numbers.ts, errors.ts, shared-info.ts and version.ts free of imports, so guest code can import them', () => {
    for (const file of ['hypercall-numbers.ts', 'errors.ts', 'shared-info.ts', 'version.ts']) {
      expect([file, /^\s*import\b/m.test(readFileSync(path.join(ABI, file), 'utf8'))]).toEqual([file, false]);
    }
  });
});

describe('hypercall numbers', () => {
  it('every HC_* number is a distinct hypercall of the table, and the table has no other', () => {
    const hc = named('HC_');
    expect(new Set(hc.map(([, v]) => v)).size).toBe(hc.length);
    expect(hc.map(([, v]) => v).sort((a, b) => a - b)).toEqual(Object.keys(HYPERCALLS).map(Number).sort((a, b) => a - b));
  });

  // Two constants with one value would silently drop a command from its family's table.
  const families: Array<[string, Array<[string, number]>]> = [
    ['memory_op', named('XENMEM_', ['XENMEM_MAX_EXTENTS'])],
    ['xen_version', named('XENVER_')],
    ['console_io', named('CONSOLEIO_', ['CONSOLEIO_MAX'])],
    ['grant_table_op', named('GNTTABOP_')],
    ['mmuext_op', named('MMUEXT_')],
    ['sched_op', named('SCHEDOP_')],
    ['event_channel_op', named('EVTCHNOP_')],
    ['virtio_op', named('VIRTIO_', ['VIRTIO_MAX_DEVICES']).filter(([k]) => !k.startsWith('VIRTIO_DEV_'))],
  ];
  for (const [name, commands] of families) {
    it(`${name}: each command constant is one distinct command of the family`, () => {
      const h = Object.values(HYPERCALLS).find((x) => x.kind === 'family' && x.family.name === name);
      if (h?.kind !== 'family') throw new Error(`no family ${name}`);
      expect(new Set(commands.map(([, v]) => v)).size).toBe(commands.length);
      expect(commands.map(([, v]) => v).sort((a, b) => a - b)).toEqual(Object.keys(h.family.commands).map(Number).sort((a, b) => a - b));
    });
  }

  it('every call has a unique name, a one-line doc, and a schema for exactly the registers it names', () => {
    const specs = Object.values(HYPERCALLS).flatMap((h) => (h.kind === 'call' ? [h.spec] : Object.values(h.family.commands)));
    expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
    for (const s of specs) {
      expect(s.doc.length, s.name).toBeGreaterThan(10);
      expect(s.doc).not.toContain('\n');
      expect(Object.keys(s.schema.shape)).toEqual(s.args);
    }
  });

  it('documents every hypercall number and command where it is defined', () => {
    const src = readFileSync(path.join(ABI, 'hypercall-numbers.ts'), 'utf8');
    const undocumented = [...named('HC_'), ...families.flatMap(([, c]) => c)]
      .map(([k]) => k)
      .filter((k) => {
        // A doc comment right above, or a family comment heading a run of plain commands.
        const at = src.indexOf(`export const ${k} =`);
        const before = src.slice(0, at).trimEnd();
        return !before.endsWith('*/') && !/\n\/\/ [a-z_]+(\(.*\))?[^\n]*\n(export const \w+ = [^\n]*\n)*$/.test(src.slice(0, at));
      });
    expect(undocumented).toEqual([]);
  });
});
