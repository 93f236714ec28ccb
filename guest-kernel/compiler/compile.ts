/**
 * The compiler driver: guest TypeScript entry file in, GuestImage out.
 *
 *   program.ts   load with the TypeScript compiler API; type errors are compile errors
 *   subset.ts    refuse constructs outside the subset, naming them
 *   lower*.ts    functions to IR (intrinsics.ts for the machine's instructions)
 *   optimize.ts  fold, number values, remove dead code, hoist loop invariants; induction.ts
 *                strength-reduces array indexing; unroll.ts unrolls small pointer loops
 *   regalloc.ts  linear-scan register allocation on the calling convention
 * Targets: native (the bare machine), pv (a paravirtual domain), user (a program of the guest
 * kernel, at privilege 3, linked at USER_BASE: startup.ts).
 *
 *   emit.ts      IR to assembly; peephole.ts; startup.ts adds the target's start-up code and
 *                the default exception handler's entry (guest-kernel/lib/runtime.ts, compiled
 *                into every program); runtime-tables.ts the tables that handler reads
 *   assembler.ts assembly to image; listing.ts maps addresses back to source lines
 *
 * Every problem in guest code comes back as a Diagnostic; an exception out of here is a bug.
 */
import path from 'node:path';
import ts from 'typescript';
import { SEG_X } from '../../abi/image.ts';
import { PAGE_SIZE } from '../../abi/isa.ts';
import { LOAD_BASE } from '../../abi/platform.ts';
// The user target's address space is the guest kernel's system-call ABI (plain constants, no imports).
import { USER_BASE, USER_STACK_PAGES, USER_STACK_TOP } from '../kernel/syscall-abi.ts';
import { type AsmLine, lineText } from './asm.ts';
import { assemble, formatAsmError } from './assembler.ts';
import { type FunctionInfo, GuestContext, targetMemory } from './context.ts';
import { DataSection, LabelAllocator } from './data.ts';
import { Code, DiagnosticBag, displayPath, sortDiagnostics, dropLibNoise } from './diagnostics.ts';
import { checkBlocks, emitFunction, emitJumpTables, type SiteLabel } from './emit.ts';
import { type IrFunction, type Loc, printFunction } from './ir.ts';
import { formatListing, lineTable } from './listing.ts';
import { FunctionLowerer } from './lower.ts';
import { minimalCleanup, optimizeFunction } from './optimize.ts';
import { setUnchecked } from './checks.ts';
import { countChecks } from './range.ts';
import { peephole } from './peephole.ts';
import { MAX_NESTING } from './limits.ts';
import { clearSourceCache, loadProgram } from './program.ts';
import { allocateRegisters, printAllocation } from './regalloc.ts';
import { RT_CODE_END_LABEL, RUNTIME_ENTRY_FUNCTION, RUNTIME_FILE, runtimeTables, type RuntimeTables } from './runtime-tables.ts';
import { ENTRY_LABEL, interruptStub, PV_GUARD_LABEL, runtimeEntry, stackLayout, startupCode } from './startup.ts';
import { SubsetChecker } from './subset.ts';
import { type CompileOptions, type CompileResult, type CompileStats, type Target, TARGETS } from './types.ts';

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
  if (!TARGETS.includes(opts.target)) {
    bag.add(Code.badOption, `unknown target '${String(opts.target)}' (expected native, pv or user)`);
    return { ok: false, diagnostics: bag.items };
  }
  const fail = (): CompileResult => ({ ok: false, diagnostics: sortDiagnostics(dropLibNoise(bag.items)) });

  let t = now();
  const loaded = loadProgram(entryFile, bag, {
    ...(opts.sources ? { sources: opts.sources } : {}),
    ...(opts.sharedDirs ? { sharedDirs: opts.sharedDirs } : {}),
    extraRoots: [RUNTIME_FILE],
  });
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
  if (opts.unchecked) setUnchecked(ctx);
  for (const sf of loaded.guestFiles) subset.checkFile(sf);
  const main = findMain(ctx, loaded.entry);
  const runtime = main ? findRuntime(ctx, loaded.program) : undefined;
  ms.check = now() - t;
  if (bag.errorCount > 0 || !main || !runtime) return fail();
  // Every function of a guest module is compiled, so that its errors are reported whether or not
  // main reaches it; only those main reaches are emitted.
  for (const sf of loaded.guestFiles) {
    for (const st of sf.statements) {
      if (ts.isFunctionDeclaration(st) && st.body) ctx.functionInfo(st);
      else if (ts.isClassDeclaration(st)) ctx.records.compileMethods(st);
    }
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
    // The run-time error handler runs once, if ever: not worth the optimiser's time in every compile.
    if (optimize && path.resolve(info.decl.getSourceFile().fileName) !== RUNTIME_FILE) optimizeFunction(fn);
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
  // Static data holding function addresses (function tables, function-valued module variables:
  // records.ts) makes them reachable once reachable code takes the data's address; such data
  // that only unreachable code used goes, or it would name functions that are not emitted.
  const dataRefs = new Map<string, readonly string[]>([
    ...data.tables.map((tb): [string, readonly string[]] => [tb.label, tb.entries]),
    ...data.words.flatMap((w): [string, readonly string[]][] => (typeof w.init === 'string' && lowered.has(w.init) ? [[w.label, [w.init]]] : [])),
  ]);
  const reachable = reachableFunctions([main.label, runtime.label], lowered, stubs, dataRefs);
  for (const list of [data.tables, data.words]) {
    const kept = list.filter((x) => !dataRefs.has(x.label) || reachable.has(x.label));
    list.splice(0, list.length, ...(kept as never[]));
  }
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
  const startup = [...startupCode(opts.target, main.label), ...runtimeEntry(opts.target, runtime.label)];
  const body = optimize ? peephole([...startup, ...code]) : [...startup, ...code];
  // The handler's own checks stay out of its table: a fault while it reports stops the machine at once.
  const runtimeFile = displayPath(RUNTIME_FILE, rootDir);
  const programSites = sites.filter((s) => s.site.file !== runtimeFile);
  const rt = runtimeTables(body, programSites, data, opts.target, ENTRY_LABEL, guardOf(opts.target));
  const { text, locs } = layout(opts.target, opts.loadAddress ?? defaultLoadAddress(opts.target), body, tables, data, rt);
  ms.emit += now() - t;

  t = now();
  const asmName = displayPath(path.resolve(entryFile).replace(/\.ts$/, '.s'), rootDir);
  const result = assemble(text, { fileName: asmName, target: opts.target });
  ms.assemble = now() - t;
  if (!result.ok) {
    for (const e of result.errors) bag.add(Code.internal, `compiler bug: the assembler refused generated code: ${formatAsmError(e)}`);
    return fail();
  }
  // Each array fits the target on its own (context.ts); together they must too, or the image
  // would be refused only when loaded. Name the largest, where the user can shrink one.
  const room = targetMemory(opts.target);
  const end = result.image.segments.reduce((n, s) => Math.max(n, s.addr + s.memSize), 0) - room.base;
  if (end > room.bytes) {
    const arrays = ctx.placedArrays();
    const names = arrays.slice(0, 3).map((a) => `'${a.decl.name.getText()}' (${a.bytes} bytes)`).join(', ');
    const message = `static data ends at ${end} bytes, past ${room.what} (${room.bytes} bytes)${names ? `; the largest arrays: ${names}` : ''}`;
    if (arrays[0]) bag.at(arrays[0].decl, Code.arrayTooLarge, message);
    else bag.add(Code.arrayTooLarge, message);
    return fail();
  }
  const codeBytes4 = (result.image.symbols?.[RT_CODE_END_LABEL] ?? 0) - (result.image.symbols?.[ENTRY_LABEL] ?? 0);
  if (codeBytes4 !== rt.codeWords * 4) {
    bag.add(Code.internal, `compiler bug: the run-time line table describes ${rt.codeWords * 4} bytes of code, the assembler placed ${codeBytes4}`);
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
    stats: {
      ms,
      functions: [...reachable].filter((l) => lowered.has(l)).length,
      codeBytes,
      dataBytes,
      sites: programSites.length,
      ...checkCounts([...lowered.values()].filter((fn) => reachable.has(fn.label) && fn.loc.file !== runtimeFile)),
    },
  };
}

/** Where the code goes when CompileOptions.loadAddress does not say: a user program at USER_BASE, where the kernel's loader wants it. */
function defaultLoadAddress(target: Target): number {
  return target === 'user' ? USER_BASE : LOAD_BASE;
}

/**
 * The stack's guard page, for the run-time error tables (a fault there is a stack overflow): pv's
 * is in the image; a user program's is the page the kernel leaves unmapped below the user stack
 * (syscall-abi.ts), an address known at link time; native start-up stores the one it chooses.
 */
function guardOf(target: Target): string | undefined {
  if (target === 'pv') return PV_GUARD_LABEL;
  if (target === 'user') return `0x${(USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE - PAGE_SIZE).toString(16)}`;
  return undefined;
}

/** Run-time checks kept in `fns` (not divisions), and those inside loops (range.ts). */
function checkCounts(fns: IrFunction[]): { checks: number; checksInLoops: number } {
  let checks = 0;
  let checksInLoops = 0;
  for (const fn of fns) {
    const c = countChecks(fn);
    checks += c.checks;
    checksInLoops += c.inLoops;
  }
  return { checks, checksInLoops };
}

/**
 * Labels of the functions (and interrupt stubs) main and the default exception handler reach
 * through calls, `addressOf` and `interruptEntry`, and through the function addresses in data
 * whose address they take (`dataRefs`; the data labels are in the set too): the ones worth
 * emitting.
 */
function reachableFunctions(
  roots: readonly string[],
  fns: ReadonlyMap<string, IrFunction>,
  stubs: ReadonlyMap<string, FunctionInfo>,
  dataRefs: ReadonlyMap<string, readonly string[]>,
): Set<string> {
  const seen = new Set<string>();
  const work = [...roots];
  while (work.length > 0) {
    const label = work.pop()!;
    if (seen.has(label)) continue;
    seen.add(label);
    const stub = stubs.get(label);
    if (stub) {
      work.push(stub.label);
      continue;
    }
    const refs = dataRefs.get(label);
    if (refs) {
      work.push(...refs);
      continue;
    }
    for (const b of fns.get(label)?.blocks ?? []) {
      for (const i of b.instrs) {
        if (i.k === 'call') work.push(i.target);
        else if (i.k === 'la' && (fns.has(i.sym) || stubs.has(i.sym) || dataRefs.has(i.sym))) work.push(i.sym);
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

/** The run-time error handler's entry function (guest-kernel/lib/runtime.ts), queued for compilation. */
function findRuntime(ctx: GuestContext, program: ts.Program): FunctionInfo | undefined {
  const decl = program
    .getSourceFile(RUNTIME_FILE)
    ?.statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === RUNTIME_ENTRY_FUNCTION && s.body !== undefined);
  const info = decl && ctx.functionInfo(decl);
  if (!info || info.params.length !== 4) {
    ctx.bag.add(Code.internal, `compiler bug: ${displayPath(RUNTIME_FILE, ctx.bag.rootDir)} has no function ${RUNTIME_ENTRY_FUNCTION}(vector, pc, faultAddr, tables)`);
    return undefined;
  }
  return info;
}

/**
 * The whole assembly file: code (read-execute) at the load address, then read-only data (string
 * literals, the run-time error tables) and writable data (the tables' header, module variables,
 * typed arrays, the fault stack; pv: the guard page and the boot stack; user: nothing more, the
 * kernel gives the stack), each on its own page so
 * a kernel that turns paging on can map them with the right permissions. Native start-up puts its
 * page tables after all of it (startup.ts).
 */
function layout(target: Target, loadAddress: number, code: AsmLine[], tables: AsmLine[], data: DataSection, rt: RuntimeTables): { text: string; locs: (Loc | undefined)[] } {
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
  add(`${RT_CODE_END_LABEL}:`);
  for (const l of tables) add(lineText(l));
  add('__text_end:');
  add('.org (__text_end + 0xfff) & ~0xfff, r');
  for (const l of data.rodataLines()) add(l.endsWith(':') ? l : `    ${l}`);
  for (const l of rt.rodata) add(l);
  add('.align 4');
  add('__rodata_end:');
  add('.org (__rodata_end + 0xfff) & ~0xfff, rw');
  for (const l of rt.header) add(l);
  for (const l of data.dataLines()) add(l.endsWith(':') ? l : `    ${l}`);
  for (const l of stackLayout(target)) add(l);
  return { text: lines.join('\n') + '\n', locs };
}
