/**
 * Target 2 (isa-props.ts): random instruction words in native, trap and hw with the same
 * budget: no host exception, clean monitor audits, and the same stop, console, exit code,
 * instruction counts, events and disk in every mode (PUSHF/POPF excluded: see isa-props.ts).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { shortRun } from './properties.ts';

describe('fuzz: random instruction words in every mode', () => {
  it('never throw, and native, trap and hw agree', async () => {
    await fc.assert(...shortRun('instructions'));
  }, 120_000);
});
