/**
 * The physical page allocator (guest-kernel/kernel/mm/page-alloc.ts):
 * - its test program (kernel/mm/tests/page-alloc-demo.ts: exhaust, zero-fill, frees, refusals,
 *   reuse) prints the same transcript in Node and in every mode, and reports no failure;
 * - a property: random sequences of allocs and frees (double, misaligned and out-of-range frees
 *   included) give what a simple model of xv6's LIFO free list says, both in Node and compiled
 *   for the machine (native).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callGuestMain, installShims, loadGuestMain } from '../../guest-kernel/compiler/node-shim.ts';
import { runImage } from '../../hypervisor/run.ts';
import { compileFile, compileSource, MODES, ROOT, run } from './helpers.ts';

const ALLOC_TS = path.join(ROOT, 'guest-kernel/kernel/mm/page-alloc.ts');
const DEMO = path.join(ROOT, 'guest-kernel/kernel/mm/tests/page-alloc-demo.ts');
const PAGE = 4096;
/** Where the Node runs put the allocator's memory: page-aligned, inside the shim's 16 MiB. */
const NODE_BASE = 0x100000;

const FREE_OK = 0;
const FREE_MISALIGNED = -1;
const FREE_OUT_OF_RANGE = -2;
const FREE_DOUBLE = -3;

/**
 * Run a guest main in Node with addressOf shimmed to NODE_BASE (the real shim refuses it: a
 * Node object has no address). Fine for programs whose only use of addressOf is to find
 * memory they then reach through load32/store32.
 */
async function runInNodeAt(file: string): Promise<{ console: string; exitCode: number }> {
  const main = await loadGuestMain(file);
  const g = globalThis as Record<string, unknown>;
  const saved = g.addressOf;
  g.addressOf = (): number => NODE_BASE;
  try {
    const r = callGuestMain(main);
    return { console: r.console, exitCode: r.exitCode };
  } finally {
    g.addressOf = saved;
  }
}

describe('page allocator: the test program', () => {
  it('prints the same transcript in Node and in every mode, with no failure', async () => {
    const node = await runInNodeAt(DEMO);
    expect(node.exitCode).toBe(0);
    expect(node.console).toContain('page allocator: ok');
    expect(node.console).not.toContain('FAIL');
    // The transcript says what the allocator did, not just that it agreed with itself.
    expect(node.console).toContain('init: 16 frames');
    expect(node.console).toContain('allocated 16 then out of memory; free count 0');
    expect(node.console).toContain('double -3 misaligned -1 below -2 above -2 zero -2 negative -2');
    expect(node.console).toContain('realloc frame 14 dirty words 0');
    expect(node.console).toContain('  free 0 total 16 allocs 40 frees 24 refused 7 failed 4');
    const images = { native: compileFile(DEMO, 'native').image, pv: compileFile(DEMO, 'pv').image };
    for (const { mode, target } of MODES) {
      const r = runImage(images[target], { mode, maxInstructions: 50_000_000 });
      expect({ mode, stop: r.stop, console: r.console, exitCode: r.exitCode }).toEqual({ mode, stop: 'shutdown', console: node.console, exitCode: 0 });
    }
  }, 60_000);
});

// ---- the property ----

/** [kind, arg]: alloc; free frame `arg` (from -2 to N + 1: in range, double, or outside); free 8 bytes into frame `arg`. */
type Op = readonly [0, number] | readonly [1, number] | readonly [2, number];
const NFRAMES = 8;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant([0, 0] as const) },
  { weight: 4, arbitrary: fc.integer({ min: -2, max: NFRAMES + 1 }).map((i) => [1, i] as const) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: NFRAMES - 1 }).map((i) => [2, i] as const) },
);
const opsArb = fc.array(opArb, { minLength: 1, maxLength: 60 });

/**
 * The model: a LIFO stack of free frame indexes (frames come out lowest first after init, and
 * the last freed first after that), and the counters. Its transcript is the test program's.
 */
function model(ops: readonly Op[]): string {
  const stack: number[] = [];
  for (let i = NFRAMES - 1; i >= 0; i--) stack.push(i);
  const free = new Set(stack);
  let allocs = 0, frees = 0, refused = 0, failed = 0;
  const out: string[] = [];
  for (const [kind, arg] of ops) {
    if (kind === 0) {
      const f = stack.pop();
      if (f === undefined) {
        failed++;
        out.push('a -1');
      } else {
        free.delete(f);
        allocs++;
        out.push(`a ${f} 0`);
      }
    } else {
      let r = FREE_OK;
      if (kind === 2) r = FREE_MISALIGNED;
      else if (arg < 0 || arg >= NFRAMES) r = FREE_OUT_OF_RANGE;
      else if (free.has(arg)) r = FREE_DOUBLE;
      if (r === FREE_OK) {
        free.add(arg);
        stack.push(arg);
        frees++;
      } else refused++;
      out.push(`f ${r}`);
    }
  }
  out.push(`stats ${stack.length} ${NFRAMES} ${allocs} ${frees} ${refused} ${failed}`);
  return out.map((l) => `${l}\n`).join('');
}

interface PageAllocModule {
  pageInit(start: number, end: number): number;
  pageAlloc(): number;
  pageFree(pa: number): number;
  pageStats(out: Int32Array): void;
}

/** The allocator itself, imported under Node (a dynamic import: guest code is not in the root build). */
async function loadAllocator(): Promise<PageAllocModule> {
  installShims();
  return (await import(pathToFileURL(ALLOC_TS).href)) as PageAllocModule;
}

/** The same transcript as the guest program's, from the allocator run in Node. */
function runOpsInNode(m: PageAllocModule, ops: readonly Op[]): string {
  const g = globalThis as unknown as { load32(a: number): number; store32(a: number, v: number): void };
  const base = NODE_BASE;
  const out: string[] = [];
  expect(m.pageInit(base, base + NFRAMES * PAGE)).toBe(NFRAMES);
  for (const [kind, arg] of ops) {
    if (kind === 0) {
      const pa = m.pageAlloc();
      if (pa === 0) out.push('a -1');
      else {
        let dirty = 0;
        for (let a = pa; a < pa + PAGE; a += 4) if (g.load32(a) !== 0) dirty++;
        for (let a = pa; a < pa + PAGE; a += 4) g.store32(a, a | 1);
        out.push(`a ${(pa - base) >> 12} ${dirty}`);
      }
    } else out.push(`f ${m.pageFree(kind === 1 ? base + arg * PAGE : base + arg * PAGE + 8)}`);
  }
  const s = new Int32Array(6);
  m.pageStats(s);
  out.push(`stats ${s[0]} ${s[1]} ${s[2]} ${s[3]} ${s[4]} ${s[5]}`);
  return out.map((l) => `${l}\n`).join('');
}

/** A guest program that runs `ops` over NFRAMES frames of its own and prints the transcript. */
function guestSource(ops: readonly Op[]): string {
  return `
import { PAGE_SIZE, pageAlloc, pageFree, pageInit, pageStats } from '../../kernel/mm/page-alloc.ts';
const arena = new Uint8Array(${NFRAMES + 1} * PAGE_SIZE);
const ops = new Int32Array([${ops.flat().join(', ')}]);
const stats = new Int32Array(6);
export function main(): number {
  const base = (addressOf(arena) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  // Dirty the frames, so that zero-fill is tested.
  for (let a = base; a < base + ${NFRAMES} * PAGE_SIZE; a += 4) store32(a, a | 1);
  if (pageInit(base, base + ${NFRAMES} * PAGE_SIZE) !== ${NFRAMES}) return 1;
  for (let i = 0; i < ops.length; i += 2) {
    const kind = ops[i];
    const arg = ops[i + 1];
    if (kind === 0) {
      const pa = pageAlloc();
      if (pa === 0) {
        console.log('a', -1);
      } else {
        let dirty = 0;
        for (let a = pa; a < pa + PAGE_SIZE; a += 4) if (load32(a) !== 0) dirty++;
        for (let a = pa; a < pa + PAGE_SIZE; a += 4) store32(a, a | 1);
        console.log('a', (pa - base) >> 12, dirty);
      }
    } else if (kind === 1) {
      console.log('f', pageFree(base + arg * PAGE_SIZE));
    } else {
      console.log('f', pageFree(base + arg * PAGE_SIZE + 8));
    }
  }
  pageStats(stats);
  console.log('stats', stats[0], stats[1], stats[2], stats[3], stats[4], stats[5]);
  return 0;
}
`;
}

describe('page allocator: random allocs and frees against a model', () => {
  it('in Node', async () => {
    const m = await loadAllocator();
    fc.assert(
      fc.property(opsArb, (ops) => {
        expect(runOpsInNode(m, ops)).toBe(model(ops));
      }),
      { numRuns: 300 },
    );
  });

  it('compiled for the machine (native)', () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const r = run(compileSource(guestSource(ops)).image, 'native', 20_000_000);
        expect({ stop: r.stop, exitCode: r.exitCode, console: r.console }).toEqual({ stop: 'shutdown', exitCode: 0, console: model(ops) });
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});
