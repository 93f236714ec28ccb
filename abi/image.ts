/**
 * The guest image format: what the toolchain writes and the hypervisor loads.
 *
 * It plays the part ELF program headers play for a real loader, cut down to what a boot needs:
 * a fixed header, a table of loadable segments, the segment bytes, and an optional symbol/listing
 * section (JSON) for debuggers and disassembly. Everything is little-endian, like the machine.
 *
 *   offset  size  field
 *   0       4     magic 'TSVI'
 *   4       2     format version (IMAGE_FORMAT_VERSION)
 *   6       1     target: 0 native, 1 pv, 2 user (a program the tsvisor guest kernel loads
 *                 into a task at privilege 3, not a bootable image: the hypervisor refuses it)
 *   7       1     reserved, zero
 *   8       2     ABI major       } the hypercall/platform ABI the guest was built for (abi/version.ts)
 *   10      2     ABI minor       }
 *   12      4     entry address
 *   16      2     segment count
 *   18      2     flags (none defined yet; must be zero)
 *   20      4     symbol section offset  } both 0 when there is no section
 *   24      4     symbol section length  }
 *   28      4     reserved, zero (pads the header to 32 bytes)
 *   32      20*n  segment table: addr, file offset, file size, memory size, flags (u32 each)
 *
 * A decoder is a trust boundary (the hypervisor loads whatever a user hands it), so decodeImage
 * never throws: every refusal is an ImageError naming the field at fault. Reserved fields must be
 * zero so that a later version can give them a meaning without old loaders misreading new images.
 *
 * This file imports nothing of ours outside abi/.
 */
import { z } from 'zod';
import { INSN_BYTES } from './isa.ts';

export const IMAGE_MAGIC = 'TSVI';
export const IMAGE_FORMAT_VERSION = 1;
export const IMAGE_HEADER_BYTES = 32;
export const IMAGE_SEGMENT_ENTRY_BYTES = 20;

/** Segment flags: how the loader maps the segment (and what a W^X-minded kernel may assume). */
export const SEG_R = 1 << 0;
export const SEG_W = 1 << 1;
export const SEG_X = 1 << 2;
const SEG_KNOWN_FLAGS = SEG_R | SEG_W | SEG_X;
/** Header flags: none are defined in format version 1. */
const HEADER_KNOWN_FLAGS = 0;

export type ImageTarget = 'native' | 'pv' | 'user';
const TARGET_CODES: Readonly<Record<ImageTarget, number>> = { native: 0, pv: 1, user: 2 };
const TARGET_BY_CODE: ReadonlyMap<number, ImageTarget> = new Map(Object.entries(TARGET_CODES).map(([t, c]) => [c, t as ImageTarget]));

export interface ImageSegment {
  /** Guest-physical load address. */
  addr: number;
  /** Bytes stored in the file; the loader zero-fills from data.length up to memSize. */
  data: Uint8Array;
  memSize: number;
  /** SEG_R | SEG_W | SEG_X. */
  flags: number;
}

export interface ImageLine {
  addr: number;
  file: string;
  line: number;
  text?: string;
}

export interface GuestImage {
  target: ImageTarget;
  abi: { major: number; minor: number };
  entry: number;
  segments: ImageSegment[];
  symbols?: Record<string, number>;
  lines?: ImageLine[];
}

/** Why an image was refused: the field at fault (`header.target`, `segment[1].fileOffset`) and why. */
export interface ImageError {
  field: string;
  message: string;
}

export type DecodeResult = { ok: true; image: GuestImage } | { ok: false; error: ImageError };

/** One line, e.g. `header.target: expected 0 (native), 1 (pv) or 2 (user), got 7`. */
export function formatImageError(e: ImageError): string {
  return `${e.field}: ${e.message}`;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** `r-x` style, as in /proc/pid/maps. */
export function segmentFlagsString(flags: number): string {
  return `${flags & SEG_R ? 'r' : '-'}${flags & SEG_W ? 'w' : '-'}${flags & SEG_X ? 'x' : '-'}`;
}

// ---------------------------------------------------------------------------------------------
// Schemas. The raw fields are read into plain objects first, then validated here, so every rule
// lives in one place and each refusal comes out as one zod issue with a path.

const uint = (bits: 16 | 32) => {
  const error = (iss: { input: unknown }): string => `expected an unsigned ${bits}-bit integer, got ${shown(iss.input)}`;
  return z.number({ error }).refine((v) => Number.isInteger(v) && v >= 0 && v < 2 ** bits, { error });
};

const mustBeZero = z.number().refine((v) => v === 0, { error: (iss) => `reserved, must be zero, got ${shown(iss.input)}` });

/** The fixed header as read from the file (before anything is trusted). */
const RawHeaderSchema = z
  .object({
    magic: z.literal(IMAGE_MAGIC, { error: (iss) => `expected '${IMAGE_MAGIC}', got '${String(iss.input)}': not a tsvisor image` }),
    version: z.literal(IMAGE_FORMAT_VERSION, {
      error: (iss) => `unsupported image format version ${shown(iss.input)} (this build reads version ${IMAGE_FORMAT_VERSION})`,
    }),
    target: z.number().refine((v) => TARGET_BY_CODE.has(v), {
      error: (iss) => `expected 0 (native), 1 (pv) or 2 (user), got ${shown(iss.input)}`,
    }),
    reserved0: mustBeZero,
    abiMajor: uint(16),
    abiMinor: uint(16),
    entry: uint(32),
    segmentCount: uint(16),
    flags: z.number().refine((v) => (v & ~HEADER_KNOWN_FLAGS) === 0, {
      error: (iss) => `unknown flag bits ${hex(Number(iss.input))} (format version ${IMAGE_FORMAT_VERSION} defines none)`,
    }),
    symbolsOffset: uint(32),
    symbolsLength: uint(32),
    reserved1: mustBeZero,
  })
  .superRefine((h, ctx) => {
    // "Absent" has one spelling, so that two encoders of the same image agree byte for byte.
    if (h.symbolsLength === 0 && h.symbolsOffset !== 0) {
      ctx.addIssue({ code: 'custom', path: ['symbolsOffset'], message: `must be 0 when the section is absent (length 0), got ${hex(h.symbolsOffset)}` });
    }
  });

/** The header fields exactly as read; nothing in it is trusted until RawHeaderSchema passes. */
interface RawHeader {
  magic: string;
  version: number;
  target: number;
  reserved0: number;
  abiMajor: number;
  abiMinor: number;
  entry: number;
  segmentCount: number;
  flags: number;
  symbolsOffset: number;
  symbolsLength: number;
  reserved1: number;
}

/** Where each segment's bytes, and the symbol section, lie in the file. Decode only. */
const FileExtentsSchema = z
  .object({
    fileBytes: z.number(),
    tableEnd: z.number(),
    header: z.object({ symbolsOffset: z.number(), symbolsLength: z.number() }),
    segment: z.array(z.object({ fileOffset: z.number(), fileSize: z.number() })),
  })
  .superRefine((f, ctx) => {
    f.segment.forEach((s, i) => {
      if (s.fileSize === 0) return; // nothing stored: the offset is never read
      const issue = extentIssue(s.fileOffset, s.fileSize, f.tableEnd, f.fileBytes);
      if (issue) ctx.addIssue({ code: 'custom', path: ['segment', i, 'fileOffset'], message: issue });
    });
    const { symbolsOffset: off, symbolsLength: len } = f.header;
    if (len === 0) return;
    const issue = extentIssue(off, len, f.tableEnd, f.fileBytes);
    if (issue) ctx.addIssue({ code: 'custom', path: ['header', 'symbolsOffset'], message: issue });
  });

/** Why [off, off+len) is not between the end of the segment table and the end of the file, if it is not. */
function extentIssue(off: number, len: number, tableEnd: number, fileBytes: number): string | undefined {
  if (off + len > fileBytes) return `${hex(off)}+${hex(len)} runs past the end of the file (${hex(fileBytes)} bytes)`;
  if (off < tableEnd) return `${hex(off)} lies inside the header and segment table (which end at ${hex(tableEnd)})`;
  return undefined;
}

const SegmentLayoutSchema = z
  .object({
    addr: uint(32),
    fileSize: uint(32),
    memSize: uint(32),
    flags: uint(32).refine((v) => (v & ~SEG_KNOWN_FLAGS) === 0, {
      error: (iss) => `unknown flag bits ${hex(Number(iss.input) & ~SEG_KNOWN_FLAGS)} (known: R=1 W=2 X=4)`,
    }),
  })
  .superRefine((s, ctx) => {
    if (s.memSize < s.fileSize) {
      ctx.addIssue({ code: 'custom', path: ['memSize'], message: `${hex(s.memSize)} is smaller than the file size ${hex(s.fileSize)}` });
    } else if (s.addr + s.memSize > 2 ** 32) {
      ctx.addIssue({ code: 'custom', path: ['memSize'], message: `${hex(s.addr)}+${hex(s.memSize)} wraps past the end of the 32-bit address space` });
    }
  });

/** Where the segments go in guest memory, and where execution starts. Shared by decode and checkImage. */
const MemoryLayoutSchema = z
  .object({
    header: z.object({ entry: uint(32) }),
    segment: z.array(SegmentLayoutSchema).max(0xffff, { error: 'more than 65535 segments' }),
  })
  .superRefine((l, ctx) => {
    const overlap = firstOverlap(l.segment);
    if (overlap) {
      const [i, j] = overlap;
      const a = l.segment[i]!;
      ctx.addIssue({ code: 'custom', path: ['segment', j, 'addr'], message: `${rangeText(l.segment[j]!)} overlaps segment[${i}] (${rangeText(a)})` });
    }
    const entry = l.header.entry;
    if (entry % INSN_BYTES !== 0) {
      ctx.addIssue({ code: 'custom', path: ['header', 'entry'], message: `${hex(entry)} is not ${INSN_BYTES}-byte aligned` });
    } else if (!l.segment.some((s) => s.flags & SEG_X && entry >= s.addr && entry < s.addr + s.memSize)) {
      ctx.addIssue({ code: 'custom', path: ['header', 'entry'], message: `${hex(entry)} is not inside an executable segment` });
    }
  });

const rangeText = (s: { addr: number; memSize: number }): string => `${hex(s.addr)}..${hex(s.addr + s.memSize - 1)}`;

/** Indices [earlier, later] of the first pair of segments whose memory ranges intersect. */
function firstOverlap(segs: readonly { addr: number; memSize: number }[]): [number, number] | undefined {
  for (let j = 0; j < segs.length; j++) {
    const b = segs[j]!;
    if (b.memSize === 0) continue;
    for (let i = 0; i < j; i++) {
      const a = segs[i]!;
      if (a.memSize > 0 && a.addr < b.addr + b.memSize && b.addr < a.addr + a.memSize) return [i, j];
    }
  }
  return undefined;
}

const LineSchema = z.object({
  addr: uint(32),
  file: z.string(),
  line: z.number().int().min(1),
  text: z.string().optional(),
});

/** The symbol/listing section. Unknown keys are dropped, not refused: later minors may add some. */
const SymbolSectionSchema = z.object({
  symbols: z.record(z.string().min(1), uint(32)).optional(),
  lines: z.array(LineSchema).optional(),
});

const ImageTargetSchema = z.enum(['native', 'pv', 'user'], { error: (iss) => `expected 'native', 'pv' or 'user', got ${shown(iss.input)}` });
const AbiSchema = z.object({ major: uint(16), minor: uint(16) });

/** A value for a message: numbers above 9 also in hex, since offsets and addresses read better so. */
function shown(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : typeof v === 'number' && Number.isInteger(v) && v > 9 ? `${v} (${hex(v)})` : String(v);
}

/** First zod issue as an ImageError; the path becomes `prefix.a[1].b`. */
function firstIssue(result: { success: boolean; error?: z.ZodError }, prefix: string): ImageError | undefined {
  const issue = result.success ? undefined : result.error?.issues[0];
  if (!issue) return undefined;
  let field = prefix;
  for (const key of issue.path) {
    field += typeof key === 'number' ? `[${key}]` : field === '' ? String(key) : `.${String(key)}`;
  }
  return { field: field || 'image', message: issue.message };
}

// ---------------------------------------------------------------------------------------------
// Decode

export function decodeImage(bytes: Uint8Array): DecodeResult {
  const fail = (error: ImageError): DecodeResult => ({ ok: false, error });
  if (bytes.length < IMAGE_HEADER_BYTES) {
    return fail({ field: 'header', message: `truncated: file is ${bytes.length} bytes, header needs ${IMAGE_HEADER_BYTES}` });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(view);
  const headerError = firstIssue(RawHeaderSchema.safeParse(header), 'header');
  if (headerError) return fail(headerError);

  const tableEnd = IMAGE_HEADER_BYTES + header.segmentCount * IMAGE_SEGMENT_ENTRY_BYTES;
  if (tableEnd > bytes.length) {
    return fail({
      field: 'header.segmentCount',
      message: `${header.segmentCount} segments need a table ending at ${hex(tableEnd)}, past the end of the file (${hex(bytes.length)} bytes)`,
    });
  }
  const table = readSegmentTable(view, header.segmentCount);
  const extentsError = firstIssue(
    FileExtentsSchema.safeParse({ fileBytes: bytes.length, tableEnd, header, segment: table }),
    '',
  );
  if (extentsError) return fail(extentsError);
  const layoutError = firstIssue(MemoryLayoutSchema.safeParse({ header, segment: table }), '');
  if (layoutError) return fail(layoutError);

  const section = header.symbolsLength === 0 ? { ok: true as const, value: {} } : readSymbolSection(bytes, header);
  if (!section.ok) return fail(section.error);

  const image: GuestImage = {
    target: TARGET_BY_CODE.get(header.target)!,
    abi: { major: header.abiMajor, minor: header.abiMinor },
    entry: header.entry,
    // Copies, so the image does not alias (and pin) the caller's buffer.
    segments: table.map((s) => ({ addr: s.addr, data: bytes.slice(s.fileOffset, s.fileOffset + s.fileSize), memSize: s.memSize, flags: s.flags })),
  };
  if (section.value.symbols) image.symbols = section.value.symbols;
  if (section.value.lines) image.lines = section.value.lines.map(stripUndefinedText);
  return { ok: true, image };
}

function readHeader(view: DataView): RawHeader {
  const magic = Array.from({ length: 4 }, (_, i) => printableChar(view.getUint8(i))).join('');
  return {
    magic,
    version: view.getUint16(4, true),
    target: view.getUint8(6),
    reserved0: view.getUint8(7),
    abiMajor: view.getUint16(8, true),
    abiMinor: view.getUint16(10, true),
    entry: view.getUint32(12, true),
    segmentCount: view.getUint16(16, true),
    flags: view.getUint16(18, true),
    symbolsOffset: view.getUint32(20, true),
    symbolsLength: view.getUint32(24, true),
    reserved1: view.getUint32(28, true),
  };
}

/** Magic bytes as text for the message; non-printables as \xNN so the line stays one line. */
function printableChar(b: number): string {
  return b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
}

interface RawSegment {
  addr: number;
  fileOffset: number;
  fileSize: number;
  memSize: number;
  flags: number;
}

function readSegmentTable(view: DataView, count: number): RawSegment[] {
  return Array.from({ length: count }, (_, i) => {
    const at = IMAGE_HEADER_BYTES + i * IMAGE_SEGMENT_ENTRY_BYTES;
    return {
      addr: view.getUint32(at, true),
      fileOffset: view.getUint32(at + 4, true),
      fileSize: view.getUint32(at + 8, true),
      memSize: view.getUint32(at + 12, true),
      flags: view.getUint32(at + 16, true),
    };
  });
}

type SymbolSection = z.infer<typeof SymbolSectionSchema>;
/** Field name of the symbol/listing section in error messages. */
const SECTION = 'symbolSection';

function readSymbolSection(
  bytes: Uint8Array,
  header: RawHeader,
): { ok: true; value: SymbolSection } | { ok: false; error: ImageError } {
  const raw = bytes.subarray(header.symbolsOffset, header.symbolsOffset + header.symbolsLength);
  // TextDecoder and JSON.parse report bad input by throwing; this is the one place we catch,
  // and only to turn their complaint into an ImageError.
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    const why = e instanceof SyntaxError ? `malformed JSON: ${e.message}` : 'not valid UTF-8';
    return { ok: false, error: { field: SECTION, message: why.replace(/\s+/g, ' ') } };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: { field: SECTION, message: 'expected a JSON object {symbols, lines}' } };
  }
  const parsed = SymbolSectionSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed, SECTION)! };
  const symbols = (json as { symbols?: Record<string, number> }).symbols;
  // zod copies a record by assignment, which turns a symbol named `__proto__` into a prototype
  // change and loses it; Object.fromEntries defines own properties, so every label survives.
  if (symbols !== undefined) parsed.data.symbols = Object.fromEntries(Object.entries(symbols));
  return { ok: true, value: parsed.data };
}

function stripUndefinedText(l: { addr: number; file: string; line: number; text?: string | undefined }): ImageLine {
  return l.text === undefined ? { addr: l.addr, file: l.file, line: l.line } : { addr: l.addr, file: l.file, line: l.line, text: l.text };
}

// ---------------------------------------------------------------------------------------------
// Check and encode

/**
 * Validate an in-memory image by the same rules decodeImage applies to a file, so that whatever
 * encodeImage writes, decodeImage reads back. Returns undefined when the image is valid.
 */
export function checkImage(img: GuestImage): ImageError | undefined {
  const target = firstIssue(ImageTargetSchema.safeParse(img.target), 'target');
  if (target) return target;
  const abi = firstIssue(AbiSchema.safeParse(img.abi), 'abi');
  if (abi) return abi;
  const layout = { header: { entry: img.entry }, segment: img.segments.map((s) => ({ addr: s.addr, fileSize: s.data.length, memSize: s.memSize, flags: s.flags })) };
  const layoutError = firstIssue(MemoryLayoutSchema.safeParse(layout), '');
  if (layoutError) return layoutError;
  return firstIssue(SymbolSectionSchema.safeParse({ symbols: img.symbols, lines: img.lines }), '');
}

/**
 * Serialise an image. The layout is header, segment table, each segment's bytes (4-aligned),
 * then the symbol section if the image has symbols or lines.
 *
 * An image that checkImage refuses is a bug in the toolchain that built it, not bad input, so
 * this throws a RangeError naming the field rather than writing a file no loader would accept.
 */
export function encodeImage(img: GuestImage): Uint8Array {
  const invalid = checkImage(img);
  if (invalid) throw new RangeError(`encodeImage: ${formatImageError(invalid)}`);

  const section = encodeSymbolSection(img);
  let offset = IMAGE_HEADER_BYTES + img.segments.length * IMAGE_SEGMENT_ENTRY_BYTES;
  const dataOffsets = img.segments.map((s) => {
    offset = align4(offset);
    const at = offset;
    offset += s.data.length;
    return at;
  });
  const symbolsOffset = section ? align4(offset) : 0;
  const total = section ? symbolsOffset + section.length : offset;

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  writeHeader(view, img, section ? { offset: symbolsOffset, length: section.length } : { offset: 0, length: 0 });
  img.segments.forEach((s, i) => {
    const at = IMAGE_HEADER_BYTES + i * IMAGE_SEGMENT_ENTRY_BYTES;
    const fileOffset = dataOffsets[i]!;
    view.setUint32(at, s.addr, true);
    view.setUint32(at + 4, fileOffset, true);
    view.setUint32(at + 8, s.data.length, true);
    view.setUint32(at + 12, s.memSize, true);
    view.setUint32(at + 16, s.flags, true);
    out.set(s.data, fileOffset);
  });
  if (section) out.set(section, symbolsOffset);
  return out;
}

const align4 = (n: number): number => (n + 3) & ~3;

function writeHeader(view: DataView, img: GuestImage, symbols: { offset: number; length: number }): void {
  for (let i = 0; i < 4; i++) view.setUint8(i, IMAGE_MAGIC.charCodeAt(i));
  view.setUint16(4, IMAGE_FORMAT_VERSION, true);
  view.setUint8(6, TARGET_CODES[img.target]);
  view.setUint16(8, img.abi.major, true);
  view.setUint16(10, img.abi.minor, true);
  view.setUint32(12, img.entry, true);
  view.setUint16(16, img.segments.length, true);
  view.setUint32(20, symbols.offset, true);
  view.setUint32(24, symbols.length, true);
  // flags (18) and the reserved fields (7, 28) stay zero.
}

function encodeSymbolSection(img: GuestImage): Uint8Array | undefined {
  if (img.symbols === undefined && img.lines === undefined) return undefined;
  const body: { symbols?: Record<string, number>; lines?: ImageLine[] } = {};
  if (img.symbols !== undefined) body.symbols = img.symbols;
  if (img.lines !== undefined) body.lines = img.lines;
  return new TextEncoder().encode(JSON.stringify(body));
}
