/**
 * The kernel's file layer on the real block device (guest-kernel/kernel/fs/disk.ts, file.ts) and
 * the console's line discipline (kernel/dev/console.ts), through one kernel-mode guest,
 * kernel/fs/tests/file-check.ts, booted on a blank disk with scripted console input:
 * - the same transcript in native, trap, hw (native build) and pv (pv build), and the same disk
 *   bytes after the run: descriptors, refusals, open/read/write/close, a shared offset through
 *   fdInherit, O_APPEND, O_TRUNC applied with the first write, EMFILE, unlink (EBUSY while open),
 *   SYS_LIST's format, and console lines echoed with erase, CR and Ctrl-D;
 * - the store persists: a second boot on the same disk sees the first one's files;
 * - a corrupt store is refused with the boot-time check's line (the disk left as it was), a disk
 *   holding no store is refused rather than formatted, and no disk (0 sectors) is reported.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GuestImage } from '../../abi/image.ts';
import { runImage, type RunResult } from '../../hypervisor/run.ts';
import { compileFile, MODES, ROOT } from './helpers.ts';

const CHECK = path.join(ROOT, 'guest-kernel/kernel/fs/tests/file-check.ts');
const MAX = 200_000_000;
const SECTORS = 4096;
/**
 * Lines typed: an erase, a CR, Ctrl-D on an empty line, erases on an empty line, a line longer than
 * the line buffer (256), Ctrl-D again.
 */
const LONG = 'L'.repeat(300);
const INPUT = new TextEncoder().encode(`hello\nab\x7fc\r\x04more\n\x7f\x08x\n${LONG}\n\x04`);
/** Where inode 1 lies for a store of 4096 sectors: the inode table starts at sector 123 (fs/README.md). */
const INODE1 = 123 * 512 + 128;

const images: Record<'native' | 'pv', GuestImage> = {
  native: compileFile(CHECK, 'native').image,
  pv: compileFile(CHECK, 'pv').image,
};

function boot(mode: (typeof MODES)[number], disk?: Uint8Array): RunResult {
  return runImage(images[mode.target], { mode: mode.mode, maxInstructions: MAX, input: INPUT, ...(disk ? { disk } : {}) });
}

/** Two boots on one blank disk in every mode: the runs and the disk after each. */
const runs = MODES.map((m) => {
  const disk = new Uint8Array(SECTORS * 512);
  const first = boot(m, disk);
  const afterFirst = disk.slice();
  const second = boot(m, disk);
  return { mode: m.mode, first, afterFirst, second, disk };
});
const native = runs[0]!;

describe('file layer on the block device', () => {
  it('boots on a blank disk, formats it, and passes every check in every mode', () => {
    for (const r of runs) {
      expect({ mode: r.mode, stop: r.first.stop, exitCode: r.first.exitCode }).toEqual({ mode: r.mode, stop: 'shutdown', exitCode: 0 });
      expect(r.first.console).not.toContain('FAIL');
      expect(r.first.console).toContain(`disk 1 ${SECTORS} ${SECTORS}\nboot 1\n`);
    }
  });

  it('gives the same transcript and the same disk bytes in native, trap, hw and pv', () => {
    for (const r of runs) {
      expect({ mode: r.mode, console: r.first.console }).toEqual({ mode: r.mode, console: native.first.console });
      expect({ mode: r.mode, console: r.second.console }).toEqual({ mode: r.mode, console: native.second.console });
      expect({ mode: r.mode, same: Buffer.compare(r.afterFirst, native.afterFirst) === 0 }).toEqual({ mode: r.mode, same: true });
      expect({ mode: r.mode, same: Buffer.compare(r.disk, native.disk) === 0 }).toEqual({ mode: r.mode, same: true });
    }
  });

  it('descriptors, refusals and open files behave as the ABI says', () => {
    const c = native.first.console;
    for (const line of [
      'hello through fd 1\nfd1 write 19',
      'open bad flags -22 -22 trunc rdonly -22',
      'open names -22 -22 -36',
      'open missing -2 bad fd -9 -9 -9',
      'notes fd 3 write 40000 read on write-only -9',
      'close 0 again -9',
      'notes read 40000 true write on read-only -9',
      'unlink open -16 close 0',
      'inherit bad -9 inherit 0 child fds 1 2 1 0',
      'child stderr is the console\nfiles open 2\nafter child exit 1 out.txt 13\nparent;child;\nappend 17',
      // O_TRUNC is pending until the first write: the listing shows the file empty meanwhile.
      '   boots 1\n   notes 0\n   out.txt 17\nlist end -2 at 128\nfiles 3',
      'rewrite 3000 close 0 size 3000 true',
      'trunc then close 0 0',
      'opened 8 then -24',
      'unlink 0 again -2 long -36',
      'big 65536 0\n   boots 1\n   notes 3000\n   big.bin 65536\nlist end -2 at 128\nfiles 3',
    ]) expect(c).toContain(`${line}\n`);
  });

  it('the console echoes each line as it is read, with erase, CR as LF and Ctrl-D as end of input', () => {
    const c = native.first.console;
    expect(c).toContain(
      [
        'hello\nread [hello\\n] 6',
        'ab\b \bc\nread [ac\\n] 3',
        'read [] 0',
        'more\nread [mo] 2',
        'read [re\\n] 3',
        'x\nread [x\\n] 2',
        // A line as long as the buffer (256) is handed over as it is (xv6); the rest is the next line.
        `${LONG.slice(44)}read [] 256`,
        `${LONG.slice(256)}\nread [${LONG.slice(256)}\\n] 45`,
        'read [] 0',
        'failed 0',
      ].join('\n'),
    );
  });

  it('the store persists: a second boot on the same disk sees the first one\'s files', () => {
    for (const r of runs) {
      expect({ mode: r.mode, stop: r.second.stop, exitCode: r.second.exitCode }).toEqual({ mode: r.mode, stop: 'shutdown', exitCode: 0 });
      expect(r.second.console).toContain(`disk 0 ${SECTORS} ${SECTORS}\nboot 2\n   boots 1\n   notes 3000\n   big.bin 65536\n`);
      expect(r.second.console).toContain('files kept true\nfailed 0\n');
    }
  });

  it('a corrupt store is refused with the check\'s line, and the disk is left as it was', () => {
    for (const m of [MODES[0]!, MODES[3]!]) {
      const disk = native.afterFirst.slice();
      disk[INODE1 + 4]! ^= 0x40; // inode 1's size
      const before = disk.slice();
      const r = boot(m, disk);
      expect({ mode: m.mode, stop: r.stop, exitCode: r.exitCode, console: r.console }).toEqual({
        mode: m.mode,
        stop: 'shutdown',
        exitCode: 2,
        console: 'fs: refused: corrupt inode 1 (checksum mismatch)\ndisk -117 4096 0\n',
      });
      expect(Buffer.compare(disk, before)).toBe(0);
    }
  });

  it('a disk that holds no store is refused, not formatted; no disk at all is reported', () => {
    for (const m of [MODES[0]!, MODES[3]!]) {
      const disk = new Uint8Array(SECTORS * 512);
      disk.set(new TextEncoder().encode('someone else\'s data'), 0);
      const before = disk.slice();
      const r = boot(m, disk);
      expect({ mode: m.mode, exitCode: r.exitCode, console: r.console }).toEqual({
        mode: m.mode,
        exitCode: 2,
        console: 'fs: refused: no file store here (bad superblock magic)\ndisk -117 4096 0\n',
      });
      expect(Buffer.compare(disk, before)).toBe(0);
      const none = boot(m, new Uint8Array(0)); // pv's default is a blank 2 MiB disk
      expect({ mode: m.mode, exitCode: none.exitCode, console: none.console }).toEqual({ mode: m.mode, exitCode: 2, console: 'disk -19 0 0\n' });
    }
  });
});
