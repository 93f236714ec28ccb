/**
 * Stage 9, the listing: after assembly, map every instruction address back to the guest source
 * line it came from. Two products:
 * - the image's line table (GuestImage.lines: address, file, line, source text), which
 *   `tsvisor run --trace` and `tsvisor disasm` show beside each instruction;
 * - a human-readable listing file: source lines interleaved with address, bytes and assembly.
 */
import type { ImageLine } from '../../abi/image.ts';
import type { ListingLine as AsmListingLine } from './assembler.ts';
import type { Loc } from './ir.ts';

export interface ListingInput {
  /** The assembler's listing: one entry per assembly line. */
  asm: readonly AsmListingLine[];
  /** Source line of each assembly line (index = assembly line number - 1). */
  locs: readonly (Loc | undefined)[];
  /** Text of each source file by display path. */
  sources: ReadonlyMap<string, readonly string[]>;
}

function sourceText(input: ListingInput, loc: Loc): string | undefined {
  return input.sources.get(loc.file)?.[loc.line - 1]?.trim();
}

/** One line-table entry per instruction word (a two-word `la` gives two). */
export function lineTable(input: ListingInput): ImageLine[] {
  const out: ImageLine[] = [];
  for (const l of input.asm) {
    const loc = input.locs[l.line - 1];
    if (!loc || l.bytes.length === 0) continue;
    const text = sourceText(input, loc);
    for (let off = 0; off + 4 <= l.bytes.length; off += 4) {
      out.push(text === undefined ? { addr: l.addr + off, file: loc.file, line: loc.line } : { addr: l.addr + off, file: loc.file, line: loc.line, text });
    }
  }
  return out;
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The listing file: each source line once, before the instructions it produced. */
export function formatListing(input: ListingInput, header: string): string {
  const out = [`; ${header}`, ';', '; address   bytes                      assembly'];
  let last = '';
  for (const l of input.asm) {
    const loc = input.locs[l.line - 1];
    if (loc && l.bytes.length > 0) {
      const key = `${loc.file}:${loc.line}`;
      if (key !== last) {
        out.push(`;   ${key}: ${sourceText(input, loc) ?? ''}`);
        last = key;
      }
    }
    const text = l.text.trim();
    if (text === '') continue;
    if (l.bytes.length === 0) {
      out.push(text.endsWith(':') ? text : `${''.padEnd(38)}${text}`);
      continue;
    }
    const words: string[] = [];
    for (let off = 0; off < l.bytes.length && off < 12; off += 4) {
      const b = l.bytes;
      words.push(hex8((b[off]! | ((b[off + 1] ?? 0) << 8) | ((b[off + 2] ?? 0) << 16) | ((b[off + 3] ?? 0) << 24)) >>> 0));
    }
    const more = l.bytes.length > 12 ? '…' : '';
    out.push(`  ${hex8(l.addr)}  ${(words.join(' ') + more).padEnd(26)}  ${text}`);
  }
  return out.join('\n') + '\n';
}
