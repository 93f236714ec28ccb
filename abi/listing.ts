/**
 * A readable listing of a guest image, like `objdump -d`: every word of every executable segment
 * with its address, encoding and disassembly, labels from the image's symbols, and the source
 * line beside each instruction when the image carries a line table.
 *
 * Lives in abi/ (not in the toolchain) because both sides want it: the assembler's tests and the
 * hypervisor's tracer and crash dumps. Imports nothing outside abi/.
 */
import { disassemble, INSN_BYTES } from './isa.ts';
import { type GuestImage, type ImageSegment, SEG_X, segmentFlagsString } from './image.ts';

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** Width of the "address  word  instruction" part, so source references line up in a column. */
const CODE_COLUMN = 44;

interface ListingContext {
  /** Every name at an address, in the order the image lists them. */
  labelsAt: ReadonlyMap<number, readonly string[]>;
  /** Source reference (`file:line`) of the first line-table entry at an address. */
  sourceAt: ReadonlyMap<number, string>;
  symbolAt: (addr: number) => string | undefined;
}

export function disassembleImage(image: GuestImage): string {
  const ctx = listingContext(image);
  const out: string[] = [];
  for (const seg of image.segments) {
    if (seg.flags & SEG_X) out.push(...segmentListing(seg, ctx));
  }
  return out.join('\n') + (out.length ? '\n' : '');
}

function listingContext(image: GuestImage): ListingContext {
  const labelsAt = new Map<number, string[]>();
  for (const [name, addr] of Object.entries(image.symbols ?? {})) {
    const names = labelsAt.get(addr);
    if (names) names.push(name);
    else labelsAt.set(addr, [name]);
  }
  const sourceAt = new Map<number, string>();
  for (const l of image.lines ?? []) {
    if (!sourceAt.has(l.addr)) sourceAt.set(l.addr, `${l.file}:${l.line}`);
  }
  return { labelsAt, sourceAt, symbolAt: (addr) => labelsAt.get(addr)?.[0] };
}

function segmentListing(seg: ImageSegment, ctx: ListingContext): string[] {
  const end = seg.addr + seg.memSize;
  const out = [`; segment ${hex8(seg.addr)}..${hex8(end)} ${segmentFlagsString(seg.flags)} (${seg.data.length} bytes in file, ${seg.memSize} in memory)`];
  let offset = 0;
  while (offset < seg.data.length) {
    const addr = seg.addr + offset;
    out.push(...labelLines(addr, ctx));
    const n = wordOrBytes(addr, seg.data.length - offset);
    out.push(n === INSN_BYTES ? wordLine(seg.data, offset, addr, ctx) : bytesLine(seg.data, offset, n, addr));
    offset += n;
  }
  if (seg.memSize > seg.data.length) out.push(...zeroFillLines(seg, ctx));
  return out;
}

/** How many bytes the next line covers: a whole aligned word, or the bytes up to alignment. */
function wordOrBytes(addr: number, remaining: number): number {
  const toAlign = (INSN_BYTES - (addr % INSN_BYTES)) % INSN_BYTES;
  if (toAlign === 0 && remaining >= INSN_BYTES) return INSN_BYTES;
  return Math.min(remaining, toAlign || remaining);
}

function labelLines(addr: number, ctx: ListingContext): string[] {
  return (ctx.labelsAt.get(addr) ?? []).map((name) => `${name}:`);
}

function wordLine(data: Uint8Array, offset: number, addr: number, ctx: ListingContext): string {
  const word = (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24)) >>> 0;
  const code = `  ${hex8(addr)}  ${hex8(word)}  ${disassemble(word, addr, ctx.symbolAt)}`;
  const source = ctx.sourceAt.get(addr);
  return source ? `${code.padEnd(CODE_COLUMN)} ; ${source}` : code;
}

function bytesLine(data: Uint8Array, offset: number, n: number, addr: number): string {
  const bytes = Array.from(data.subarray(offset, offset + n), hex2);
  return `  ${hex8(addr)}  ${''.padEnd(8)}  .byte ${bytes.join(', ')}`;
}

/** The zero-filled tail is summarised, not listed: a 64 KiB stack would otherwise be 16K lines. */
function zeroFillLines(seg: ImageSegment, ctx: ListingContext): string[] {
  const from = seg.addr + seg.data.length;
  const to = seg.addr + seg.memSize;
  const out = [`  ${hex8(from)}..${hex8(to)}  zero-filled (${to - from} bytes)`];
  for (const [addr, names] of [...ctx.labelsAt].sort((a, b) => a[0] - b[0])) {
    if (addr >= from && addr < to) out.push(...names.map((name) => `${name}:  ; ${hex8(addr)}, zero-filled`));
  }
  return out;
}
