/**
 * Data shapes shared by the compiler's stages: targets, options, results, value types, and the
 * diagnostic record. The IR has its own file (ir.ts); everything else a stage hands to another is
 * declared here, so that a reader finds every contract in one place.
 */
import type { GuestImage } from '../../abi/image.ts';

/**
 * What an image is built for: 'native' boots on the bare machine (and in trap, bt, hw), 'pv' as a
 * paravirtual domain, 'user' is a program the guest kernel runs at privilege 3 in its own address
 * space (guest-kernel/kernel/syscall-abi.ts: linked at USER_BASE, talks to the kernel by SYSCALL).
 */
export type Target = 'native' | 'pv' | 'user';

/** The targets whose images boot on the machine or as a domain (a user image runs under the guest kernel). */
export type BootTarget = Exclude<Target, 'user'>;

/** Every target, in the order messages list them. */
export const TARGETS: readonly Target[] = ['native', 'pv', 'user'];

/**
 * The compile-time constants that say which target this is (lib/intrinsics.d.ts): TARGET_PV is 1
 * for pv, TARGET_USER 1 for user; both 0 for native. Folded in the same places (context.ts
 * constValue, lower-expr.ts), so an `if` on either compiles one arm only.
 */
export const TARGET_FLAGS: Readonly<Record<string, Target>> = { TARGET_PV: 'pv', TARGET_USER: 'user' };

/** 1 or 0 when `name` is one of TARGET_FLAGS, undefined for any other name. */
export function targetFlag(name: string, target: Target): number | undefined {
  const flagged = TARGET_FLAGS[name];
  return flagged === undefined ? undefined : flagged === target ? 1 : 0;
}

/** Element kinds of the supported typed arrays. */
export type ElemKind = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32';

/** Bytes per element, by kind. */
export const ELEM_BYTES: Readonly<Record<ElemKind, 1 | 2 | 4>> = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4 };

/** Constructor name of each kind, as guest code spells it. */
export const ELEM_TYPE_NAMES: Readonly<Record<ElemKind, string>> = {
  i8: 'Int8Array',
  u8: 'Uint8Array',
  i16: 'Int16Array',
  u16: 'Uint16Array',
  i32: 'Int32Array',
  u32: 'Uint32Array',
};

/**
 * What a guest value is at run time. Every value is one 32-bit word:
 * - int: a 32-bit two's-complement integer (TypeScript `number`, numeric enums and literals);
 * - bool: 0 or 1;
 * - string: the address of the first byte of a static string literal (length word just below);
 * - array: the address of element 0 of a static typed array (length word just below);
 * - void: no value (function results only).
 */
export type ValueType =
  | { readonly kind: 'int' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'string' }
  | { readonly kind: 'array'; readonly elem: ElemKind }
  /** A record: the address of an instance of the record class whose unique label is `name` (records.ts). */
  | { readonly kind: 'record'; readonly name: string }
  /** A RecordArray: the address of element 0 of a static array of records (length word just below). */
  | { readonly kind: 'records'; readonly name: string }
  /** A function value: the code address of a function declaration (fn-values.ts). */
  | { readonly kind: 'func' }
  /** A function table: the address of entry 0 of a read-only table of code addresses (length word just below). */
  | { readonly kind: 'funcs' }
  | { readonly kind: 'void' };

export const INT: ValueType = { kind: 'int' };
export const BOOL: ValueType = { kind: 'bool' };
export const STRING: ValueType = { kind: 'string' };
export const VOID: ValueType = { kind: 'void' };

export function typeName(t: ValueType): string {
  switch (t.kind) {
    case 'int':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'string':
      return 'string';
    case 'array':
      return ELEM_TYPE_NAMES[t.elem];
    case 'record':
      return t.name;
    case 'records':
      return `RecordArray<${t.name}>`;
    case 'func':
      return 'function';
    case 'funcs':
      return 'function table';
    case 'void':
      return 'void';
  }
}

/**
 * What the compiler knows of an int's value as JavaScript sees it, to keep guest and Node in step:
 * - 'u32': the result of `x >>> 0` (0..2^32-1 in JavaScript; the same bits as an int32 here), so
 *   comparisons and division use the unsigned instructions;
 * - 'nonneg': known to be in 0..2^31-1 (a byte load, `x >>> 3`, `x & 0xff`, a length).
 */
export type IntRange = 'u32' | 'nonneg';

/** What JavaScript knows of a typed-array element read back: a Uint32Array's is unsigned, like `x >>> 0`. */
export function elementRange(elem: ElemKind): IntRange | undefined {
  if (elem === 'u32') return 'u32';
  return elem === 'u8' || elem === 'u16' ? 'nonneg' : undefined;
}

/** A position in a guest source file; line and column count from 1. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export type DiagnosticCategory = 'error' | 'warning';

/**
 * One compiler message. `code` is stable (TSGnnnn for the guest compiler, TSnnnn for a TypeScript
 * diagnostic passed through); `file` is relative to the compile's root directory when inside it.
 * Formatted in exactly one place: diagnostics.ts `formatDiagnostic`.
 */
export interface Diagnostic {
  code: string;
  category: DiagnosticCategory;
  message: string;
  /** Absent for whole-program messages (bad options, missing entry file). */
  pos?: SourcePos;
}

export interface CompileOptions {
  target: Target;
  /** Paths in messages and in the line table are made relative to this (default: process.cwd()). */
  rootDir?: string;
  /**
   * Files under these directories are shared with the host (abi/): their TypeScript diagnostics
   * are not reported (the host build checks them against the full lib), and only the declarations
   * a guest actually uses are compiled and subset-checked. Default: the repository's abi/.
   */
  sharedDirs?: string[];
  /** In-memory sources by absolute path, consulted before the file system (tests). */
  sources?: ReadonlyMap<string, string>;
  /** Load address of the code (default LOAD_BASE from abi/platform.ts; for 'user', USER_BASE from guest-kernel/kernel/syscall-abi.ts). */
  loadAddress?: number;
  /** Optimisation passes on (default true); off gives a straightforward translation for debugging. */
  optimize?: boolean;
  /**
   * No run-time checks of overflow, array bounds, unsigned operands or inexact division
   * (`tsvisor compile --unchecked`), for comparison in benchmarks: such a program wraps and
   * reads or writes outside its arrays silently. Division by zero still traps (in hardware).
   */
  unchecked?: boolean;
  /** Called with each function's IR after lowering and after optimisation, and its allocation (debugging). */
  trace?: (stage: 'lowered' | 'optimized' | 'allocated', functionName: string, text: string) => void;
}

export interface CompileStats {
  /** Milliseconds spent in each stage. */
  ms: { load: number; check: number; lower: number; optimize: number; regalloc: number; emit: number; assemble: number };
  functions: number;
  codeBytes: number;
  dataBytes: number;
  /**
   * Run-time check sites in the program (trapping instructions the default exception handler
   * names by source position; those of the handler itself, guest-kernel/lib/runtime.ts, not counted).
   */
  sites: number;
  /**
   * Run-time checks the program keeps after the range analysis (overflow, bounds, unsigned and
   * inexact-division checks; not divisions, which trap on zero anyway), and how many of them sit
   * inside loops (compiler/range.ts). Both 0 with `unchecked`.
   */
  checks: number;
  checksInLoops: number;
}

export type CompileResult =
  | {
      ok: true;
      image: GuestImage;
      /** The assembly text given to the assembler. */
      asm: string;
      /** Human-readable listing: address, encoding, disassembly and source line. */
      listing: string;
      diagnostics: Diagnostic[];
      stats: CompileStats;
    }
  | { ok: false; diagnostics: Diagnostic[] };

/** For the default branch of a switch that covers every kind: a compile error if one is missed. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`compiler bug: unexpected ${what} ${JSON.stringify(x)}`);
}
