/**
 * Stage 1, loading: build a TypeScript program for a guest entry file with the classic compiler
 * API (createProgram + type checker) and collect its pre-emit diagnostics. Type errors are compile
 * errors.
 *
 * The guest does not see lib.es*.d.ts: the program is built with `noLib` and our two declaration
 * files, guest-kernel/lib/lib.guest.d.ts (the little the subset supports) and
 * guest-kernel/lib/intrinsics.d.ts. Parsed source files are cached for the life of the process,
 * keyed by path and text, so a second compile re-parses only what changed; a first compile costs
 * about 0.1 s instead of the second-plus that parsing the default lib takes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { Code, DiagnosticBag, displayPath } from './diagnostics.ts';
import { checkNesting, scanNesting, type TooDeep } from './limits.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** guest-kernel/lib: the guest's declaration files and runtime library. */
export const GUEST_LIB_DIR = path.resolve(here, '../lib');
export const GUEST_STD_DECLS = path.join(GUEST_LIB_DIR, 'lib.guest.d.ts');
export const INTRINSICS_DECLS = path.join(GUEST_LIB_DIR, 'intrinsics.d.ts');
/** The console library: every program loads it, since `console.log` lowers to its functions. */
export const GUEST_CONSOLE = path.join(GUEST_LIB_DIR, 'console.ts');
/** The repository's abi/: shared with the host, see CompileOptions.sharedDirs. */
export const ABI_DIR = path.resolve(here, '../../abi');

/**
 * Compiler options for guest code. guest-kernel/tsconfig.guest.json states the same for editors;
 * test/guest-kernel/program.test.ts keeps the two in step.
 */
export const GUEST_COMPILER_OPTIONS: Readonly<ts.CompilerOptions> = {
  noLib: true,
  types: [],
  strict: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  allowImportingTsExtensions: true,
  noEmit: true,
  skipLibCheck: true,
};

export interface LoadedProgram {
  program: ts.Program;
  checker: ts.TypeChecker;
  entry: ts.SourceFile;
  /** Guest source files (not shared, not declarations), entry first. */
  guestFiles: ts.SourceFile[];
  isShared(sf: ts.SourceFile): boolean;
  isIntrinsicsFile(sf: ts.SourceFile): boolean;
}

interface CachedFile {
  text: string;
  sf: ts.SourceFile;
}
/** Parsed files by absolute path; an entry is reused only while the text is unchanged. */
const sourceCache = new Map<string, CachedFile>();

/** Drop every cached parse (tests of the cache itself). */
export function clearSourceCache(): void {
  sourceCache.clear();
}

/** A file nested too deeply for TypeScript's parser to be trusted with (limits.ts). */
interface RefusedFile extends TooDeep {
  fileName: string;
  text: string;
}

/**
 * `refused` collects the files nested too deeply to parse: each is given to TypeScript as an
 * empty file instead (and not cached), and loadProgram reports it and stops.
 */
function makeHost(sources: ReadonlyMap<string, string> | undefined, refused: RefusedFile[]): ts.CompilerHost {
  const readText = (fileName: string): string | undefined => {
    const mem = sources?.get(path.resolve(fileName));
    if (mem !== undefined) return mem;
    try {
      return fs.readFileSync(fileName, 'utf8');
    } catch {
      return undefined;
    }
  };
  return {
    getSourceFile(fileName, languageVersion) {
      const text = readText(fileName);
      if (text === undefined) return undefined;
      const cached = sourceCache.get(fileName);
      if (cached && cached.text === text) return cached.sf;
      const tooDeep = scanNesting(text);
      if (tooDeep) {
        refused.push({ ...tooDeep, fileName, text });
        return ts.createSourceFile(fileName, '', languageVersion, true);
      }
      const sf = ts.createSourceFile(fileName, text, languageVersion, true);
      sourceCache.set(fileName, { text, sf });
      return sf;
    },
    getDefaultLibFileName: () => GUEST_STD_DECLS,
    writeFile: () => undefined,
    getCurrentDirectory: () => process.cwd(),
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (f) => sources?.has(path.resolve(f)) === true || fs.existsSync(f),
    readFile: (f) => readText(f),
    directoryExists: (d) => fs.existsSync(d) || [...(sources?.keys() ?? [])].some((k) => k.startsWith(d + path.sep)),
    getDirectories: () => [],
  };
}

function isUnder(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Load `entryFile` and everything it imports, adding TypeScript's diagnostics for guest files to
 * `bag`. Returns undefined when the entry cannot be read, or when a file nests deeper than the
 * compiler accepts (limits.ts: checked over its tokens before TypeScript parses it, and over its
 * syntax tree before TypeScript type-checks it, since both recurse per level). With type errors
 * it still returns the program, so that the subset check can name unsupported constructs in the
 * same run (many of them, like `throw new Error()`, are also type errors against the guest's
 * tiny lib). `extraRoots` are guest modules loaded beside the entry's imports (the run-time
 * error handler every program carries).
 */
export function loadProgram(
  entryFile: string,
  bag: DiagnosticBag,
  opts: { sources?: ReadonlyMap<string, string>; sharedDirs?: readonly string[]; extraRoots?: readonly string[] } = {},
): LoadedProgram | undefined {
  const entryPath = path.resolve(entryFile);
  const refused: RefusedFile[] = [];
  const host = makeHost(opts.sources, refused);
  if (!host.fileExists(entryPath)) {
    bag.add(Code.entryNotFound, `entry file not found: ${entryFile}`);
    return undefined;
  }
  const sharedDirs = (opts.sharedDirs ?? [ABI_DIR]).map((d) => path.resolve(d));
  const program = ts.createProgram({
    rootNames: [entryPath, GUEST_STD_DECLS, INTRINSICS_DECLS, GUEST_CONSOLE, ...(opts.extraRoots ?? []).map((f) => path.resolve(f))],
    options: GUEST_COMPILER_OPTIONS,
    host,
  });
  const entry = program.getSourceFile(entryPath);
  if (!entry) {
    bag.add(Code.entryNotFound, `entry file could not be read: ${entryFile}`);
    return undefined;
  }
  // Nesting too deep for the recursive passes to come, TypeScript's checker first: stop here.
  for (const r of refused) bag.add(Code.nesting, r.message, { file: displayPath(r.fileName, bag.rootDir), ...lineCol(r.text, r.pos) });
  if (refused.length > 0) return undefined;
  const isShared = (sf: ts.SourceFile): boolean => sharedDirs.some((d) => isUnder(sf.fileName, d));
  const intrinsicsPath = path.resolve(INTRINSICS_DECLS);
  const isIntrinsicsFile = (sf: ts.SourceFile): boolean => path.resolve(sf.fileName) === intrinsicsPath;
  const guestFiles = [
    entry,
    ...program.getSourceFiles().filter((sf) => sf !== entry && !sf.isDeclarationFile && !isShared(sf)),
  ];
  let tooDeep = false;
  for (const sf of guestFiles) {
    const problem = checkNesting(sf);
    if (!problem) continue;
    bag.add(Code.nesting, problem.message, { file: displayPath(sf.fileName, bag.rootDir), ...lineCol(sf.text, problem.pos) });
    tooDeep = true;
  }
  if (tooDeep) return undefined;

  for (const d of program.getOptionsDiagnostics()) bag.addTs(d);
  for (const d of program.getGlobalDiagnostics()) bag.addTs(d);
  for (const sf of guestFiles) {
    const syntactic = program.getSyntacticDiagnostics(sf);
    for (const d of syntactic) bag.addTs(d);
    if (syntactic.length === 0) for (const d of program.getSemanticDiagnostics(sf)) bag.addTs(d);
  }
  return { program, checker: program.getTypeChecker(), entry, guestFiles, isShared, isIntrinsicsFile };
}

/** 1-based line and column of offset `pos` in `text`. */
function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: pos - start + 1 };
}
