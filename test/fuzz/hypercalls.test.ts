/**
 * Target 1 (pv-props.ts): random hypercalls from a hostile pv guest, in kernel and user mode,
 * straight to the dispatcher and from real guest code. Seeded: see common.ts runParams;
 * case counts: properties.ts.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { shortRun } from './properties.ts';

describe('fuzz: a hostile pv guest', () => {
  it('random hypercalls (kernel and user mode) keep the frame table, grants and the victim intact', async () => {
    await fc.assert(...shortRun('pv-direct'));
  }, 120_000);

  it('the same calls made by guest code through hypercall instructions', async () => {
    await fc.assert(...shortRun('pv-guest'));
  }, 120_000);
});
