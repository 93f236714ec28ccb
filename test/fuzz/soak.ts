/**
 * `npm run soak`: the fuzz properties of this folder (properties.ts), for much longer than the
 * short run in `npm test`, with a random seed, and a report of what was seen.
 *
 *   npm run soak                          5 minutes, all targets, a random seed
 *   npm run soak -- --minutes 30          longer
 *   npm run soak -- --seconds 60 --seed 1234 --only pv-direct,cli
 *
 * The time is shared equally between the targets, in rounds of 12 s in which each target gets
 * an equal slice, so a slow target gets its share and a fast one runs more cases. Every slice
 * (a chunk) has its own seed, derived from the base seed; a failure
 * prints the command that replays its one failing case in vitest (FUZZ_SEED, FUZZ_PATH). The
 * report: cases per target and per second, the outcomes seen (stop kinds, refusals, hypercall
 * results by error name, ring faults by kind, exit statuses), and host memory growth.
 * Exit status 1 when any property failed.
 */
import fc from 'fast-check';
import { HeapWatch, Tally } from './common.ts';
import { warmCompiler } from './cli-props.ts';
import { TARGETS, type Target } from './properties.ts';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`soak: ${msg}\n`);
  process.stderr.write('usage: tsx test/fuzz/soak.ts [--minutes N | --seconds N] [--seed N] [--only name,name] [--chunk MAX_CASES]\n');
  process.exit(2);
}

function parse(argv: string[]): { ms: number; seed: number; only: Target[]; chunk: number } {
  let ms = 5 * 60_000;
  let seed = (Math.random() * 2 ** 31) | 0;
  let only = [...TARGETS];
  let chunk = 100_000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const num = (): number => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < 0) usage(`${a}: expected a number, got '${v ?? ''}'`);
      i++;
      return n;
    };
    if (a === '--minutes') ms = num() * 60_000;
    else if (a === '--seconds') ms = num() * 1000;
    else if (a === '--seed') seed = num() | 0;
    else if (a === '--chunk') chunk = Math.max(1, num() | 0);
    else if (a === '--only') {
      const names = (v ?? '').split(',').filter(Boolean);
      only = names.map((n) => TARGETS.find((t) => t.name === n) ?? usage(`no target '${n}' (targets: ${TARGETS.map((t) => t.name).join(', ')})`));
      i++;
    } else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument '${a}'`);
  }
  return { ms, seed, only, chunk };
}

const { ms, seed, only, chunk } = parse(process.argv.slice(2));
// Load everything a target may load before the first heap measurement (the TypeScript compiler
// of `compile` is tens of MiB), so the watches see growth per case, not module loads.
await warmCompiler();
const tally = new Tally();
/** One round of all targets; a slice of it each. */
const ROUND_MS = 12_000;
const stats = new Map<string, { cases: number; ms: number; chunks: number; failure?: string }>();
for (const t of only) stats.set(t.name, { cases: 0, ms: 0, chunks: 0 });
const salt = (name: string): number => [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261);

process.stdout.write(`tsvisor fuzz soak: ${(ms / 1000).toFixed(0)} s over ${only.map((t) => t.name).join(', ')}; base seed ${seed} (replay all: --seed ${seed})\n`);
const t0 = Date.now();
let round = 0;
while (Date.now() - t0 < ms) {
  const live = only.filter((t) => !stats.get(t.name)!.failure);
  if (live.length === 0) break;
  for (const t of live) {
    const left = ms - (Date.now() - t0);
    if (left <= 0) break;
    const s = stats.get(t.name)!;
    const chunkSeed = (seed + Math.imul(round, 7919) + salt(t.name)) | 0;
    // Each target gets an equal slice of time per round (a round is at most ROUND_MS); a chunk
    // stops quietly at its slice or at `chunk` cases, whichever comes first.
    const limit = Math.max(50, Math.floor(Math.min(ROUND_MS, left) / live.length));
    const start = Date.now();
    const before = tally.cases.get(tallyName(t)) ?? 0;
    const r = await runChunk(t, chunkSeed, limit);
    s.ms += Date.now() - start;
    s.chunks++;
    s.cases += (tally.cases.get(tallyName(t)) ?? 0) - before;
    if (r.failed) {
      const err = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
      s.failure =
        `${err.split('\n').slice(0, 6).join('\n    ')}\n` +
        `    counterexample: ${JSON.stringify(r.counterexample)?.slice(0, 600)}\n` +
        `    replay: FUZZ_SEED=${r.seed} FUZZ_PATH=${r.counterexamplePath} npx vitest run test/fuzz/${t.file} -t '${t.title}'`;
      process.stdout.write(`\nFAILED ${t.name} (seed ${r.seed}):\n    ${s.failure}\n`);
    }
  }
  round++;
  const done = Date.now() - t0;
  process.stdout.write(`${process.stdout.isTTY ? '\r' : ''}  ${(done / 1000).toFixed(0)} s: ${[...stats].map(([n, s]) => `${n} ${s.cases}`).join(', ')}   ${process.stdout.isTTY ? '' : '\n'}`);
}

/**
 * Run target `t` from `seed` for about `limit` ms. A synchronous property is interrupted between
 * cases by fast-check itself. An asynchronous one is not: fast-check would race a running case
 * against the clock and go on while it still runs (two CLI cases at once share the process's
 * working directory), so it runs in short checks of 10 cases until the time is up.
 */
async function runChunk(t: Target, seed: number, limit: number): Promise<fc.RunDetails<unknown>> {
  const ASYNC_STEP = 10;
  if (!t.async) return fc.check(t.property(tally), { seed, numRuns: chunk, interruptAfterTimeLimit: limit, markInterruptAsFailure: false });
  const end = Date.now() + limit;
  let r: fc.RunDetails<unknown>;
  let k = 0;
  do r = await fc.check(t.property(tally), { seed: (seed + k++) | 0, numRuns: Math.min(ASYNC_STEP, chunk) });
  while (!r.failed && Date.now() < end);
  return r;
}

/** The recorder's name of each target (pv-props etc. record under these). */
function tallyName(t: Target): string {
  return { 'pv-direct': 'pv hypercalls', 'pv-guest': 'pv hypercalls from guest code', instructions: 'instruction words', virtqueues: 'virtqueues', images: 'mutated images', cli: 'command lines' }[t.name] ?? t.name;
}

const elapsed = (Date.now() - t0) / 1000;
const out: string[] = ['', '', `tsvisor fuzz soak report: ${elapsed.toFixed(0)} s, base seed ${seed}`, ''];
out.push('| target | cases | cases/s | chunks | result |', '|---|---|---|---|---|');
for (const [name, s] of stats) {
  out.push(`| ${name} | ${s.cases} | ${(s.cases / Math.max(0.001, s.ms / 1000)).toFixed(1)} | ${s.chunks} | ${s.failure ? 'FAILED' : 'ok'} |`);
}
out.push('', 'outcomes seen (count), by target and kind:');
for (const [kind, m] of [...tally.seen].sort(([a], [b]) => a.localeCompare(b))) {
  const items = [...m].sort((a, b) => b[1] - a[1]);
  const shown = items.slice(0, 14).map(([k, n]) => `${k} ${n}`);
  if (items.length > 14) shown.push(`… ${items.length - 14} more`);
  out.push(`  ${kind}: ${shown.join('; ')}`);
}
out.push('', 'host memory (live heap + array buffers after a full collection, growth since the first check):');
for (const w of HeapWatch.all) if (w.cases > 0) out.push(`  ${w.what}: peak growth ${(w.peakGrowth / 2 ** 20).toFixed(1)} MiB over ${w.cases} cases (bound ${w.bound / 2 ** 20} MiB)`);
const failed = [...stats].filter(([, s]) => s.failure);
out.push('', failed.length === 0 ? 'no failures' : `${failed.length} target(s) FAILED:`);
for (const [name, s] of failed) out.push(`  ${name}: ${s.failure}`);
process.stdout.write(out.join('\n') + '\n');
process.exit(failed.length === 0 ? 0 : 1);
