/**
 * `npm run bench:cpu`: guest instructions per second of the interpreter, printed, never asserted.
 * - a compute loop: a sieve of Eratosthenes in assembly (loads, stores, branches, ALU);
 * - an ALU loop run both by our CPU and by the barest switch-dispatch interpreter (bare-loop.ts),
 *   and their ratio: what paging, privilege checks, the fetch-page check and interrupt polling
 *   cost. The ratio holds still while the host's speed moves (these shared machines vary by 2x
 *   between hours); the target is at least half of the bare loop.
 * Medians of several runs after a warm-up; both wall time and CPU time are shown.
 */
import { readFileSync } from 'node:fs';
import { assemble, formatAsmError } from '../../../guest-kernel/compiler/assembler.ts';
import type { GuestImage } from '../../../abi/image.ts';
import { runImage } from '../../run.ts';
import { ALU_LOOP_SOURCE, bareLoopRate } from './bare-loop.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mi = (x: number): string => (x / 1e6).toFixed(0);

function image(src: string, name: string): GuestImage {
  const r = assemble(src, { fileName: name });
  if (!r.ok) throw new Error(formatAsmError(r.errors[0]!));
  return r.image;
}

/** Wall and CPU-time rates of `img` over RUNS runs after a warm-up, and its instruction count. */
function measure(img: GuestImage, expectExit: number): { wall: number[]; cpu: number[]; instructions: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  let instructions = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const c0 = process.cpuUsage();
    const r = runImage(img, { mode: 'native' });
    const c = process.cpuUsage(c0);
    if (r.exitCode !== expectExit) throw new Error(`benchmark guest gave ${r.exitCode}, expected ${expectExit}`);
    instructions = r.instructions;
    if (i === 0) continue; // warms up the JIT
    wall.push(r.instructions / (r.hostNs / 1e9));
    cpu.push(r.instructions / ((c.user + c.system) / 1e6));
  }
  return { wall, cpu, instructions };
}

const sieve = measure(image(readFileSync(new URL('../../../guest-kernel/programs/asm/sieve.s', import.meta.url), 'utf8'), 'sieve.s'), 78498);
console.log(`sieve (native, interpreter): ${sieve.instructions} guest instructions per run, ${RUNS} runs after a warm-up`);
console.log(`  wall time: median ${mi(median(sieve.wall))}, min ${mi(Math.min(...sieve.wall))}, max ${mi(Math.max(...sieve.wall))} M instr/s`);
console.log(`${mi(median(sieve.cpu))} M instr/s (median over CPU time)`);

const ITER = 16_000_000;
const ours: number[] = [];
const bare: number[] = [];
const alu = image(ALU_LOOP_SOURCE(ITER), 'alu.s');
const aluRate = (): number => {
  const r = runImage(alu, { mode: 'native' });
  if (r.exitCode !== ITER) throw new Error(`ALU loop gave ${r.exitCode}, expected ${ITER}`);
  return r.instructions / (r.hostNs / 1e9);
};
aluRate(); // warm-ups
bareLoopRate(ITER);
// Alternate the two so that a change in the host's speed touches both alike.
for (let i = 0; i < RUNS; i++) {
  ours.push(aluRate());
  bare.push(bareLoopRate(ITER));
}
const ratio = median(ours.map((o, i) => o / bare[i]!));
console.log(`ALU loop: our CPU ${mi(median(ours))} M instr/s, bare switch loop ${mi(median(bare))} M instr/s: ${(ratio * 100).toFixed(0)}% of the bare loop (target: at least 50%)`);
