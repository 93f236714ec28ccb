import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkImage,
  decodeImage,
  encodeImage,
  formatImageError,
  IMAGE_HEADER_BYTES,
  IMAGE_SEGMENT_ENTRY_BYTES,
  SEG_R,
  SEG_W,
  SEG_X,
  type GuestImage,
} from '../../abi/image.ts';

const CODE = 0x1000;
const DATA = 0x8000;

/** A small valid image: a code segment with a zero-filled tail, a data segment, symbols and lines. */
function sampleImage(): GuestImage {
  return {
    target: 'pv',
    abi: { major: 1, minor: 3 },
    entry: CODE + 4,
    segments: [
      { addr: CODE, data: Uint8Array.from([0x01, 0, 0, 0, 0x78, 0, 0, 0]), memSize: 0x100, flags: SEG_R | SEG_X },
      { addr: DATA, data: Uint8Array.from([1, 2, 3]), memSize: 3, flags: SEG_R | SEG_W },
    ],
    symbols: { start: CODE, halt: CODE + 4, table: DATA },
    lines: [
      { addr: CODE, file: 'boot.s', line: 3, text: 'nop' },
      { addr: CODE + 4, file: 'boot.s', line: 4 },
    ],
  };
}

/** Header and segment-table field offsets, as documented in abi/image.ts. */
const AT = { magic: 0, version: 4, target: 6, reserved0: 7, entry: 12, segmentCount: 16, flags: 18, symbolsOffset: 20, symbolsLength: 24, reserved1: 28 };
const SEG = { addr: 0, fileOffset: 4, fileSize: 8, memSize: 12, flags: 16 };
const segAt = (i: number, field: keyof typeof SEG): number => IMAGE_HEADER_BYTES + i * IMAGE_SEGMENT_ENTRY_BYTES + SEG[field];

/** The sample, encoded, with some edits applied to its bytes. */
function patched(edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = encodeImage(sampleImage());
  edit(new DataView(bytes.buffer), bytes);
  return bytes;
}

/** The sample with its symbol section replaced by `text`. */
function withSection(text: string | Uint8Array): Uint8Array {
  const body = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  const base = encodeImage({ ...sampleImage(), symbols: undefined, lines: undefined });
  const out = new Uint8Array(base.length + body.length);
  out.set(base);
  out.set(body, base.length);
  const view = new DataView(out.buffer);
  view.setUint32(AT.symbolsOffset, base.length, true);
  view.setUint32(AT.symbolsLength, body.length, true);
  return out;
}

/** The one-line refusal for these bytes; fails the test if they decode. */
function refusal(bytes: Uint8Array): string {
  const r = decodeImage(bytes);
  if (r.ok) throw new Error('expected the image to be refused');
  return formatImageError(r.error);
}

describe('symbol names', () => {
  it('keeps a label named __proto__ through encode and decode', () => {
    const img = { ...sampleImage(), symbols: Object.fromEntries([['__proto__', 0x1000], ['start', 0x1000]]) };
    const r = decodeImage(encodeImage(img));
    expect(r.ok && Object.entries(r.image.symbols ?? {})).toEqual([
      ['__proto__', 0x1000],
      ['start', 0x1000],
    ]);
  });
});

describe('image round trip', () => {
  it('decodes what it encodes', () => {
    const r = decodeImage(encodeImage(sampleImage()));
    expect(r).toEqual({ ok: true, image: sampleImage() });
  });

  it('omits the symbol section when there are neither symbols nor lines', () => {
    const img = { ...sampleImage(), symbols: undefined, lines: undefined };
    delete img.symbols;
    delete img.lines;
    const bytes = encodeImage(img);
    const view = new DataView(bytes.buffer);
    expect([view.getUint32(AT.symbolsOffset, true), view.getUint32(AT.symbolsLength, true)]).toEqual([0, 0]);
    expect(decodeImage(bytes)).toEqual({ ok: true, image: img });
  });

  it('decodes from a view into a larger buffer (Node Buffer slices)', () => {
    const bytes = encodeImage(sampleImage());
    const padded = new Uint8Array(bytes.length + 16);
    padded.set(bytes, 16);
    expect(decodeImage(padded.subarray(16))).toEqual({ ok: true, image: sampleImage() });
  });

  it('round-trips random valid images', () => {
    const segment = (i: number) =>
      fc.record({
        addr: fc.integer({ min: 0, max: 0xfff }).map((o) => i * 0x10000 + o * 4),
        data: fc.uint8Array({ maxLength: 64 }),
        extra: fc.integer({ min: 0, max: 0x1000 }),
        flags: fc.integer({ min: 0, max: 7 }),
      });
    const image = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom<GuestImage['target']>('native', 'pv', 'user'), fc.dictionary(fc.string({ minLength: 1 }), fc.nat()))
      .chain(([n, target, symbols]) =>
        fc.tuple(...Array.from({ length: n }, (_, i) => segment(i))).map((segs): GuestImage => {
          const segments = segs.map((s, i) => ({
            addr: s.addr,
            data: s.data,
            memSize: Math.max(s.data.length + s.extra, 4),
            flags: i === 0 ? s.flags | SEG_X : s.flags,
          }));
          return { target, abi: { major: 1, minor: 0 }, entry: segments[0]!.addr, segments, symbols };
        }),
      );
    fc.assert(
      fc.property(image, (img) => {
        expect(checkImage(img)).toBeUndefined();
        expect(decodeImage(encodeImage(img))).toEqual({ ok: true, image: img });
      }),
    );
  });
});

describe('image refusals name the field in one line', () => {
  it('refuses a truncated header', () => {
    expect(refusal(encodeImage(sampleImage()).slice(0, 10))).toBe('header: truncated: file is 10 bytes, header needs 32');
  });

  it('refuses a foreign magic', () => {
    const elf = patched((_, b) => b.set([0x7f, 0x45, 0x4c, 0x46], AT.magic));
    expect(refusal(elf)).toBe("header.magic: expected 'TSVI', got '\\x7fELF': not a tsvisor image");
  });

  it('refuses an unknown format version', () => {
    expect(refusal(patched((v) => v.setUint16(AT.version, 2, true)))).toBe(
      'header.version: unsupported image format version 2 (this build reads version 1)',
    );
  });

  it('refuses an unknown target', () => {
    expect(refusal(patched((v) => v.setUint8(AT.target, 7)))).toBe('header.target: expected 0 (native), 1 (pv) or 2 (user), got 7');
    expect(refusal(patched((v) => v.setUint8(AT.target, 3)))).toBe('header.target: expected 0 (native), 1 (pv) or 2 (user), got 3');
  });

  it('reads target code 2 as a user program, and writes it back', () => {
    const user = patched((v) => v.setUint8(AT.target, 2));
    const decoded = decodeImage(user);
    expect(decoded).toEqual({ ok: true, image: { ...sampleImage(), target: 'user' } });
    expect(decoded.ok && encodeImage(decoded.image)).toEqual(user);
    expect(encodeImage({ ...sampleImage(), target: 'user' })[AT.target]).toBe(2);
    expect(checkImage({ ...sampleImage(), target: 'arm' as 'user' })).toEqual({ field: 'target', message: "expected 'native', 'pv' or 'user', got 'arm'" });
  });

  it('refuses non-zero reserved fields and unknown header flags', () => {
    expect(refusal(patched((v) => v.setUint8(AT.reserved0, 1)))).toBe('header.reserved0: reserved, must be zero, got 1');
    expect(refusal(patched((v) => v.setUint32(AT.reserved1, 1, true)))).toBe('header.reserved1: reserved, must be zero, got 1');
    expect(refusal(patched((v) => v.setUint16(AT.flags, 4, true)))).toBe('header.flags: unknown flag bits 0x4 (format version 1 defines none)');
  });

  it('refuses a segment table that runs past the end of the file', () => {
    expect(refusal(patched((v) => v.setUint16(AT.segmentCount, 200, true)))).toMatch(
      /^header\.segmentCount: 200 segments need a table ending at 0xfc0, past the end of the file \(0x[0-9a-f]+ bytes\)$/,
    );
  });

  it('refuses segment data past the end of the file', () => {
    const bytes = patched((v) => v.setUint32(segAt(1, 'fileSize'), 0x100, true));
    const view = new DataView(bytes.buffer);
    const off = view.getUint32(segAt(1, 'fileOffset'), true);
    expect(refusal(bytes)).toBe(`segment[1].fileOffset: 0x${off.toString(16)}+0x100 runs past the end of the file (0x${bytes.length.toString(16)} bytes)`);
  });

  it('refuses segment data inside the header', () => {
    expect(refusal(patched((v) => v.setUint32(segAt(0, 'fileOffset'), 8, true)))).toBe(
      'segment[0].fileOffset: 0x8 lies inside the header and segment table (which end at 0x48)',
    );
  });

  it('refuses a memory size smaller than the file size', () => {
    expect(refusal(patched((v) => v.setUint32(segAt(1, 'memSize'), 2, true)))).toBe('segment[1].memSize: 0x2 is smaller than the file size 0x3');
  });

  it('refuses a segment that wraps past 2^32', () => {
    const bytes = patched((v) => {
      v.setUint32(segAt(1, 'addr'), 0xffffff00, true);
      v.setUint32(segAt(1, 'memSize'), 0x200, true);
    });
    expect(refusal(bytes)).toBe(
      'segment[1].memSize: 0xffffff00+0x200 wraps past the end of the 32-bit address space',
    );
  });

  it('refuses unknown segment flags', () => {
    expect(refusal(patched((v) => v.setUint32(segAt(1, 'flags'), 0x13, true)))).toBe('segment[1].flags: unknown flag bits 0x10 (known: R=1 W=2 X=4)');
  });

  it('refuses overlapping segments', () => {
    expect(refusal(patched((v) => v.setUint32(segAt(1, 'addr'), CODE + 0x80, true)))).toBe(
      'segment[1].addr: 0x1080..0x1082 overlaps segment[0] (0x1000..0x10ff)',
    );
  });

  it('refuses an entry outside every executable segment', () => {
    expect(refusal(patched((v) => v.setUint32(AT.entry, DATA, true)))).toBe('header.entry: 0x8000 is not inside an executable segment');
    expect(refusal(patched((v) => v.setUint32(AT.entry, CODE + 0x100, true)))).toBe('header.entry: 0x1100 is not inside an executable segment');
  });

  it('refuses a misaligned entry', () => {
    expect(refusal(patched((v) => v.setUint32(AT.entry, CODE + 2, true)))).toBe('header.entry: 0x1002 is not 4-byte aligned');
  });

  it('refuses a symbol section past the end of the file, or a stray offset with no section', () => {
    const bytes = encodeImage(sampleImage());
    expect(refusal(bytes.slice(0, bytes.length - 1))).toMatch(/^header\.symbolsOffset: 0x[0-9a-f]+\+0x[0-9a-f]+ runs past the end of the file \(0x[0-9a-f]+ bytes\)$/);
    expect(refusal(patched((v) => v.setUint32(AT.symbolsLength, 0, true)))).toMatch(/^header\.symbolsOffset: must be 0 when the section is absent \(length 0\), got 0x[0-9a-f]+$/);
  });

  it('refuses a malformed JSON section', () => {
    expect(refusal(withSection('{"symbols": {'))).toMatch(/^symbolSection: malformed JSON: .+$/);
  });

  it('refuses a section that is not UTF-8', () => {
    expect(refusal(withSection(Uint8Array.from([0x7b, 0xff, 0x7d])))).toBe('symbolSection: not valid UTF-8');
  });

  it('refuses well-formed JSON of the wrong shape, naming the element', () => {
    expect(refusal(withSection('[1, 2]'))).toBe('symbolSection: expected a JSON object {symbols, lines}');
    expect(refusal(withSection('{"symbols": {"start": -1}}'))).toBe('symbolSection.symbols.start: expected an unsigned 32-bit integer, got -1');
    expect(refusal(withSection('{"lines": [{"addr": 0, "file": "a.s", "line": 1}, {"addr": 4, "file": "a.s"}]}'))).toMatch(/^symbolSection\.lines\[1\]\.line: /);
  });

  it('accepts unknown keys in the section, for later minors', () => {
    const r = decodeImage(withSection('{"symbols": {"start": 4096}, "types": {}}'));
    expect(r.ok && r.image.symbols).toEqual({ start: 4096 });
  });
});

describe('decodeImage on hostile bytes', () => {
  const valid = encodeImage(sampleImage());

  /** Never throws; a refusal is one line; an acceptance is an image that checkImage also accepts. */
  function wellBehaved(bytes: Uint8Array): void {
    const r = decodeImage(bytes);
    if (r.ok) expect(checkImage(r.image)).toBeUndefined();
    else expect(formatImageError(r.error)).not.toMatch(/\n/);
  }

  it('survives random byte mutations', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bytes = valid.slice();
        for (const [at, value] of edits) bytes[at] = value;
        wellBehaved(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('survives every truncation', () => {
    for (let n = 0; n < valid.length; n++) {
      const r = decodeImage(valid.slice(0, n));
      expect(r.ok, `truncated to ${n}`).toBe(false);
    }
  });

  it('survives random garbage, with or without the magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (bytes, magic) => {
        if (magic && bytes.length >= 4) bytes.set([0x54, 0x53, 0x56, 0x49]);
        wellBehaved(bytes);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('encodeImage', () => {
  it('refuses to write an image that no loader would accept', () => {
    const img = sampleImage();
    img.segments[1]!.addr = CODE;
    expect(() => encodeImage(img)).toThrow(/^encodeImage: segment\[1\]\.addr: .* overlaps segment\[0\]/);
  });

  it('checkImage names the field of an invalid in-memory image', () => {
    expect(checkImage({ ...sampleImage(), entry: 2 ** 32 })).toEqual({ field: 'header.entry', message: 'expected an unsigned 32-bit integer, got 4294967296 (0x100000000)' });
    expect(checkImage({ ...sampleImage(), abi: { major: 1, minor: -1 } })).toEqual({ field: 'abi.minor', message: 'expected an unsigned 16-bit integer, got -1' });
  });
});
