/**
 * Target 4 (image-props.ts): the real images of guest-kernel/programs/asm, bit-flipped,
 * truncated, with header fields set to extremes or bytes spliced in, decoded and run in every
 * mode: a one-line refusal or a run result, never a host exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../abi/image.ts';
import { mutate, realImages } from './image-props.ts';
import { shortRun } from './properties.ts';

describe('fuzz: damaged images', () => {
  it('the real images decode, and undamaged they stay as they were', () => {
    const all = realImages();
    expect(all.length).toBeGreaterThanOrEqual(8);
    for (const { name, bytes } of all) expect(decodeImage(mutate(bytes, { kind: 'flip', bits: [] })).ok, name).toBe(true);
  });

  it('bit flips, truncations, extreme fields and splices: a one-line refusal or a run, in every mode', async () => {
    await fc.assert(...shortRun('images'));
  }, 120_000);
});
