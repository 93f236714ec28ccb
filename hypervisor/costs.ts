/**
 * The cost model: modelled cycles per guest instruction and per virtualization event, one plain
 * table keyed by event name, every number with where it comes from (../shared/ANCHORS.md quotes
 * the published figures). Host time keeps the results honest; this table makes them comparable
 * with the published ones.
 *
 * Keys are `instruction` and `<mode>.<event>`: `trap.io-in`, `hw.ept-violation`, ... Each mode
 * adds its own rows; nothing else in the tree holds a cycle count.
 *
 * Every retired instruction costs the one `instruction` row, so there are no per-opcode classes:
 * the checked ALU instructions (addo, subo, mulo, addio, mulh, chk, chki) cost what add and mul
 * cost, as MIPS's trapping add does; the #OF, #BR or #DF they raise is an event like #DE
 * (`native.event`, a `trap.exception` reflection, a `pv.bounce`).
 *
 * Where a figure is derived rather than quoted, `source` says how. Abbreviations:
 * - A&A: Adams & Agesen, "A Comparison of Software and Hardware Techniques for x86
 *   Virtualization", ASPLOS 2006, nanobenchmarks on a Pentium 4 (native / BT VMM / HW VMM).
 * - KVM: kvm-unit-tests' vmexit test and the LKML figures quoted in ANCHORS.md.
 *
 * `trap` is a software VMM of the Pentium 4 generation that traps instead of translating, so its
 * rows are A&A's: the cost of the hardware trap (A&A's native divzero: fault, kernel handler,
 * IRET) plus the VMM's emulation of the operation (A&A's BT column, where the same emulation runs
 * without a trap). `hw` has nested paging, which arrived after A&A's first-generation VT-x, so
 * its rows are modern KVM figures; A&A's HW column (in 15826, pgfault 11242, ptemod 12733) is the
 * same hardware path before nested paging and EPT-era exit latencies.
 */

export interface Cost {
  /** Modelled cycles per event. */
  readonly cycles: number;
  /** Where the number comes from (a publication and its figure), or how it is derived from them. */
  readonly source: string;
}

/** The hardware cost of one trap and return on the Pentium 4: A&A native divzero. */
const P4_TRAP = 889;
/** A kernel-handled VM exit with trivial emulation: KVM's CPUID exit, 1,000–1,100 cycles. */
const KVM_EXIT = 1100;

export const COSTS = {
  instruction: {
    cycles: 1,
    source: 'model, not a measurement: one cycle per retired guest instruction (IPC 1). Real CPIs vary: A&A measure a call/ret pair at 11 cycles on a Pentium 4',
  },

  // --- native and pv: ring transitions on a modern CPU, the era of the hw rows ----------------
  'native.event': {
    cycles: 153,
    source: 'ANCHORS: a host system call (getppid) round trip about 51 ns; at 3 GHz. An exception or interrupt taken through the vector table and returned from is the same pair of ring transitions',
  },
  'pv.hypercall': {
    cycles: 153,
    source: "ANCHORS: a host system call round trip about 51 ns, at 3 GHz: a PV hypercall is a ring transition into the hypervisor and back (Xen's 64-bit PV guests enter with syscall). Validation and the handler are host time, not modelled",
  },
  'pv.bounce': {
    cycles: 153,
    source: "as pv.hypercall: the exception, interrupt or task's syscall enters the hypervisor, which enters the guest kernel's registered entry instead of returning; the kernel's way back is an iret hypercall, counted as a hypercall",
  },

  // --- trap: trap-and-emulate, shadow paging (software VMM, Pentium 4 era) ----------------------
  'trap.io-in': { cycles: P4_TRAP + 214, source: 'A&A: trap (native divzero 889) + the VMM emulating a port read (BT "in" 214)' },
  'trap.io-out': { cycles: P4_TRAP + 214, source: 'A&A: trap (native divzero 889) + the VMM emulating a port write (BT "in" 214)' },
  'trap.cr-read': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + emulating a control-register access (BT cr8wr 35)' },
  'trap.cr-write': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + emulating a control-register write (BT cr8wr 35)' },
  'trap.cli': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + updating the virtual IF (as BT cr8wr 35)' },
  'trap.sti': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + updating the virtual IF (as BT cr8wr 35)' },
  'trap.hlt': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + emulation (as BT cr8wr 35); the idle time itself is not an exit cost' },
  'trap.iret': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + emulation (as BT cr8wr 35)' },
  'trap.sysret': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + emulation (as BT cr8wr 35)' },
  'trap.invlpg': { cycles: P4_TRAP + 35, source: 'A&A: trap (native divzero 889) + emulation (as BT cr8wr 35)' },
  'trap.hypercall': { cycles: 3223, source: 'A&A BT divzero 3223: an invalid instruction trapped and reflected into the guest as #UD' },
  'trap.exception': { cycles: 3223, source: 'A&A BT divzero 3223: a guest exception trapped by the VMM and reflected into the guest' },
  'trap.syscall': { cycles: 2000, source: 'A&A: syscall under a software VMM costs about native + 2000 cycles (bounced into the guest kernel)' },
  'trap.interrupt': { cycles: 3223, source: 'A&A BT divzero 3223: an event reflected by the VMM into the guest vector table' },
  'trap.page-fault': { cycles: 3927, source: 'A&A BT pgfault 3927: a guest-visible page fault under shadow paging' },
  'trap.shadow-fill': { cycles: 3927 - 1093, source: 'A&A: BT pgfault 3927 - native pgfault 1093 = the VMM\'s share of a fault, without the guest\'s handler (a hidden fault)' },
  'trap.ptemod': { cycles: P4_TRAP + 391, source: 'A&A: trap (native divzero 889) + the VMM emulating a PTE write (BT ptemod 391)' },

  // --- hw: VT-x-like exits, nested paging (modern KVM) ------------------------------------------
  'hw.io-in': { cycles: 6300, source: 'LKML 2022: an exit handled by a user-space device model and back, about 2,100 ns; at 3 GHz' },
  'hw.io-out': { cycles: 6300, source: 'LKML 2022: an exit handled by a user-space device model and back, about 2,100 ns; at 3 GHz' },
  'hw.cr-read': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.cr-write': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.cli': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.sti': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.hlt': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles; the idle time itself is not an exit cost' },
  'hw.iret': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.sysret': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.invlpg': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.pushf': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.popf': { cycles: KVM_EXIT, source: 'kvm-unit-tests vmexit: a CPUID exit, 1,000-1,100 cycles (handled in the kernel)' },
  'hw.hypercall': { cycles: 1545, source: 'KVM VMCALL round trip 1,530-1,560 cycles (Skylake-SP, 2020)' },
  'hw.ept-violation': {
    cycles: KVM_EXIT,
    source: 'no per-fault figure in ANCHORS.md: modelled as a kernel-handled exit (CPUID 1,000-1,100 cycles), a lower bound',
  },
  'hw.interrupt': { cycles: 1350, source: 'AMD VMRUN to exit about 1,350 cycles: the exit a host interrupt causes; the injection rides on the next entry' },
} as const satisfies Record<string, Cost>;

export type CostName = keyof typeof COSTS;

/** The cost row `name`, or undefined when the table has none. */
export function costOf(name: string): Cost | undefined {
  return (COSTS as Record<string, Cost>)[name];
}

/** What a run's report needs for its total (hypervisor/machine/native.ts PlatformReport). */
export interface CountedRun {
  instructions: number;
  events: Readonly<Record<string, number>>;
  exits?: Readonly<Record<string, { modelledCycles: number }>>;
  hypercalls?: Readonly<Record<string, number>>;
}

const sum = (r: Readonly<Record<string, number>> | undefined): number => (r ? Object.values(r).reduce((a, b) => a + b, 0) : 0);

/**
 * A run's modelled cycles: every retired instruction, every exit at its own row, and what each
 * mode pays for events. Under `trap` the monitor reflects every event and its exit row prices the
 * whole reflection; under `native` and `hw` the CPU delivers the guest's events itself
 * (`native.event`); under `pv` each event is a bounce and each hypercall a transition. Idle time
 * (HLT, sched_op block) costs nothing.
 */
export function modelledCycles(mode: string, r: CountedRun): number {
  let c = r.instructions * COSTS.instruction.cycles;
  if (r.exits) for (const e of Object.values(r.exits)) c += e.modelledCycles;
  if (mode === 'pv') c += sum(r.hypercalls) * COSTS['pv.hypercall'].cycles + sum(r.events) * COSTS['pv.bounce'].cycles;
  else if (mode !== 'trap') c += sum(r.events) * COSTS['native.event'].cycles;
  return c;
}
