/**
 * Diagnostics: the catalogue of the compiler's message codes, the collector every stage reports
 * into, and the one function that formats a diagnostic as text (`file.ts:3:7: error TSG2001: ...`).
 *
 * Stages never throw for a problem in guest code: they add a diagnostic and carry on (or stop
 * after the stage). An exception out of a stage is a compiler bug.
 */
import path from 'node:path';
import ts from 'typescript';
import type { Diagnostic, SourcePos } from './types.ts';

/**
 * Stable codes. 1xxx: the program as a whole; 2xxx: a construct outside the subset; 3xxx: a
 * construct inside the subset used in a way the compiler cannot translate; 9xxx: compiler bugs.
 * Codes are never reused for a different meaning.
 */
export const Code = {
  entryNotFound: 'TSG1001',
  noMain: 'TSG1002',
  mainSignature: 'TSG1003',
  badOption: 'TSG1004',

  closure: 'TSG2001',
  classes: 'TSG2002',
  objects: 'TSG2003',
  dynamicArray: 'TSG2004',
  floatLiteral: 'TSG2005',
  anyType: 'TSG2006',
  stringValue: 'TSG2007',
  exceptions: 'TSG2008',
  statement: 'TSG2009',
  expression: 'TSG2010',
  type: 'TSG2011',
  declaration: 'TSG2012',
  topLevelStatement: 'TSG2013',
  arrayPlacement: 'TSG2014',
  arrayKind: 'TSG2015',
  tooManyParams: 'TSG2016',
  functionValue: 'TSG2017',
  moduleForm: 'TSG2018',
  nullish: 'TSG2019',
  /** Records and function values (records.ts, fn-values.ts); 2030.. so that other 20xx additions cannot collide. */
  recordForm: 'TSG2030',
  recordAllocation: 'TSG2031',
  recordField: 'TSG2032',
  recordShape: 'TSG2033',
  functionTable: 'TSG2034',
  unsupportedMath: 'TSG2020',
  /** An intrinsic the target cannot have (interruptEntry in a user program). */
  targetOnly: 'TSG2021',

  nonConstInit: 'TSG3001',
  literalRange: 'TSG3002',
  constDivZero: 'TSG3003',
  caseLabel: 'TSG3004',
  constArg: 'TSG3005',
  arrayLength: 'TSG3006',
  offsetRange: 'TSG3007',
  nesting: 'TSG3008',
  inexactDivision: 'TSG3009',
  unsignedLocal: 'TSG3010',
  arrayTooLarge: 'TSG3011',
  signMix: 'TSG3012',
  /** Run-time checks (checks.ts); 3020.. so that other 30xx additions cannot collide. */
  constOverflow: 'TSG3020',

  internal: 'TSG9001',
} as const;
export type CodeName = keyof typeof Code;

/** Collects diagnostics; positions are computed relative to `rootDir`. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  /** Node positions already reported, so one construct gives one message (not one per pass). */
  private readonly seen = new Set<string>();

  constructor(readonly rootDir: string) {}

  get errorCount(): number {
    return this.items.filter((d) => d.category === 'error').length;
  }

  add(code: string, message: string, pos?: SourcePos): void {
    const key = `${code}:${pos?.file}:${pos?.line}:${pos?.col}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.items.push(pos ? { code, category: 'error', message, pos } : { code, category: 'error', message });
  }

  /** An error at `node`. */
  at(node: ts.Node, code: string, message: string): void {
    this.add(code, message, posOfNode(node, this.rootDir));
  }

  /** A TypeScript diagnostic, passed through with its TSnnnn code. */
  addTs(d: ts.Diagnostic): void {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ').replace(/\s+/g, ' ');
    const code = `TS${d.code}`;
    if (d.file && d.start !== undefined) {
      const lc = d.file.getLineAndCharacterOfPosition(d.start);
      this.add(code, message, { file: displayPath(d.file.fileName, this.rootDir), line: lc.line + 1, col: lc.character + 1 });
    } else {
      this.add(code, message);
    }
  }
}

/** Where `node` starts (skipping leading trivia), relative to rootDir. */
export function posOfNode(node: ts.Node, rootDir: string): SourcePos {
  const sf = node.getSourceFile();
  const lc = sf.getLineAndCharacterOfPosition(node.getStart(sf));
  return { file: displayPath(sf.fileName, rootDir), line: lc.line + 1, col: lc.character + 1 };
}

/** A path as shown to people: relative to rootDir when inside it, with forward slashes. */
export function displayPath(fileName: string, rootDir: string): string {
  const rel = path.relative(rootDir, fileName);
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : fileName;
  return shown.split(path.sep).join('/');
}

/** The one formatting place: `file.ts:3:7: error TSG2001: closures are not supported (arrow function)`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.pos ? `${d.pos.file}:${d.pos.line}:${d.pos.col}: ` : '';
  return `${where}${d.category} ${d.code}: ${d.message}`;
}

/**
 * TypeScript's complaints about names and members the guest's tiny lib does not declare
 * (`Cannot find name 'Error'`, `... change your target library?`, `Property 'floor' does not
 * exist on type 'Math'`): noise when the compiler has already refused the construct.
 */
const LIB_NOISE = new Set(['TS2304', 'TS2552', 'TS2583', 'TS2584', 'TS2585', 'TS2339', 'TS2550', 'TS2551']);

/**
 * Drop the TypeScript lib noise that sits on a line where the compiler reported its own
 * subset error at or before the same column: the user gets one error per construct, the one that
 * says what the subset does instead (`exceptions are not supported ('throw')`, not also
 * `Cannot find name 'Error'`). Noise with no subset error beside it is kept.
 */
export function dropLibNoise(ds: readonly Diagnostic[]): Diagnostic[] {
  const subset = ds.filter((d) => d.pos && d.code.startsWith('TSG2'));
  return ds.filter(
    (d) => !(LIB_NOISE.has(d.code) && d.pos && subset.some((s) => s.pos!.file === d.pos!.file && s.pos!.line === d.pos!.line && s.pos!.col <= d.pos!.col)),
  );
}

/** Diagnostics sorted by file, line and column (whole-program ones first), for stable output. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => {
    if (!a.pos || !b.pos) return a.pos ? 1 : b.pos ? -1 : 0;
    return a.pos.file.localeCompare(b.pos.file) || a.pos.line - b.pos.line || a.pos.col - b.pos.col;
  });
}
