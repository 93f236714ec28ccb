/**
 * The guest kernel's build, as the CLI drives it (`tsvisor run` with no image, `tsvisor kernel
 * build`): compile every user program of guest-kernel/kernel/user/ for the `user` target, link
 * their images into the kernel through a generated guest-kernel/kernel/exec/programs.ts (handed
 * to the compiler in memory, never written into the tree), compile guest-kernel/kernel/main.ts for
 * the `native` or `pv` target, and cache the result by a hash of its sources, as ccache does.
 *
 * DESIGN.md: the CLI is the one host part allowed to drive the guest compiler; this file is the
 * CLI's. The compiler (and the TypeScript compiler API it brings, over a second to load) is
 * imported only when something must be compiled: a cached boot does not pay for it.
 *
 * The command line goes into the image as QEMU's -append goes into a Linux setup header: the
 * kernel's `kernelCmdline` array (guest-kernel/kernel/boot/cmdline.ts), found by its symbol, gets
 * the UTF-8 text and a NUL in a copy of the image (withCmdline).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, encodeImage, formatImageError, type GuestImage, type ImageSegment } from '../abi/image.ts';
import { FileError, MAX_IMAGE_BYTES, readRegularFile } from './fs-util.ts';

/** The repository root (the compile's rootDir: paths in diagnostics and line tables are relative to it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const KERNEL_ENTRY = 'guest-kernel/kernel/main.ts';
/** The user programs: every *.ts directly in here (lib/ and tests/ are not programs). */
export const USER_DIR = 'guest-kernel/kernel/user';
/** The committed stub the build replaces, in memory, with the programs it compiled. */
export const PROGRAMS_FILE = 'guest-kernel/kernel/exec/programs.ts';
/** Every file under these goes into the cache key: the compiler, its runtime, the kernel, the ABI. */
export const KEY_DIRS: readonly string[] = ['guest-kernel/compiler', 'guest-kernel/lib', 'guest-kernel/kernel', 'abi'];
/** This file too: it writes the programs table the kernel is compiled with. */
const SELF = relative(REPO_ROOT, fileURLToPath(import.meta.url)).split(sep).join('/');
/** The kernel's command-line array (guest-kernel/kernel/boot/cmdline.ts): its symbol and size. */
export const CMDLINE_SYMBOL = 'kernelCmdline';
export const CMDLINE_BYTES = 256;
/** Default cache: where tools keep theirs (babel, eslint, vitest); TSVISOR_CACHE_DIR in the CLI overrides it. */
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'tsvisor');

export type KernelTarget = 'native' | 'pv';
export const KERNEL_TARGETS: readonly KernelTarget[] = ['native', 'pv'];

/**
 * A build that failed for a reason in the sources or the input (a compile error, a command line
 * too long): `lines` are printed as they are (one per compiler diagnostic, each naming its file),
 * then `message` as the verdict; never a stack trace.
 */
export class KernelBuildError extends Error {
  constructor(
    message: string,
    readonly lines: readonly string[] = [],
  ) {
    super(message);
    this.name = 'KernelBuildError';
  }
}

export interface BuildOptions {
  /** Where images are cached (default DEFAULT_CACHE_DIR); created when missing. */
  cacheDir?: string;
  /** Progress and notes, one line each: `building the kernel (native)...` only when it compiles. */
  log?: (line: string) => void;
}

export interface KernelBuild {
  image: GuestImage;
  /** True when the image came from the cache and nothing was compiled. */
  cached: boolean;
  /** The cache key: sha256 (hex) of the target, the versions and every source file (sourceKey). */
  key: string;
  /** The cache file the image is (or would have been) stored in. */
  path: string;
  /** The embedded programs with their encoded sizes; only when this call compiled them. */
  programs?: { name: string; bytes: number }[];
  /** Host milliseconds this call took. */
  ms: number;
}

/** One file of the cache key: its path relative to the root ('/'-separated) and its bytes. */
export interface SourceFile {
  path: string;
  content: Uint8Array;
}

/** Every regular file under KEY_DIRS, and this file, sorted by path (code-unit order, not locale). */
export function keySources(root: string = REPO_ROOT): SourceFile[] {
  const paths: string[] = [SELF];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) paths.push(p);
    }
  };
  for (const d of KEY_DIRS) walk(d);
  paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return paths.map((path) => ({ path, content: readFileSync(join(root, path)) }));
}

/**
 * The cache key: sha256 over the target, the tool's version, the TypeScript version the compiler
 * is built on, and each file's path, length and bytes (length-prefixed, so no two lists hash alike
 * by moving bytes from one file into the next).
 */
export function sourceKey(target: KernelTarget, versions: { tsvisor: string; typescript: string }, files: readonly SourceFile[]): string {
  const h = createHash('sha256');
  h.update(`tsvisor kernel build\0${target}\0${versions.tsvisor}\0${versions.typescript}\0${files.length}\0`);
  for (const f of files) {
    h.update(`${f.path}\0${f.content.length}\0`);
    h.update(f.content);
  }
  return h.digest('hex');
}

/** The versions in the key: package.json's, and the installed TypeScript's (read, not imported). */
export function toolVersions(root: string = REPO_ROOT): { tsvisor: string; typescript: string } {
  const version = (file: string): string => {
    try {
      return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      return 'unknown';
    }
  };
  return { tsvisor: version(join(root, 'package.json')), typescript: version(join(REPO_ROOT, 'node_modules', 'typescript', 'package.json')) };
}

/** `<cacheDir>/kernel-<target>-<first 16 hex digits of the key>.img`. */
export function cacheFile(cacheDir: string, target: KernelTarget, key: string): string {
  return join(cacheDir, `kernel-${target}-${key.slice(0, 16)}.img`);
}

/**
 * The cached image, or why there is none usable: missing (no why), not a regular file or too
 * large (read as any input is, fs-util.ts: a FIFO planted there does not hang the build), does not
 * decode, or is not a kernel of this target.
 */
export function readCachedImage(path: string, target: KernelTarget): { image: GuestImage } | { why?: string } {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path, 'cached kernel', MAX_IMAGE_BYTES);
  } catch (e) {
    if (!(e instanceof FileError)) throw e;
    return e.code === 'ENOENT' ? {} : { why: `cannot be used (${e.message.replace(/^cannot read cached kernel '.*?': /, '')})` };
  }
  const r = decodeImage(bytes);
  if (!r.ok) return { why: `does not decode (${formatImageError(r.error)})` };
  if (r.image.target !== target) return { why: `holds a '${r.image.target}' image` };
  if (r.image.symbols?.[CMDLINE_SYMBOL] === undefined) return { why: `has no '${CMDLINE_SYMBOL}' symbol` };
  return { image: r.image };
}

/**
 * Write `bytes` to `path` atomically: a temporary file in the same directory, then a rename, so a
 * concurrent reader sees the old file, no file, or the whole new one. Older images of the same
 * target are removed (the cache keeps one per target). Returns why it could not, if it could not.
 */
export function storeCachedImage(path: string, target: KernelTarget, bytes: Uint8Array): string | undefined {
  const dir = dirname(path);
  const tmp = join(dir, `.kernel-${target}-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, bytes, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // No directory, no temporary file.
    }
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
  const mine = new RegExp(`^kernel-${target}-[0-9a-f]{16}\\.img$`);
  try {
    for (const name of readdirSync(dir)) if (mine.test(name) && join(dir, name) !== path) rmSync(join(dir, name), { force: true });
  } catch {
    // A stale image left behind costs disk space, nothing else.
  }
  return undefined;
}

/**
 * The kernel image for `target`: from the cache when its key matches, otherwise compiled (user
 * programs, then the kernel) and cached. A cache file that does not decode is rebuilt, never
 * trusted; a cache that cannot be written is said once through `log`, and the image is returned.
 *
 * Asynchronous only so that the compiler is imported on a miss and not at all on a hit.
 */
export async function buildKernel(target: KernelTarget, opts: BuildOptions = {}): Promise<KernelBuild> {
  const t0 = performance.now();
  const root = REPO_ROOT;
  const log = opts.log ?? ((): void => {});
  const key = sourceKey(target, toolVersions(root), keySources(root));
  const path = cacheFile(opts.cacheDir ?? DEFAULT_CACHE_DIR, target, key);
  const hit = readCachedImage(path, target);
  if ('image' in hit) return { image: hit.image, cached: true, key, path, ms: performance.now() - t0 };
  if (hit.why) log(`note: the cached kernel ${path} ${hit.why}: rebuilding it`);
  log(`building the kernel (${target})...`);
  const { image, programs } = await compileKernel(target, root);
  const bytes = encodeImage(image);
  const failed = storeCachedImage(path, target, bytes);
  if (failed) log(`note: cannot write the kernel cache ${path} (${failed}): built without caching it`);
  // What a later call will read back from the cache, so that a fresh and a cached build agree.
  const back = decodeImage(bytes);
  if (!back.ok) throw new Error(`kernel build: the compiler's image does not decode: ${formatImageError(back.error)}`);
  return { image: back.image, cached: false, key, path, programs, ms: performance.now() - t0 };
}

/** The user programs: every guest-kernel/kernel/user/*.ts, sorted by name (the file's base name). */
export function userPrograms(root: string = REPO_ROOT): { name: string; file: string }[] {
  let names: string[];
  try {
    names = readdirSync(join(root, USER_DIR), { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
      .map((e) => e.name.slice(0, -'.ts'.length));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => ({ name, file: join(root, USER_DIR, `${name}.ts`) }));
}

/** A program name goes into PROGRAM_NAMES, space-separated, and is typed on the command line. */
const PROGRAM_NAME = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * The source of exec/programs.ts for these encoded images: the committed stub's three exports,
 * PROGRAM_NAMES ('hello sh '), programOffsets (n + 1 offsets) and programImages (back to back).
 */
export function programsSource(programs: readonly { name: string; image: Uint8Array }[]): string {
  const offsets = [0];
  for (const p of programs) offsets.push(offsets[offsets.length - 1]! + p.image.length);
  const total = offsets[offsets.length - 1]!;
  const bytes: string[] = [];
  for (const p of programs) for (const b of p.image) bytes.push(String(b));
  const lines = [
    `/** Generated by ${SELF} (not a file in the tree): ${programs.length} user program${programs.length === 1 ? '' : 's'}, ${total} bytes. */`,
    `export const PROGRAM_NAMES = '${programs.map((p) => `${p.name} `).join('')}';`,
    `export const programOffsets = new Int32Array([${offsets.join(', ')}]);`,
    // No programs: the stub's four bytes, as an empty typed array has no address to give.
    total === 0 ? 'export const programImages = new Uint8Array(4);' : `export const programImages = new Uint8Array([${bytes.join(',')}]);`,
  ];
  return lines.join('\n') + '\n';
}

type Compiler = typeof import('../guest-kernel/compiler/compile.ts');
type CompileOptions = import('../guest-kernel/compiler/types.ts').CompileOptions;

/** A failed compile as a KernelBuildError: one line per diagnostic, each naming its file. */
async function compileOrThrow(compiler: Compiler, entry: string, root: string, what: string, opts: CompileOptions): Promise<GuestImage> {
  const r = compiler.compile(entry, opts);
  if (r.ok) return r.image;
  const { formatDiagnostic } = await import('../guest-kernel/compiler/diagnostics.ts');
  const file = relative(root, entry).split(sep).join('/');
  const errors = r.diagnostics.filter((d) => d.category === 'error');
  const lines = r.diagnostics.map((d) => (d.pos ? formatDiagnostic(d) : `${file}: ${formatDiagnostic(d)}`));
  const n = errors.length || r.diagnostics.length;
  throw new KernelBuildError(`kernel build: ${what} ${file}: ${n} error${n === 1 ? '' : 's'}, no image`, lines);
}

/** One user program compiled for the `user` target (loaded by the kernel at USER_BASE). */
export async function compileUserProgram(file: string, root: string = REPO_ROOT): Promise<GuestImage> {
  const compiler = await import('../guest-kernel/compiler/compile.ts');
  return compileOrThrow(compiler, file, root, 'user program', { target: 'user', rootDir: root });
}

/** Compile the programs, then the kernel with their table in place of the stub. */
async function compileKernel(target: KernelTarget, root: string): Promise<{ image: GuestImage; programs: { name: string; bytes: number }[] }> {
  const compiler = await import('../guest-kernel/compiler/compile.ts');
  const programs: { name: string; image: Uint8Array }[] = [];
  for (const p of userPrograms(root)) {
    if (!PROGRAM_NAME.test(p.name)) {
      throw new KernelBuildError(`kernel build: ${USER_DIR}/${p.name}.ts: a program's name is 1 to 32 of A-Z a-z 0-9 _ . -`);
    }
    // Stripped, as an installed binary is: the symbols and the line table are for the host's
    // debugger and would be nine tenths of the bytes the kernel carries (its loader reads the
    // header and the segments; run-time errors name source lines from tables in the segments).
    const { symbols: _symbols, lines: _lines, ...stripped } = await compileUserProgram(p.file, root);
    programs.push({ name: p.name, image: encodeImage(stripped) });
  }
  const sources = new Map([[join(root, PROGRAMS_FILE), programsSource(programs)]]);
  const image = await compileOrThrow(compiler, join(root, KERNEL_ENTRY), root, 'kernel', { target, rootDir: root, sources });
  return { image, programs: programs.map((p) => ({ name: p.name, bytes: p.image.length })) };
}

/** The command line as the kernel reads it: UTF-8, at most CMDLINE_BYTES - 1 bytes (a NUL follows). */
export function cmdlineBytes(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > CMDLINE_BYTES - 1) {
    throw new KernelBuildError(`the kernel command line is ${bytes.length} bytes of UTF-8, at most ${CMDLINE_BYTES - 1} fit`);
  }
  return bytes;
}

/**
 * A copy of `image` whose `kernelCmdline` array holds `text` and a NUL (the rest of the array
 * zero). The symbol is a virtual address in the same space as the segments' addresses: native
 * images are linked where they load, and the pv domain builder maps each segment at its linked
 * guest-virtual address (pv/boot.ts). Where the array lies in a segment's zero-filled tail, past
 * its file bytes, the segment's data is extended to cover it (memSize is unchanged). Segments
 * other than the one written are shared with `image`, not copied.
 */
export function withCmdline(image: GuestImage, text: string): GuestImage {
  const bytes = cmdlineBytes(text);
  const at = image.symbols?.[CMDLINE_SYMBOL];
  if (at === undefined) throw new KernelBuildError(`the kernel image has no '${CMDLINE_SYMBOL}' symbol: it cannot take a command line`);
  const i = image.segments.findIndex((s) => at >= s.addr && at + CMDLINE_BYTES <= s.addr + s.memSize);
  if (i < 0) throw new KernelBuildError(`the kernel image's '${CMDLINE_SYMBOL}' (0x${at.toString(16)}) is not inside one segment`);
  const seg = image.segments[i]!;
  const off = at - seg.addr;
  const data = new Uint8Array(Math.max(seg.data.length, off + CMDLINE_BYTES));
  data.set(seg.data);
  data.fill(0, off, off + CMDLINE_BYTES);
  data.set(bytes, off);
  const copy: ImageSegment = { ...seg, data };
  return { ...image, segments: image.segments.map((s, j) => (j === i ? copy : s)) };
}
