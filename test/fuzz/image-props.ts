/**
 * Target 4: bit-flipped and truncated images. The real images are the assembly programs of
 * guest-kernel/programs/asm, assembled with the project's assembler and encoded with
 * abi/image.ts; each case mutates one (bit flips, a truncation, a header field set to an
 * extreme, bytes spliced in), decodes it with decodeImage, and runs what decodes in every mode
 * with a small instruction budget.
 *
 * Each case asserts: decodeImage never throws, and refuses with a one-line message naming a
 * field, or gives an image; runImage never throws in any mode, and either refuses with one line
 * (a mode not built yet, the wrong target, too new an ABI, segments that do not fit) or returns
 * a run result whose stop message is one line and whose JSON stays small; a native image without
 * PUSHF/POPF runs the same in native, trap and hw; host memory stays bounded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { decodeImage, encodeImage, formatImageError, IMAGE_HEADER_BYTES } from '../../abi/image.ts';
import { Op } from '../../abi/isa.ts';
import { assemble, formatAsmError } from '../../guest-kernel/compiler/assembler.ts';
import { MODES, runImage, type Mode } from '../../hypervisor/run.ts';
import { check, checkOneLine, checkResultSize, HeapWatch, noThrow, noThrowAsync, recorder, type Tally } from './common.ts';

export const ASM_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../guest-kernel/programs/asm');

/** Every program of guest-kernel/programs/asm, assembled and encoded (once). */
let images: { name: string; bytes: Uint8Array }[] | undefined;
export function realImages(): { name: string; bytes: Uint8Array }[] {
  images ??= readdirSync(ASM_DIR)
    .filter((f) => f.endsWith('.s'))
    .sort()
    .map((f) => {
      const r = assemble(readFileSync(path.join(ASM_DIR, f), 'utf8'), { fileName: f });
      if (!r.ok) throw new Error(r.errors.map(formatAsmError).join('\n'));
      return { name: f, bytes: encodeImage(r.image) };
    });
  return images;
}

/** How a case damages an image. */
export type Mutation =
  | { kind: 'flip'; bits: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'field'; offset: number; value: number }
  | { kind: 'splice'; at: number; bytes: number[] }
  | { kind: 'flip+truncate'; bits: number[]; at: number };

/** Header and segment-table offsets worth setting to extremes (abi/image.ts's layout). */
const FIELDS = [4, 6, 7, 8, 10, 12, 16, 18, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68];
const EXTREMES = [0, 1, 2, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 0x1000, 0x400000];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 7, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }).map((bits) => ({ kind: 'flip' as const, bits })) },
  { weight: 2, arbitrary: fc.nat().map((at) => ({ kind: 'truncate' as const, at })) },
  { weight: 2, arbitrary: fc.record({ offset: fc.constantFrom(...FIELDS), value: fc.oneof(fc.constantFrom(...EXTREMES), fc.nat()) }).map((f) => ({ kind: 'field' as const, ...f })) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }) }).map((s) => ({ kind: 'splice' as const, ...s })) },
  { weight: 1, arbitrary: fc.record({ bits: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), at: fc.nat() }).map((m) => ({ kind: 'flip+truncate' as const, ...m })) },
);

/**
 * A mutated copy of `src`. A flip lands in the header and segment table one time in four (where
 * a refusal must name the field), in the segments' bytes two in four (code that still decodes,
 * and runs), or anywhere (the symbol section's JSON included).
 */
export function mutate(src: Uint8Array, m: Mutation): Uint8Array {
  const flip = (b: Uint8Array, bits: number[]): void => {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const tableEnd = b.length >= IMAGE_HEADER_BYTES ? IMAGE_HEADER_BYTES + 20 * dv.getUint16(16, true) : 0;
    const symbols = b.length >= IMAGE_HEADER_BYTES ? dv.getUint32(20, true) : 0;
    const dataEnd = symbols > tableEnd && symbols <= b.length ? symbols : b.length;
    for (const bit of bits) {
      const [lo, hi] = bit % 4 === 0 ? [0, Math.min(b.length, tableEnd + 8)] : bit % 4 !== 3 && dataEnd > tableEnd ? [tableEnd, dataEnd] : [0, b.length];
      const i = lo + ((bit >>> 5) % Math.max(1, hi - lo));
      if (i < b.length) b[i]! ^= 1 << ((bit >>> 2) & 7);
    }
  };
  switch (m.kind) {
    case 'flip': {
      const b = src.slice();
      flip(b, m.bits);
      return b;
    }
    case 'truncate':
      return src.slice(0, m.at % (src.length + 1));
    case 'field': {
      const b = src.slice();
      if (m.offset + 4 <= b.length) new DataView(b.buffer).setUint32(m.offset, m.value >>> 0, true);
      return b;
    }
    case 'splice': {
      const at = m.at % (src.length + 1);
      const b = new Uint8Array(src.length + m.bytes.length);
      b.set(src.subarray(0, at));
      b.set(m.bytes, at);
      b.set(src.subarray(at), at + m.bytes.length);
      return b;
    }
    case 'flip+truncate': {
      const b = src.slice(0, m.at % (src.length + 1));
      if (b.length > 0) flip(b, m.bits);
      return b;
    }
  }
}

/** Modes the images run in: every one the CLI takes (bt is refused with a line until it is built). */
const RUN_MODES = MODES as readonly Mode[];
export const IMAGE_BUDGET = 3000;

const heap = new HeapWatch('mutated images');

export function imageProperty(t?: Tally) {
  const gen = fc.record({ which: fc.nat(), m: mutation });
  // Async, so that the checks hold whether runImage answers at once or with a promise.
  return fc.asyncProperty(gen, async ({ which, m }) => {
    const { rec, done } = recorder(t, 'mutated images');
    const all = realImages();
    const src = all[which % all.length]!;
    const bytes = mutate(src.bytes, m);
    const r = noThrow(`decodeImage of ${src.name} after ${m.kind}`, () => decodeImage(bytes));
    if (!r.ok) {
      const line = noThrow('formatImageError', () => formatImageError(r.error));
      checkOneLine('image refusal', line, 300);
      check(typeof r.error.field === 'string' && r.error.field.length > 0, () => `a refusal without a field: ${line}`);
      rec('decode', `refused: ${r.error.field.replace(/\[\d+\]/g, '[i]')}`);
    } else {
      rec('decode', 'accepted');
      const seen = new Map<string, string>();
      for (const mode of RUN_MODES) {
        const res = await noThrowAsync(`runImage ${src.name} (${m.kind}) in ${mode}`, async () =>
          runImage(r.image, { mode, maxInstructions: IMAGE_BUDGET, memoryBytes: 1 << 20, disk: new Uint8Array(16 * 512) }),
        );
        check(res.stop === 'refused' || res.mode === mode, () => `a ${mode} run reports mode ${res.mode}`);
        checkOneLine(`${mode} stop message`, res.message, 300);
        if (res.stop === 'refused') check(!!res.message, () => `${mode} refused without a message`);
        checkResultSize(`${mode} result`, res, 64 * 1024);
        rec(`stop in ${mode}`, res.stop === 'refused' ? `refused: ${(res.message ?? '').replace(/0x[0-9a-f]+|\d+/g, 'N').slice(0, 60)}` : res.stop);
        seen.set(mode, JSON.stringify([res.stop, res.exitCode, res.message, res.console, res.instructions, res.idleInstructions, res.events]));
      }
      // A native image runs the same in native, trap and hw, unless it may execute PUSHF or POPF
      // (the documented Popek–Goldberg difference under trap, isa-props.ts): a word whose opcode
      // byte is one of theirs anywhere in its segments, as a flip can make one.
      const sensitive = r.image.segments.some((seg) => {
        for (let i = 0; i + 4 <= seg.data.length; i += 4) if (seg.data[i] === Op.pushf || seg.data[i] === Op.popf) return true;
        return false;
      });
      if (r.image.target === 'native' && !sensitive) {
        for (const mode of ['trap', 'hw']) check(seen.get(mode) === seen.get('native'), () => `${src.name} (${m.kind}) runs differently in ${mode}: ${seen.get(mode)?.slice(0, 300)} vs native ${seen.get('native')?.slice(0, 300)}`);
        rec('parity', 'checked');
      } else rec('parity', r.image.target === 'native' ? 'skipped: PUSHF/POPF' : 'skipped: pv image');
    }
    heap.tick();
    done();
  });
}
