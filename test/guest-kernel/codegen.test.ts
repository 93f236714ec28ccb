/**
 * Code quality and shape of the generated assembly: locals in registers, constant folding, no
 * redundant loads or stores of the same slot within a block, direct conditional branches,
 * immediate forms, jump tables, loop constants hoisted, start-up code and entry stubs per target.
 */
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeImage, SEG_W, SEG_X } from '../../abi/image.ts';
import { LOAD_BASE, POWER_SHUTDOWN } from '../../abi/platform.ts';
import { HC_CONSOLE_IO, HC_IRET, HC_SCHED_OP } from '../../abi/hypercall-numbers.ts';
import { compileFile, compileSource, functionAsm, PROGRAMS, run } from './helpers.ts';

const SOURCE = `
let g = 5;
const table = new Int32Array(16);
function sum(n: number): number { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }
function fold(): number { return (3 + 4) * 2 - (1 << 4); }
function loads(): number { return g + g * g; }
function storeLoad(x: number): number { g = x; return g + 1; }
function deadStore(x: number): void { g = 1; g = x; }
function branch(a: number, b: number): number { if (a < b) return 1; if (a >= b + 1) return 2; return 3; }
function dense(x: number): number { switch (x) { case 0: return 10; case 1: return 11; case 2: return 12; case 3: return 13; case 4: return 14; default: return -1; } }
function sparse(x: number): number { switch (x) { case 1: return 1; case 1000: return 2; default: return 0; } }
function fill(): void { for (let i = 0; i < 16; i++) table[i] = i * 8; }
function arith(x: number): number { return ((x + 1) * 8 + (x & 0xff) - 3) | 0; }
function many(a: number, b: number, c: number, d: number, e: number, f: number): number { return a - b + c - d + e - f; }
function unused(): number { return 99; }
export function main(): number {
  deadStore(2);
  fill();
  return sum(10) + fold() + loads() + storeLoad(3) + branch(1, 2) + dense(3) + sparse(1000) + arith(1) + table[3] + many(1, 2, 3, 4, 5, 6);
}
`;

const compiled = compileSource(SOURCE);
const fn = (name: string): string[] => functionAsm(compiled.asm, name);
const ops = (name: string): string[] => fn(name).filter((l) => !l.endsWith(':')).map((l) => l.split(' ')[0]!);

describe('generated code', () => {
  it('runs and computes what JavaScript computes', () => {
    const r = run(compiled.image);
    // sum 45, fold -2, loads 2+2*2 (deadStore left g = 2), storeLoad 4, branch 1, dense 13,
    // sparse 2, arith 14, table[3] 24, many -3
    expect(r.exitCode).toBe(104);
  });

  it('keeps locals in registers: no stack traffic in a loop', () => {
    expect(fn('sum').join('\n')).not.toContain('[sp');
    expect(ops('sum')).not.toContain('push');
  });

  it('folds constant expressions', () => {
    expect(fn('fold')).toEqual(['li r0, -2', 'ret']);
  });

  it('loads a module variable once per block, however often it is read', () => {
    expect(ops('loads').filter((o) => o === 'ldw')).toHaveLength(1);
  });

  it('forwards a stored value to a later load of the same slot', () => {
    expect(ops('storeLoad')).not.toContain('ldw');
  });

  it('drops a store that a later store to the same slot overwrites', () => {
    expect(ops('deadStore').filter((o) => o === 'stw')).toHaveLength(1);
  });

  it('branches directly on comparisons (no set-and-test)', () => {
    const o = ops('branch');
    expect(o).toContain('bge');
    expect(o).toContain('blt');
    expect(o.some((x) => x.startsWith('slt') || x === 'seq' || x === 'sne')).toBe(false);
  });

  it('uses immediate forms and shifts for constants and powers of two', () => {
    const o = fn('arith');
    expect(o).toContain('addio r1, r0, 1'); // x + 1 is a product's operand: checked (checks.ts), still one instruction
    expect(o.some((l) => l.startsWith('shli'))).toBe(true);
    expect(o.some((l) => l.startsWith('andi'))).toBe(true);
    expect(ops('arith')).not.toContain('mul');
  });

  it('compiles a dense switch to a jump table and a sparse one to compares', () => {
    expect(ops('dense')).toContain('jr');
    expect(compiled.asm).toMatch(/dense\.T0:\n(\s+\.word dense\.L\d+\n){5}/);
    expect(ops('sparse')).not.toContain('jr');
    expect(ops('sparse')).toContain('beq');
  });

  it('hoists loop constants out of the loop', () => {
    const lines = fn('fill');
    const loopStart = lines.findIndex((l) => /^fill\.L\d+:$/.test(l));
    const body = lines.slice(loopStart);
    expect(body.some((l) => l.startsWith('la ') || l.startsWith('li '))).toBe(false);
  });

  it('passes six arguments in r0..r5 without touching the stack', () => {
    expect(fn('many').join('\n')).not.toContain('[sp');
  });

  it('emits only the functions main reaches', () => {
    expect(compiled.asm).not.toContain('unused:');
  });

  it('is deterministic', () => {
    expect(compileSource(SOURCE).asm).toBe(compiled.asm);
  });

  it('saves callee-saved registers only when a value lives across a call', () => {
    const fib = compileFile(`${PROGRAMS}/fib-recursive.ts`);
    const body = functionAsm(fib.asm, 'fib');
    const pushes = body.filter((l) => l.startsWith('push')).length;
    const pops = body.filter((l) => l.startsWith('pop')).length;
    expect(pushes).toBeGreaterThan(0);
    expect(pops).toBe(pushes);
    expect(ops('fold')).not.toContain('push');
  });

  it('returns from the base case of a recursion before saving anything (shrink-wrapping)', () => {
    const fib = functionAsm(compileFile(`${PROGRAMS}/fib-recursive.ts`).asm, 'fib');
    // li; bge; ret — the prologue sits in the recursive arm only.
    expect(fib.slice(0, 4)).toEqual(['li r1, 2', expect.stringMatching(/^bge r0, r1, fib\.L\d+$/), expect.stringMatching(/^fib\.L\d+:$/), 'ret']);
    expect(fib.indexOf('push r8')).toBeGreaterThan(3);
  });

  it('rebuilds constants around calls rather than spilling a loop variable to the stack', () => {
    const main = functionAsm(compileFile(`${PROGRAMS}/gcd.ts`).asm, 'main');
    expect(main.join('\n')).not.toContain('[sp');
  });

  it('compiles without optimisation to the same behaviour', () => {
    const plain = compileSource(SOURCE, 'native', { optimize: false });
    expect(run(plain.image).exitCode).toBe(104);
    expect(plain.asm.length).toBeGreaterThan(compiled.asm.length);
  });
});

describe('loop-invariant code motion', () => {
  const src = `
function inv(n: number, k: number): number { let s = 0; for (let i = 0; i < n; i++) s = (s + ((k << 3) ^ i)) | 0; return s; }
function guarded(d: number): number { let s = 0; for (let i = 0; i < 10; i++) if (d !== 0) s += (100 / d) | 0; return s; }
export function main(): number { return inv(4, 1) * 100 + guarded(0) + guarded(7) * 1000; }
`;
  const c = compileSource(src);
  const loopBody = (name: string): string[] => {
    const lines = functionAsm(c.asm, name);
    const back = lines.findIndex((l) => /^blt r\d+, r\d+, (\S+)$/.test(l) && lines.indexOf(`${/, (\S+)$/.exec(l)![1]}:`) >= 0);
    return lines.slice(lines.indexOf(`${/, (\S+)$/.exec(lines[back]!)![1]}:`) + 1, back);
  };

  it('moves arithmetic on values the loop does not change before the loop', () => {
    expect(loopBody('inv').some((l) => l.startsWith('shli'))).toBe(false);
    expect(functionAsm(c.asm, 'inv').some((l) => l.startsWith('shli'))).toBe(true);
  });

  it('leaves a division where it was: it may trap on a path that never divided', () => {
    expect(loopBody('guarded').some((l) => l.startsWith('div'))).toBe(true);
    // inv(4, 1) = 8 + 9 + 10 + 11; guarded(0) never divides; guarded(7) = 10 * 14
    expect(run(c.image).exitCode).toBe(38 * 100 + 0 + 140 * 1000);
  });
});

describe('image layout', () => {
  it('puts code at LOAD_BASE (read-execute) and data on its own writable page', () => {
    const img = compiled.image;
    expect(img.entry).toBe(LOAD_BASE);
    const code = img.segments.find((s) => s.flags & SEG_X)!;
    const data = img.segments.find((s) => s.flags & SEG_W)!;
    expect(code.addr).toBe(LOAD_BASE);
    expect(code.flags & SEG_W).toBe(0);
    expect(data.addr % 4096).toBe(0);
    expect(data.flags & SEG_X).toBe(0);
  });

  it('round-trips through the image file format', () => {
    const back = decodeImage(encodeImage(compiled.image));
    expect(back.ok).toBe(true);
    if (back.ok) expect(run(back.image).exitCode).toBe(104);
  });

  it('carries a line table mapping instructions to source lines', () => {
    const lines = compiled.image.lines!;
    const fold = compiled.image.symbols!['fold']!;
    const at = lines.find((l) => l.addr === fold)!;
    expect(at.file).toBe('guest-kernel/programs/__test__/main.ts');
    expect(at.line).toBe(5);
    expect(at.text).toContain('function fold()');
    expect(compiled.listing).toContain('guest-kernel/programs/__test__/main.ts:5: function fold(): number');
  });
});

describe('targets', () => {
  const hello = `${PROGRAMS}/hello.ts`;

  it('native: main returns through the shutdown port; the console is UART port writes', () => {
    const r = compileFile(hello, 'native');
    expect(r.image.target).toBe('native');
    expect(r.asm).toContain(`out 0x${POWER_SHUTDOWN.toString(16)}, r0`);
    expect(r.asm).toContain('out 0x3f8');
    expect(r.asm).not.toContain('hypercall');
  });

  it('pv: shutdown and console are hypercalls; no port I/O at all', () => {
    const r = compileFile(hello, 'pv');
    expect(r.image.target).toBe('pv');
    expect(functionAsm(r.asm, '_start')).toEqual(expect.arrayContaining([`li r0, ${HC_SCHED_OP}`, 'hypercall']));
    expect(r.asm).toContain(`li r0, ${HC_CONSOLE_IO}`);
    expect(r.asm).not.toMatch(/\bout\b/);
    expect(r.asm).not.toMatch(/\bin\b /);
  });

  it('native interrupt entries save every register and return with iret', () => {
    const r = compileFile(`${PROGRAMS}/machine/interrupts.ts`, 'native');
    const stub = functionAsm(r.asm, 'onTimer.entry');
    expect(stub.filter((l) => l.startsWith('push'))).toHaveLength(15);
    expect(stub.filter((l) => l.startsWith('pop'))).toHaveLength(15);
    expect(stub[stub.length - 1]).toBe('iret');
  });

  it('pv interrupt entries return with the iret hypercall', () => {
    const src = `function h(frame: number): void {}\nexport function main(): number { return interruptEntry(h) === 0 ? 1 : 0; }\n`;
    const r = compileSource(src, 'pv');
    const stub = functionAsm(r.asm, 'h.entry');
    expect(stub.slice(-2)).toEqual([`li r0, ${HC_IRET}`, 'hypercall']);
    expect(stub).not.toContain('iret');
  });
});
