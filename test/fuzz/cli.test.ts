/**
 * Target 5 (cli-props.ts): random command lines through `main(argv, io)` in a temporary
 * directory: an exit status, short messages without stack traces, and no file changed that the
 * command line did not name as an output.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { shortRun } from './properties.ts';

describe('fuzz: random command lines', () => {
  it('main never throws, answers with a status and a line, and leaves unnamed files alone', async () => {
    await fc.assert(...shortRun('cli'));
  }, 120_000);
});
