/**
 * `npm run bench:compiler`: how fast compiled guest code runs, against the same source run by
 * Node. For sieve, recursive fib and CRC-32 (programs of the differential corpus) it prints the
 * compile time, the guest instructions one run executes, the time of a run on the machine (native
 * mode, the interpreter) and of main() run directly by Node (intrinsics shimmed), and the ratio.
 * Medians of several runs after warm-up runs, since a 2-core machine is noisy; printed, never
 * asserted. The target is within 10x of Node in the interpreter; a binary translator will
 * narrow the gap later.
 *
 * Both sides are measured warm: the interpreter has run the image, and Node main(), for at least
 * WARMUP_MS each before timing starts (a fixed count of warm-up runs left the short fib run in
 * the interpreter's cold, not yet optimised code: 8 ms instead of 2). The three programs leave
 * no state behind that changes the next run's work.
 *
 * It lives on the hypervisor side because it drives both the compiler and the machine; the
 * compiler itself imports only abi/.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runImage } from '../run.ts';
import { compile } from '../../guest-kernel/compiler/compile.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import { callGuestMain, loadGuestMain } from '../../guest-kernel/compiler/node-shim.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const WARMUP_RUNS = 3;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);

const PROGRAMS = [
  { name: 'sieve', file: 'guest-kernel/programs/sieve.ts' },
  { name: 'fib', file: 'guest-kernel/programs/fib-recursive.ts' },
  { name: 'crc32', file: 'guest-kernel/programs/crc32.ts' },
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (ns: number): string => (ns / 1e6).toFixed(2);

interface Row {
  name: string;
  compileMs: number;
  codeBytes: number;
  instructions: number;
  guestNs: number;
  nodeNs: number;
}

async function measure(p: { name: string; file: string }): Promise<Row> {
  const file = path.join(root, p.file);
  compile(file, { target: 'native', rootDir: root }); // warm the compiler and the parse cache
  const t0 = performance.now();
  const compiled = compile(file, { target: 'native', rootDir: root });
  const compileMs = performance.now() - t0;
  if (!compiled.ok) throw new Error(compiled.diagnostics.map(formatDiagnostic).join('\n'));

  const main = await loadGuestMain(file);
  let expected: { console: string; exitCode: number } | undefined;
  const guest: number[] = [];
  const node: number[] = [];
  let instructions = 0;
  const once = (i: number): { guestNs: number; nodeNs: number } => {
    const r = runImage(compiled.image, { mode: 'native' });
    const n = callGuestMain(main);
    expected ??= n;
    if (r.console !== expected.console || r.exitCode !== expected.exitCode || n.console !== expected.console) {
      throw new Error(`${p.name}: the machine and Node disagree (run ${i})`);
    }
    instructions = r.instructions;
    return { guestNs: r.hostNs, nodeNs: n.hostNs };
  };
  let warmGuest = 0;
  let warmNode = 0;
  for (let i = 0; i < WARMUP_RUNS || warmGuest < WARMUP_MS * 1e6 || warmNode < WARMUP_MS * 1e6; i++) {
    const t = once(i);
    warmGuest += t.guestNs;
    warmNode += t.nodeNs;
  }
  for (let i = 0; i < RUNS; i++) {
    const t = once(i);
    guest.push(t.guestNs);
    node.push(t.nodeNs);
  }
  return { name: p.name, compileMs, codeBytes: compiled.stats.codeBytes, instructions, guestNs: median(guest), nodeNs: median(node) };
}

const rows: Row[] = [];
for (const p of PROGRAMS) rows.push(await measure(p));

console.log(`guest compiler: compiled TypeScript on the machine (native mode, interpreter) vs the same source in Node`);
console.log(`median of ${RUNS} runs, each side warmed for at least ${WARMUP_MS} ms first; Node ${process.version}`);
console.log('');
const header = ['program', 'compile ms', 'code bytes', 'guest instructions', 'machine ms', 'M instr/s', 'node ms', 'machine / node'];
const table = rows.map((r) => [
  r.name,
  r.compileMs.toFixed(0),
  String(r.codeBytes),
  r.instructions.toLocaleString('en-US'),
  ms(r.guestNs),
  (r.instructions / (r.guestNs / 1e3)).toFixed(0),
  ms(r.nodeNs),
  `${(r.guestNs / r.nodeNs).toFixed(1)}x`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(header));
for (const row of table) console.log(line(row));
