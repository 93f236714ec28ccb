/**
 * `npm run bench:exits`: what an exit costs, and what virtualization costs a compute loop.
 *
 * 1. Per exit reason, host nanoseconds per exit round trip (guest instruction -> monitor -> guest)
 *    under trap and hw: the process CPU time of a guest loop that exits minus that of the same
 *    loop with the exiting instruction replaced by an ordinary one, divided by the exits; next to
 *    it the modelled cycles of hypervisor/costs.ts and the time the monitor's handler itself took
 *    (its own accounting, without leaving and re-entering the interpreter).
 * 2. Guest instructions per second of a compute loop (the sieve of bench:cpu) in native, trap and
 *    hw, and the ratios trap/native and hw/native.
 *
 * Medians of several runs after a warm-up: the machine is shared and noisy. Printed, never
 * asserted.
 */
import { readFileSync } from 'node:fs';
import type { GuestImage } from '../../../abi/image.ts';
import { PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { assemble, formatAsmError } from '../../../guest-kernel/compiler/assembler.ts';
import { costOf } from '../../costs.ts';
import { runImage, type RunResult } from '../../run.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000);
type VmmMode = 'trap' | 'hw';

function image(src: string, name: string): GuestImage {
  const r = assemble(src, { fileName: name });
  if (!r.ok) throw new Error(`${name}: ${formatAsmError(r.errors[0]!)}`);
  return r.image;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Run to shutdown; `cpuNs` is the process's CPU time over the run. The round trips below are
 * differences of CPU time, not of wall time: on a shared machine the process is descheduled for
 * milliseconds at a time, which wall time counts and CPU time does not.
 */
function run(img: GuestImage, mode: 'native' | VmmMode): RunResult & { cpuNs: number } {
  const c0 = process.cpuUsage();
  const r = runImage(img, { mode, maxInstructions: 2_000_000_000 });
  const c = process.cpuUsage(c0);
  if (r.stop !== 'shutdown') throw new Error(`bench guest stopped: ${r.message ?? r.stop}`);
  return { ...r, cpuNs: (c.user + c.system) * 1000 };
}

// ---------------------------------------------------------------------------------------------
// 1. Exit round trips

/** A vector table at `vec` with `skip` (resume after the faulting instruction) on the listed vectors. */
const handlers = (vectors: number[]): string =>
  `la r14, vec\nmtcr vbar, r14\nla r13, skip\n${vectors.map((v) => `stw r13, [r14+${v * 4}]`).join('\n')}\n`;
const HANDLER_CODE = `skip: push r1\nldw r1, [sp+4]\naddi r1, r1, 4\nstw r1, [sp+4]\npop r1\niret\nresume: iret\ntick: out 0x20, r1\niret\n.align 4\nvec: .space 1024\n`;
/** The timer every 1,000 instructions to `tick`, interrupts on. */
const TIMER = `la r14, vec\nmtcr vbar, r14\nla r13, tick\nstw r13, [r14+128]\nli r1, 0xfe\nout 0x21, r1\nli r1, 1000\nout 0x40, r1\nsti\n`;
/** SYSCALL back to `sysback` on the kernel stack the loop uses (0x100000); a user stack below it. */
const SYSCALL_BACK = `la r14, vec\nmtcr vbar, r14\nla r13, sysback\nstw r13, [r14+0x200]\nlui r1, 0x10\nmtcr ksp, r1\nli r6, 0x7000\nli r7, 0\n`;
/** Identity paging of 16 MiB, user pages, tables from 0x200000; VA 0x2000000 has no table. */
const PAGING = `
  li r1, 0x200000
  li r2, ${PTE_P | PTE_W | PTE_U}
  lui r3, 0x100
  li r4, 0x1000
pg: stw r2, [r1]
  addi r1, r1, 4
  add r2, r2, r4
  blt r2, r3, pg
  lui r1, 0x20
  ori r1, r1, 0x4000
  li r2, 0
  li r5, 0x200000
pd: ori r6, r5, ${PTE_P | PTE_W | PTE_U}
  stw r6, [r1]
  addi r1, r1, 4
  add r5, r5, r4
  addi r2, r2, 1
  li r6, 4
  blt r2, r6, pd
  lui r1, 0x20
  ori r1, r1, 0x4000
  mtcr ptbr, r1
  li r1, 1
  mtcr ctrl, r1
`;

interface Micro {
  reason: string;
  modes: VmmMode[];
  /** What else one iteration's round trip includes. */
  note?: string;
  prelude?: string;
  body: string;
  baseline: string;
  /** Exits of `reason` per iteration. */
  per?: number;
}

const MICROS: Micro[] = [
  { reason: 'io-in', modes: ['trap', 'hw'], body: 'in r1, 0x3fd', baseline: 'li r1, 0x20' },
  { reason: 'io-out', modes: ['trap', 'hw'], note: 'to an unclaimed port', body: 'out 0x80, r1', baseline: 'mov r1, r1' },
  { reason: 'cr-read', modes: ['trap', 'hw'], body: 'mfcr r1, scratch', baseline: 'mov r1, r2' },
  { reason: 'cr-write', modes: ['trap', 'hw'], body: 'mtcr scratch, r1', baseline: 'mov r2, r1' },
  { reason: 'cli', modes: ['trap', 'hw'], body: 'cli', baseline: 'nop' },
  { reason: 'sti', modes: ['trap', 'hw'], body: 'sti', baseline: 'nop' },
  { reason: 'invlpg', modes: ['trap', 'hw'], body: 'invlpg r2', baseline: 'nop' },
  { reason: 'pushf', modes: ['hw'], body: 'pushf\naddi sp, sp, 4', baseline: 'push r1\naddi sp, sp, 4' },
  { reason: 'popf', modes: ['hw'], body: 'push r0\npopf', baseline: 'push r0\npop r1' },
  {
    reason: 'iret',
    modes: ['trap', 'hw'],
    prelude: 'mov r6, sp\nli r7, 0',
    body: 'la r5, 1f_%\npush r6\npush r7\npush r5\niret\n1f_%:',
    baseline: 'la r5, 1f_%\npush r6\npush r7\npush r5\naddi sp, sp, 12\n1f_%:',
  },
  {
    reason: 'sysret',
    modes: ['trap', 'hw'],
    note: 'with the SYSCALL that returns to the kernel (an exit too under trap)',
    prelude: SYSCALL_BACK,
    body: 'la r5, sysuser\npush r6\npush r7\npush r5\nsysret\nsysuser: syscall\nsysback: addi sp, sp, 12',
    baseline: 'la r5, sysuser\npush r6\npush r7\npush r5\naddi sp, sp, 12\nsysuser: nop\nsysback: nop',
  },
  {
    reason: 'hlt',
    modes: ['trap', 'hw'],
    note: 'woken by the timer: with that interrupt and its EOI and iret exits (idle time is virtual)',
    prelude: TIMER,
    body: 'hlt',
    baseline: 'nop',
  },
  { reason: 'hypercall', modes: ['trap', 'hw'], note: 'with the #UD handler and its iret exit', prelude: handlers([6]), body: 'hypercall', baseline: 'nop' },
  { reason: 'exception', modes: ['trap'], note: '#DE, with the handler and its iret exit', prelude: `${handlers([0])}li r3, 0`, body: 'div r1, r3, r3', baseline: 'nop' },
  { reason: 'syscall', modes: ['trap'], note: 'with the handler\'s iret exit', prelude: `${handlers([])}la r13, resume\nstw r13, [r14+0x200]`, body: 'syscall', baseline: 'nop' },
  { reason: 'page-fault', modes: ['trap'], note: 'with the handler and its iret exit', prelude: `${handlers([14])}${PAGING}lui r9, 0x200`, body: 'ldw r1, [r9]', baseline: 'nop' },
  { reason: 'shadow-fill', modes: ['trap'], note: 'INVLPG drops the entry each time (its exit is in the baseline)', prelude: `${PAGING}lui r9, 0x10`, body: 'invlpg r9\nldw r1, [r9]', baseline: 'invlpg r9\nnop' },
  // The entry for page 0 of the table that maps the code, which the shadows therefore use.
  { reason: 'ptemod', modes: ['trap'], note: 'a store to a live page-table entry', prelude: `${PAGING}lui r4, 0x20\nli r3, 0`, body: 'stw r3, [r4]', baseline: 'stw r3, [r4+-4096]' },
];

function microImage(m: Micro, exiting: boolean): GuestImage {
  let n = 0;
  const body = (exiting ? m.body : m.baseline).replace(/1f_%/g, () => `l${Math.floor(n++ / 2)}`);
  const src = `
  li sp, 0x100000
  ${m.prelude ?? ''}
  li r10, ${ITERATIONS}
  li r11, 0
loop:
  ${body}
  addi r10, r10, -1
  bne r10, r11, loop
  li r1, 0
  out 0xf4, r1
  ${HANDLER_CODE}`;
  return image(src, `${m.reason}.s`);
}

interface Measured {
  ns: number;
  handlerNs: number;
  exits: number;
}

function measure(m: Micro, mode: VmmMode): Measured {
  const withExits = microImage(m, true);
  const without = microImage(m, false);
  const diffs: number[] = [];
  const handler: number[] = [];
  let exits = 0;
  for (let i = 0; i <= RUNS; i++) {
    const a = run(withExits, mode);
    const b = run(without, mode);
    const s = a.exits?.[m.reason];
    exits = s?.count ?? 0;
    if (i === 0 || exits === 0) continue; // run 0 warms up the JIT
    diffs.push((a.cpuNs - b.cpuNs) / exits);
    handler.push(s!.hostNs / exits);
  }
  return { ns: exits ? median(diffs) : NaN, handlerNs: exits ? median(handler) : NaN, exits };
}

/** Guest-invisible second-level faults: touch fresh pages vs the same page as often. */
function measureEpt(): Measured {
  const pages = 3000;
  const src = (stride: number): string => `
  lui r1, 0x20
  li r2, ${pages}
  li r3, 0
  li r4, ${stride}
t: ldw r5, [r1]
  add r1, r1, r4
  addi r2, r2, -1
  bne r2, r3, t
  out 0xf4, r3`;
  const fresh = image(src(4096), 'ept.s');
  const same = image(src(0), 'ept0.s');
  const diffs: number[] = [];
  const handler: number[] = [];
  let exits = 0;
  for (let i = 0; i <= RUNS; i++) {
    const a = run(fresh, 'hw');
    const b = run(same, 'hw');
    const sa = a.exits!['ept-violation']!;
    const sb = b.exits!['ept-violation']!;
    exits = sa.count - sb.count;
    if (i === 0) continue;
    diffs.push((a.cpuNs - b.cpuNs) / exits);
    handler.push((sa.hostNs - sb.hostNs) / exits);
  }
  return { ns: median(diffs), handlerNs: median(handler), exits };
}

/** Timer interrupts into a compute loop vs the same loop without the timer. */
function measureInterrupt(mode: VmmMode): Measured {
  const src = (period: number): string => `
  li sp, 0x100000
  la r1, vec
  mtcr vbar, r1
  la r2, isr
  stw r2, [r1+128]
  li r1, 0xfe
  out 0x21, r1
  li r1, ${period}
  out 0x40, r1
  sti
  li r10, ${ITERATIONS * 50}
  li r11, 0
l: addi r10, r10, -1
  bne r10, r11, l
  cli
  out 0xf4, r11
isr: out 0x20, r0
  iret
  .align 4
vec: .space 1024`;
  const timer = image(src(500), 'irq.s');
  const quiet = image(src(0), 'noirq.s');
  const diffs: number[] = [];
  const handler: number[] = [];
  let exits = 0;
  for (let i = 0; i <= RUNS; i++) {
    const a = run(timer, mode);
    const b = run(quiet, mode);
    const s = a.exits!.interrupt!;
    exits = s.count;
    if (i === 0) continue;
    diffs.push((a.cpuNs - b.cpuNs) / exits);
    handler.push(s.hostNs / exits);
  }
  return { ns: median(diffs), handlerNs: median(handler), exits };
}

const fmt = (x: number): string => (Number.isNaN(x) ? '-' : Math.round(x).toString());
const cycles = (mode: VmmMode, reason: string): string => String(costOf(`${mode}.${reason}`)?.cycles ?? '-');

console.log(`exit round trips: host ns per exit (median of ${RUNS} runs of ${ITERATIONS} iterations, after a warm-up)`);
console.log('  round trip = CPU time of (loop with the exit - same loop without) / exits; handler = the monitor\'s own accounting');
console.log('  (wall time, one exit in eight timed after the first 1,024: a descheduling inside one inflates it)');
console.log(`  ${'reason'.padEnd(12)} ${'trap ns'.padStart(8)} ${'handler'.padStart(8)} ${'cycles'.padStart(7)}   ${'hw ns'.padStart(8)} ${'handler'.padStart(8)} ${'cycles'.padStart(7)}   note`);
const rows: [string, Partial<Record<VmmMode, Measured>>, string][] = [];
for (const m of MICROS) {
  const r: Partial<Record<VmmMode, Measured>> = {};
  for (const mode of m.modes) r[mode] = measure(m, mode);
  rows.push([m.reason, r, m.note ?? '']);
}
rows.push(['ept-violation', { hw: measureEpt() }, 'first touch of a guest page']);
rows.push(['interrupt', { trap: measureInterrupt('trap'), hw: measureInterrupt('hw') }, 'timer; with the handler\'s EOI and iret exits']);
for (const [reason, r, note] of rows) {
  const col = (mode: VmmMode): string =>
    r[mode] ? `${fmt(r[mode]!.ns).padStart(8)} ${fmt(r[mode]!.handlerNs).padStart(8)} ${cycles(mode, reason).padStart(7)}` : `${'no exit'.padStart(8)} ${''.padStart(8)} ${''.padStart(7)}`;
  console.log(`  ${reason.padEnd(12)} ${col('trap')}   ${col('hw')}   ${note}`);
}
console.log('  (trap: pushf and popf do not exit, they are the Popek-Goldberg trap door; hw: guest page faults and page-table writes do not exit)');

// ---------------------------------------------------------------------------------------------
// 2. Compute loop

const sieve = image(readFileSync(new URL('../../../guest-kernel/programs/asm/sieve.s', import.meta.url), 'utf8'), 'sieve.s');
const ips: Record<'native' | VmmMode, number[]> = { native: [], trap: [], hw: [] };
const cpuIps: Record<'native' | VmmMode, number[]> = { native: [], trap: [], hw: [] };
let instructions = 0;
for (let i = 0; i <= RUNS; i++) {
  // Rotate the order so no mode always runs first after the others.
  const order = (['native', 'trap', 'hw'] as const).map((_, k, a) => a[(k + i) % 3]!);
  for (const mode of order) {
    const r = run(sieve, mode);
    if (r.exitCode !== 78498) throw new Error(`sieve gave ${r.exitCode} in ${mode}`);
    instructions = r.instructions;
    if (i === 0) continue;
    ips[mode].push(r.instructions / (r.hostNs / 1e9));
    cpuIps[mode].push(r.instructions / (r.cpuNs / 1e9));
  }
}
const mi = (x: number): string => (x / 1e6).toFixed(0);
console.log(`\ncompute loop (sieve.s, ${instructions} guest instructions), median of ${RUNS} runs after a warm-up:`);
for (const mode of ['native', 'trap', 'hw'] as const) {
  // Time ratio: how much longer the same guest work takes in this mode than on the bare machine.
  // The best run is the least disturbed by the other processes on the machine: its ratio is the
  // steadier figure when the medians wander.
  const best = (xs: number[]): number => Math.max(...xs);
  const ratio =
    mode === 'native'
      ? ''
      : `   ${mode}/native: ${(median(ips.native) / median(ips[mode])).toFixed(2)}x the time (CPU time ${(median(cpuIps.native) / median(cpuIps[mode])).toFixed(2)}x; best runs ${(best(cpuIps.native) / best(cpuIps[mode])).toFixed(2)}x)`;
  console.log(`  ${mode.padEnd(7)} ${mi(median(ips[mode])).padStart(5)} M instr/s wall, ${mi(median(cpuIps[mode])).padStart(5)} M instr/s CPU${ratio}`);
}
console.log('  (target: trap and hw within 1.2x of native; a ratio below 1.0 is noise)');
