/**
 * `npm run bench:cpu`: guest instructions per second of the interpreter on a compute loop (a
 * sieve of Eratosthenes in assembly: loads, stores, branches, ALU). Prints the median of several
 * runs after a warm-up, since a 2-core machine is noisy; never asserted in a test.
 */
import { readFileSync } from 'node:fs';
import { assemble, formatAsmError } from '../../../guest-kernel/compiler/assembler.ts';
import { runImage } from '../../run.ts';

const src = readFileSync(new URL('../../../guest-kernel/programs/asm/sieve.s', import.meta.url), 'utf8');
const asm = assemble(src, { fileName: 'sieve.s' });
if (!asm.ok) throw new Error(formatAsmError(asm.errors[0]!));

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const rates: number[] = [];
let instructions = 0;
for (let i = 0; i < RUNS + 1; i++) {
  const r = runImage(asm.image, { mode: 'native' });
  if (r.exitCode !== 78498) throw new Error(`sieve gave ${r.exitCode}, expected 78498 primes below 10^6`);
  instructions = r.instructions;
  if (i > 0) rates.push(r.instructions / (r.hostNs / 1e9)); // run 0 warms up the JIT
}
rates.sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)]!;
const mi = (x: number): string => (x / 1e6).toFixed(0);
console.log(`sieve (native, interpreter): ${instructions} guest instructions per run, ${RUNS} runs`);
console.log(`${mi(median)} M instr/s (median; min ${mi(rates[0]!)}, max ${mi(rates[rates.length - 1]!)})`);
