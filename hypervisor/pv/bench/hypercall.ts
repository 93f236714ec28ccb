/**
 * `npm run bench:hypercall`: host nanoseconds per null hypercall (xen_version) round trip,
 * including exit, validation and re-entry, and per mmu_update entry for batches of 1, 16 and
 * 256. Each figure is the median of several runs after a warm-up (CPU time of this process), minus the same guest loop
 * with the hypercall replaced by a nop, so the guest's own loop is not counted.
 */
import { assemble, formatAsmError } from '../../../guest-kernel/compiler/assembler.ts';
import { runImage } from '../../run.ts';
import * as N from '../../../abi/hypercall-numbers.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function image(src: string) {
  const r = assemble(src, { fileName: 'bench.s', target: 'pv' });
  if (!r.ok) throw new Error(formatAsmError(r.errors[0]!));
  return r.image;
}

/**
 * Median host ns of a pv run of `src`: this process's CPU time, not wall time, since the machines
 * this runs on are shared and wall time counts the other jobs too.
 */
function medianNs(src: string): number {
  const img = image(src);
  const ns: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const c0 = process.cpuUsage();
    const r = runImage(img, { mode: 'pv' });
    const c = process.cpuUsage(c0);
    if (r.stop !== 'shutdown') throw new Error(`bench guest did not shut down: ${r.message}`);
    if (i > 0) ns.push((c.user + c.system) * 1000);
  }
  return ns.sort((a, b) => a - b)[Math.floor(ns.length / 2)]!;
}

const loop = (n: number, body: string, setup = ''): string => `
.target pv
start:
  ${setup}
  li32 r10, ${n}
  li r11, 0
l:${body}
  addi r10, r10, -1
  bne r10, r11, l
  li r0, ${N.HC_SCHED_OP}
  li r1, ${N.SCHEDOP_SHUTDOWN}
  li r2, 0
  hypercall
`;

const CALLS = 200_000;
const nullCall = `
  li r0, ${N.HC_XEN_VERSION}
  li r1, ${N.XENVER_VERSION}
  hypercall`;
const noCall = `
  li r0, ${N.HC_XEN_VERSION}
  li r1, ${N.XENVER_VERSION}
  nop`;
const nullNs = (medianNs(loop(CALLS, nullCall)) - medianNs(loop(CALLS, noCall))) / CALLS;
console.log(`null hypercall (xen_version) round trip: ${nullNs.toFixed(0)} ns (median of ${RUNS})`);

// mmu_update batches: rewrite the stack's first page-table entry with its own value, `batch`
// times per call (a valid, idempotent update of a real L1 entry).
for (const batch of [1, 16, 256]) {
  const calls = Math.max(200, Math.floor(100_000 / batch));
  const setup = `
  ; r4 = machine address of the L1 entry mapping the stack page below PV_STACK_TOP, r5 = its value
  li32 r1, ${N.PV_START_INFO_VA}
  ldw r2, [r1+${N.SOD_PT_BASE}]      ; va of the page directory; its first L1 follows it
  ldw r6, [r2+0]                     ; pde 0 -> L1 of region 0 (machine address in bits 31..12)
  shri r6, r6, 12
  shli r6, r6, 12
  li32 r7, ${((N.PV_STACK_TOP - 4096) >>> 12) & 1023}
  shli r7, r7, 2
  add r4, r6, r7                     ; machine address of the entry
  li32 r8, ${N.PV_PAGE_TABLES_VA + 4096}
  add r8, r8, r7
  ldw r5, [r8]                       ; its current value, read through the read-only mapping
  la r9, reqs
  li32 r12, ${batch}
fill:
  stw r4, [r9]
  stw r5, [r9+4]
  addi r9, r9, 8
  addi r12, r12, -1
  bne r12, r11, fill`;
  const call = `
  li r0, ${N.HC_MMU_UPDATE}
  la r1, reqs
  li32 r2, ${batch}
  hypercall`;
  const tail = `\n.org 0x100000, rw\nreqs: .space ${batch * 8}\n`;
  const withCall = medianNs(loop(calls, call, setup) + tail);
  const without = medianNs(loop(calls, call.replace('hypercall', 'nop'), setup) + tail);
  console.log(`mmu_update, batch of ${batch}: ${((withCall - without) / calls / batch).toFixed(0)} ns per entry, ${((withCall - without) / calls).toFixed(0)} ns per call`);
}
