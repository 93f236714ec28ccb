/**
 * What every fuzz target shares: the seed and run count (fixed for `npm test`, overridable for a
 * soak or a replay), a tally of outcomes the soak reports, hashing, bounds on host memory and on
 * result sizes, and the one-line check for messages a user sees.
 *
 * The checks here throw plain Errors (no vitest `expect`), so the same properties run under
 * vitest and under `npm run soak` (plain tsx).
 */
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Fixed base seed of the short runs; each target mixes in its name so targets differ. */
export const BASE_SEED = 0x7f5a_1c2d;

/** fast-check parameters of one property: seed, runs, and a replay path when one is given. */
export interface RunParams {
  seed: number;
  numRuns: number;
  path?: string;
  endOnFailure?: boolean;
}

function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h | 0;
}

/**
 * The short run's parameters for target `name`: a fixed seed (deterministic `npm test`), unless
 * FUZZ_SEED overrides it; `shortRuns` cases, unless FUZZ_RUNS overrides it. FUZZ_PATH replays
 * the one failing case fast-check printed (with its seed), without the shrinking before it.
 */
export function runParams(name: string, shortRuns: number): RunParams {
  const env = process.env;
  const seed = env.FUZZ_SEED !== undefined && env.FUZZ_SEED !== '' ? Number(env.FUZZ_SEED) | 0 : (BASE_SEED ^ nameHash(name)) | 0;
  const runs = env.FUZZ_RUNS !== undefined && env.FUZZ_RUNS !== '' ? Math.max(1, Number(env.FUZZ_RUNS) | 0) : shortRuns;
  // A replay stops at its first failure: the failing case itself, while the bug is there.
  return { seed, numRuns: runs, ...(env.FUZZ_PATH ? { path: env.FUZZ_PATH, endOnFailure: true } : {}) };
}

/** A broken promise of the host: the fuzz case fails with this message. */
export class Violation extends Error {
  override name = 'Violation';
}

export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new Violation(typeof message === 'string' ? message : message());
}

/**
 * Outcomes seen, by target and kind (stop kinds, refusal kinds, error codes by name, ring faults
 * by kind), for the soak's report. A property records into the tally it is given; the short runs
 * give none.
 */
export class Tally {
  readonly cases = new Map<string, number>();
  readonly seen = new Map<string, Map<string, number>>();

  /** One more case of `target`. */
  case(target: string): void {
    this.cases.set(target, (this.cases.get(target) ?? 0) + 1);
  }

  /** `key` seen under `kind` (e.g. 'stop' / 'triple-fault', 'hypercall error' / 'EINVAL'). */
  add(kind: string, key: string, n = 1): void {
    let m = this.seen.get(kind);
    if (!m) this.seen.set(kind, (m = new Map()));
    // A guest chooses some keys (numbers, messages): keep the tally itself bounded too.
    if (!m.has(key) && m.size >= 256) key = '(other)';
    m.set(key, (m.get(key) ?? 0) + n);
  }
}

/** Record into `t` when there is one (the short runs pass none). */
export type Rec = (kind: string, key: string, n?: number) => void;
export const recorder = (t: Tally | undefined, target: string): { rec: Rec; done: () => void } => ({
  rec: (kind, key, n) => t?.add(`${target}: ${kind}`, key, n),
  done: () => t?.case(target),
});

/** A short digest of bytes (SHA-1, native and fast: whole guest memories are hashed per case). */
export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex').slice(0, 16);
}

/** The one-line shape of every message a user or a guest is shown. */
export function checkOneLine(what: string, text: string | undefined, max = 400): void {
  if (text === undefined) return;
  const body = text.replace(/\n$/, '');
  check(!body.includes('\n'), () => `${what} is more than one line: ${JSON.stringify(text.slice(0, 300))}`);
  check(body.length <= max, () => `${what} is ${body.length} characters long: ${JSON.stringify(body.slice(0, 200))}...`);
  check(!/^\s+at /m.test(text), () => `${what} holds a stack trace: ${JSON.stringify(text.slice(0, 300))}`);
}

/** A result object's size as JSON is bounded (a guest must not grow the report without end). */
export function checkResultSize(what: string, value: unknown, maxBytes: number): void {
  const n = JSON.stringify(value)?.length ?? 0;
  check(n <= maxBytes, () => `${what} is ${n} bytes as JSON, over the bound of ${maxBytes}`);
}

/**
 * V8's collector, exposed at run time (the usual `--expose-gc` trick), so that a heap check
 * measures live memory and not garbage the collector has not reached yet.
 */
let gcFn: (() => void) | undefined;
function collect(): void {
  if (!gcFn) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    } catch {
      gcFn = () => {};
    }
  }
  gcFn();
}

/**
 * Live host memory: the JS heap plus array buffers (machine memories are ArrayBuffers). V8
 * frees the backing stores of dead array buffers behind a collection, not always within it, so
 * collect until their total stops falling (at most four times): one collection alone showed
 * tens of MiB of machine memories that were already garbage.
 */
export function liveBytes(): number {
  let best = Infinity;
  for (let i = 0; i < 4; i++) {
    collect();
    const m = process.memoryUsage();
    const n = m.heapUsed + m.arrayBuffers;
    if (n >= best) break;
    best = n;
  }
  return best;
}

/**
 * Host memory stays bounded across a run: every `every` cases, after a full collection, live
 * memory may exceed the level measured at the first check by at most `bound` bytes. A leak
 * per case (a host table keyed by guest input, domains never released) grows without end and
 * trips it in a long run; the short run checks the mechanism.
 */
export class HeapWatch {
  /** Every watch made, for the soak's report. */
  static readonly all: HeapWatch[] = [];
  private base = -1;
  private n = 0;
  peakGrowth = 0;

  constructor(
    readonly what: string,
    readonly bound = 32 * 1024 * 1024,
    readonly every = 25,
  ) {
    HeapWatch.all.push(this);
  }

  get cases(): number {
    return this.n;
  }

  tick(): void {
    if (this.n++ % this.every !== 0) return;
    const now = liveBytes();
    if (this.base < 0) {
      this.base = now;
      return;
    }
    const growth = now - this.base;
    this.peakGrowth = Math.max(this.peakGrowth, growth);
    check(growth <= this.bound, () => `${this.what}: live host memory grew by ${(growth / 2 ** 20).toFixed(1)} MiB over ${this.n} cases (bound ${this.bound / 2 ** 20} MiB)`);
  }
}

/** Call `f`; an exception escaping it is the host's failure, reported as one. */
export function noThrow<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Violation) throw e;
    const err = e as Error;
    throw new Violation(`${what}: the host threw ${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${err?.stack ?? ''}`);
  }
}

export async function noThrowAsync<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Violation) throw e;
    const err = e as Error;
    throw new Violation(`${what}: the host threw ${err?.name ?? typeof e}: ${err?.message ?? String(e)}\n${err?.stack ?? ''}`);
  }
}
