/**
 * `tsvisor run` reading console input live: text piped into stdin reaches an echo guest (the
 * UART's receive interrupt on native, console_io read and VIRQ_CONSOLE on pv) and comes back on
 * the console; with --input TEXT, stdin is not read.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../hypervisor/cli.ts';
import { EXIT_HALTED } from '../../hypervisor/limits.ts';
import { cli } from './cli-harness.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'hypervisor/bin/tsvisor.mjs');
const FIXTURES = join(ROOT, 'test/hypervisor/fixtures');
let dir: string;
const img = (name: string): string => join(dir, `${name}.img`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-input-'));
  for (const name of ['uart-echo', 'pv-echo']) {
    expect((await cli('asm', join(FIXTURES, `${name}.s`), '-o', img(name))).code, name).toBe(0);
  }
});

/** The real executable with `stdin` piped into it. */
function piped(stdin: string, ...args: string[]): { code: number | null; out: string; err: string } {
  const p = spawnSync(process.execPath, [BIN, 'run', ...args], { input: stdin, encoding: 'utf8', timeout: 60_000 });
  return { code: p.status, out: p.stdout, err: p.stderr };
}

describe('tsvisor run: console input from stdin', () => {
  it.each([
    ['native', 'uart-echo'],
    ['pv', 'pv-echo'],
  ])('%s: text piped into stdin is echoed by the guest', (mode, guest) => {
    const r = piped('typed into a pipe\nsecond line\nq', img(guest), '--mode', mode);
    expect(r.err).toBe('');
    expect(r.out).toBe('typed into a pipe\nsecond line\n');
    expect(r.code).toBe('typed into a pipe\nsecond line\n'.length);
  }, 60_000);

  it('a guest still waiting when the pipe closes stops halted, with what it echoed', () => {
    const r = piped('no end', img('uart-echo'));
    expect(r.out).toBe('no end');
    expect(r.code).toBe(EXIT_HALTED);
  }, 60_000);

  it('--input TEXT takes precedence: stdin is not read', () => {
    const r = piped('from stdin q', img('uart-echo'), '--input', 'from flag q');
    expect(r.out).toBe('from flag ');
    expect(r.code).toBe(10);
  }, 60_000);

  it('in-process: bytes written to the input stream over time reach trap and hw guests', async () => {
    for (const mode of ['trap', 'hw']) {
      const stream = new PassThrough();
      let out = '';
      const done = main(['run', img('uart-echo'), '--mode', mode], { out: (s) => void (out += s), err: (s) => void (out += s), input: () => stream });
      stream.write('one ');
      await new Promise((r) => setTimeout(r, 30));
      stream.write('two q');
      expect(await done, mode).toBe(8);
      expect(out).toBe('one two ');
    }
  }, 60_000);
});
