/**
 * The tables the default exception handler (guest-kernel/lib/runtime.ts) reads to name a fault,
 * laid out as abi/runtime-tables.ts says, and the handler's vector and trap tables:
 * - a pc→line table: one word per run of instructions from one source line (length and line), so
 *   about a word per source line of code; a file table, one entry per change of file;
 * - the run-time check sites (emit.ts labels each trapping instruction), each with its file and
 *   its whole message after the file, `12:9: integer overflow in 'i * i'`, built here so that the
 *   guest only copies bytes; in code order, which is pc order;
 * - the names of exception vectors 0..31 (abi/isa.ts), strings shared with the program's;
 * - native: a 256-entry vector table whose exceptions (0..31) enter the handler's stub;
 *   pv: a trap table for set_trap_table with every named exception vector; user: neither (one
 *   entry, registered with the kernel by SYS_TRAP).
 *
 * The line table is built from the final assembly lines, before assembly, with each instruction's
 * size in words (`la` and `li32` are two, `li` one or two by its value, all others one); compile.ts
 * checks the sum against the assembled code, so a size rule that drifted is a compiler-bug
 * diagnostic, never a wrong line.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VECTOR_NAMES } from '../../abi/isa.ts';
import { RT_LINE_MASK, RT_LINE_SHIFT, RT_RUN_MAX_WORDS, RT_VECTORS } from '../../abi/runtime-tables.ts';
import type { AsmLine } from './asm.ts';
import type { DataSection } from './data.ts';
import type { SiteLabel } from './emit.ts';
import type { CheckKind } from './ir.ts';
import type { Target } from './types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The handler's source, compiled into every program; its entry function. */
export const RUNTIME_FILE = path.resolve(here, '../lib/runtime.ts');
export const RUNTIME_ENTRY_FUNCTION = 'runtimeError';

/** Labels (a '.' keeps them apart from every guest name). */
export const RT_TABLES_LABEL = '__rt.tables';
export const RT_ENTRY_LABEL = '__rt.entry';
export const RT_STACK_TOP_LABEL = '__rt.stack_top';
export const RT_VECTOR_TABLE_LABEL = '__rt.vectors';
export const RT_TRAP_TABLE_LABEL = '__rt.traps';
/** Placed after the last instruction the line table describes (before the jump tables). */
export const RT_CODE_END_LABEL = '__rt.code_end';

/** What each kind of run-time check reports. */
export const CHECK_MESSAGES: Readonly<Record<CheckKind, string>> = {
  overflow: 'integer overflow',
  bounds: 'index out of bounds',
  'inexact-division': 'inexact division',
  'division-by-zero': 'division by zero',
  unsigned: 'unsigned value out of range',
};

/** Longest source text a message quotes; a longer one is cut with "...". */
const MAX_QUOTED = 60;

/** The exception vectors the handler takes on pv (set_trap_table): those abi/isa.ts names. */
export const PV_TRAP_VECTORS: readonly number[] = Object.keys(VECTOR_NAMES)
  .map(Number)
  .filter((v) => v < RT_VECTORS)
  .sort((a, b) => a - b);

export interface RuntimeTables {
  /** Read-only data: the tables (after the string literals). */
  rodata: string[];
  /** Writable data: the header. */
  header: string[];
  /** Words of code the line table describes, from the entry to RT_CODE_END_LABEL. */
  codeWords: number;
}

/** Words an assembly line occupies in the code (see the file comment); 0 for labels and comments. */
export function instructionWords(l: AsmLine): number {
  if (l.kind !== 'ins') return 0;
  if (l.op === 'la' || l.op === 'li32') return 2;
  if (l.op !== 'li') return 1;
  const arg = (l.args[1] ?? '').trim();
  const v = arg.startsWith('-') ? -Number(arg.slice(1)) : Number(arg);
  if (!Number.isFinite(v)) return 2; // not a number: compile.ts's check reports the drift
  const signed = v | 0;
  return (signed >= -0x8000 && signed <= 0x7fff) || (v & 0xffff) === 0 ? 1 : 2;
}

/** The message after `file:` for a check site. */
export function siteMessage(site: SiteLabel['site']): string {
  let text = site.text.replace(/\s+/g, ' ').trim().replace(/[^\x20-\x7e]/g, '?');
  if (text.length > MAX_QUOTED) text = `${text.slice(0, MAX_QUOTED - 3)}...`;
  return `${site.line}:${site.col}: ${CHECK_MESSAGES[site.kind]} in '${text}'`;
}

/**
 * Build the tables for `code` (the final assembly lines, entry first) and `sites`; strings go to
 * `data` (call before its rodataLines). `guardLabel`: the stack's guard page when known at link
 * time (pv: the boot stack's, a label; user: the page below the user stack, an address), else
 * undefined (native start-up stores the one it chooses).
 */
export function runtimeTables(code: readonly AsmLine[], sites: readonly SiteLabel[], data: DataSection, target: Target, entryLabel: string, guardLabel: string | undefined): RuntimeTables {
  // Runs of instructions from one file and line; a file entry where the file changes.
  const runs: number[] = [];
  const files: string[] = [];
  let runFile: string | undefined;
  let runLine = -1;
  let runWords = 0;
  let offset = 0;
  let lastFile: string | undefined;
  const endRun = (): void => {
    if (runWords > 0) runs.push(((runWords << RT_LINE_SHIFT) | runLine) >>> 0);
    runWords = 0;
  };
  for (const l of code) {
    const words = instructionWords(l);
    if (words === 0 || l.kind !== 'ins') continue;
    const file = l.loc?.file;
    const line = l.loc && l.loc.line <= RT_LINE_MASK ? l.loc.line : 0;
    if (file !== runFile || line !== runLine || runWords + words > RT_RUN_MAX_WORDS) {
      endRun();
      runFile = file;
      runLine = line;
      if (file !== undefined && file !== lastFile) {
        files.push(`    .word ${entryLabel} + ${offset}, ${data.string(file)}`);
        lastFile = file;
      }
    }
    runWords += words;
    offset += 4 * words;
  }
  endRun();

  const rodata: string[] = ['.align 4', '; run-time error tables (abi/runtime-tables.ts)', '__rt.lines:'];
  for (let i = 0; i < runs.length; i += 8) rodata.push(`    .word ${runs.slice(i, i + 8).map((w) => `0x${w.toString(16)}`).join(', ')}`);
  rodata.push('__rt.files:', ...files, '__rt.sites:');
  for (const s of sites) rodata.push(`    .word ${s.label}, ${data.string(s.site.file)}, ${data.string(siteMessage(s.site))}`);
  rodata.push('__rt.vector_names:');
  const names = Array.from({ length: RT_VECTORS }, (_, v) => (VECTOR_NAMES[v] === undefined ? '0' : data.string(VECTOR_NAMES[v])));
  for (let i = 0; i < names.length; i += 8) rodata.push(`    .word ${names.slice(i, i + 8).join(', ')}`);
  if (target === 'native') {
    // Last, so that its zero tail is reserved rather than written to the file.
    rodata.push(`${RT_VECTOR_TABLE_LABEL}: ; exceptions 0..31 -> the default handler; the rest 0`);
    for (let i = 0; i < RT_VECTORS; i += 8) rodata.push(`    .word ${Array(8).fill(RT_ENTRY_LABEL).join(', ')}`);
    rodata.push(`    .space ${(256 - RT_VECTORS) * 4}`);
  } else if (target === 'pv') {
    rodata.push(`${RT_TRAP_TABLE_LABEL}: ; set_trap_table: {vector, handler} pairs`);
    for (const v of PV_TRAP_VECTORS) rodata.push(`    .word ${v}, ${RT_ENTRY_LABEL}`);
  }

  const header = [
    '.align 4',
    `${RT_TABLES_LABEL}: ; guard, code, lines, count, files, count, sites, count, vector names`,
    `    .word ${guardLabel ?? 0}, ${entryLabel}, __rt.lines, ${runs.length}, __rt.files, ${files.length}, __rt.sites, ${sites.length}, __rt.vector_names`,
  ];
  return { rodata, header, codeWords: offset / 4 };
}
