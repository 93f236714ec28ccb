/**
 * The compiler driver: guest TypeScript entry file in, GuestImage out.
 *
 *   program.ts   load with the TypeScript compiler API; type errors are compile errors
 *   subset.ts    refuse constructs outside the subset, naming them
 *   lower*.ts    functions to IR (intrinsics.ts for the machine's instructions)
 *   optimize.ts  fold, number values, remove dead code, hoist loop invariants; induction.ts
 *                strength-reduces array indexing; unroll.ts unrolls small pointer loops
 *   regalloc.ts  linear-scan register allocation on the calling convention
 *   emit.ts      IR to assembly; peephole.ts; startup.ts adds the target's start-up code
 *   assembler.ts assembly to image; listing.ts maps addresses back to source lines
 *
 * Every problem in guest code comes back as a Diagnostic; an exception out of here is a bug.
 */
import path from 'node:path';
import ts from 'typescript';
import { SEG_X } from '../../abi/image.ts';
import { LOAD_BASE } from '../../abi/platform.ts';
import { type AsmLine, lineText } from './asm.ts';
import { assemble, formatAsmError } from './assembler.ts';
import { type FunctionInfo, GuestContext } from './context.ts';
import { DataSection, LabelAllocator } from './data.ts';
import { Code, DiagnosticBag, displayPath, sortDiagnostics, dropLibNoise } from './diagnostics.ts';
import { checkBlocks, emitFunction, emitJumpTables, type SiteLabel } from './emit.ts';
import { type IrFunction, type Loc, printFunction } from './ir.ts';
import { formatListing, lineTable } from './listing.ts';
import { FunctionLowerer } from './lower.ts';
import { minimalCleanup, optimizeFunction } from './optimize.ts';
import { peephole } from './peephole.ts';
import { MAX_NESTING } from './limits.ts';
import { clearSourceCache, loadProgram } from './program.ts';
import { allocateRegisters, printAllocation } from './regalloc.ts';
import { ENTRY_LABEL, interruptStub, PV_BOOT_STACK_BYTES, STACK_TOP_LABEL, startupCode } from './startup.ts';
import { SubsetChecker } from './subset.ts';
import type { CompileOptions, CompileResult, CompileStats } from './types.ts';

const now = (): number => performance.now();

export function compile(entryFile: string, opts: CompileOptions): CompileResult {
  try {
    return compileProgram(entryFile, opts);
  } catch (e) {
    // The last resort behind limits.ts, which refuses nesting deep enough to overflow the host's
    // stack before any recursive pass runs: should something still overflow it (in TypeScript,
    // say, on a shape the estimate missed), the user gets a diagnostic, not a stack trace. The
    // parse cache goes, since TypeScript may have left a file half bound.
    if (!(e instanceof RangeError) || !/call stack/i.test(e.message)) throw e;
    clearSourceCache();
    const file = displayPath(path.resolve(entryFile), path.resolve(opts.rootDir ?? process.cwd()));
    const message = `program nested too deeply to compile (the compiler ran out of stack; keep nesting within ${MAX_NESTING} levels)`;
    return { ok: false, diagnostics: [{ code: Code.nesting, category: 'error', message, pos: { file, line: 1, col: 1 } }] };
  }
}

function compileProgram(entryFile: string, opts: CompileOptions): CompileResult {
  const rootDir = path.resolve(opts.rootDir ?? process.cwd());
  const bag = new DiagnosticBag(rootDir);
  const ms: CompileStats['ms'] = { load: 0, check: 0, lower: 0, optimize: 0, regalloc: 0, emit: 0, assemble: 0 };
  if (opts.target !== 'native' && opts.target !== 'pv') {
    bag.add(Code.badOption, `unknown target '${String(opts.target)}' (expected native or pv)`);
    return { ok: false, diagnostics: bag.items };
  }
  const fail = (): CompileResult => ({ ok: false, diagnostics: sortDiagnostics(dropLibNoise(bag.items)) });

  let t = now();
  const loaded = loadProgram(entryFile, bag, { ...(opts.sources ? { sources: opts.sources } : {}), ...(opts.sharedDirs ? { sharedDirs: opts.sharedDirs } : {}) });
  ms.load = now() - t;
  if (!loaded) return fail();

  t = now();
  const labels = new LabelAllocator();
  const data = new DataSection(labels);
  let subset: SubsetChecker | undefined;
  const checkedShared = new Set<ts.Declaration>();
  const ctx = new GuestContext(loaded, bag, opts.target, labels, data, (decl) => {
    if (checkedShared.has(decl)) return;
    checkedShared.add(decl);
    subset?.checkDeclaration(decl);
  });
  subset = new SubsetChecker(ctx);
  for (const sf of loaded.guestFiles) subset.checkFile(sf);
  const main = findMain(ctx, loaded.entry);
  ms.check = now() - t;
  if (bag.errorCount > 0 || !main) return fail();
  // Every function of a guest module is compiled, so that its errors are reported whether or not
  // main reaches it; only those main reaches are emitted.
  for (const sf of loaded.guestFiles) {
    for (const st of sf.statements) if (ts.isFunctionDeclaration(st) && st.body) ctx.functionInfo(st);
  }

  // Lower, optimise, allocate and emit each function reachable from main.
  const optimize = opts.optimize !== false;
  const lowered = new Map<string, IrFunction>();
  for (let k = 0; k < ctx.worklist.length; k++) {
    const info = ctx.worklist[k]!;
    t = now();
    const fn = new FunctionLowerer(ctx, info).lower();
    ms.lower += now() - t;
    if (bag.errorCount > 0) continue;
    opts.trace?.('lowered', fn.name, printFunction(fn));
    t = now();
    if (optimize) optimizeFunction(fn);
    else minimalCleanup(fn);
    checkBlocks(fn);
    ms.optimize += now() - t;
    opts.trace?.('optimized', fn.name, printFunction(fn));
    lowered.set(fn.label, fn);
  }
  if (bag.errorCount > 0) return fail();

  const code: AsmLine[] = [];
  const tables: AsmLine[] = [];
  /** Every run-time check's trapping instruction, for the table the default handlers search. */
  const sites: SiteLabel[] = [];
  const stubs = new Map([...ctx.functions.values()].flatMap((f) => (f.stubLabel ? [[f.stubLabel, f] as const] : [])));
  const reachable = reachableFunctions(main.label, lowered, stubs);
  for (const fn of lowered.values()) {
    if (!reachable.has(fn.label)) continue;
    t = now();
    const alloc = allocateRegisters(fn);
    ms.regalloc += now() - t;
    opts.trace?.('allocated', fn.name, printAllocation(alloc));
    t = now();
    code.push({ kind: 'comment', text: `function ${fn.name} (${fn.loc.file}:${fn.loc.line})` });
    code.push(...emitFunction(fn, alloc, sites));
    tables.push(...emitJumpTables(fn));
    ms.emit += now() - t;
  }
  t = now();
  for (const [stub, info] of stubs) {
    if (reachable.has(stub)) code.push(...interruptStub(opts.target, stub, info.label, locOf(info.decl, rootDir)));
  }
  const body = optimize ? peephole([...startupCode(opts.target, main.label), ...code]) : [...startupCode(opts.target, main.label), ...code];
  const { text, locs } = layout(opts.target, opts.loadAddress ?? LOAD_BASE, body, tables, data);
  ms.emit += now() - t;

  t = now();
  const asmName = displayPath(path.resolve(entryFile).replace(/\.ts$/, '.s'), rootDir);
  const result = assemble(text, { fileName: asmName, target: opts.target });
  ms.assemble = now() - t;
  if (!result.ok) {
    for (const e of result.errors) bag.add(Code.internal, `compiler bug: the assembler refused generated code: ${formatAsmError(e)}`);
    return fail();
  }
  const sources = new Map<string, string[]>();
  for (const sf of loaded.program.getSourceFiles()) {
    if (!sf.isDeclarationFile) sources.set(displayPath(sf.fileName, rootDir), sf.text.split('\n'));
  }
  const listingInput = { asm: result.listing, locs, sources };
  const image = { ...result.image, lines: lineTable(listingInput) };
  const codeBytes = image.segments.filter((s) => s.flags & SEG_X).reduce((n, s) => n + s.memSize, 0);
  const dataBytes = image.segments.filter((s) => !(s.flags & SEG_X)).reduce((n, s) => n + s.memSize, 0);
  return {
    ok: true,
    image,
    asm: text,
    listing: formatListing(listingInput, `tsvisor guest listing: ${displayPath(path.resolve(entryFile), rootDir)}, target ${opts.target}`),
    diagnostics: [],
    stats: { ms, functions: [...reachable].filter((l) => lowered.has(l)).length, codeBytes, dataBytes },
  };
}

/**
 * Labels of the functions (and interrupt stubs) main reaches through calls, `addressOf` and
 * `interruptEntry`: the ones worth emitting.
 */
function reachableFunctions(mainLabel: string, fns: ReadonlyMap<string, IrFunction>, stubs: ReadonlyMap<string, FunctionInfo>): Set<string> {
  const seen = new Set<string>();
  const work = [mainLabel];
  while (work.length > 0) {
    const label = work.pop()!;
    if (seen.has(label)) continue;
    seen.add(label);
    const stub = stubs.get(label);
    if (stub) {
      work.push(stub.label);
      continue;
    }
    for (const b of fns.get(label)?.blocks ?? []) {
      for (const i of b.instrs) {
        if (i.k === 'call') work.push(i.target);
        else if (i.k === 'la' && (fns.has(i.sym) || stubs.has(i.sym))) work.push(i.sym);
      }
    }
  }
  return seen;
}

function locOf(node: ts.Node, rootDir: string): Loc {
  const sf = node.getSourceFile();
  return { file: displayPath(sf.fileName, rootDir), line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 };
}

/** The entry module's exported `main(): number`, queued for compilation. */
function findMain(ctx: GuestContext, entry: ts.SourceFile): FunctionInfo | undefined {
  const sym = ctx.checker.getSymbolAtLocation(entry);
  let main = sym ? ctx.checker.getExportsOfModule(sym).find((s) => s.name === 'main') : undefined;
  if (main && main.flags & ts.SymbolFlags.Alias) main = ctx.checker.getAliasedSymbol(main);
  const decl = main?.valueDeclaration;
  if (!decl || !ts.isFunctionDeclaration(decl) || !decl.body) {
    ctx.bag.add(Code.noMain, 'the entry module must export a function main(): number', {
      file: displayPath(entry.fileName, ctx.bag.rootDir),
      line: 1,
      col: 1,
    });
    return undefined;
  }
  const info = ctx.functionInfo(decl);
  if (!info || info.params.length !== 0 || info.ret.kind !== 'int') {
    ctx.bag.at(decl.name ?? decl, Code.mainSignature, 'main must take no parameters and return a number (the shutdown code)');
    return undefined;
  }
  return info;
}

/**
 * The whole assembly file: code (read-execute) at the load address, then read-only data (string
 * literals) and writable data (module variables, typed arrays), each on its own page so a kernel
 * that turns paging on can map them with the right permissions.
 */
function layout(target: string, loadAddress: number, code: AsmLine[], tables: AsmLine[], data: DataSection): { text: string; locs: (Loc | undefined)[] } {
  const lines: string[] = [];
  const locs: (Loc | undefined)[] = [];
  const add = (text: string, loc?: Loc): void => {
    lines.push(text);
    locs.push(loc);
  };
  add(`; generated by the tsvisor guest compiler (guest-kernel/compiler)`);
  add(`.target ${target}`);
  add(`.entry ${ENTRY_LABEL}`);
  add(`.org 0x${loadAddress.toString(16)}, rx`);
  for (const l of code) add(lineText(l), l.kind === 'ins' ? l.loc : undefined);
  for (const l of tables) add(lineText(l));
  add('__text_end:');
  add('.org (__text_end + 0xfff) & ~0xfff, r');
  for (const l of data.rodataLines()) add(l.endsWith(':') ? l : `    ${l}`);
  add('.align 4');
  add('__rodata_end:');
  add('.org (__rodata_end + 0xfff) & ~0xfff, rw');
  for (const l of data.dataLines()) add(l.endsWith(':') ? l : `    ${l}`);
  add('.align 4');
  add('__data_end:');
  if (target === 'pv') {
    add('.align 16');
    add(`    .space ${PV_BOOT_STACK_BYTES} ; the boot stack (see startup.ts)`);
    add(`${STACK_TOP_LABEL}:`);
  }
  return { text: lines.join('\n') + '\n', locs };
}
