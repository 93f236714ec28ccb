import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Errors from '../../../abi/errors.ts';
import * as Numbers from '../../../abi/hypercall-numbers.ts';
import * as Ring from '../../../abi/ring.ts';
import * as SharedInfo from '../../../abi/shared-info.ts';
import * as Version from '../../../abi/version.ts';
import { compile } from '../../../guest-kernel/compiler/compile.ts';
import { formatDiagnostic } from '../../../guest-kernel/compiler/diagnostics.ts';
import { runImage } from '../../../hypervisor/run.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

function compileOrThrow(entry: string, target: 'native' | 'pv', sources?: Map<string, string>) {
  const r = compile(entry, { target, rootDir: ROOT, ...(sources ? { sources } : {}) });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.image;
}

describe('the compiled paravirtual test guest', () => {
  it('prints, takes timer upcalls, maps a page with mmu_update, balloons out and back, and shuts down with a code', () => {
    const image = compileOrThrow(path.join(ROOT, 'guest-kernel/programs/pv/pv-test.ts'), 'pv');
    expect(image.target).toBe('pv');
    const r = runImage(image, { mode: 'pv', maxInstructions: 10_000_000 });
    expect(r.stop).toBe('shutdown');
    expect(r.exitCode).toBe(42);
    expect(r.console).toContain('pv test guest: hello from a paravirtual domain\n');
    expect(r.console).toContain('timer upcalls: 3\n');
    expect(r.console).toContain('mapped a page with mmu_update, read back 1\n');
    expect(r.console).toContain('balloon: pages after giving one back 1023\n');
    expect(r.console).toContain('balloon: pages after taking one again 1024\n');
    expect(r.hypercalls).toMatchObject({ mmu_update: 1, decrease_reservation: 1, increase_reservation: 1, iret: 3, evtchn_bind_virq: 1 });
    expect(r.hypercallErrors).toEqual({});
    expect(r.events).toEqual({ upcall: 3 });
  });
});

describe('guest build and host agree on the ABI', () => {
  // Every numeric constant the guest side can import, printed by a compiled guest and compared
  // with the host's own import of the same files: the compiler and the host read one source.
  const modules: Array<[string, Record<string, unknown>]> = [
    ['abi/hypercall-numbers.ts', Numbers],
    ['abi/shared-info.ts', SharedInfo],
    ['abi/errors.ts', Errors],
    ['abi/version.ts', Version],
    ['abi/ring.ts', Ring],
  ];
  const constants = modules.flatMap(([file, mod]) =>
    Object.entries(mod)
      .filter(([, v]) => typeof v === 'number')
      .map(([name, v]) => ({ file, name, value: v as number })),
  );

  it('prints the same value for every constant', () => {
    const imports = modules
      .map(([file]) => `import { ${constants.filter((c) => c.file === file).map((c) => c.name).join(', ')} } from '../../../${file}';`)
      .join('\n');
    // `| 0`: its signed bits. A constant above 0x7fffffff passed as it is would be refused
    // (TSG3010): printlnNumber would print it signed, where Node prints it unsigned.
    const body = constants.map((c) => `  print('${c.name}='); printlnNumber(${c.name} | 0);`).join('\n');
    const src = `${imports}\nimport { print, printlnNumber } from '../../lib/console.ts';\nexport function main(): number {\n${body}\n  return 0;\n}\n`;
    const entry = path.join(ROOT, 'guest-kernel/programs/__test__/abi-constants.ts');
    const r = runImage(compileOrThrow(entry, 'native', new Map([[entry, src]])), { mode: 'native', maxInstructions: 50_000_000 });
    expect(r.exitCode).toBe(0);
    const printed = Object.fromEntries(r.console.trim().split('\n').map((l) => l.split('=') as [string, string]));
    expect(constants.length).toBeGreaterThan(100);
    for (const c of constants) expect([c.name, Number(printed[c.name])]).toEqual([c.name, c.value | 0]);
  });
});
