/**
 * Run-time errors: every compiled program installs a default exception handler at start-up
 * (compiler/startup.ts, lib/runtime.ts), so that its first fault is reported by the guest itself,
 * on its console, with the source line, and the run ends with RUNTIME_ERROR_EXIT_CODE. Each case
 * runs the native build natively, under trap-and-emulate and hardware assist, and the pv build in
 * pv mode; every mode must print the same line.
 */
import { describe, expect, it } from 'vitest';
import type { GuestImage } from '../../abi/image.ts';
import { RUNTIME_ERROR_EXIT_CODE } from '../../abi/platform.ts';
import {
  RT_CODE,
  RT_FILE_COUNT,
  RT_FILES,
  RT_GUARD,
  RT_LINE_COUNT,
  RT_LINE_MASK,
  RT_LINE_SHIFT,
  RT_LINES,
  RT_SITE_COUNT,
  RT_SITES,
} from '../../abi/runtime-tables.ts';
import { RT_TABLES_LABEL } from '../../guest-kernel/compiler/runtime-tables.ts';
import type { Target } from '../../guest-kernel/compiler/types.ts';
import { runImage, type Mode, type RunResult } from '../../hypervisor/run.ts';
import { compileFile, compileSource, MODES, PROGRAMS } from './helpers.ts';

const FILE = 'guest-kernel/programs/__test__/main.ts';

interface Outcome {
  run: RunResult;
  image: GuestImage;
  sites: number;
}

function runSource(source: string, target: Target, mode: Mode): Outcome {
  const c = compileSource(source, target);
  return { run: runImage(c.image, { mode, maxInstructions: 50_000_000 }), image: c.image, sites: c.stats.sites };
}

/** The source line the image's line table gives for `pc`. */
function lineOf(image: GuestImage, pc: number): number | undefined {
  return image.lines?.find((l) => l.addr === pc)?.line;
}

/** The last console line, and checks common to every run-time error. */
function reported(o: Outcome): string {
  expect(o.run.stop).toBe('shutdown');
  expect(o.run.exitCode).toBe(RUNTIME_ERROR_EXIT_CODE);
  const lines = o.run.console.split('\n');
  expect(lines.pop()).toBe(''); // one whole line
  return lines.pop()!;
}

describe.each(MODES)('a run-time error, $target build in $mode mode', ({ mode, target }) => {
  it('division by zero: the check site, its line and column', () => {
    const o = runSource(
      [
        "import { printlnNumber } from '../../lib/console.ts';",
        'function divide(a: number, b: number): number {',
        '  return (a / b) | 0;',
        '}',
        'export function main(): number {',
        '  printlnNumber(divide(7, 2));',
        '  printlnNumber(divide(7, 0));',
        '  return 0;',
        '}',
      ].join('\n'),
      target,
      mode,
    );
    expect(reported(o)).toBe(`${FILE}:3:11: division by zero in 'a / b'`);
    expect(o.run.console).toBe(`3\n${FILE}:3:11: division by zero in 'a / b'\n`);
  });

  it('integer overflow: the check site, its line and column', () => {
    const o = runSource(['export function main(): number {', '  let x = 0x7fffffff;', '  x = x + 1;', '  return x;', '}'].join('\n'), target, mode);
    expect(o.sites).toBeGreaterThan(0);
    expect(reported(o)).toBe(`${FILE}:3:7: integer overflow in 'x + 1'`);
  });

  it('index out of bounds: the check site', () => {
    const source = ['const t = new Int32Array(4);', 'function get(i: number): number { return t[i]; }', 'export function main(): number {', '  return get(4);', '}'].join('\n');
    expect(reported(runSource(source, target, mode))).toBe(`${FILE}:2:42: index out of bounds in 't[i]'`);
  });

  it('runaway recursion: a stack overflow at the line that overflowed, the static data intact', () => {
    const o = runSource(
      [
        "import { println } from '../../lib/console.ts';",
        '/** Zero-filled, so the last static data: just below the stack on pv. */',
        'const below = new Int32Array(64);',
        'function down(n: number): number {',
        "  if (below[0] !== 0 || below[63] !== 0) { println('static data overwritten'); return n; }",
        '  return down(n + 1) + 1;',
        '}',
        'export function main(): number {',
        "  println('down we go');",
        '  return down(0);',
        '}',
      ].join('\n'),
      target,
      mode,
    );
    const line = reported(o);
    const m = /^(.*):(\d+): stack overflow at pc 0x([0-9a-f]+)$/.exec(line);
    expect(m, line).not.toBeNull();
    expect(m![1]).toBe(FILE);
    // The push that met the guard page: the call's return address (line 6) or the prologue's
    // save of a register (the function's line, 4), as the frame sizes fall.
    expect(['4', '6']).toContain(m![2]);
    expect(lineOf(o.image, parseInt(m![3]!, 16))).toBe(Number(m![2]));
    expect(o.run.console).toBe(`down we go\n${line}\n`);
  });

  it('a load outside memory: a page fault with its address', () => {
    const o = runSource(['export function main(): number {', '  const a = 0x40000000;', '  return load32(a + 8);', '}'].join('\n'), target, mode);
    const line = reported(o);
    const m = /^(.*):(\d+): page-fault \(vector 14\) at pc 0x([0-9a-f]+), address 0x40000008$/.exec(line);
    expect(m, line).not.toBeNull();
    expect(m![1]).toBe(FILE);
    expect(m![2]).toBe('3');
    expect(lineOf(o.image, parseInt(m![3]!, 16))).toBe(3);
  });

  it('any other exception: its name and vector (a breakpoint names the BRK)', () => {
    const o = runSource(['export function main(): number {', '  breakpoint();', '  return 1;', '}'].join('\n'), target, mode);
    const m = /^(.*):(\d+): breakpoint \(vector 3\) at pc 0x([0-9a-f]+)$/.exec(reported(o));
    expect(m).not.toBeNull();
    expect(m![2]).toBe('2');
  });
});

describe('programs that install their own handlers', () => {
  it('keep them: the native vector table and the pv trap table replace the defaults', () => {
    const native = runImage(compileFile(`${PROGRAMS}/machine/interrupts.ts`).image, { mode: 'native' });
    expect(native.exitCode).toBe(205);
    expect(native.console).toContain('divide errors: 1');
    const pv = runImage(compileFile(`${PROGRAMS}/machine/pv-traps.ts`, 'pv').image, { mode: 'pv' });
    expect(pv.exitCode).toBe(3);
    expect(pv.console).toContain('divide errors: 1');
  });
});

/** A little-endian word of the image at address `addr` (zero in a segment's zero-filled tail). */
function word(image: GuestImage, addr: number): number {
  for (const s of image.segments) {
    if (addr >= s.addr && addr + 4 <= s.addr + s.memSize) {
      const o = addr - s.addr;
      if (o + 4 > s.data.length) return 0;
      return (s.data[o]! | (s.data[o + 1]! << 8) | (s.data[o + 2]! << 16) | (s.data[o + 3]! << 24)) >>> 0;
    }
  }
  throw new Error(`no segment holds 0x${addr.toString(16)}`);
}

function guestString(image: GuestImage, addr: number): string {
  const n = word(image, addr - 4);
  let s = '';
  for (let i = 0; i < n; i += 4) {
    const w = word(image, addr + i);
    for (let k = 0; k < 4 && i + k < n; k++) s += String.fromCharCode((w >>> (8 * k)) & 0xff);
  }
  return s;
}

describe.each(['native', 'pv'] as const)('the run-time error tables (%s)', (target) => {
  const c = compileFile(`${PROGRAMS}/sieve.ts`, target);
  const tables = c.image.symbols![RT_TABLES_LABEL]!;

  it('give every instruction the line the image line table gives it', () => {
    const lines = word(c.image, tables + RT_LINES);
    const count = word(c.image, tables + RT_LINE_COUNT);
    const byAddr = new Map<number, number>();
    let at = word(c.image, tables + RT_CODE);
    for (let i = 0; i < count; i++) {
      const run = word(c.image, lines + 4 * i);
      for (let k = 0; k < run >>> RT_LINE_SHIFT; k++) byAddr.set(at + 4 * k, run & RT_LINE_MASK);
      at += 4 * (run >>> RT_LINE_SHIFT);
    }
    expect(c.image.lines!.length).toBeGreaterThan(100);
    for (const l of c.image.lines!) expect(byAddr.get(l.addr), `0x${l.addr.toString(16)}`).toBe(l.line);
    // A word per run of one source line: far smaller than the code it describes.
    expect(count * 4).toBeLessThan(c.stats.codeBytes / 2);
  });

  it('give every instruction its file', () => {
    const files = word(c.image, tables + RT_FILES);
    const count = word(c.image, tables + RT_FILE_COUNT);
    const entries = Array.from({ length: count }, (_, i) => ({ addr: word(c.image, files + 8 * i), file: guestString(c.image, word(c.image, files + 8 * i + 4)) }));
    for (const l of c.image.lines!) {
      const e = entries.filter((f) => f.addr <= l.addr).pop();
      expect(e?.file).toBe(l.file);
    }
  });

  it('list the check sites by pc, and the guard page (pv: the one below the boot stack)', () => {
    const n = word(c.image, tables + RT_SITE_COUNT);
    expect(n).toBe(c.stats.sites);
    const sites = word(c.image, tables + RT_SITES);
    const pcs = Array.from({ length: n }, (_, i) => word(c.image, sites + 12 * i));
    expect(pcs).toEqual([...pcs].sort((a, b) => a - b));
    expect(word(c.image, tables + RT_GUARD)).toBe(target === 'pv' ? c.image.symbols!['__boot.guard'] : 0);
  });
});

describe('start-up', () => {
  it('costs a tight loop on native (about 2.25 instructions a page) and a few hypercalls on pv', () => {
    const source = 'export function main(): number {\n  return 0;\n}\n';
    const native = runImage(compileSource(source, 'native').image, { mode: 'native' });
    const small = runImage(compileSource(source, 'native').image, { mode: 'native', memoryBytes: 4 * 1024 * 1024 });
    expect(native.exitCode).toBe(0);
    expect(native.instructions).toBeLessThan(9_400);
    expect(native.instructions - small.instructions).toBe((3 * 1024 * 9) / 4 + 3 * 5);
    const pv = runImage(compileSource(source, 'pv').image, { mode: 'pv' });
    expect(pv.exitCode).toBe(0);
    expect(pv.instructions).toBeLessThan(30);
    expect(pv.hypercalls).toMatchObject({ set_trap_table: 1, stack_switch: 1, update_va_mapping: 1 });
  });
});
