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
const wall: number[] = [];
const cpu: number[] = [];
let instructions = 0;
for (let i = 0; i < RUNS + 1; i++) {
  const c0 = process.cpuUsage();
  const r = runImage(asm.image, { mode: 'native' });
  const c = process.cpuUsage(c0);
  if (r.exitCode !== 78498) throw new Error(`sieve gave ${r.exitCode}, expected 78498 primes below 10^6`);
  instructions = r.instructions;
  if (i === 0) continue; // run 0 warms up the JIT
  wall.push(r.instructions / (r.hostNs / 1e9));
  // CPU time (user + system) is less disturbed by other processes on a shared 2-core machine.
  cpu.push(r.instructions / ((c.user + c.system) / 1e6));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mi = (x: number): string => (x / 1e6).toFixed(0);
console.log(`sieve (native, interpreter): ${instructions} guest instructions per run, ${RUNS} runs after a warm-up`);
console.log(`wall time: median ${mi(median(wall))}, min ${mi(Math.min(...wall))}, max ${mi(Math.max(...wall))} M instr/s`);
console.log(`${mi(median(cpu))} M instr/s (median over CPU time)`);
