/**
 * `tsvisor compile`: files written atomically, one-line errors, exit codes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../abi/image.ts';
import { main } from '../../hypervisor/cli.ts';
import { PROGRAMS, run, VIRTUAL_DIR } from './helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-compile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const lines = (into: string[]) => (s: string) => void into.push(...s.replace(/\n$/, '').split('\n'));
  return { io: { out: lines(out), err: lines(err) }, out, err };
}

/** `tsvisor compile` through the CLI's own entry point. */
function compileCommand(a: { entry: string; target: string; out: string; listing?: string }, io: ReturnType<typeof capture>['io']): Promise<number> {
  return main(['compile', a.entry, '--target', a.target, '-o', a.out, ...(a.listing ? ['--listing', a.listing] : [])], io);
}

describe('tsvisor compile', () => {
  it('writes an image and a listing, and exits 0', async () => {
    const { io, out, err } = capture();
    const img = path.join(dir, 'fib.img');
    const lst = path.join(dir, 'fib.lst');
    const code = await compileCommand({ entry: `${PROGRAMS}/fib-recursive.ts`, target: 'native', out: img, listing: lst }, io);
    expect(code).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toContain('fib.img: native image');
    const decoded = decodeImage(new Uint8Array(fs.readFileSync(img)));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) {
      expect(run(decoded.image).exitCode).toBe(55);
      expect(decoded.image.lines!.some((l) => l.file === 'guest-kernel/programs/fib-recursive.ts')).toBe(true);
    }
    const listing = fs.readFileSync(lst, 'utf8');
    expect(listing).toContain('guest-kernel/programs/fib-recursive.ts:5: return n < 2 ? n : fib(n - 1) + fib(n - 2);');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('builds for pv', async () => {
    const { io } = capture();
    const img = path.join(dir, 'hello-pv.img');
    expect(await compileCommand({ entry: `${PROGRAMS}/hello.ts`, target: 'pv', out: img }, io)).toBe(0);
    const decoded = decodeImage(new Uint8Array(fs.readFileSync(img)));
    expect(decoded.ok && decoded.image.target).toBe('pv');
  });

  it('prints one line per error, no stack trace, writes nothing, and exits 2', async () => {
    const src = path.join(dir, 'bad.ts');
    fs.writeFileSync(src, 'export function main(): number {\n  const f = (x: number) => x;\n  return 1.5;\n}\n');
    const img = path.join(dir, 'bad.img');
    const { io, err } = capture();
    const code = await compileCommand({ entry: src, target: 'native', out: img }, io);
    expect(code).toBe(2);
    expect(fs.existsSync(img)).toBe(false);
    expect(err.some((l) => /bad\.ts:2:13: error TSG2001: closures are not supported/.test(l))).toBe(true);
    expect(err.some((l) => /bad\.ts:3:10: error TSG2005: floating-point literals are not supported/.test(l))).toBe(true);
    for (const l of err) {
      expect(l).not.toContain('\n');
      expect(l).not.toMatch(/^\s+at /);
    }
  });

  it('keeps the previous image when a compile fails', async () => {
    const img = path.join(dir, 'keep.img');
    fs.writeFileSync(img, 'previous');
    const { io } = capture();
    expect(await compileCommand({ entry: path.join(VIRTUAL_DIR, 'missing.ts'), target: 'native', out: img }, io)).toBe(2);
    expect(fs.readFileSync(img, 'utf8')).toBe('previous');
  });

  it('exits 2 with one line when the output cannot be written', async () => {
    const { io, err } = capture();
    const code = await compileCommand({ entry: `${PROGRAMS}/hello.ts`, target: 'native', out: path.join(dir, 'no/such/dir/x.img') }, io);
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    // The user's path, never the temporary file beside it.
    expect(err[0]).toBe(`tsvisor: cannot write image '${path.join(dir, 'no/such/dir/x.img')}': no such directory`);
  });

  it('refuses an unknown target', async () => {
    const { io, err } = capture();
    expect(await compileCommand({ entry: `${PROGRAMS}/hello.ts`, target: 'arm' as 'native', out: path.join(dir, 'x.img') }, io)).toBe(2);
    expect(err[0]).toContain("unknown target 'arm'");
  });
});
