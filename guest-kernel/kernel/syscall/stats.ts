/**
 * The kernel's counters as SYS_STATS and SYS_STATNAME give them: the platform's operations first
 * (platform.ts, so `stats` shows what each build did at the paravirt-ops interface), then the
 * scheduler's, the page allocator's, the address spaces' and the system calls'.
 */
import { COUNTER_COUNT, counterName, platformCounters } from '../platform/platform.ts';
import { PSTAT_COUNT, procStats } from '../proc/proc.ts';
import { STAT_COUNT, pageStats } from '../mm/page-alloc.ts';
import { VM_STAT_COUNT, vmStats } from '../mm/vm.ts';
import { syscallCounts } from './syscall.ts';

/** The names after the platform's, in order, space-separated (the subset has no arrays of strings). */
const NAMES =
  'proc.switches proc.ticks proc.spawns proc.exits proc.wakeups proc.kills mem.free mem.total mem.allocs mem.frees mem.refused_frees mem.failed_allocs vm.spaces vm.maps vm.unmaps vm.bad_pointers sys.calls sys.bad_numbers';
const OWN = PSTAT_COUNT + STAT_COUNT + VM_STAT_COUNT + 2;
const part = new Int32Array(8);

export function statCount(): number {
  return COUNTER_COUNT + OWN;
}

/** Every counter, in statName's order, into out (at least statCount() long). */
export function statsInto(out: Int32Array): void {
  const p = platformCounters();
  for (let i = 0; i < COUNTER_COUNT; i++) out[i] = p[i];
  let at = COUNTER_COUNT;
  procStats(part);
  for (let i = 0; i < PSTAT_COUNT; i++) out[at++] = part[i];
  pageStats(part);
  for (let i = 0; i < STAT_COUNT; i++) out[at++] = part[i];
  vmStats(part);
  for (let i = 0; i < VM_STAT_COUNT; i++) out[at++] = part[i];
  syscallCounts(part);
  out[at++] = part[0];
  out[at++] = part[1];
}

/** Counter i's name into out; its length, or -1 past the last. */
export function statName(i: number, out: Uint8Array): number {
  if (i < 0 || i >= COUNTER_COUNT + OWN) return -1;
  if (i < COUNTER_COUNT) return counterName(i, out);
  let at = 0;
  for (let k = COUNTER_COUNT; k < i; k++) {
    while (NAMES.charCodeAt(at) !== 32) at++;
    at++;
  }
  let n = 0;
  while (at + n < NAMES.length && NAMES.charCodeAt(at + n) !== 32 && n < out.length) {
    out[n] = NAMES.charCodeAt(at + n);
    n++;
  }
  return n;
}
