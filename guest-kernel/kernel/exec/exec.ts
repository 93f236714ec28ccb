/**
 * Loading an embedded user program into a new task (xv6's exec, for a program linked into the
 * kernel image: ./programs.ts). The image is in the format of abi/image.ts with target `user`:
 * a 32-byte header, a table of segments, their bytes. Each is checked as a loader at a trust
 * boundary would (the build made them, but a kernel does not follow a length it has not checked):
 * magic, format version, target, segments inside [USER_BASE, USER_BASE + USER_IMAGE_MAX) and
 * inside the image. Pages are mapped writable only for a writable segment, so a task that writes
 * into its code faults.
 */
import { PROGRAM_NAMES, programImages, programOffsets } from './programs.ts';
import { mmuBegin, mmuEnd } from '../platform/platform.ts';
import { PAGE_SIZE } from '../mm/page-alloc.ts';
import { vmCreate, vmMap } from '../mm/vm.ts';
import { taskRelease, taskReserve } from '../proc/proc.ts';
import { EAGAIN, ENOEXEC, ENOMEM, NAME_MAX, USER_BASE, USER_IMAGE_MAX, USER_STACK_PAGES, USER_STACK_TOP } from '../syscall-abi.ts';

/** 'TSVI' read as a little-endian word. */
const IMAGE_MAGIC = 0x49565354;
const IMAGE_FORMAT_VERSION = 1;
const TARGET_USER = 2;
const HEADER_BYTES = 32;
const SEGMENT_BYTES = 20;
const SEG_W = 2;
const MAX_SEGMENTS = 16;

/** The embedded program named by the bytes at [name, name + len): its index, or -1. */
export function findProgram(name: number, len: number): number {
  if (len <= 0 || len > NAME_MAX) return -1;
  let index = 0;
  let at = 0;
  while (at < PROGRAM_NAMES.length) {
    let end = at;
    while (end < PROGRAM_NAMES.length && PROGRAM_NAMES.charCodeAt(end) !== 32) end++;
    if (end - at === len) {
      let same = true;
      for (let k = 0; k < len; k++) {
        if (PROGRAM_NAMES.charCodeAt(at + k) !== load8(name + k)) {
          same = false;
          break;
        }
      }
      if (same) return index;
    }
    index++;
    at = end + 1;
  }
  return -1;
}

/** How many programs are embedded. */
export function programCount(): number {
  return programOffsets.length - 1;
}

function u16(at: number): number {
  return load8(at) | (load8(at + 1) << 8);
}

function u32(at: number): number {
  return load8(at) | (load8(at + 1) << 8) | (load8(at + 2) << 16) | (load8(at + 3) << 24);
}

/** Copy len bytes; a word at a time when both ends allow it. */
function copy(dst: number, src: number, len: number): void {
  let i = 0;
  if (((dst | src) & 3) === 0) {
    for (; i + 4 <= len; i += 4) store32(dst + i, load32(src + i));
  }
  for (; i < len; i++) store8(dst + i, load8(src + i));
}

/** Whether the image at [base, base + size) is one we load: -ENOEXEC when not, else 0. */
function checkImage(base: number, size: number): number {
  if (size < HEADER_BYTES || u32(base) !== IMAGE_MAGIC || u16(base + 4) !== IMAGE_FORMAT_VERSION || load8(base + 6) !== TARGET_USER) return -ENOEXEC;
  const count = u16(base + 16);
  if (count === 0 || count > MAX_SEGMENTS || size - HEADER_BYTES < count * SEGMENT_BYTES) return -ENOEXEC;
  const entry = u32(base + 12);
  if (entry < USER_BASE || entry - USER_BASE >= USER_IMAGE_MAX) return -ENOEXEC;
  for (let k = 0; k < count; k++) {
    const seg = base + HEADER_BYTES + k * SEGMENT_BYTES;
    const addr = u32(seg);
    const off = u32(seg + 4);
    const fileSize = u32(seg + 8);
    const memSize = u32(seg + 12);
    if (addr < USER_BASE || (addr & (PAGE_SIZE - 1)) !== 0) return -ENOEXEC;
    if (memSize < 0 || memSize > USER_IMAGE_MAX || addr - USER_BASE > USER_IMAGE_MAX - memSize) return -ENOEXEC;
    if (fileSize < 0 || fileSize > memSize || off < 0 || off > size || fileSize > size - off) return -ENOEXEC;
  }
  return 0;
}

/** Map and fill one segment: its pages, with the file part copied (the rest is zero already). */
function loadSegment(slot: number, base: number, seg: number): number {
  const addr = u32(seg);
  const off = u32(seg + 4);
  const fileSize = u32(seg + 8);
  const memSize = u32(seg + 12);
  const writable = (u32(seg + 16) & SEG_W) !== 0;
  for (let page = 0; page < memSize; page += PAGE_SIZE) {
    const frame = vmMap(slot, addr + page, writable);
    if (frame === 0) return -ENOMEM;
    if (page < fileSize) copy(frame, base + off + page, fileSize - page < PAGE_SIZE ? fileSize - page : PAGE_SIZE);
  }
  return 0;
}

/**
 * Reserve a task for program `index` with the argument text at [args, args + argsLen) (kernel
 * addresses, or user ones already checked), give it a space with the program's segments and a
 * user stack (USER_STACK_PAGES below USER_STACK_TOP, the page below them left unmapped as a
 * guard), in one mmu batch. Its slot (not yet runnable: proc's taskStartUser with the entry from
 * programEntry), or -EAGAIN (task table full), -ENOMEM, -ENOEXEC.
 */
export function loadProgram(index: number, args: number, argsLen: number): number {
  const base = addressOf(programImages) + programOffsets[index];
  const size = programOffsets[index + 1] - programOffsets[index];
  const bad = checkImage(base, size);
  if (bad < 0) return bad;
  let nameAt = 0;
  for (let i = 0; i < index; i++) {
    while (PROGRAM_NAMES.charCodeAt(nameAt) !== 32) nameAt++;
    nameAt++;
  }
  let nameEnd = nameAt;
  while (PROGRAM_NAMES.charCodeAt(nameEnd) !== 32) nameEnd++;
  const slot = taskReserve(addressOf(PROGRAM_NAMES) + nameAt, nameEnd - nameAt, args, argsLen);
  if (slot < 0) return -EAGAIN;
  if (vmCreate(slot) < 0) {
    taskRelease(slot);
    return -ENOMEM;
  }
  mmuBegin();
  let r = 0;
  const count = u16(base + 16);
  for (let k = 0; k < count && r === 0; k++) r = loadSegment(slot, base, base + HEADER_BYTES + k * SEGMENT_BYTES);
  for (let p = 1; p <= USER_STACK_PAGES && r === 0; p++) {
    if (vmMap(slot, USER_STACK_TOP - p * PAGE_SIZE, true) === 0) r = -ENOMEM;
  }
  mmuEnd();
  if (r < 0) {
    taskRelease(slot);
    return r;
  }
  return slot;
}

/** Program `index`'s entry address (its image was checked by loadProgram). */
export function programEntry(index: number): number {
  return u32(addressOf(programImages) + programOffsets[index] + 12);
}

