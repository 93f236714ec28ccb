/**
 * Exit reasons and exit accounting. Every exit a monitor handles is counted by reason, with the
 * modelled cycles of hypervisor/costs.ts and the host time the monitor spent on it.
 *
 * The reasons, in the words of VT-x's basic exit reasons where it has one:
 * - an instruction: io-in, io-out, cr-read, cr-write, cli, sti, hlt, iret, sysret, invlpg, pushf,
 *   popf, hypercall (the guest executed it; `trap` sees the privileged ones through #GP, `hw`
 *   through its exit controls, which also catch pushf and popf);
 * - exception: a guest exception the monitor reflects into the guest (`trap` only: `hw` guests
 *   take their exceptions directly, as VT-x with an empty exception bitmap);
 * - syscall: SYSCALL reflected into the guest kernel (`trap`);
 * - page-fault: a page fault the guest sees (`trap`: the monitor reflects it);
 * - shadow-fill: a hidden fault, the shadow table not filled yet (`trap`, guest-invisible);
 * - ptemod: a guest write to one of its own page-table pages, which shadow paging write-protects;
 * - ept-violation: the second-level table has no entry yet (`hw`, guest-invisible);
 * - interrupt: an external interrupt the monitor injects (the exit a host interrupt causes).
 */
import { costOf } from '../costs.ts';

export const EXIT_REASONS = [
  'io-in',
  'io-out',
  'cr-read',
  'cr-write',
  'cli',
  'sti',
  'hlt',
  'iret',
  'sysret',
  'invlpg',
  'pushf',
  'popf',
  'hypercall',
  'exception',
  'syscall',
  'page-fault',
  'shadow-fill',
  'ptemod',
  'ept-violation',
  'interrupt',
] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

/** The numbering the monitors count with: `Exit.IoIn` is EXIT_REASONS[0], and so on. */
export const enum Exit {
  IoIn = 0,
  IoOut = 1,
  CrRead = 2,
  CrWrite = 3,
  Cli = 4,
  Sti = 5,
  Hlt = 6,
  Iret = 7,
  Sysret = 8,
  Invlpg = 9,
  Pushf = 10,
  Popf = 11,
  Hypercall = 12,
  Exception = 13,
  Syscall = 14,
  PageFault = 15,
  ShadowFill = 16,
  Ptemod = 17,
  EptViolation = 18,
  Interrupt = 19,
}

export type VmmMode = 'trap' | 'hw';

/** The reasons each mode can produce; costs.ts has a row for each. */
export const MODE_EXIT_REASONS: Readonly<Record<VmmMode, readonly ExitReason[]>> = {
  trap: [
    'io-in', 'io-out', 'cr-read', 'cr-write', 'cli', 'sti', 'hlt', 'iret', 'sysret', 'invlpg',
    'hypercall', 'exception', 'syscall', 'page-fault', 'shadow-fill', 'ptemod', 'interrupt',
  ],
  hw: ['io-in', 'io-out', 'cr-read', 'cr-write', 'cli', 'sti', 'hlt', 'iret', 'sysret', 'invlpg', 'pushf', 'popf', 'hypercall', 'ept-violation', 'interrupt'],
};

/** The exit reason of an instruction that exits, by opcode (abi/isa.ts), or -1. */
export const INSN_EXIT: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  const set = (ops: number[], e: Exit): void => ops.forEach((o) => (t[o] = e));
  set([0x70, 0x72], Exit.IoIn); //    in, inr
  set([0x71, 0x73], Exit.IoOut); //   out, outr
  set([0x74], Exit.CrRead); //        mfcr
  set([0x75], Exit.CrWrite); //       mtcr
  set([0x76], Exit.Cli);
  set([0x77], Exit.Sti);
  set([0x78], Exit.Hlt);
  set([0x79], Exit.Iret);
  set([0x7a], Exit.Sysret);
  set([0x7b], Exit.Invlpg);
  set([0x63], Exit.Pushf);
  set([0x64], Exit.Popf);
  set([0x62], Exit.Hypercall);
  return t;
})();

/** What the run report shows per reason. */
export interface ExitStats {
  count: number;
  modelledCycles: number;
  /** Host time the monitor spent handling these exits (not deterministic, unlike the rest). */
  hostNs: number;
}

/** Exits timed one by one before sampling starts, over all reasons. */
const TIMED_FIRST = 1024;
/** After that, one exit in SAMPLE_RATE is timed (a power of two), and counts SAMPLE_RATE times. */
const SAMPLE_RATE = 8;
/** begin()'s token for an exit that is not timed. */
const UNTIMED = -1;
/**
 * A timed exit longer than this (ms) is dropped from the host time: no handler here takes a
 * millisecond (the slowest, a hidden fault that rebuilds a shadow, takes microseconds), so such a
 * reading is the process descheduled or the JIT or the collector at work, and weighted by eight
 * one of them would outweigh thousands of exits.
 */
const OUTLIER_MS = 1;

/**
 * Exit counters of one run, by reason. Counts and cycles are exact. Host time: reading the clock
 * costs 50-100 ns on the machines this runs on, as much as a cheap exit, so after the first 1,024
 * exits one in eight is timed and weighted by eight.
 *
 * Which exits are timed is decided before the reason is known (a page fault becomes a hidden
 * fill, a guest fault or a ptemod only once handled) and must not depend on the reason or on the
 * exit's place in a loop: a per-reason counter, or a fixed period, would time every ptemod or
 * none of them when a guest alternates two kinds of exit. So the choice is a pseudo-random draw,
 * the same for every reason, which makes each reason's weighted sum an unbiased estimate. Exits
 * nest (hw injects an event whose delivery meets an EPT violation), so the weight travels in the
 * token: t >= 0 is a clock reading timed with weight 1, t <= -2 is -2 - clock with SAMPLE_RATE.
 */
export class ExitCounters {
  readonly count = new Float64Array(EXIT_REASONS.length);
  readonly hostNs = new Float64Array(EXIT_REASONS.length);
  private readonly cycles: Float64Array;
  private begun = 0;
  /** xorshift32 state: a fixed seed, so the same run samples the same exits. */
  private seed = 0x2545f491;

  constructor(readonly mode: VmmMode) {
    this.cycles = Float64Array.from(EXIT_REASONS, (r) => costOf(`${mode}.${r}`)?.cycles ?? 0);
  }

  /** An exit begins: the token to pass to add(). */
  begin(): number {
    if (this.begun < TIMED_FIRST) {
      this.begun++;
      return performance.now();
    }
    let s = this.seed;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.seed = s;
    if ((s & (SAMPLE_RATE - 1)) !== 0) return UNTIMED;
    return -2 - performance.now();
  }

  /** Count one exit of reason `e`, whose handling began with `token` (from begin()). */
  add(e: Exit, token: number): void {
    this.count[e]! += 1;
    if (token === UNTIMED) return;
    const ms = token >= 0 ? performance.now() - token : performance.now() + 2 + token;
    if (ms <= OUTLIER_MS) this.hostNs[e]! += ms * 1e6 * (token >= 0 ? 1 : SAMPLE_RATE);
  }

  /** The reasons that occurred, in EXIT_REASONS order. */
  report(): Record<string, ExitStats> {
    const out: Record<string, ExitStats> = {};
    this.count.forEach((n, i) => {
      if (n > 0) out[EXIT_REASONS[i]!] = { count: n, modelledCycles: n * this.cycles[i]!, hostNs: Math.round(this.hostNs[i]!) };
    });
    return out;
  }
}
