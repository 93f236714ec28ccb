/**
 * Helpers for the guest compiler's tests: compile a corpus program or an in-memory source, run an
 * image on the machine, list the corpus.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../guest-kernel/compiler/compile.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import type { BootTarget, CompileOptions, CompileResult, Target } from '../../guest-kernel/compiler/types.ts';
import { SEG_X, type GuestImage } from '../../abi/image.ts';
import { CLASS_TABLE, decode } from '../../abi/isa.ts';
import { expect } from 'vitest';
import { runInNode } from '../../guest-kernel/compiler/node-shim.ts';
import { type Mode, runImage, type RunResult } from '../../hypervisor/run.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PROGRAMS = path.join(ROOT, 'guest-kernel/programs');
/** Where in-memory test sources pretend to live, so `../../lib/console.ts` resolves. */
export const VIRTUAL_DIR = path.join(PROGRAMS, '__test__');

export type Compiled = Extract<CompileResult, { ok: true }>;

/** The differential corpus: every programs/*.ts, plus the three-module program's entry. */
export function corpus(): string[] {
  const top = fs
    .readdirSync(PROGRAMS)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => path.join(PROGRAMS, f));
  return [...top, path.join(PROGRAMS, 'modules/main.ts')];
}

export function compileFile(file: string, target: Target = 'native', opts: Partial<CompileOptions> = {}): Compiled {
  const r = compile(file, { target, rootDir: ROOT, ...opts });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r;
}

/** Compile in-memory sources: `files` maps a name under VIRTUAL_DIR to its text; the first is the entry. */
export function compileSources(files: Record<string, string>, target: Target = 'native', opts: Partial<CompileOptions> = {}): CompileResult {
  const sources = new Map(Object.entries(files).map(([name, text]) => [path.join(VIRTUAL_DIR, name), text]));
  const entry = [...sources.keys()][0]!;
  return compile(entry, { target, rootDir: ROOT, sources, ...opts });
}

/** Compile one in-memory module, which must succeed. */
export function compileSource(text: string, target: Target = 'native', opts: Partial<CompileOptions> = {}): Compiled {
  const r = compileSources({ 'main.ts': text }, target, opts);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r;
}

/** The formatted diagnostics of a source that must not compile. */
export function errorsOf(text: string, target: Target = 'native'): string[] {
  const r = compileSources({ 'main.ts': text }, target);
  if (r.ok) throw new Error('expected compile errors, but it compiled');
  return r.diagnostics.map(formatDiagnostic);
}

export function run(image: GuestImage, mode: 'native' | 'pv' = 'native', maxInstructions = 200_000_000): RunResult {
  return runImage(image, { mode, maxInstructions });
}

/** The assembly lines of one function (from its label to the next function's comment, or the end of the code). */
export function functionAsm(asm: string, label: string): string[] {
  const lines = asm.split('\n');
  const start = lines.findIndex((l) => l === `${label}:`);
  if (start < 0) throw new Error(`no function ${label} in:\n${asm}`);
  const out: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('; function') || l.startsWith('; interrupt') || l === '__rt.code_end:' || l === '__text_end:') break;
    out.push(l.trim());
  }
  return out;
}

/** Every mode, with the build it runs: the native image natively, under trap and hw; the pv image in pv. */
export const MODES: readonly { mode: Mode; target: BootTarget }[] = [
  { mode: 'native', target: 'native' },
  { mode: 'trap', target: 'native' },
  { mode: 'hw', target: 'native' },
  { mode: 'pv', target: 'pv' },
];

/**
 * Run `file` in Node and, built for both targets, in every mode: each must shut down printing what
 * Node printed and with its exit code. Returns Node's console and exit code, for the test to check
 * they are the answer meant.
 */
export async function agreeInEveryMode(file: string, maxInstructions = 50_000_000): Promise<{ console: string; exitCode: number }> {
  const node = await runInNode(file);
  const images = { native: compileFile(file, 'native').image, pv: compileFile(file, 'pv').image };
  for (const { mode, target } of MODES) {
    const r = runImage(images[target], { mode, maxInstructions });
    expect({ mode, stop: r.stop, console: r.console, exitCode: r.exitCode }).toEqual({ mode, stop: 'shutdown', console: node.console, exitCode: node.exitCode });
  }
  return { console: node.console, exitCode: node.exitCode };
}

/**
 * The instructions of each loop in a function's lines, in layout order: from a label to the
 * branch back to it (with `jumps`, an unconditional `jmp` back counts too).
 */
export function loopsIn(lines: string[], jumps = false): string[][] {
  const loops: string[][] = [];
  lines.forEach((l, i) => {
    const m = (jumps ? /^(?:b\w+ .*, |jmp )(\S+)$/ : /^b\w+ .*, (\S+)$/).exec(l);
    const head = m ? lines.slice(0, i).indexOf(`${m[1]}:`) : -1;
    if (head >= 0) loops.push(lines.slice(head + 1, i + 1).filter((x) => !x.endsWith(':')));
  });
  return loops;
}

/** The loops of function `fn` in `asm` (see loopsIn). */
export function loopsOf(asm: string, fn: string, jumps = false): string[][] {
  return loopsIn(functionAsm(asm, fn), jumps);
}

/**
 * Write `files` (name to text; the first is the entry) to a fresh temporary directory, where Node
 * can import them, run `body` on the entry's path, and remove the directory. An import of the
 * console library written as from a corpus program (`'../../lib/console.ts'`) or as the
 * placeholder `'CONSOLE'` is pointed at the library.
 */
export async function withProgramFiles<T>(files: Record<string, string>, body: (entry: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-program-'));
  try {
    const lib = `'${path.relative(dir, path.join(ROOT, 'guest-kernel/lib/console.ts')).split(path.sep).join('/')}'`;
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text.replaceAll("'../../lib/console.ts'", lib).replaceAll("'CONSOLE'", lib));
    return await body(path.join(dir, Object.keys(files)[0]!));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The class (abi/isa.ts ClassCode) of every instruction word in the image's executable segments,
 * with the addresses where each occurs: how a test proves that a pv build holds no privileged or
 * sensitive instruction and a native build no hypercall.
 */
export function instructionClasses(image: GuestImage): Map<number, string[]> {
  const found = new Map<number, string[]>();
  for (const seg of image.segments) {
    if ((seg.flags & SEG_X) === 0) continue;
    const view = new DataView(seg.data.buffer, seg.data.byteOffset, seg.data.byteLength);
    for (let o = 0; o + 4 <= seg.data.length; o += 4) {
      const insn = decode(view.getUint32(o, true));
      if (!insn) continue;
      const cls = CLASS_TABLE[insn.opcode]!;
      const at = `0x${(seg.addr + o).toString(16)}`;
      found.set(cls, [...(found.get(cls) ?? []), at]);
    }
  }
  return found;
}
