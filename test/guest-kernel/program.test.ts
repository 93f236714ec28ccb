/**
 * The front end: loading guest programs with the TypeScript compiler API, the guest's own tiny
 * lib, the parse cache shared across compilations (its speed is bench:compiler's compile ms, never
 * a timed assertion), the guest tsconfig, and a
 * program split across three modules.
 */
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { compile } from '../../guest-kernel/compiler/compile.ts';
import { DiagnosticBag } from '../../guest-kernel/compiler/diagnostics.ts';
import { GUEST_COMPILER_OPTIONS, loadProgram } from '../../guest-kernel/compiler/program.ts';
import { compileFile, compileSources, corpus, PROGRAMS, ROOT, run } from './helpers.ts';

describe('loading', () => {
  it('uses the guest lib, not lib.es*.d.ts', () => {
    const loaded = loadProgram(`${PROGRAMS}/hello.ts`, new DiagnosticBag(ROOT))!;
    const libs = loaded.program.getSourceFiles().filter((f) => f.isDeclarationFile).map((f) => path.basename(f.fileName));
    expect(libs.sort()).toEqual(['intrinsics.d.ts', 'lib.guest.d.ts']);
  });

  it('reuses parsed files across compilations', () => {
    const a = loadProgram(`${PROGRAMS}/hello.ts`, new DiagnosticBag(ROOT))!;
    const b = loadProgram(`${PROGRAMS}/gcd.ts`, new DiagnosticBag(ROOT))!;
    const lib = (p: typeof a) => p.program.getSourceFiles().find((f) => f.fileName.endsWith('lib.guest.d.ts'));
    const consoleTs = (p: typeof a) => p.program.getSourceFiles().find((f) => f.fileName.endsWith('lib/console.ts'));
    expect(lib(a)).toBe(lib(b));
    expect(consoleTs(a)).toBe(consoleTs(b));
  });

  it('states the same options as guest-kernel/tsconfig.guest.json (which editors use)', () => {
    const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'guest-kernel/programs/tsconfig.json'), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, ' '));
      },
    })!;
    expect(parsed.errors).toEqual([]);
    const { configFilePath: _, ...options } = parsed.options;
    expect(options).toEqual(GUEST_COMPILER_OPTIONS);
    const names = parsed.fileNames.map((f) => path.relative(ROOT, f));
    expect(names).toContain('guest-kernel/lib/intrinsics.d.ts');
    expect(names).toContain('guest-kernel/lib/lib.guest.d.ts');
    expect(names).toContain('guest-kernel/programs/hello.ts');
  });

  it('type-checks every corpus program (type errors are compile errors)', () => {
    for (const file of corpus()) {
      const bag = new DiagnosticBag(ROOT);
      loadProgram(file, bag);
      expect(bag.items, file).toEqual([]);
    }
  });

  it('reports a missing entry file', () => {
    const r = compile(path.join(PROGRAMS, 'no-such-program.ts'), { target: 'native', rootDir: ROOT });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics).toEqual([{ code: 'TSG1001', category: 'error', message: `entry file not found: ${path.join(PROGRAMS, 'no-such-program.ts')}` }]);
  });

  it('refuses an unknown target', () => {
    const r = compileSources({ 'main.ts': 'export function main(): number { return 0; }' }, 'x86' as 'native');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]!.code).toBe('TSG1004');
  });
});

describe('a program split across three guest modules', () => {
  const entry = `${PROGRAMS}/modules/main.ts`;

  it('has three guest modules', () => {
    const loaded = loadProgram(entry, new DiagnosticBag(ROOT))!;
    const guest = loaded.guestFiles.map((f) => path.relative(PROGRAMS, f.fileName)).filter((f) => f.startsWith('modules/'));
    expect(guest.sort()).toEqual(['modules/geometry.ts', 'modules/main.ts', 'modules/stats.ts']);
  });

  it('compiles and runs', () => {
    const r = compileFile(entry);
    const out = run(r.image);
    expect(out.stop).toBe('shutdown');
    expect(out.console).toBe(
      'points: 4\ntwice the area: 120\nsquared perimeter pieces: 272\ncount: 20\nmean: 143\nmax: 400\nspread: 399\n',
    );
    expect(out.exitCode).toBe(60);
    // Each module's state is its own: the point store and the statistics both live in data.
    expect(Object.keys(r.image.symbols!)).toEqual(expect.arrayContaining(['xs', 'ys', 'used', 'n', 'sum', 'largest', 'smallest']));
  });

  it('resolves namespace imports and named imports alike', () => {
    const r = compileSources({
      'a.ts': `import * as b from './b.ts';\nimport { twice as t } from './b.ts';\nexport function main(): number { return b.twice(b.K) + t(1); }\n`,
      'b.ts': `export const K = 20;\nexport function twice(x: number): number { return x * 2; }\n`,
    });
    expect(r.ok).toBe(true);
    if (r.ok) expect(run(r.image).exitCode).toBe(42);
  });

  it('reports an error in an imported module at that module\'s position', () => {
    const r = compileSources({
      'a.ts': `import { f } from './b.ts';\nexport function main(): number { return f(); }\n`,
      'b.ts': `export function f(): number {\n  return 1.5;\n}\n`,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]!.pos).toEqual({ file: 'guest-kernel/programs/__test__/b.ts', line: 2, col: 10 });
  });
});
