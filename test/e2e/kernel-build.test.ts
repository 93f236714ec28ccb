/**
 * The guest kernel's build from the CLI (hypervisor/kernel-build.ts): user programs compiled for
 * the `user` target and embedded through a generated exec/programs.ts, the kernel compiled for
 * native and pv, cached by a hash of its sources (a second build reads the cache, a corrupt cache
 * file is rebuilt), the command line written into the image, and `tsvisor run` with no image.
 *
 * A cold build compiles every program and the kernel (tens of seconds on a loaded machine): each
 * target is built once, in beforeAll, into a temporary cache that the CLI also uses
 * (TSVISOR_CACHE_DIR). Other people may edit the tree while this runs; a step whose sources
 * changed under it is repeated (stable()), so that a cache miss means a bug, not an edit.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodeImage, SEG_R, SEG_W, SEG_X, type GuestImage } from '../../abi/image.ts';
import {
  buildKernel,
  cacheFile,
  CMDLINE_BYTES,
  CMDLINE_SYMBOL,
  compileUserProgram,
  KernelBuildError,
  keySources,
  programsSource,
  readCachedImage,
  sourceKey,
  storeCachedImage,
  toolVersions,
  userPrograms,
  withCmdline,
  type KernelBuild,
  type KernelTarget,
  type SourceFile,
} from '../../hypervisor/kernel-build.ts';
import { IMPLEMENTED_MODES } from '../../hypervisor/run.ts';
import { cli } from './cli-harness.ts';

const BUILD_MS = 900_000;

let cacheDir: string;
let dir: string;
const savedEnv = process.env.TSVISOR_CACHE_DIR;
const built: Partial<Record<KernelTarget, KernelBuild>> = {};
const logs: Partial<Record<KernelTarget, string[]>> = {};

const keyNow = (target: KernelTarget): string => sourceKey(target, toolVersions(), keySources());

/**
 * Run `body` until the tree's sources did not change while it ran (at most three tries); with
 * `cachedFirst`, the cache is brought up to date with the tree first (a build, silent or not), so
 * that what body sees is a tree whose image is cached.
 */
async function stable<T>(target: KernelTarget, body: () => Promise<T>, cachedFirst = false): Promise<T> {
  for (let i = 0; ; i++) {
    const before = keyNow(target);
    let r: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      if (cachedFirst) await build(target);
      r = { ok: true, value: await body() };
    } catch (error) {
      r = { ok: false, error };
    }
    if (keyNow(target) === before || i === 2) {
      if (r.ok) return r.value;
      throw r.error;
    }
  }
}

function build(target: KernelTarget, log?: string[]): Promise<KernelBuild> {
  return buildKernel(target, { cacheDir, ...(log ? { log: (l: string) => void log.push(l) } : {}) });
}

/** The bytes of `n` bytes at virtual address `at` of the image (from the segment holding them). */
function bytesAt(image: GuestImage, at: number, n: number): Uint8Array {
  const seg = image.segments.find((s) => at >= s.addr && at + n <= s.addr + s.memSize)!;
  const out = new Uint8Array(n);
  out.set(seg.data.subarray(at - seg.addr, Math.min(seg.data.length, at - seg.addr + n)));
  return out;
}

/** Byte equality of two images (expect's deep equality takes seconds over megabytes). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

beforeAll(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'tsvisor-kcache-'));
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-kbuild-'));
  process.env.TSVISOR_CACHE_DIR = cacheDir;
  // native: a plain cold build.
  logs.native = [];
  built.native = await stable('native', () => build('native', (logs.native = [])));
  // pv: a cold build over a corrupt file where its cache entry goes, which must be rebuilt.
  built.pv = await stable('pv', async () => {
    writeFileSync(cacheFile(cacheDir, 'pv', keyNow('pv')), 'TSVI but not an image');
    return build('pv', (logs.pv = []));
  });
}, BUILD_MS);

afterAll(() => {
  for (const d of [cacheDir, dir]) if (d) rmSync(d, { recursive: true, force: true });
  if (savedEnv === undefined) delete process.env.TSVISOR_CACHE_DIR;
  else process.env.TSVISOR_CACHE_DIR = savedEnv;
});

describe('buildKernel', () => {
  it('compiles once, says so once, and stores the image under its key', () => {
    const b = built.native!;
    expect(b.cached).toBe(false);
    expect(b.key).toMatch(/^[0-9a-f]{64}$/);
    expect(b.path).toBe(cacheFile(cacheDir, 'native', b.key));
    expect(logs.native).toEqual(['building the kernel (native)...']);
    const back = decodeImage(readFileSync(b.path));
    expect(back.ok && back.image.target).toBe('native');
    expect(b.image.symbols?.[CMDLINE_SYMBOL]).toBeTypeOf('number');
  });

  it('a second build with the same sources reads the cache: cached, the same key and the same bytes', async () => {
    const { first, second, log } = await stable('native', async () => {
      const first = await build('native');
      const log: string[] = [];
      return { first, second: await build('native', log), log };
    });
    expect(second.cached).toBe(true);
    expect(second.key).toBe(first.key);
    expect(log).toEqual([]);
    expect(same(encodeImage(second.image), encodeImage(first.image))).toBe(true);
    expect(same(encodeImage(second.image), readFileSync(second.path))).toBe(true);
  });

  it('a corrupt cache file is rebuilt, never trusted, and replaced by a good one', () => {
    const b = built.pv!;
    expect(b.cached).toBe(false);
    expect(logs.pv).toHaveLength(2);
    expect(logs.pv![0]).toMatch(/^note: the cached kernel .*kernel-pv-[0-9a-f]{16}\.img does not decode \(.*\): rebuilding it$/);
    expect(logs.pv![1]).toBe('building the kernel (pv)...');
    const back = decodeImage(readFileSync(b.path));
    expect(back.ok && back.image.target).toBe('pv');
  });

  it('embeds every user program, by name, in the kernel', () => {
    const names = userPrograms().map((p) => p.name);
    expect(names).toEqual([...names].sort());
    for (const b of [built.native!, built.pv!]) {
      expect(b.programs?.map((p) => p.name)).toEqual(names);
      if (names.length === 0) continue;
      const table = new TextEncoder().encode(names.map((n) => `${n} `).join(''));
      expect(b.image.segments.some((s) => contains(s.data, table))).toBe(true);
    }
  });
});

describe('the cache key', () => {
  const files: SourceFile[] = [
    { path: 'abi/a.ts', content: new TextEncoder().encode('export const A = 1;\n') },
    { path: 'guest-kernel/kernel/main.ts', content: new TextEncoder().encode('export function main(): number { return 0; }\n') },
  ];
  const versions = { tsvisor: '0.1.0', typescript: '6.0.3' };
  const key = sourceKey('native', versions, files);

  it('changes with any file, its path, the target or a version; not otherwise', () => {
    expect(sourceKey('native', versions, files.map((f) => ({ ...f })))).toBe(key);
    const edited = files.map((f, i) => (i === 1 ? { ...f, content: new TextEncoder().encode('export function main(): number { return 1; }\n') } : f));
    expect(sourceKey('native', versions, edited)).not.toBe(key);
    expect(sourceKey('native', versions, files.map((f, i) => (i === 0 ? { ...f, path: 'abi/b.ts' } : f)))).not.toBe(key);
    expect(sourceKey('native', versions, files.slice(1))).not.toBe(key);
    expect(sourceKey('pv', versions, files)).not.toBe(key);
    expect(sourceKey('native', { ...versions, tsvisor: '0.2.0' }, files)).not.toBe(key);
    expect(sourceKey('native', { ...versions, typescript: '6.0.4' }, files)).not.toBe(key);
    // Moving a byte from one file into the next is a different tree.
    const moved = [
      { path: 'x', content: new Uint8Array([1, 2]) },
      { path: 'y', content: new Uint8Array([3]) },
    ];
    const moved2 = [
      { path: 'x', content: new Uint8Array([1]) },
      { path: 'y', content: new Uint8Array([2, 3]) },
    ];
    expect(sourceKey('native', versions, moved)).not.toBe(sourceKey('native', versions, moved2));
  });

  it('names the cache file: so another key is another file', () => {
    const other = sourceKey('native', versions, files.slice(1));
    expect(cacheFile('/c', 'native', key)).toBe(`/c/kernel-native-${key.slice(0, 16)}.img`);
    expect(cacheFile('/c', 'native', other)).not.toBe(cacheFile('/c', 'native', key));
  });

  it('covers the compiler, its lib, the kernel, the ABI and the build itself, sorted', () => {
    const paths = keySources().map((f) => f.path);
    expect(paths).toEqual([...paths].sort());
    for (const p of ['guest-kernel/compiler/compile.ts', 'guest-kernel/lib/runtime.ts', 'guest-kernel/kernel/main.ts', 'guest-kernel/kernel/exec/programs.ts', 'abi/image.ts', 'hypervisor/kernel-build.ts']) {
      expect(paths).toContain(p);
    }
    expect(paths.some((p) => p.startsWith('guest-kernel/programs/'))).toBe(false);
  });
});

describe('the cache file', () => {
  it('is read from exactly the path its key names: what is there is what a build returns', async () => {
    const { marked, got, pristine } = await stable('native', async () => {
      const path = cacheFile(cacheDir, 'native', keyNow('native'));
      const pristine = readFileSync(path);
      const r = decodeImage(pristine);
      if (!r.ok) throw new Error('the native cache file does not decode');
      const marked = withCmdline(r.image, 'marked');
      writeFileSync(path, encodeImage(marked));
      return { marked, got: await build('native'), pristine };
    }, true);
    // Put the pristine image back for the tests that boot it.
    writeFileSync(got.path, pristine);
    expect(got.cached).toBe(true);
    expect(same(encodeImage(got.image), encodeImage(marked))).toBe(true);
  });

  it('is written whole through a rename, and a directory that cannot be written says why', () => {
    const img = built.native!.image;
    const path = join(dir, 'sub', 'kernel-native-0123456789abcdef.img');
    expect(storeCachedImage(path, 'native', encodeImage(img))).toBeUndefined();
    const r = readCachedImage(path, 'native');
    expect('image' in r).toBe(true);
    expect(readCachedImage(path, 'pv')).toEqual({ why: "holds a 'native' image" });
    expect(readCachedImage(join(dir, 'nothing.img'), 'native')).toEqual({});
    // Read as any input is: a FIFO where the image should be is refused, not waited on.
    const fifo = join(dir, 'fifo.img');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(readCachedImage(fifo, 'native')).toEqual({ why: expect.stringMatching(/^cannot be used \(.*FIFO.*\)$/i) });
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    expect(storeCachedImage(join(blocker, 'kernel-native-0123456789abcdef.img'), 'native', encodeImage(img))).toMatch(/^E[A-Z]+$/);
  });
});

describe('withCmdline', () => {
  it('writes the UTF-8 text and a NUL at kernelCmdline, in a copy', () => {
    const img = built.native!.image;
    const at = img.symbols![CMDLINE_SYMBOL]!;
    const before = encodeImage(img);
    const out = withCmdline(img, 'hello wörld');
    const text = new TextEncoder().encode('hello wörld');
    const got = bytesAt(out, at, CMDLINE_BYTES);
    expect(got.subarray(0, text.length)).toEqual(text);
    expect(got.subarray(text.length).every((b) => b === 0)).toBe(true);
    expect(same(encodeImage(img), before)).toBe(true); // the original is untouched
    // Overwriting a longer line leaves no tail of it behind.
    expect(bytesAt(withCmdline(withCmdline(img, 'a much longer line'), 'ab'), at, 4)).toEqual(new Uint8Array([97, 98, 0, 0]));
    // The same address space for pv: the symbol lies in a segment at its linked address.
    const pv = built.pv!.image;
    expect(bytesAt(withCmdline(pv, 'x y'), pv.symbols![CMDLINE_SYMBOL]!, 4)).toEqual(new Uint8Array([120, 32, 121, 0]));
  });

  it('takes 255 bytes and refuses 256 with one line', () => {
    const img = built.native!.image;
    expect(() => withCmdline(img, 'x'.repeat(255))).not.toThrow();
    expect(() => withCmdline(img, 'x'.repeat(256))).toThrow(KernelBuildError);
    expect(() => withCmdline(img, 'é'.repeat(128))).toThrow(/^the kernel command line is 256 bytes of UTF-8, at most 255 fit$/);
  });

  it('extends a segment whose zero-filled tail holds the array, and refuses an image without one', () => {
    const img: GuestImage = {
      target: 'native',
      abi: { major: 1, minor: 0 },
      entry: 0x1000,
      segments: [
        { addr: 0x1000, data: new Uint8Array(16), memSize: 16, flags: SEG_R | SEG_X },
        { addr: 0x2000, data: new Uint8Array([1, 2, 3]), memSize: 0x1000, flags: SEG_R | SEG_W },
      ],
      symbols: { [CMDLINE_SYMBOL]: 0x2800 },
    };
    const out = withCmdline(img, 'sh');
    const seg = out.segments[1]!;
    expect(seg.memSize).toBe(0x1000);
    expect(seg.data.length).toBe(0x800 + CMDLINE_BYTES);
    expect([...seg.data.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect([...seg.data.subarray(0x800, 0x803)]).toEqual([115, 104, 0]);
    expect(out.segments[0]).toBe(img.segments[0]);
    const back = decodeImage(encodeImage(out));
    expect(back.ok).toBe(true);
    expect(() => withCmdline({ ...img, symbols: {} }, '')).toThrow(/no 'kernelCmdline' symbol/);
    expect(() => withCmdline({ ...img, symbols: { [CMDLINE_SYMBOL]: 0x2f80 } }, '')).toThrow(/not inside one segment/);
  });
});

describe('the generated programs table', () => {
  it('has the stub’s three exports: names each followed by a space, n + 1 offsets, the images back to back', () => {
    const src = programsSource([
      { name: 'a', image: new Uint8Array([1, 2, 3]) },
      { name: 'sh', image: new Uint8Array([9]) },
    ]);
    expect(src).toContain("export const PROGRAM_NAMES = 'a sh ';");
    expect(src).toContain('export const programOffsets = new Int32Array([0, 3, 4]);');
    expect(src).toContain('export const programImages = new Uint8Array([1,2,3,9]);');
    const empty = programsSource([]);
    expect(empty).toContain("export const PROGRAM_NAMES = '';");
    expect(empty).toContain('export const programOffsets = new Int32Array([0]);');
  });

  it('a program that does not compile is one line per diagnostic naming its file', async () => {
    const bad = join(dir, 'bad.ts');
    writeFileSync(bad, 'export function main(): number {\n  return "no";\n}\n');
    const e = await compileUserProgram(bad).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(KernelBuildError);
    const err = e as KernelBuildError;
    expect(err.lines.length).toBeGreaterThan(0);
    for (const l of err.lines) expect(l).toMatch(/bad\.ts:\d+:\d+: error TS/);
    expect(err.message).toMatch(/^kernel build: user program .*bad\.ts: \d+ errors?, no image$/);
  });
});

describe('tsvisor run with no image', () => {
  it('--mode native -- echo a b: boots the kernel with that command line, from the cache (nothing built, nothing said)', async () => {
    const r = await stable('native', () => cli('run', '--mode', 'native', '--', 'echo', 'a', 'b'), true);
    expect(r.err).toBe('');
    expect(r.out).toContain('a b\n');
    expect(r.code).toBe(0);
  });

  it('--mode pv -- hello a b: the pv build, the program and its arguments', async () => {
    const r = await stable('pv', () => cli('run', '--mode', 'pv', '--json', '--', 'hello', 'a', 'b'));
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ mode: 'pv', stop: 'shutdown', exitCode: 0 });
    expect(j.console).toContain('hello, world\narg 1: a\narg 2: b\n');
  });

  it('trap and hw boot the native build; the other flags work as with an image', async () => {
    for (const mode of ['trap', 'hw']) {
      const r = await stable('native', () => cli('run', '--mode', mode, '--json', '--memory', '32', '--', 'echo', mode));
      expect(JSON.parse(r.out), mode).toMatchObject({ mode, stop: 'shutdown', exitCode: 0 });
      expect(JSON.parse(r.out).console, mode).toContain(`${mode}\n`);
    }
    const budget = await cli('run', '--mode', 'native', '--max-instructions', '1000', '--', 'echo', 'x');
    expect(budget.code).toBe(120);
  });

  it.skipIf(IMPLEMENTED_MODES.includes('bt'))('bt is refused as for an image, without building anything', async () => {
    const r = await cli('run', '--mode', 'bt', '--', 'echo');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^tsvisor: mode 'bt' is not implemented yet/);
    expect(r.err).not.toMatch(/building/);
  });

  it('refuses a command line over 255 bytes, and words after -- with an image, in one line each', async () => {
    const long = await cli('run', '--mode', 'native', '--', 'echo', 'x'.repeat(251));
    expect([long.code, long.err]).toEqual([2, 'tsvisor: the kernel command line is 256 bytes of UTF-8, at most 255 fit\n']);
    const both = await cli('run', join(dir, 'some.img'), '--', 'echo');
    expect(both.code).toBe(2);
    expect(both.err.trimEnd().split('\n')).toHaveLength(1);
    expect(both.err).toMatch(/after -- are the kernel's command line/);
  });

  it('tsvisor kernel build prints each image path and its sizes', async () => {
    const r = await stable('native', () => cli('kernel', 'build', '--target', 'native'), true);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^native: .*kernel-native-[0-9a-f]{16}\.img\n {2}\d+ bytes \(cached\); segments r-x \d+/);
    const bad = await cli('kernel', 'make');
    expect([bad.code, bad.err]).toEqual([2, "tsvisor: kernel: unknown subcommand 'make' (expected: build)\n"]);
  });
});
