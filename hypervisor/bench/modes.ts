/**
 * `npm run bench:modes [-- --svg FILE]`: the headline benchmark. The same workloads
 * (workloads.ts; guest programs in guest-kernel/programs/bench/, written once and compiled for
 * both targets) run in every mode that is built:
 *
 *   native  the native build on the bare machine: the baseline;
 *   trap    the same native image under the trap-and-emulate monitor (shadow paging);
 *   hw      the same native image in VT-x-like guest mode (nested paging);
 *   pv      the pv build of the same source: hypercalls, event channels, virtio rings.
 *
 * Workloads: compute (the corpus sieve: no I/O to speak of, so every mode should cost about the
 * same), console (16 KiB of text: a UART OUT per byte on native, so an exit per byte under trap
 * and hw; a console_io hypercall per 1 KiB on pv), block (256 KiB written in 4 KiB requests,
 * flushed and read back: ATA-style PIO, one IN/OUT per word, on native; virtio-blk with batched
 * kicks on pv), syscall (4,096 system-call round trips into the kernel's own entry).
 *
 * Per workload and mode it prints guest instructions, exits (trap, hw), hypercalls (pv), virtio
 * kicks (pv), events (exceptions and interrupts the guest took; under pv these are bounces
 * through the hypervisor), modelled cycles (hypervisor/costs.ts: one cycle per instruction plus
 * each exit, hypercall and event at its published cost), host milliseconds, and both as a ratio
 * to native. Then a bar chart of modelled cycles relative to native, on a log scale because the
 * ratios run from about 1x to several hundred; `--svg FILE` writes the same chart as an SVG.
 *
 * How to read it: everything but host time is deterministic (virtual time counts instructions),
 * so the counts and modelled cycles are the same on every machine and every run; the bench
 * checks that every mode gave the same console, exit code and disk bytes, and that the counts
 * did not move between runs. Host time is the median of BENCH_RUNS runs (default 9) after
 * BENCH_WARMUP rounds (default 2), the modes interleaved so that a slow minute on this noisy
 * 2-core machine hits all of them alike (single runs still vary by 2-3x when another process
 * or a garbage collection of the previous run's machine lands in them, hence the median; a
 * forced gc() between runs was tried and made every run several times slower). Host time
 * measures our interpreter and monitors, not a CPU, so compare its ratios, not its
 * milliseconds; note that the native baseline runs with paging off while trap, hw and pv
 * translate every access through a TLB. Modelled cycles are the figures to compare with
 * the published tables (shared/ANCHORS.md). Printed, never asserted; the counts the workloads
 * must produce are asserted in test/hypervisor/bench-workloads.test.ts.
 */
import { parseArgs } from 'node:util';
import chalk from 'chalk';
import { writeFileAtomic } from '../fs-util.ts';
import type { RunResult } from '../run.ts';
import { BENCH_MODES, BENCH_SIZES, build, differs, runWorkload, WORKLOADS, type BenchMode, type BuiltWorkload, type WorkloadRun } from './workloads.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);

function parseCommandLine(argv: string[]): { svg?: string } {
  try {
    const { values } = parseArgs({ args: argv, options: { svg: { type: 'string' } }, strict: true });
    return values.svg === undefined ? {} : { svg: values.svg };
  } catch (e) {
    process.stderr.write(`bench:modes: ${(e as Error).message.split('\n')[0]} (usage: npm run bench:modes [-- --svg FILE])\n`);
    process.exit(2);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sum = (r: Readonly<Record<string, number>> | undefined): number => Object.values(r ?? {}).reduce((a, b) => a + b, 0);

/** The deterministic figures of a run. */
interface Counts {
  instructions: number;
  exits: number | null;
  hypercalls: number | null;
  kicks: number | null;
  events: number;
  modelledCycles: number;
}

function counts(r: RunResult): Counts {
  return {
    instructions: r.instructions,
    exits: r.exits ? Object.values(r.exits).reduce((a, e) => a + e.count, 0) : null,
    hypercalls: r.hypercalls ? sum(r.hypercalls) : null,
    kicks: r.devices ? Object.values(r.devices).reduce((a, d) => a + d.kicks, 0) : null,
    events: sum(r.events),
    modelledCycles: r.modelledCycles,
  };
}

interface Cell {
  counts: Counts;
  hostNs: number[];
}

const args = parseCommandLine(process.argv.slice(2));
const built: BuiltWorkload[] = WORKLOADS.map((w) => build(w, BENCH_SIZES));
const cells = new Map<string, Cell>();
const key = (w: string, m: BenchMode): string => `${w}/${m}`;

/** One run of every workload in every mode, checked against native; timings kept if `keep`. */
function round(keep: boolean): void {
  for (const w of built) {
    let baseline: WorkloadRun | undefined;
    for (const mode of BENCH_MODES) {
      const run = runWorkload(w, mode);
      baseline ??= run;
      const why = differs(w, run, baseline);
      if (why) throw new Error(why);
      const c = counts(run.result);
      const cell = cells.get(key(w.name, mode));
      if (!cell) cells.set(key(w.name, mode), { counts: c, hostNs: keep ? [run.result.hostNs] : [] });
      else {
        if (JSON.stringify(cell.counts) !== JSON.stringify(c)) throw new Error(`${w.name} in ${mode}: counts changed between runs`);
        if (keep) cell.hostNs.push(run.result.hostNs);
      }
    }
  }
}

for (let i = 0; i < WARMUP; i++) round(false);
for (let i = 0; i < RUNS; i++) round(true);

// ---- the table ----------------------------------------------------------------------------------

const fmt = (n: number | null): string => (n === null ? '-' : n.toLocaleString('en-US'));
const ratio = (x: number): string => (x >= 100 ? `${x.toFixed(0)}x` : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`);

console.log('bench:modes — the same workloads in every mode (native = bare machine; trap, hw = the native build under a monitor; pv = the paravirtual build)');
console.log(`host time: median of ${RUNS} runs after ${WARMUP} warm-up rounds, modes interleaved; every other figure is deterministic. Node ${process.version}`);
for (const w of built) console.log(`  ${w.name.padEnd(8)} ${w.about.replace('CONSOLE_BYTES', `${w.sizes.consoleBytes / 1024} KiB`).replace('BLOCK_BYTES', `${w.sizes.blockBytes / 1024} KiB`).replace('SYSCALLS', String(w.sizes.syscalls))}`);
console.log('');

const header = ['workload', 'mode', 'guest instr', 'exits', 'hypercalls', 'kicks', 'events/bounces', 'modelled cycles', 'host ms', 'cycles/native', 'host/native'];
const rows: string[][] = [];
const chartRows: { workload: string; mode: BenchMode; ratio: number }[] = [];
for (const w of built) {
  const base = cells.get(key(w.name, 'native'))!;
  const baseNs = median(base.hostNs);
  for (const mode of BENCH_MODES) {
    const cell = cells.get(key(w.name, mode))!;
    const c = cell.counts;
    const ns = median(cell.hostNs);
    const cyclesRatio = c.modelledCycles / base.counts.modelledCycles;
    chartRows.push({ workload: w.name, mode, ratio: cyclesRatio });
    rows.push([
      mode === 'native' ? w.name : '',
      mode,
      fmt(c.instructions),
      fmt(c.exits),
      fmt(c.hypercalls),
      fmt(c.kicks),
      fmt(c.events),
      fmt(c.modelledCycles),
      (ns / 1e6).toFixed(1),
      ratio(cyclesRatio),
      ratio(ns / baseNs),
    ]);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log('');

// ---- the chart ----------------------------------------------------------------------------------

const COLOUR: Record<BenchMode, (s: string) => string> = { native: chalk.gray, trap: chalk.red, hw: chalk.yellow, pv: chalk.green };
const SVG_COLOUR: Record<BenchMode, string> = { native: '#888888', trap: '#d9534f', hw: '#e6a700', pv: '#3c9a4f' };

/** The log axis: whole decades from below the smallest ratio to above the largest. */
const lo = 10 ** Math.min(0, Math.floor(Math.log10(Math.min(...chartRows.map((r) => r.ratio)))));
const hi = 10 ** Math.max(1, Math.ceil(Math.log10(Math.max(...chartRows.map((r) => r.ratio)))));
const decades = Math.round(Math.log10(hi / lo));
/** Position of `x` along the axis, 0..1. */
const at = (x: number): number => Math.log10(x / lo) / decades;
const decadeLabel = (d: number): string => {
  const v = lo * 10 ** d;
  return v >= 1 ? `${v.toFixed(0)}x` : `${v}x`;
};

const BAR = 60;
const name = Math.max(...built.map((w) => w.name.length));
const label = name + 2 + 6 + 1;
console.log(`modelled cycles relative to native, log scale (each | on the axis is a factor of 10; native ends at 1x)`);
const axis = [...' '.repeat(BAR + 1)];
const ticks = [...' '.repeat(BAR + 8)];
for (let d = 0; d <= decades; d++) {
  const p = Math.round((d / decades) * BAR);
  axis[p] = '|';
  const t = decadeLabel(d);
  for (let k = 0; k < t.length && p + k < ticks.length; k++) ticks[p + k] = t[k]!;
}
for (const w of built) {
  for (const mode of BENCH_MODES) {
    const r = chartRows.find((x) => x.workload === w.name && x.mode === mode)!;
    const n = Math.max(1, Math.round(at(r.ratio) * BAR));
    const head = `${(mode === 'native' ? w.name : '').padEnd(name + 2)}${mode.padEnd(6)} `;
    console.log(`${head}${COLOUR[mode]('#'.repeat(n))} ${ratio(r.ratio)}`);
  }
}
console.log(`${' '.repeat(label)}${axis.join('').trimEnd()}`);
console.log(`${' '.repeat(label)}${ticks.join('').trimEnd()}`);

if (args.svg) {
  writeFileAtomic(args.svg, new TextEncoder().encode(svgChart()));
  console.log(`\nwrote ${args.svg}`);
}

/** The same chart as a self-contained SVG: one bar per workload and mode, decade gridlines. */
function svgChart(): string {
  const left = 150;
  const width = 560;
  const rowH = 16;
  const gap = 10;
  const top = 46;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const out: string[] = [];
  let y = top;
  for (const w of built) {
    out.push(`<text x="8" y="${y + rowH * 2 + 4}" font-weight="bold">${esc(w.name)}</text>`);
    for (const mode of BENCH_MODES) {
      const r = chartRows.find((x) => x.workload === w.name && x.mode === mode)!;
      const len = Math.max(1, at(r.ratio) * width);
      out.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${mode}</text>`);
      out.push(`<rect x="${left}" y="${y + 2}" width="${len.toFixed(1)}" height="${rowH - 4}" fill="${SVG_COLOUR[mode]}"/>`);
      out.push(`<text x="${(left + len + 4).toFixed(1)}" y="${y + 12}">${esc(ratio(r.ratio))}</text>`);
      y += rowH;
    }
    y += gap;
  }
  const grid: string[] = [];
  for (let d = 0; d <= decades; d++) {
    const x = left + (d / decades) * width;
    grid.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${y - gap + 4}" stroke="#cccccc"/>`);
    grid.push(`<text x="${x.toFixed(1)}" y="${y + 10}" text-anchor="middle" fill="#555555">${esc(decadeLabel(d))}</text>`);
  }
  const h = y + 24;
  const wTotal = left + width + 70;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${wTotal}" height="${h}" viewBox="0 0 ${wTotal} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="18" font-size="13" font-weight="bold">tsvisor: modelled cycles relative to native (log scale)</text>`,
    `<text x="8" y="34" fill="#555555">native: bare machine; trap, hw: the native build under a monitor; pv: the paravirtual build (hypervisor/costs.ts)</text>`,
    ...grid,
    ...out,
    `</svg>`,
    '',
  ].join('\n');
}
