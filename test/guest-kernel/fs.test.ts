/**
 * The file store (guest-kernel/kernel/fs/):
 * - its test program (kernel/fs/tests/fs-demo.ts: format, create, a 256 KiB file, read back,
 *   truncate, rewrite, unlink, list, remount, then one flipped byte per structure refused with its
 *   message) prints the same transcript in Node and in every mode, with no failure;
 * - crash consistency: a workload stopped after K sector writes, then mounted again, passes the
 *   boot-time check and shows a prefix of its operations, every file old or new — at every K in
 *   Node, and at 61 K spread over the run on the machine (native), with Node's transcript;
 * - a property: random creates, writes, truncates, unlinks and remounts give what a JS model of
 *   the files says, compiled for the machine (native).
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runInNode } from '../../guest-kernel/compiler/node-shim.ts';
import { agreeInEveryMode, compileFile, compileSource, ROOT, run } from './helpers.ts';

const FS = path.join(ROOT, 'guest-kernel/kernel/fs/tests');

describe('file store: the test program', () => {
  it('prints the same transcript in Node and in every mode, with no failure', async () => {
    const r = await agreeInEveryMode(path.join(FS, 'fs-demo.ts'), 300_000_000);
    expect(r.exitCode).toBe(0);
    expect(r.console).not.toContain('FAIL');
    expect(r.console).toContain('file store: ok');
    expect(r.console).toContain('create 1 2 3 again -17 long -36 empty -22');
    expect(r.console).toContain('write big 262144 chunk 32768');
    expect(r.console).toContain('read mid 3000 true');
    expect(r.console).toContain('truncate 0 600 grow -22');
    // The directory lists the same files before and after the remount.
    expect(r.console).toContain('hello.txt 4000\nnotes 600\nbig.bin 262144\nfiles 3\nremount 0\nhello.txt 4000\nnotes 600\nbig.bin 262144\nfiles 3\n');
    expect(r.console).toContain('made 64 remount 0 f63 size 100');
    for (const msg of [
      'fs: refused: no file store here (bad superblock magic)',
      'fs: refused: unsupported store version 3',
      'fs: refused: corrupt superblock (checksum mismatch)',
      'fs: refused: corrupt inode 3 (checksum mismatch)',
      'fs: refused: corrupt inode 127 (checksum mismatch)',
      'fs: refused: corrupt directory entry 1 (checksum mismatch)',
      'fs: refused: bitmap disagrees with the inodes at block',
      'fs: refused: corrupt log header',
    ]) expect(r.console).toContain(msg);
    expect(r.console.match(/-> -117\n/g)?.length).toBe(10);
  }, 120_000);
});

describe('file store: crash consistency', () => {
  it('a crash after any number of sector writes leaves a store that mounts, with a prefix of the operations (Node, every K)', async () => {
    const r = await runInNode(path.join(FS, 'fs-crash-all.ts'));
    expect(r.console).not.toContain('FAIL');
    expect(r.console).toContain('crash consistency: ok');
    const writes = Number(/workload writes (\d+) final state 11/.exec(r.console)?.[1]);
    expect(writes).toBeGreaterThan(300);
    expect(r.console).toContain(`crashes ${writes + 1} failures 0`);
    // Every state of the workload was seen after some crash: the crash points cover the run.
    for (let p = 0; p <= 11; p++) expect(r.console).toMatch(new RegExp(`prefix ${p} seen [1-9]`));
    expect(r.exitCode).toBe(0);
  }, 60_000);

  it('the same at 61 crash points on the machine (native), with Node\'s transcript', async () => {
    const file = path.join(FS, 'fs-crash.ts');
    const node = await runInNode(file);
    expect(node.console).toContain('crashes 61 failures 0');
    expect(node.console).toContain('crash consistency: ok');
    const r = run(compileFile(file, 'native').image, 'native', 1_500_000_000);
    expect({ stop: r.stop, exitCode: r.exitCode, console: r.console }).toEqual({ stop: 'shutdown', exitCode: 0, console: node.console });
  }, 120_000);
});

// ---- the property ----

/** [0, f] create; [1, f, len, seed] append; [2, f] unlink; [3, f, size] truncate; [4] remount. */
type Op = readonly number[];
const NFILES = 4;
const MAXLEN = 40000;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: NFILES - 1 }).map((f) => [0, f, 0, 0]) },
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: NFILES - 1 }), fc.oneof(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 0, max: MAXLEN })), fc.integer({ min: 0, max: 30 })).map(([f, l, s]) => [1, f, l, s]) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: NFILES - 1 }).map((f) => [2, f, 0, 0]) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: NFILES - 1 }), fc.integer({ min: 0, max: 50000 })).map(([f, s]) => [3, f, s, 0]) },
  { weight: 1, arbitrary: fc.constant([4, 0, 0, 0]) },
);
const opsArb = fc.array(opArb, { minLength: 1, maxLength: 25 });

const patternByte = (i: number, seed: number): number => (Math.imul(i, 31) + seed * 7 + (i >> 9)) & 255;
function fnv(bytes: readonly number[]): number {
  let h = (0x811c9dc5 ^ 0) | 0;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619);
  return h;
}

/** The model: each file's bytes, inode numbers handed out lowest first. */
function model(ops: readonly Op[]): string {
  const files = new Map<number, { inum: number; bytes: number[] }>();
  const out: string[] = [];
  const lowestFree = (): number => {
    const used = new Set([...files.values()].map((f) => f.inum));
    let i = 1;
    while (used.has(i)) i++;
    return i;
  };
  for (const [kind, f, a, b] of ops) {
    const file = files.get(f!);
    if (kind === 0) {
      if (file) out.push('c -17');
      else {
        const inum = lowestFree();
        files.set(f!, { inum, bytes: [] });
        out.push(`c ${inum}`);
      }
    } else if (kind === 1) {
      if (!file) out.push('w -2');
      else {
        for (let i = 0; i < a!; i++) file.bytes.push(patternByte(i, b!));
        out.push(`w ${a}`);
      }
    } else if (kind === 2) {
      out.push(`u ${file ? 0 : -2}`);
      files.delete(f!);
    } else if (kind === 3) {
      if (!file) out.push('t -2');
      else {
        const size = Math.min(a!, file.bytes.length);
        file.bytes.length = size;
        out.push('t 0');
      }
    } else out.push('m 0');
  }
  for (let f = 0; f < NFILES; f++) {
    const file = files.get(f);
    out.push(file ? `f ${f} ${file.bytes.length} ${fnv(file.bytes)}` : `f ${f} -2`);
  }
  return out.map((l) => `${l}\n`).join('');
}

function guestSource(ops: readonly Op[]): string {
  return `
import { fsCreate, fsFormat, fsMount, fsOpen, fsRead, fsSize, fsTruncate, fsUnlink, fsWrite } from '../../kernel/fs/fs.ts';
import { hashBytes } from '../../kernel/fs/layout.ts';
import { attachRamDisk, pattern } from '../../kernel/fs/tests/ramdisk.ts';
const ops = new Int32Array([${ops.flat().join(', ')}]);
const buf = new Uint8Array(${MAXLEN * 5});
const name = new Uint8Array(4);
function named(f: number): number {
  name[0] = 102;
  name[1] = 48 + f;
  return 2;
}
export function main(): number {
  attachRamDisk();
  if (fsFormat(4096) !== 0 || fsMount() !== 0) return 1;
  for (let i = 0; i < ops.length; i += 4) {
    const kind = ops[i];
    const f = ops[i + 1];
    const a = ops[i + 2];
    const inum = fsOpen(name, named(f));
    if (kind === 0) console.log('c', fsCreate(name, 2));
    else if (kind === 1) {
      if (inum < 0) console.log('w', inum);
      else {
        pattern(buf, a, ops[i + 3], 0);
        console.log('w', fsWrite(inum, fsSize(inum), buf, 0, a));
      }
    } else if (kind === 2) console.log('u', fsUnlink(name, 2));
    else if (kind === 3) console.log('t', inum < 0 ? inum : fsTruncate(inum, Math.min(a, fsSize(inum))));
    else console.log('m', fsMount());
  }
  for (let f = 0; f < ${NFILES}; f++) {
    const inum = fsOpen(name, named(f));
    if (inum < 0) console.log('f', f, inum);
    else {
      const n = fsRead(inum, 0, buf, 0, buf.length);
      console.log('f', f, n, hashBytes(buf, 0, n, 0));
    }
  }
  return 0;
}
`;
}

describe('file store: random operations against a model', () => {
  it('compiled for the machine (native)', () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const r = run(compileSource(guestSource(ops)).image, 'native', 400_000_000);
        expect({ stop: r.stop, exitCode: r.exitCode, console: r.console }).toEqual({ stop: 'shutdown', exitCode: 0, console: model(ops) });
      }),
      { numRuns: 12 },
    );
  }, 240_000);
});
