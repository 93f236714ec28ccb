/**
 * Issue 10, host side: files the user passes are never destroyed. fs-util.ts (outputs replaced
 * whole or not at all, regular files only, symlinks followed, mode and owner kept, in place when
 * the directory refuses a temporary file; inputs regular and bounded), disk-file.ts (a --disk
 * written in place, only the sectors the guest wrote), and the block devices' write observer and
 * read-only mode.
 *
 * Tests run as root here, which passes permission checks: a 0444 file is writable and a 0555
 * directory takes new files. Where that matters the test says how it gets the condition: the
 * mode bits (which fs-util checks itself), a hook that fails the temporary file's creation as a
 * read-only directory would, or a child process run as the unprivileged user 65534.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import * as P from '../../abi/platform.ts';
import * as R from '../../abi/ring.ts';
import { DiskFile } from '../../hypervisor/disk-file.ts';
import { BlockDevice } from '../../hypervisor/devices/block.ts';
import { VirtioBlock, VIRTIO_BLK_F_RO_MASK } from '../../hypervisor/devices/virtio/block.ts';
import { errnoWords, FileError, readRegularFile, writeOutputs } from '../../hypervisor/fs-util.ts';
import { bringUp, domain, DriverQueue, recorder } from './virtio/driver.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-fs-'));
});

/** The FileError thrown by f (fails the test if none). */
function fileError(f: () => unknown): FileError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FileError);
    expect((e as Error).message.split('\n')).toHaveLength(1);
    return e as FileError;
  }
  throw new Error('expected a FileError');
}

const noTemporaries = (d: string): void => expect(readdirSync(d).filter((n) => n.endsWith('.tmp'))).toEqual([]);

describe('errnoWords', () => {
  it('says what an errno means, and never repeats the path of the syscall', () => {
    const err = (code: string, message: string) => Object.assign(new Error(message), { code });
    expect(errnoWords(err('ENOENT', "ENOENT: no such file or directory, open '/x/.y.1.tmp'"))).toBe('no such file or directory');
    expect(errnoWords(err('EACCES', 'x'))).toBe('permission denied');
    expect(errnoWords(err('EPERM', 'x'))).toBe('permission denied');
    expect(errnoWords(err('ENOSPC', 'x'))).toBe('no space left on device');
    expect(errnoWords(err('EROFS', 'x'))).toBe('read-only file system');
    expect(errnoWords(err('EISDIR', 'x'))).toBe('is a directory');
    expect(errnoWords(err('EWEIRD', "EWEIRD: something odd, open '/x/.y.1.tmp'"))).toBe('something odd');
  });
});

describe('writeOutputs', () => {
  it('refuses a FIFO, a device and a directory with one line naming the path, and leaves them as they were', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(fileError(() => writeOutputs([{ path: fifo, data: enc('x'), what: 'image' }])).message).toBe(`cannot write image '${fifo}': not a regular file (FIFO)`);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(fileError(() => writeOutputs([{ path: '/dev/full', data: enc('x'), what: 'image' }])).message).toBe(`cannot write image '/dev/full': not a regular file (character device)`);
    expect(lstatSync('/dev/full').isCharacterDevice()).toBe(true);
    expect(fileError(() => writeOutputs([{ path: dir, data: enc('x'), what: 'listing' }])).message).toBe(`cannot write listing '${dir}': is a directory`);
    noTemporaries(dir);
  });

  it('follows a symlink (relative, and dangling): the target is replaced, the link stays a link', () => {
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'out.img'), 'old');
    symlinkSync('real/out.img', join(dir, 'link'));
    writeOutputs([{ path: join(dir, 'link'), data: enc('new'), what: 'image' }]);
    expect(lstatSync(join(dir, 'link')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'real', 'out.img'), 'utf8')).toBe('new');
    symlinkSync('real/fresh.img', join(dir, 'dangling'));
    writeOutputs([{ path: join(dir, 'dangling'), data: enc('fresh'), what: 'image' }]);
    expect(lstatSync(join(dir, 'dangling')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'real', 'fresh.img'), 'utf8')).toBe('fresh');
    noTemporaries(join(dir, 'real'));
  });

  it('keeps the mode and owner of an existing file; a new file gets 0666 less the umask', () => {
    const p = join(dir, 'secret.img');
    writeFileSync(p, 'old');
    chmodSync(p, 0o600);
    if (isRoot) chownSync(p, NOBODY, NOBODY);
    writeOutputs([{ path: p, data: enc('new'), what: 'image' }]);
    const st = statSync(p);
    expect(st.mode & 0o7777).toBe(0o600);
    if (isRoot) expect([st.uid, st.gid]).toEqual([NOBODY, NOBODY]);
    expect(readFileSync(p, 'utf8')).toBe('new');
    const q = join(dir, 'new.img');
    writeOutputs([{ path: q, data: enc('x'), what: 'image' }]);
    const umask = process.umask();
    expect(statSync(q).mode & 0o777).toBe(0o666 & ~umask);
  });

  it('refuses a file nobody may write (mode 0444), even as root, and leaves it as it was', () => {
    const p = join(dir, 'ro.img');
    writeFileSync(p, 'keep');
    chmodSync(p, 0o444);
    expect(fileError(() => writeOutputs([{ path: p, data: enc('new'), what: 'image' }])).message).toBe(`cannot write image '${p}': read-only file (mode 0444)`);
    expect(readFileSync(p, 'utf8')).toBe('keep');
  });

  it('is one transaction: when a later output cannot be staged, no output is written and no temporary file is left', () => {
    const img = join(dir, 'good.img');
    const e = fileError(() =>
      writeOutputs([
        { path: img, data: enc('image'), what: 'image' },
        { path: join(dir, 'missing', 'x.lst'), data: enc('listing'), what: 'listing' },
      ]),
    );
    expect(e.message).toBe(`cannot write listing '${join(dir, 'missing', 'x.lst')}': no such directory`);
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(img, 'old image');
    fileError(() =>
      writeOutputs([
        { path: img, data: enc('image'), what: 'image' },
        { path: '/dev/full', data: enc('listing'), what: 'listing' },
      ]),
    );
    expect(readFileSync(img, 'utf8')).toBe('old image');
    expect(readdirSync(dir)).toEqual(['good.img']);
  });

  it('a write that fails while staging (here: into /dev/full, ENOSPC) names the user path, never the temporary file, and removes it', () => {
    const p = join(dir, 'out.img');
    const e = fileError(() =>
      writeOutputs([{ path: p, data: enc('data'), what: 'image' }], {
        // The temporary file is created where it should be, but its fd writes to /dev/full.
        openTemp: (tmp, mode) => {
          closeSync(openSync(tmp, 'wx', mode));
          return openSync('/dev/full', 'w');
        },
      }),
    );
    expect(e.message).toBe(`cannot write image '${p}': no space left on device`);
    expect(e.message).not.toMatch(/\.tmp/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes an existing file in place when the directory refuses a temporary file (simulated: the hook fails with EACCES, as a 0555 directory would for a non-root user)', () => {
    const p = join(dir, 'disk.img');
    writeFileSync(p, 'a longer old content');
    const ino = statSync(p).ino;
    const refuse = (code: string) => () => {
      throw Object.assign(new Error(`${code}: refused`), { code });
    };
    writeOutputs([{ path: p, data: enc('new'), what: 'image' }], { openTemp: refuse('EACCES') });
    expect(readFileSync(p, 'utf8')).toBe('new'); // truncated to the new length
    expect(statSync(p).ino).toBe(ino); // the same file: written in place
    writeOutputs([{ path: p, data: enc('again'), what: 'image' }], { openTemp: refuse('EROFS') });
    expect(readFileSync(p, 'utf8')).toBe('again');
    // A new file cannot be written in place: the directory's refusal is the error.
    const q = join(dir, 'new.img');
    expect(fileError(() => writeOutputs([{ path: q, data: enc('x'), what: 'image' }], { openTemp: refuse('EACCES') })).message).toBe(`cannot write image '${q}': permission denied`);
  });

  it.skipIf(!isRoot)('as a real non-root user: a writable file in a 0555 directory is written in place; a root-owned file is written in place to keep its owner', () => {
    // Run as user 65534 in a child: root would pass the directory's permission check.
    const ro = join(dir, 'ro-dir');
    mkdirSync(ro);
    writeFileSync(join(ro, 'out.img'), 'old');
    chmodSync(join(ro, 'out.img'), 0o666);
    chmodSync(ro, 0o555);
    const rw = join(dir, 'rw-dir');
    mkdirSync(rw);
    writeFileSync(join(rw, 'root.img'), 'old');
    chmodSync(join(rw, 'root.img'), 0o666);
    chmodSync(rw, 0o777);
    chmodSync(dir, 0o755);
    const script = `import { writeOutputs } from ${JSON.stringify(join(ROOT, 'hypervisor/fs-util.ts'))};
writeOutputs([{ path: ${JSON.stringify(join(ro, 'out.img'))}, data: new TextEncoder().encode('new'), what: 'image' }]);
writeOutputs([{ path: ${JSON.stringify(join(rw, 'root.img'))}, data: new TextEncoder().encode('mine'), what: 'image' }]);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(ro, 'out.img'), 'utf8')).toBe('new');
    expect(readFileSync(join(rw, 'root.img'), 'utf8')).toBe('mine');
    expect(statSync(join(rw, 'root.img')).uid).toBe(0);
    expect(readdirSync(rw)).toEqual(['root.img']);
  }, 120_000);
});

describe('readRegularFile', () => {
  it('refuses a FIFO (without opening it: no hang), a device, a directory, a missing file and an oversized file, each with one line', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(fileError(() => readRegularFile(fifo, 'image', 1024)).message).toBe(`cannot read image '${fifo}': not a regular file (FIFO)`);
    expect(fileError(() => readRegularFile('/dev/zero', 'image', 1024)).message).toBe(`cannot read image '/dev/zero': not a regular file (character device)`);
    expect(fileError(() => readRegularFile(dir, 'image', 1024)).message).toBe(`cannot read image '${dir}': is a directory`);
    expect(fileError(() => readRegularFile(join(dir, 'nope'), 'image', 1024)).message).toBe(`cannot read image '${join(dir, 'nope')}': no such file or directory`);
    const big = join(dir, 'big');
    execFileSync('truncate', ['-s', '3M', big]);
    expect(fileError(() => readRegularFile(big, 'image', 2 * 1024 * 1024)).message).toBe(`cannot read image '${big}': 3 MiB, larger than the 2 MiB limit for images`);
    writeFileSync(join(dir, 'ok'), 'bytes');
    expect(new TextDecoder().decode(readRegularFile(join(dir, 'ok'), 'image', 1024))).toBe('bytes');
  });
});

describe('DiskFile', () => {
  const SECTOR = 512;

  it('writes back only the sectors noted, in place, and keeps the file sparse', () => {
    const p = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '64M', p]);
    const before = statSync(p);
    const df = DiskFile.open(p);
    df.bytes.fill(0x11, 100 * SECTOR, 101 * SECTOR);
    df.noteWrite(100 * SECTOR, SECTOR);
    df.bytes.fill(0x22, 102 * SECTOR, 103 * SECTOR);
    df.noteWrite(102 * SECTOR + 10, 1); // one byte marks its whole sector
    df.bytes[5000 * SECTOR] = 0x99; // changed but never noted: not written
    expect(df.dirtySectors).toBe(2);
    df.flush();
    expect(df.dirtySectors).toBe(0);
    expect(df.stats).toEqual({ sectorsFlushed: 2, flushes: 1 });
    df.flush(); // nothing dirty: no write
    expect(df.stats.flushes).toBe(1);
    df.close();
    const after = statSync(p);
    expect(after.ino).toBe(before.ino);
    expect(after.size).toBe(64 * 1024 * 1024);
    expect(after.blocks * 512).toBeLessThan(64 * 1024);
    const bytes = readFileSync(p);
    expect(bytes.subarray(100 * SECTOR, 101 * SECTOR).every((b) => b === 0x11)).toBe(true);
    expect(bytes.subarray(102 * SECTOR, 103 * SECTOR).every((b) => b === 0x22)).toBe(true);
    expect(bytes[5000 * SECTOR]).toBe(0);
  });

  it('coalesces adjacent dirty sectors, and bounds the dirty set by the disk', () => {
    const p = join(dir, 'disk.img');
    writeFileSync(p, new Uint8Array(8 * SECTOR + 100)); // a partial last sector
    const df = DiskFile.open(p);
    df.bytes.fill(7);
    df.noteWrite(2 * SECTOR, 3 * SECTOR);
    df.noteWrite(7 * SECTOR, 10 * SECTOR); // runs past the end: cut at the end
    expect(df.dirtySectors).toBe(3 + 2);
    df.flush();
    df.close();
    const bytes = readFileSync(p);
    expect(bytes.length).toBe(8 * SECTOR + 100);
    expect([...bytes.subarray(0, 2 * SECTOR)].every((b) => b === 0)).toBe(true);
    expect([...bytes.subarray(2 * SECTOR, 5 * SECTOR)].every((b) => b === 7)).toBe(true);
    expect([...bytes.subarray(5 * SECTOR, 7 * SECTOR)].every((b) => b === 0)).toBe(true);
    expect([...bytes.subarray(7 * SECTOR)].every((b) => b === 7)).toBe(true);
  });

  it('refuses a file nobody may write (even as root) unless opened read-only, and then never writes it', () => {
    const p = join(dir, 'ro.img');
    writeFileSync(p, new Uint8Array(4 * SECTOR));
    chmodSync(p, 0o444);
    expect(fileError(() => DiskFile.open(p)).message).toBe(`cannot write disk image '${p}': read-only file (mode 0444); pass --disk-readonly to use it read-only`);
    const df = DiskFile.open(p, { readOnly: true });
    df.bytes.fill(1);
    df.noteWrite(0, 4 * SECTOR); // ignored: a read-only disk has nothing to write back
    df.flush();
    df.close();
    expect(readFileSync(p).every((b) => b === 0)).toBe(true);
  });

  it('refuses what is not a regular file, or too large, before reading it', () => {
    expect(fileError(() => DiskFile.open('/dev/zero')).message).toBe(`cannot read disk image '/dev/zero': not a regular file (character device)`);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(fileError(() => DiskFile.open(fifo)).message).toMatch(/not a regular file \(FIFO\)$/);
    const big = join(dir, 'big');
    execFileSync('truncate', ['-s', '3G', big]);
    expect(fileError(() => DiskFile.open(big)).message).toBe(`cannot read disk image '${big}': 3 GiB, larger than the 2 GiB limit for disk images`);
  });

  it('a flush that cannot write throws a FileError and keeps the sectors dirty', () => {
    const p = join(dir, 'disk.img');
    writeFileSync(p, new Uint8Array(4 * SECTOR));
    const df = DiskFile.open(p);
    df.noteWrite(0, SECTOR);
    df.close();
    expect(fileError(() => df.flush()).message).toMatch(/^cannot write disk image '.*disk\.img': /);
    expect(df.dirtySectors).toBe(1);
  });
});

describe('block devices: write observer and read-only disks', () => {
  const irq = { raise: () => {} };

  /** Drive a one-sector ATA WRITE of `word` repeated; the status after it. */
  function ataWrite(dev: BlockDevice, sector: number, word: number): number {
    dev.portOut(P.BLK_SECTOR, sector);
    dev.portOut(P.BLK_COUNT, 1);
    dev.portOut(P.BLK_COMMAND, P.BLK_CMD_WRITE);
    for (let i = 0; i < P.BLK_SECTOR_BYTES / 4; i++) dev.portOut(P.BLK_DATA, word);
    return dev.portIn(P.BLK_COMMAND);
  }

  it('ATA: onWrite hears each write; a read-only disk fails the write with the error bit, once, and is untouched', () => {
    const disk = new Uint8Array(4 * P.BLK_SECTOR_BYTES);
    const seen: Array<[number, number]> = [];
    const dev = new BlockDevice(disk, irq, undefined, { onWrite: (o, l) => seen.push([o, l]) });
    expect(ataWrite(dev, 2, 0x01020304)).toBe(P.BLK_STATUS_READY);
    expect(seen).toEqual([[2 * 512, 512]]);
    const ro = new BlockDevice(new Uint8Array(4 * P.BLK_SECTOR_BYTES), irq, undefined, { readOnly: true, onWrite: () => seen.push([-1, -1]) });
    expect(ataWrite(ro, 1, 0x01020304)).toBe(P.BLK_STATUS_READY | P.BLK_STATUS_ERROR);
    expect(ro.disk.every((b) => b === 0)).toBe(true);
    expect(ro.stats).toEqual({ sectorsRead: 0, sectorsWritten: 0, errors: 1 });
    expect(seen).toHaveLength(1);
  });

  it('virtio-blk: onWrite hears each OUT; a read-only disk offers VIRTIO_BLK_F_RO (bit 5) and answers OUT with IOERR, untouched', () => {
    for (const readOnly of [false, true]) {
      const d = domain();
      const disk = new Uint8Array(8 * 512);
      const seen: Array<[number, number]> = [];
      const blk = new VirtioBlock({ name: 'dom1.blk', mem: d.ring, notify: recorder().notify, disk, readOnly, onWrite: (o, l) => seen.push([o, l]) });
      expect((blk.offeredFeatures & VIRTIO_BLK_F_RO_MASK) !== 0).toBe(readOnly);
      const q = new DriverQueue(d.mem, d.arena, 8, true);
      bringUp(blk, [[0, q]]);
      const h = new Uint8Array(R.VIRTIO_BLK_REQ_HEADER_BYTES);
      new DataView(h.buffer).setUint32(R.VIRTIO_BLK_REQ_TYPE, R.VIRTIO_BLK_T_OUT, true);
      new DataView(h.buffer).setUint32(R.VIRTIO_BLK_REQ_SECTOR_LO, 3, true);
      const st = d.arena.alloc(1, 1);
      q.add([
        { addr: d.arena.put(h), len: 16 },
        { addr: d.arena.put(new Uint8Array(512).fill(0xab)), len: 512 },
        { addr: st, len: 1, write: true },
      ]);
      q.publish();
      blk.kick(0);
      expect(d.mem.u8[st]).toBe(readOnly ? R.VIRTIO_BLK_S_IOERR : R.VIRTIO_BLK_S_OK);
      expect(disk.subarray(3 * 512, 4 * 512).every((b) => b === (readOnly ? 0 : 0xab))).toBe(true);
      expect(seen).toEqual(readOnly ? [] : [[3 * 512, 512]]);
      expect(blk.blockStats.ioErrors).toBe(readOnly ? 1 : 0);
    }
  });
});
