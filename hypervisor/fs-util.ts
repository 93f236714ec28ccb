/**
 * The host's file handling for paths the user names: files the user passes are never destroyed.
 *
 * Outputs (images, listings, JSON, SVG) are replaced whole or not at all: a temporary file in the
 * target's directory, fsync, then rename over the target, so a crash or a full disk leaves the
 * old file intact. Around that:
 * - Only a regular file is ever replaced. An existing device, FIFO, socket or directory is
 *   refused with one line. (Writing into a device or FIFO in place is what the user might mean by
 *   `-o /dev/stdout`, but it is also how `-o /dev/full` as root turned a device node into a plain
 *   file; refusing is the simple rule that never destroys one.)
 * - A symlink is followed: its target is replaced and the link stays a link.
 * - An existing file keeps its permissions and owner (the temporary file gets them before the
 *   rename); a new file gets the default mode (0666 less the umask).
 * - A file with no write permission (mode bits, which root would otherwise ignore, or access(2))
 *   is refused: read-only is the user saying "do not write this", and a rename would bypass it.
 * - When the directory refuses a temporary file (EACCES, EPERM, EROFS) but the file itself can be
 *   written, it is written in place (write, truncate, fsync). That gives up atomicity — a crash
 *   midway leaves a mixed file — but it is the only way to write it at all, and refusing would
 *   fail a command the user can see should work. The same happens when the owner cannot be kept
 *   (fchown EPERM as a non-root user): replacing the file would silently change its owner.
 * - Several outputs of one command are one transaction (writeOutputs): every temporary file is
 *   staged first; only when all are staged are they renamed. If any fails, nothing is renamed and
 *   every temporary file is removed. (In-place writes go first, as they cannot be staged; a
 *   failure in one leaves the renamed outputs untouched because none has been renamed yet.)
 * - Errors name the user's path, never the temporary file, as one line (FileError).
 *
 * Inputs (readRegularFile) are regular files only: a FIFO or /dev/zero would hang or never end,
 * so they are refused before being opened, and so is a file over a size limit.
 */
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Guest images: guest memory is at most 1 GiB and the default is 16 MiB; a 64 MiB image is
 *  already far larger than any guest this project builds, so anything bigger is a wrong file. */
export const MAX_IMAGE_BYTES = 64 * MiB;
/** Assembly and TypeScript sources: a wrong file (a disk image passed as source) is refused
 *  instead of being decoded as text. */
export const MAX_SOURCE_BYTES = 16 * MiB;
/** `--disk` files: the disk is held in one Uint8Array in host memory, so the limit is what a
 *  host can reasonably allocate (and what 32-bit sector numbers of our devices cover easily). */
export const MAX_DISK_BYTES = 2 * GiB;

/** A file the user named could not be read or written. `message` is the one line to print. */
export class FileError extends Error {
  constructor(
    readonly path: string,
    message: string,
    /** The errno code behind it, if there was one (ENOENT, EACCES, ...). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'FileError';
  }
}

const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
  ENXIO: 'no such device or address',
};

/** Words for an errno error (ENOENT → "no such file or directory"). Never the error's path:
 *  Node's messages name the path of the syscall, which may be an internal temporary file. */
export function errnoWords(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  const known = err?.code ? WORDS[err.code] : undefined;
  if (known) return known;
  const msg = String(err?.message ?? e).split('\n')[0]!;
  // "EINVAL: invalid argument, open '/x/.y.tmp'" → "invalid argument"
  return /^[A-Z0-9]+: ([^,]+)/.exec(msg)?.[1] ?? msg;
}

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

/** What a non-regular file is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isSymbolicLink()) return 'symbolic link';
  return 'regular file';
}

function why(st: Stats): string {
  return st.isDirectory() ? 'is a directory' : `not a regular file (${fileKind(st)})`;
}

export function formatBytes(n: number): string {
  if (n >= GiB) return `${+(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  return `${n} bytes`;
}

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * Why the existing regular file cannot be written, or null. Root passes access(2) whatever the
 * mode, so the mode bits are checked too: a file nobody may write is read-only for root as well.
 */
export function notWritable(path: string, st: Stats): string | null {
  if ((st.mode & 0o222) === 0) return `read-only file (mode ${octal(st.mode)})`;
  try {
    accessSync(path, constants.W_OK);
    return null;
  } catch (e) {
    return errnoWords(e);
  }
}

/**
 * Open a regular file the user named as input: stat first, so a FIFO or device is refused
 * without being opened (opening a FIFO waits for a writer); then open (O_NONBLOCK as a second
 * guard) and check that the file opened is the one checked.
 */
export function openRegularFile(path: string, what: string, maxBytes: number, flags: number = constants.O_RDONLY): { fd: number; st: Stats } {
  const fail = (reason: string, code?: string): FileError => new FileError(path, `cannot read ${what} '${path}': ${reason}`, code);
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw fail(errnoWords(e), codeOf(e));
  }
  if (!st.isFile()) throw fail(why(st));
  if (st.size > maxBytes) throw fail(`${formatBytes(st.size)}, larger than the ${formatBytes(maxBytes)} limit for ${what}s`);
  let fd: number;
  try {
    fd = openSync(path, flags | constants.O_NONBLOCK);
  } catch (e) {
    throw fail(errnoWords(e), codeOf(e));
  }
  const now = fstatSync(fd);
  if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) {
    closeSync(fd);
    throw fail('the file changed while it was being opened');
  }
  return { fd, st: now };
}

/** Read from fd at `position` until `buf` is full or the file ends; the bytes read. */
export function readFully(fd: number, buf: Uint8Array, position = 0): number {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, Math.min(buf.length - off, GiB), position + off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

function writeFully(fd: number, data: Uint8Array, position: number): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, Math.min(data.length - off, GiB), position + off);
}

/** Read a whole regular file the user named, refusing anything else and files over maxBytes. */
export function readRegularFile(path: string, what: string, maxBytes: number): Uint8Array {
  const { fd, st } = openRegularFile(path, what, maxBytes);
  try {
    const buf = new Uint8Array(st.size);
    return buf.subarray(0, readFully(fd, buf));
  } catch (e) {
    throw new FileError(path, `cannot read ${what} '${path}': ${errnoWords(e)}`, codeOf(e));
  } finally {
    closeSync(fd);
  }
}

export interface Output {
  path: string;
  data: Uint8Array;
  /** Names it in errors: 'image', 'listing'. */
  what: string;
}

/** Test hook: how the temporary file is created (a test simulates a directory that refuses one,
 *  which root cannot otherwise meet: a mode-0555 directory does not stop root). */
export interface WriteHooks {
  openTemp?: (path: string, mode: number) => number;
}

interface Staged {
  out: Output;
  /** The file that is written: the user's path with symlinks followed. */
  target: string;
  /** Renamed over target at commit. */
  tmp?: string;
  /** Written in place at commit (the directory refused a temporary file). */
  fd?: number;
}

const MAX_LINKS = 40; // Linux's MAXSYMLINKS

/** Write one output whole or not at all (see writeOutputs). */
export function writeFileAtomic(path: string, data: Uint8Array, what = 'file'): void {
  writeOutputs([{ path, data, what }]);
}

/**
 * Write every output, or none (as far as the file system allows; see the file comment). Throws a
 * FileError naming the user's path of the first output that could not be written.
 */
export function writeOutputs(outputs: readonly Output[], hooks: WriteHooks = {}): void {
  const staged: Staged[] = [];
  let current: Output | undefined;
  try {
    for (const out of outputs) {
      current = out;
      staged.push(stage(out, hooks));
    }
    for (const s of staged) {
      if (s.fd === undefined) continue;
      current = s.out;
      writeFully(s.fd, s.out.data, 0);
      ftruncateSync(s.fd, s.out.data.length);
      fsyncSync(s.fd);
    }
    for (const s of staged) {
      if (s.tmp === undefined) continue;
      current = s.out;
      renameSync(s.tmp, s.target);
      s.tmp = undefined;
      syncDir(dirname(s.target));
    }
  } catch (e) {
    if (e instanceof FileError || !current) throw e;
    throw writeError(current, errnoWords(e), codeOf(e));
  } finally {
    for (const s of staged) {
      if (s.tmp !== undefined) rmSync(s.tmp, { force: true });
      if (s.fd !== undefined) closeSync(s.fd);
    }
  }
}

const writeError = (out: Output, reason: string, code?: string): FileError => new FileError(out.path, `cannot write ${out.what} '${out.path}': ${reason}`, code);

/** Follow symlinks by hand (realpath fails on a dangling link, whose target is created here as
 *  `>` would create it). */
function followLinks(out: Output): string {
  let p = out.path;
  for (let hops = 0; ; hops++) {
    let l: Stats;
    try {
      l = lstatSync(p);
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return p;
      throw writeError(out, errnoWords(e), codeOf(e));
    }
    if (!l.isSymbolicLink()) return p;
    if (hops === MAX_LINKS) throw writeError(out, WORDS.ELOOP!, 'ELOOP');
    p = resolve(dirname(p), readlinkSync(p));
  }
}

function stage(out: Output, hooks: WriteHooks): Staged {
  const target = followLinks(out);
  let st: Stats | null = null;
  try {
    st = statSync(target);
  } catch (e) {
    if (codeOf(e) !== 'ENOENT') throw writeError(out, errnoWords(e), codeOf(e));
  }
  if (st) {
    if (!st.isFile()) throw writeError(out, why(st));
    const no = notWritable(target, st);
    if (no) throw writeError(out, no);
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    // 'wx': never an existing file. An existing target's copy starts private (0600) and gets the
    // target's mode below; a new file gets 0666 less the umask, as any new file does.
    fd = (hooks.openTemp ?? ((p, mode) => openSync(p, 'wx', mode)))(tmp, st ? 0o600 : 0o666);
  } catch (e) {
    const code = codeOf(e);
    if (st && (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')) return inPlace(out, target);
    if (code === 'ENOENT') throw writeError(out, 'no such directory', code);
    throw writeError(out, errnoWords(e), code);
  }
  try {
    if (st) {
      try {
        // Owner first: chown clears set-id bits, chmod then puts back exactly the old mode.
        fchownSync(fd, st.uid, st.gid);
      } catch (e) {
        if (codeOf(e) !== 'EPERM') throw e;
        closeSync(fd);
        rmSync(tmp, { force: true });
        return inPlace(out, target);
      }
      fchmodSync(fd, st.mode & 0o7777);
    }
    writeFully(fd, out.data, 0);
    fsyncSync(fd);
    closeSync(fd);
    return { out, target, tmp };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw writeError(out, errnoWords(e), codeOf(e));
  }
}

/** Open the target for an in-place write at commit; failing here fails before anything is written. */
function inPlace(out: Output, target: string): Staged {
  try {
    return { out, target, fd: openSync(target, constants.O_WRONLY | constants.O_NONBLOCK) };
  } catch (e) {
    throw writeError(out, errnoWords(e), codeOf(e));
  }
}

/** Make a rename durable (the directory entry), best effort: some file systems refuse fsync on a
 *  directory, and the data itself is already synced. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
