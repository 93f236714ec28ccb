/**
 * A guest cannot make the host grow or hang (issue 10): a console flood and ever-new hypercall
 * numbers stay within bounded host memory and say which bound they hit; a run stops promptly for
 * a closed pipe, SIGINT and --timeout, each with its own exit status; and running in slices (what
 * lets those stops in) never changes a result.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../abi/image.ts';
import { EXIT_BUDGET, EXIT_GUEST_DIED, EXIT_HALTED, EXIT_INTERRUPTED, EXIT_TIMEOUT, UNKNOWN_CALL_KEYS } from '../../hypervisor/limits.ts';
import { runImage, runImageLive, type Mode, type RunOptions, type RunResult } from '../../hypervisor/run.ts';
import { cli } from './cli-harness.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'hypervisor/bin/tsvisor.mjs');
const MEASURED = join(ROOT, 'test/e2e/run-measured.mjs');
const ASM = join(ROOT, 'guest-kernel/programs/asm');
/** Host memory a hostile guest may cost the whole tsvisor process (node and tsx take about 100 MB). */
const MAX_RSS_KIB = 200 * 1024;

let dir: string;
const img = (name: string): string => join(dir, `${name}.img`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-live-'));
  for (const name of ['console-flood', 'pv-console-flood', 'pv-unknown-hypercalls', 'spin']) {
    expect((await cli('asm', join(ASM, 'hostile', `${name}.s`), '-o', img(name))).code, name).toBe(0);
  }
  for (const name of ['demo', 'paging', 'popf-critical', 'pv-timer', 'pv-console-in', 'pv-user', 'pv-grant', 'sieve']) {
    expect((await cli('asm', join(ASM, `${name}.s`), '-o', img(name))).code, name).toBe(0);
  }
});

/** `tsvisor run ARGS --json` in a child process: its result and its peak memory. */
function measuredRun(...args: string[]): { code: number; result: RunResult; err: string; maxRssKib: number } {
  const p = spawnSync(process.execPath, [MEASURED, 'run', ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const rss = /maxrss-kib (\d+)\n$/.exec(p.stderr);
  expect(rss, p.stderr).not.toBeNull();
  return { code: p.status!, result: JSON.parse(p.stdout) as RunResult, err: p.stderr, maxRssKib: Number(rss![1]) };
}

describe('a hostile guest runs to its budget in bounded host memory and is told which bound it hit', () => {
  it('native: a UART flood of 30 MB keeps the last 1 MiB and the total', () => {
    const r = measuredRun(img('console-flood'), '--max-instructions', '90000000');
    expect(r.code).toBe(EXIT_BUDGET);
    expect(r.result.consoleBytes).toBeGreaterThan(29_000_000);
    expect(r.result.console.length).toBe(1 << 20);
    expect(r.result.boundsHit?.console).toMatch(/^kept the last 1048576 of \d+ console bytes/);
    expect(r.err).toMatch(/tsvisor: note: kept the last 1048576 of/);
    expect(r.maxRssKib).toBeLessThan(MAX_RSS_KIB);
  }, 30_000);

  it('pv: console_io writes of 200 MB keep the last 1 MiB and the total', () => {
    const r = measuredRun(img('pv-console-flood'), '--mode', 'pv', '--max-instructions', '300000');
    expect(r.code).toBe(EXIT_BUDGET);
    expect(r.result.consoleBytes).toBeGreaterThan(150_000_000);
    expect(r.result.console.length).toBe(1 << 20);
    expect(r.result.boundsHit?.console).toMatch(/^kept the last 1048576 of/);
    expect(r.maxRssKib).toBeLessThan(MAX_RSS_KIB);
  }, 30_000);

  it('pv: five million unknown hypercall numbers are counted in a fixed table plus one bucket', () => {
    const r = measuredRun(img('pv-unknown-hypercalls'), '--mode', 'pv', '--max-instructions', '20000000');
    expect(r.code).toBe(EXIT_BUDGET);
    const calls = r.result.hypercalls!;
    expect(Object.keys(calls)).toHaveLength(UNKNOWN_CALL_KEYS + 1);
    expect(calls.hypercall1000).toBe(1);
    expect(calls['other-unknown']).toBe(5_000_000 - UNKNOWN_CALL_KEYS);
    expect(r.result.hypercallErrors).toEqual({ ENOSYS: 5_000_000 });
    expect(r.result.boundsHit?.unknownHypercalls).toMatch(/^counted 16 distinct unknown hypercalls by name, 4999984 more under 'other-unknown'/);
    expect(r.err).toMatch(/tsvisor: note: counted 16 distinct unknown hypercalls/);
    expect(r.maxRssKib).toBeLessThan(MAX_RSS_KIB);
  }, 30_000);
});

describe('a run stops promptly, with its own exit status', () => {
  it('`tsvisor run IMAGE | head -c 5` of a guest that prints forever ends', () => {
    // Before: the EPIPE handler could not run while the guest loop was synchronous, and the guest
    // went on to its 2·10^9-instruction budget. The deadline only catches that; the time is printed.
    const t0 = performance.now();
    const p = spawnSync('bash', ['-c', `node '${BIN}' run '${img('console-flood')}' | head -c 5`], { encoding: 'utf8', timeout: 20_000 });
    const ms = performance.now() - t0;
    console.log(`run | head -c 5: ended after ${ms.toFixed(0)} ms, node start-up included`);
    expect(p.error).toBeUndefined();
    expect(p.stdout).toBe('ABCDE');
  }, 30_000);

  it('SIGINT ends a run with the --json of the run so far and status 130', async () => {
    const child = spawn(process.execPath, [BIN, 'run', img('spin'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    // Wait until the guest is running (it prints nothing with --json: give start-up its time).
    await new Promise((r) => setTimeout(r, 2000));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(EXIT_INTERRUPTED);
    const result = JSON.parse(out) as RunResult;
    expect(result.stop).toBe('interrupted');
    expect(result.instructions).toBeGreaterThan(0);
    expect(err).toMatch(/^tsvisor: interrupted after \d+ instructions\n$/);
  }, 30_000);

  it('--timeout 1 ends a spinning guest after about a second, with status 121', async () => {
    const r = await cli('run', img('spin'), '--timeout', '1', '--json');
    expect(r.code).toBe(EXIT_TIMEOUT);
    const result = JSON.parse(r.out) as RunResult;
    expect(result.stop).toBe('timeout');
    expect(result.hostNs).toBeGreaterThanOrEqual(1e9);
    expect(r.err).toMatch(/^tsvisor: stopped after 1 s of host time \(--timeout\), at \d+ instructions\n$/);
    console.log(`--timeout 1: stopped after ${(result.hostNs / 1e6).toFixed(0)} ms`);
  });

  it('every way a run ends has its own status, none of them timeout(1)\'s 124', async () => {
    const src = (name: string, text: string): string => {
      const f = join(dir, `${name}.s`);
      writeFileSync(f, text);
      return f;
    };
    // No vector table: the first fault cannot be delivered.
    expect((await cli('asm', src('triple', 'li r1, 0\ndiv r2, r1, r1\n'), '-o', img('triple'))).code).toBe(0);
    expect((await cli('asm', src('halt', 'cli\nhlt\n'), '-o', img('halt'))).code).toBe(0);
    const statuses = {
      budget: (await cli('run', img('spin'), '--max-instructions', '1000')).code,
      timeout: (await cli('run', img('spin'), '--timeout', '0.2')).code,
      tripleFault: (await cli('run', img('triple'))).code,
      halted: (await cli('run', img('halt'))).code,
      crashed: (await cli('run', img('triple'), '--mode', 'trap')).code,
    };
    expect(statuses).toEqual({ budget: EXIT_BUDGET, timeout: EXIT_TIMEOUT, tripleFault: EXIT_GUEST_DIED, halted: EXIT_HALTED, crashed: EXIT_GUEST_DIED });
    expect(new Set([EXIT_BUDGET, EXIT_TIMEOUT, EXIT_GUEST_DIED, EXIT_HALTED, EXIT_INTERRUPTED, 124]).size).toBe(6);
  });
});

describe('running in slices gives exactly the result of one run', () => {
  const cases: [string, Mode, Partial<RunOptions>][] = [
    ['demo', 'native', { disk: new Uint8Array(4096) }],
    ['demo', 'trap', { disk: new Uint8Array(4096) }],
    ['demo', 'hw', { disk: new Uint8Array(4096) }],
    ['paging', 'trap', {}],
    ['popf-critical', 'trap', {}],
    ['popf-critical', 'hw', {}],
    ['sieve', 'native', { maxInstructions: 300_000 }],
    ['pv-timer', 'pv', {}],
    ['pv-console-in', 'pv', { input: new TextEncoder().encode('typed text') }],
    ['pv-user', 'pv', {}],
    ['console-flood', 'native', { maxInstructions: 50_000 }],
    ['pv-unknown-hypercalls', 'pv', { maxInstructions: 50_000 }],
  ];
  for (const [name, mode, extra] of cases) {
    it(`${name} in ${mode}, sliced every 1, 7 and 1,000 instructions`, async () => {
      const { readFileSync } = await import('node:fs');
      const decoded = decodeImage(new Uint8Array(readFileSync(img(name))));
      if (!decoded.ok) throw new Error('image');
      const opts = (): RunOptions => ({ mode, maxInstructions: 2_000_000, ...extra, ...(extra.disk ? { disk: extra.disk.slice() } : {}) });
      const { hostNs: _a, ...whole } = runImage(decoded.image, opts());
      for (const slice of [1, 7, 1000]) {
        const { hostNs: _b, ...sliced } = await runImageLive(decoded.image, { ...opts(), sliceInstructions: slice });
        // Exit host times differ run to run; everything else must not.
        const strip = (r: Omit<RunResult, 'hostNs'>): unknown => JSON.parse(JSON.stringify(r, (k, v) => (k === 'hostNs' ? undefined : v)));
        expect(strip(sliced), `slice ${slice}`).toEqual(strip(whole));
      }
    }, 60_000);
  }
});
