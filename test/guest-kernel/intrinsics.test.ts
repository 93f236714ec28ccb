/**
 * Intrinsics: the ambient declarations (guest-kernel/lib/intrinsics.d.ts), the compiler's
 * expansions and the Node shims name the same set; each expands to its instruction; interrupt,
 * exception and system-call entries work on the machine, native and pv.
 */
import fs from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { INTRINSIC_NAMES } from '../../guest-kernel/compiler/intrinsics.ts';
import { NODE_SHIMS } from '../../guest-kernel/compiler/node-shim.ts';
import { INTRINSICS_DECLS } from '../../guest-kernel/compiler/program.ts';
import { compileFile, compileSource, functionAsm, PROGRAMS, run } from './helpers.ts';

function declaredIntrinsics(): string[] {
  const sf = ts.createSourceFile(INTRINSICS_DECLS, fs.readFileSync(INTRINSICS_DECLS, 'utf8'), ts.ScriptTarget.ES2022, true);
  const names: string[] = [];
  for (const st of sf.statements) {
    if (ts.isFunctionDeclaration(st) && st.name) names.push(st.name.text);
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) names.push(d.name.getText());
  }
  return names.sort();
}

describe('the intrinsics', () => {
  it('are the same set in the declarations, the compiler and the Node shims', () => {
    const declared = declaredIntrinsics();
    expect([...INTRINSIC_NAMES].sort()).toEqual(declared);
    expect(Object.keys(NODE_SHIMS).sort()).toEqual(declared);
  });

  const cases: [string, string, RegExp][] = [
    ['load8', 'return load8(x);', /ldbu r0, \[r0\]/],
    ['load8s', 'return load8s(x + 3);', /ldb r0, \[r0\+3\]/],
    ['load16', 'return load16(x);', /ldhu r0, \[r0\]/],
    ['load16s', 'return load16s(x);', /ldh r0, \[r0\]/],
    ['load32', 'return load32(x + 8);', /ldw r0, \[r0\+8\]/],
    ['store8', 'store8(x, 1); return 0;', /stb r\d, \[r0\]/],
    ['store16', 'store16(x, 1); return 0;', /sth r\d, \[r0\]/],
    ['store32', 'store32(x - 4, x); return 0;', /stw r0, \[r0-4\]/],
    ['portIn (constant port)', 'return portIn(0x3fd);', /in r0, 0x3fd/],
    ['portIn (port in a register)', 'return portIn(x);', /inr r0, r0/],
    ['portOut (constant port)', 'portOut(0x3f8, x); return 0;', /out 0x3f8, r0/],
    ['portOut (port in a register)', 'portOut(x, 1); return 0;', /outr r0, r\d/],
    ['cli', 'cli(); return 0;', /^cli$/m],
    ['sti', 'sti(); return 0;', /^sti$/m],
    ['hlt', 'hlt(); return 0;', /^hlt$/m],
    ['pushf', 'return pushf();', /pushf\npop r0/],
    ['popf', 'popf(x); return 0;', /push r0\npopf/],
    ['readCr', 'return readCr(1);', /mfcr r0, ptbr/],
    ['writeCr', 'writeCr(2, x); return 0;', /mtcr vbar, r0/],
    ['invlpg', 'invlpg(x); return 0;', /invlpg r0/],
    ['syscall', 'return syscall(1, x, 2);', /^syscall$/m],
    ['hypercall', 'return hypercall(18, 0, x, 5);', /hypercall/],
    ['breakpoint', 'breakpoint(); return 0;', /^brk$/m],
    ['addressOf', 'return addressOf(f);', /la r0, f/],
    ['interruptEntry', 'return interruptEntry(h);', /la r0, h\.entry/],
    ['TARGET_PV', 'return TARGET_PV ? 1 : 2;', /li r0, 2/],
    ['Math.imul', 'return Math.imul(x, x);', /mul r0, r0, r0/],
  ];

  it.each(cases)('%s expands inline to its instruction', (_name, body, expected) => {
    const src = `function h(frame: number): void {}\nfunction f(x: number): number {\n  ${body}\n}\nexport function main(): number { return f(0x2000); }\n`;
    const asm = functionAsm(compileSource(src).asm, 'f').join('\n');
    expect(asm).toMatch(expected);
    expect(asm).not.toMatch(/call (load|store|port|cli|sti|hlt|pushf|popf|readCr|writeCr|invlpg|syscall|hypercall|breakpoint|addressOf)/);
  });
});

describe('interrupt, exception and system-call entries', () => {
  it('work on the native machine (vector table, brk, syscall, #DE, timer IRQ)', () => {
    const r = run(compileFile(`${PROGRAMS}/machine/interrupts.ts`).image);
    expect(r.stop).toBe('shutdown');
    expect(r.console).toBe(
      'breakpoints: 2\ncause: 3\nsyscall(1, 20, 22) = 42\nsyscall(9) = -38\ndivide errors: 1\nIF before sti: 0\nticks: 5\n',
    );
    expect(r.exitCode).toBe(205);
    expect(r.events['irq0']).toBe(5);
  });

  it('work in a pv kernel (set_trap_table, bounce frame, iret hypercall)', () => {
    const r = run(compileFile(`${PROGRAMS}/machine/pv-traps.ts`, 'pv').image, 'pv');
    expect(r.stop).toBe('shutdown');
    expect(r.console).toContain('set_trap_table: 0\nbreakpoints: 3\nvector: 3\n');
    expect(r.console).toContain('divide errors: 1\n');
    expect(r.exitCode).toBe(3);
  });
});

describe('the Node shims', () => {
  it('capture the console and the shutdown code', async () => {
    const { runInNode } = await import('../../guest-kernel/compiler/node-shim.ts');
    const r = await runInNode(`${PROGRAMS}/exit-code.ts`);
    expect(r.console).toBe('exiting with 0xcafebabe\n');
    expect(r.exitCode).toBe(0xcafebabe);
  });
});
