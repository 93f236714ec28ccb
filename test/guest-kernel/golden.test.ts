/**
 * Golden files: the assembly the compiler generates for a few corpus programs, reviewed in the
 * diff when code generation changes. Regenerate with `UPDATE_GOLDEN=1 npx vitest run
 * test/guest-kernel/golden.test.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileFile, PROGRAMS } from './helpers.ts';

const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const PROGRAMS_WITH_GOLDEN = ['fib-recursive', 'sieve', 'crc32'];

describe('golden assembly', () => {
  it.each(PROGRAMS_WITH_GOLDEN)('%s', (name) => {
    const asm = compileFile(path.join(PROGRAMS, `${name}.ts`)).asm;
    const file = path.join(GOLDEN, `${name}.s`);
    if (process.env['UPDATE_GOLDEN'] === '1') fs.writeFileSync(file, asm);
    expect(asm).toBe(fs.readFileSync(file, 'utf8'));
  });
});
