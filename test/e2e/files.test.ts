/**
 * Issue 10, end to end: files the user passes are never destroyed. Outputs that are not regular
 * files are refused and left as they were, symlinks keep being symlinks, one command's outputs
 * are written all or none; inputs that are not regular files end at once with one line; a
 * `--disk` is used in place (QEMU's raw image): only the written sectors reach it, its mode,
 * owner and sparseness are kept, and a read-only one is never written, in native (ATA) and pv
 * (virtio-blk).
 *
 * These tests run as root, which passes every permission check: "read-only" here is a file's
 * mode bits (which the code checks itself), and the one test that needs an unprivileged user runs
 * the command as user 65534 in a child process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeImage } from '../../abi/image.ts';
import { compile } from '../../guest-kernel/compiler/compile.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import { cli } from './cli-harness.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'hypervisor/bin/tsvisor.mjs');
const DEMO = join(ROOT, 'guest-kernel/programs/asm/demo.s');
const HELLO = join(ROOT, 'guest-kernel/programs/hello.ts');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const SECTOR = 512;
/** The sector the test guests write: 1 MiB into the disk. */
const TARGET = 2048;
/** What the native guest writes into every word of the sector. */
const WORD = 0x41424344;
/** What the pv guest writes into every word of the sector. */
const PV_WORD = 0x50565056;

function expectOneLineError(r: { code: number | null; err: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /);
  expect(r.err).not.toMatch(/\.tmp\b/);
}

let dir: string;
let nativeImg: string;
let pvImg: string;

/** A native guest: one ATA WRITE of sector `sector`, then FLUSH; shuts down with the status read
 *  after the write (1: ready; 0x81: ready and error). */
const nativeWriter = (sector: number): string => `
  li32 r1, ${sector}
  out 0x1f3, r1
  li r1, 1
  out 0x1f2, r1
  li r1, 0x30
  out 0x1f7, r1
  li32 r2, ${WORD}
  li r3, 128
l: out 0x1f0, r2
  addi r3, r3, -1
  li r4, 0
  bne r3, r4, l
  in r5, 0x1f7
  li r1, 0xe7
  out 0x1f7, r1
  out 0xf4, r5
`;

/** A pv guest: one virtio-blk OUT of sector TARGET, then FLUSH; shuts down with 100 + 10·(the
 *  write's status) + (the flush's status): 100 when both succeed, 110 when the write got IOERR. */
const PV_WRITER = `
import { blkFlush, blkInit, blkWrite } from '../../kernel/drivers/block.ts';

const buffer = new Uint8Array(1024);

export function main(): number {
  if (blkInit(0, 8, 0) < 0) return 9;
  const va = addressOf(buffer);
  for (let o = 0; o < 512; o += 4) store32(va + o, ${PV_WORD});
  const w = blkWrite(${TARGET}, va, 512);
  const f = blkFlush();
  return 100 + w * 10 + f;
}
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-files-'));
  chmodSync(dir, 0o755); // the unprivileged child must reach the files
  writeFileSync(join(dir, 'w.s'), nativeWriter(TARGET));
  nativeImg = join(dir, 'w.img');
  expect((await cli('asm', join(dir, 'w.s'), '-o', nativeImg)).code).toBe(0);
  const entry = join(ROOT, 'guest-kernel/programs/pv/files-test-writer.ts'); // in memory only
  const r = compile(entry, { target: 'pv', rootDir: ROOT, sources: new Map([[entry, PV_WRITER]]) });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  pvImg = join(dir, 'pv-w.img');
  writeFileSync(pvImg, encodeImage(r.image));
}, 120_000);

/** A fresh subdirectory for one test. */
let n = 0;
const sub = (): string => {
  const d = join(dir, `t${n++}`);
  mkdirSync(d);
  return d;
};

const sectorIs = (bytes: Uint8Array, sector: number, word: number): boolean => {
  const v = new DataView(bytes.buffer, bytes.byteOffset + sector * SECTOR, SECTOR);
  for (let o = 0; o < SECTOR; o += 4) if (v.getUint32(o, true) !== word) return false;
  return true;
};

describe('outputs that are not regular files are refused and left as they were', () => {
  it('a FIFO', async () => {
    const d = sub();
    const fifo = join(d, 'out.img');
    execFileSync('mkfifo', [fifo]);
    expectOneLineError(await cli('asm', DEMO, '-o', fifo), /^tsvisor: cannot write image '.*out\.img': not a regular file \(FIFO\)$/m);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(d)).toEqual(['out.img']);
  });

  it('a device node (made with mknod in a temporary directory)', async (ctx) => {
    const d = sub();
    const node = join(d, 'null');
    const made = spawnSync('mknod', [node, 'c', '1', '3'], { encoding: 'utf8' });
    if (made.status !== 0) {
      console.log(`skipped: mknod is not permitted here (${made.stderr.trim()})`);
      ctx.skip();
    }
    const before = lstatSync(node);
    expectOneLineError(await cli('asm', DEMO, '-o', node, '--listing', join(d, 'x.lst')), /^tsvisor: cannot write image '.*null': not a regular file \(character device\)$/m);
    const after = lstatSync(node);
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.ino, after.rdev]).toEqual([before.ino, before.rdev]);
    expect(readdirSync(d)).toEqual(['null']); // nor was the listing written
  });

  it('/dev/full', async () => {
    expectOneLineError(await cli('asm', DEMO, '-o', '/dev/full'), /^tsvisor: cannot write image '\/dev\/full': not a regular file \(character device\)$/m);
    expect(lstatSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('a directory', async () => {
    expectOneLineError(await cli('asm', DEMO, '-o', sub()), /cannot write image '.*': is a directory$/m);
  });
});

describe('outputs that are regular files', () => {
  it('through a symlink: the target holds the new image, the link stays a link', async () => {
    const d = sub();
    mkdirSync(join(d, 'real'));
    writeFileSync(join(d, 'real', 'demo.img'), 'old');
    symlinkSync('real/demo.img', join(d, 'demo.img'));
    expect((await cli('asm', DEMO, '-o', join(d, 'demo.img'))).code).toBe(0);
    expect(lstatSync(join(d, 'demo.img')).isSymbolicLink()).toBe(true);
    const r = await cli('run', join(d, 'real', 'demo.img'));
    expect(r.out).toContain('hello from a native tsvisor guest');
  });

  it('an existing image keeps its mode and owner', async () => {
    const p = join(sub(), 'demo.img');
    writeFileSync(p, 'old');
    chmodSync(p, 0o600);
    if (isRoot) chownSync(p, NOBODY, NOBODY);
    expect((await cli('asm', DEMO, '-o', p)).code).toBe(0);
    const st = statSync(p);
    expect(st.mode & 0o7777).toBe(0o600);
    if (isRoot) expect([st.uid, st.gid]).toEqual([NOBODY, NOBODY]);
    expect(st.size).toBeGreaterThan(3);
  });

  it('a read-only (0444) image is refused, even as root', async () => {
    const p = join(sub(), 'demo.img');
    writeFileSync(p, 'keep');
    chmodSync(p, 0o444);
    expectOneLineError(await cli('asm', DEMO, '-o', p), /cannot write image '.*demo\.img': read-only file \(mode 0444\)$/m);
    expect(readFileSync(p, 'utf8')).toBe('keep');
  });

  it('asm -o good.img --listing in a missing directory: exit 2, good.img not created, or unchanged if it existed', async () => {
    const d = sub();
    const good = join(d, 'good.img');
    const lst = join(d, 'nonexistent-dir', 'x.lst');
    expectOneLineError(await cli('asm', DEMO, '-o', good, '--listing', lst), /cannot write listing '.*x\.lst': no such directory$/m);
    expect(readdirSync(d)).toEqual([]);
    writeFileSync(good, 'previous image');
    const before = statSync(good);
    expectOneLineError(await cli('asm', DEMO, '-o', good, '--listing', lst), /cannot write listing/);
    const after = statSync(good);
    expect(readFileSync(good, 'utf8')).toBe('previous image');
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(readdirSync(d)).toEqual(['good.img']);
  });

  it('compile: a write error names the path the user gave, not a temporary file', { timeout: 120_000 }, async () => {
    const d = sub();
    const out = join(d, 'missing', 'hello.img');
    const r = await cli('compile', HELLO, '--target', 'native', '-o', out);
    expectOneLineError(r, new RegExp(`^tsvisor: cannot write image '${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}': no such directory$`, 'm'));
    const fifo = join(d, 'hello.lst');
    execFileSync('mkfifo', [fifo]);
    const r2 = await cli('compile', HELLO, '--target', 'native', '-o', join(d, 'hello.img'), '--listing', fifo);
    expectOneLineError(r2, /cannot write listing '.*hello\.lst': not a regular file \(FIFO\)$/m);
    expect(readdirSync(d).sort()).toEqual(['hello.lst']); // no image either: one transaction
  });
});

describe('inputs that are not regular files end at once with one line', () => {
  it('run /dev/zero', async () => {
    expectOneLineError(await cli('run', '/dev/zero'), /^tsvisor: cannot read image '\/dev\/zero': not a regular file \(character device\)$/m);
  });

  it('run --disk /dev/zero, and a directory as a disk', async () => {
    expectOneLineError(await cli('run', nativeImg, '--disk', '/dev/zero'), /cannot read disk image '\/dev\/zero': not a regular file \(character device\)$/m);
    expectOneLineError(await cli('run', nativeImg, '--disk', sub()), /cannot read disk image '.*': is a directory$/m);
  });

  it('run FIFO, run --disk FIFO and compile FIFO (in a child with a time limit: a regression would hang, not fail)', { timeout: 180_000 }, () => {
    const fifo = join(sub(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const args of [['run', fifo], ['run', nativeImg, '--disk', fifo], ['compile', fifo, '-o', join(sub(), 'x.img')]]) {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(r.signal).toBe(null);
      expectOneLineError({ code: r.status, err: r.stderr }, /not a regular file \(FIFO\)$/m);
    }
  });

  it('an image over the size limit', async () => {
    const big = join(sub(), 'big.img');
    execFileSync('truncate', ['-s', '65M', big]);
    expectOneLineError(await cli('run', big), /cannot read image '.*big\.img': 65 MiB, larger than the 64 MiB limit for images$/m);
  });
});

describe('--disk is used in place', () => {
  it('--disk-readonly without --disk is a usage error', async () => {
    expectOneLineError(await cli('run', nativeImg, '--disk-readonly'), /--disk-readonly: needs --disk FILE$/m);
  });

  const modes = [
    { mode: 'native', img: () => nativeImg, ok: 1, failed: 0x81, word: WORD },
    { mode: 'pv', img: () => pvImg, ok: 100, failed: 110, word: PV_WORD },
  ] as const;

  for (const m of modes) {
    describe(`${m.mode} (${m.mode === 'pv' ? 'virtio-blk' : 'ATA'})`, () => {
      it('a read-only (0444) disk: refused at start without --disk-readonly; with it the guest sees an error and the file is unchanged', async () => {
        const disk = join(sub(), 'ro.bin');
        writeFileSync(disk, new Uint8Array(2 * 1024 * 1024).fill(0x5a));
        chmodSync(disk, 0o444);
        const before = statSync(disk);
        expectOneLineError(await cli('run', m.img(), '--mode', m.mode, '--disk', disk, '--json'), /^tsvisor: cannot write disk image '.*ro\.bin': read-only file \(mode 0444\); pass --disk-readonly to use it read-only$/m);
        const r = await cli('run', m.img(), '--mode', m.mode, '--disk', disk, '--disk-readonly', '--json');
        expect(r.err).toBe('');
        const j = JSON.parse(r.out);
        expect(j.exitCode).toBe(m.failed);
        expect(j.disk).toMatchObject({ sectorsWritten: 0, errors: 1 });
        const after = statSync(disk);
        expect([after.mtimeMs, after.ino, after.size, after.mode]).toEqual([before.mtimeMs, before.ino, before.size, before.mode]);
        expect(readFileSync(disk).every((b) => b === 0x5a)).toBe(true);
      });

      it('a 0600 disk owned by another user keeps its mode, owner and inode after a run that writes it', async () => {
        const disk = join(sub(), 'private.bin');
        writeFileSync(disk, new Uint8Array(2 * 1024 * 1024));
        chmodSync(disk, 0o600);
        if (isRoot) chownSync(disk, NOBODY, NOBODY);
        const before = statSync(disk);
        const r = await cli('run', m.img(), '--mode', m.mode, '--disk', disk, '--json');
        expect(JSON.parse(r.out)).toMatchObject({ exitCode: m.ok, disk: { sectorsWritten: 1, errors: 0 } });
        const after = statSync(disk);
        expect(after.mode & 0o7777).toBe(0o600);
        expect([after.uid, after.gid, after.ino]).toEqual([before.uid, before.gid, before.ino]);
        expect(sectorIs(readFileSync(disk), TARGET, m.word)).toBe(true);
      });

      it('a 64 MiB sparse disk stays sparse after a one-sector write, and holds the sector', async () => {
        const disk = join(sub(), 'sparse.bin');
        execFileSync('truncate', ['-s', '64M', disk]);
        expect(statSync(disk).blocks * 512).toBeLessThan(64 * 1024);
        const r = await cli('run', m.img(), '--mode', m.mode, '--disk', disk, '--json');
        expect(JSON.parse(r.out).exitCode).toBe(m.ok);
        const st = statSync(disk);
        expect(st.size).toBe(64 * 1024 * 1024);
        expect(st.blocks * 512).toBeLessThan(64 * 1024);
        const bytes = readFileSync(disk);
        expect(sectorIs(bytes, TARGET, m.word)).toBe(true);
        expect(bytes.subarray(0, TARGET * SECTOR).every((b) => b === 0)).toBe(true);
      });

      it('a symlinked disk: the target is written, the link stays a link', async () => {
        const d = sub();
        writeFileSync(join(d, 'target.bin'), new Uint8Array(2 * 1024 * 1024));
        symlinkSync('target.bin', join(d, 'link.bin'));
        expect((await cli('run', m.img(), '--mode', m.mode, '--disk', join(d, 'link.bin'))).code).toBe(m.ok);
        expect(lstatSync(join(d, 'link.bin')).isSymbolicLink()).toBe(true);
        expect(sectorIs(readFileSync(join(d, 'target.bin')), TARGET, m.word)).toBe(true);
      });

      it('a disk in a read-only (0555) directory is written, and nothing else appears there', async () => {
        const d = sub();
        writeFileSync(join(d, 'disk.bin'), new Uint8Array(2 * 1024 * 1024));
        chmodSync(d, 0o555);
        // As root the directory's mode does not stop anything; what shows the in-place write is
        // that the directory holds the same one file, and the inode is the same.
        const ino = statSync(join(d, 'disk.bin')).ino;
        expect((await cli('run', m.img(), '--mode', m.mode, '--disk', join(d, 'disk.bin'))).code).toBe(m.ok);
        expect(readdirSync(d)).toEqual(['disk.bin']);
        expect(statSync(join(d, 'disk.bin')).ino).toBe(ino);
        expect(sectorIs(readFileSync(join(d, 'disk.bin')), TARGET, m.word)).toBe(true);
      });
    });
  }

  it.skipIf(!isRoot)('as an unprivileged user, a writable disk in a directory it cannot write is written (the old rename failed the run)', { timeout: 120_000 }, () => {
    const d = sub();
    const disk = join(d, 'disk.bin');
    writeFileSync(disk, new Uint8Array(2 * 1024 * 1024));
    chmodSync(disk, 0o666);
    chmodSync(d, 0o755); // root's directory: user 65534 cannot create a file in it
    const r = spawnSync(process.execPath, [BIN, 'run', nativeImg, '--disk', disk, '--json'], { encoding: 'utf8', uid: NOBODY, gid: NOBODY, timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).disk).toMatchObject({ sectorsWritten: 1 });
    expect(sectorIs(readFileSync(disk), TARGET, WORD)).toBe(true);
  });

  it('when the disk cannot be written at the end, the --json result is still printed, then one line, exit 2', { timeout: 120_000 }, () => {
    // RLIMIT_FSIZE (ulimit -f, in KiB here) makes writes beyond 512 KiB fail with EFBIG (Node
    // ignores SIGXFSZ): the guest's sector at 1 MiB cannot be written, neither at its FLUSH nor
    // at the end of the run.
    const disk = join(sub(), 'disk.bin');
    writeFileSync(disk, new Uint8Array(2 * 1024 * 1024));
    const r = spawnSync('bash', ['-c', `ulimit -f 512 && exec "$0" "$@"`, process.execPath, BIN, 'run', nativeImg, '--disk', disk, '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ stop: 'shutdown', exitCode: 1, disk: { sectorsWritten: 1 } });
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^tsvisor: cannot write disk image '.*disk\.bin': file too large$/)]);
    expect(readFileSync(disk).every((b) => b === 0)).toBe(true);
  });
});
