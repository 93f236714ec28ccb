/**
 * Target 1: a hostile paravirtual guest. Two domains on one host: A, the attacker, makes random
 * hypercalls (any number, any command, any registers, hostile structures in its memory) from
 * guest kernel mode and from guest user mode (a task at privilege 3 in its own address space);
 * B, the victim, has granted A a frame and shares an event channel with it, and does nothing.
 *
 * After every call: the host did not throw; a result is a success or an ABI error code; the
 * frame-table, grant and event-channel invariants hold (invariants.ts); from user mode every
 * call is refused (EPERM, or ENOSYS for a number that does not exist) and changes nothing but
 * the counters. After every case: B's memory (but for what it shares) is unchanged, B is live,
 * A's report stays small, and host memory stays bounded.
 *
 * Two ways in: `directProperty` loads the registers and calls the dispatcher, as
 * test/hypervisor/pv does (fast: thousands of calls a second); `guestProperty` runs a real pv
 * kernel whose own `hypercall` instructions issue the calls, first in kernel mode, then from a
 * user task it iret's into, through the CPU's exit path and the scheduler.
 */
import fc from 'fast-check';
import { ERROR_NAMES, errorName } from '../../abi/errors.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import { HYPERCALLS, hypercallName, type CallSpec } from '../../abi/hypercalls.ts';
import { PTE_P, PTE_U, PTE_W } from '../../abi/isa.ts';
import { assemble, formatAsmError } from '../../guest-kernel/compiler/assembler.ts';
import type { GuestImage } from '../../abi/image.ts';
import { dispatch } from '../../hypervisor/pv/dispatch.ts';
import type { Domain } from '../../hypervisor/pv/domain.ts';
import { domainReport } from '../../hypervisor/pv/platform.ts';
import { PvHost } from '../../hypervisor/pv/pv-host.ts';
import { check, checkResultSize, HeapWatch, noThrow, recorder, type Tally } from './common.ts';
import { checkHost, domainDigest, sharedFrames } from './invariants.ts';

/** Each domain's memory: small, so hashing whole memories per case stays cheap. */
export const MEM = 512 * 1024;
export const BUF = 0x10000;
const SCRATCH_VA = 0x200000;
const GRANT_TABLE_VA = BUF + 0x1000;

export function asm(src: string, target: 'native' | 'pv'): GuestImage {
  const r = assemble(src, { fileName: 'fuzz.s', target });
  if (!r.ok) throw new Error(r.errors.map(formatAsmError).join('\n'));
  return r.image;
}

export const IDLE_GUEST = `.target pv\nstart: jmp start\n.org ${BUF}, rw\nbuf: .space 16384\n`;

export function newHost(domains: number): PvHost {
  return new PvHost({ machineBytes: domains * 2 * MEM + 64 * 1024 });
}

export function addDomain(host: PvHost, image: GuestImage): Domain {
  const d = host.createDomain(image, { memoryBytes: MEM });
  if (typeof d === 'string') throw new Error(d);
  return d;
}

/** Hypercall `nr` on d's vcpu, as the guest makes it; returns r0 (signed). */
export function hc(host: PvHost, d: Domain, nr: number, ...args: number[]): number {
  d.cpu.regs[0] = nr;
  args.forEach((a, i) => (d.cpu.regs[i + 1] = a));
  dispatch(host, d);
  return d.cpu.regs[0]!;
}

function must(host: PvHost, d: Domain, what: string, nr: number, ...args: number[]): number {
  const r = hc(host, d, nr, ...args);
  if (r < 0) throw new Error(`fuzz set-up: ${what} failed with ${errorName(r)}`);
  return r;
}

const words = (ws: number[]): Uint8Array => new Uint8Array(Uint32Array.from(ws.map((w) => w >>> 0)).buffer);
const frameOf = (d: Domain, va: number): number => d.access.translate(va, false) >>> 12;
/** The k-th frame of d that nothing maps at start (the start-of-day page says where they begin). */
const freeFrame = (d: Domain, k: number): number => d.access.readU32(N.PV_FRAME_LIST_VA + (d.access.readU32(N.PV_START_INFO_VA + N.SOD_FIRST_FREE)! + k) * 4)!;
const entryAddr = (table: number, index: number): number => ((table << 12) | (index << 2)) >>> 0;
const pte = (frame: number, flags = PTE_P | PTE_W | PTE_U): number => ((frame << 12) | flags) >>> 0;

/**
 * Two domains with state worth attacking: A has a second L1 hooked in at PV_FREE_VA, a user
 * address space (a pinned directory sharing region 0, as guest-kernel/programs/asm/pv-user.s
 * builds it), and a grant of B's mapped; B has a grant table granting A one frame writable and
 * one read-only; an event channel joins them.
 */
export function pvRig() {
  const host = newHost(2);
  const img = asm(IDLE_GUEST, 'pv');
  const a = addDomain(host, img);
  const b = addDomain(host, img);
  const l1 = freeFrame(a, 0);
  must(host, a, 'pin l1', N.HC_MMUEXT_OP, N.MMUEXT_PIN_L1_TABLE, l1);
  a.access.write(BUF, words([entryAddr(a.kernelBase, N.PV_FREE_VA >>> 22), pte(l1)]));
  must(host, a, 'hook l1', N.HC_MMU_UPDATE, BUF, 1);
  // The user directory: map a free frame, copy directory entry 0 into it, unmap, pin, install.
  const dir = freeFrame(a, 1);
  must(host, a, 'map dir', N.HC_UPDATE_VA_MAPPING, SCRATCH_VA, pte(dir), N.UVMF_INVLPG);
  a.access.write(SCRATCH_VA, words([a.access.readU32(N.PV_PAGE_TABLES_VA)!]));
  must(host, a, 'unmap dir', N.HC_UPDATE_VA_MAPPING, SCRATCH_VA, 0, N.UVMF_INVLPG);
  must(host, a, 'pin dir', N.HC_MMUEXT_OP, N.MMUEXT_PIN_L2_TABLE, dir);
  must(host, a, 'user base', N.HC_MMUEXT_OP, N.MMUEXT_NEW_USER_BASEPTR, dir);
  must(host, a, 'kernel stack', N.HC_STACK_SWITCH, N.PV_STACK_TOP - 64);
  // B grants; A maps ref 0.
  must(host, b, 'grant table', N.HC_GRANT_TABLE_OP, N.GNTTABOP_SETUP_TABLE, GRANT_TABLE_VA, 8);
  const granted = [frameOf(b, BUF + 0x2000), frameOf(b, BUF + 0x3000)];
  b.access.write(GRANT_TABLE_VA, words([(a.id << 16) | N.GTF_PERMIT_ACCESS, granted[0]!, (a.id << 16) | N.GTF_PERMIT_ACCESS | N.GTF_READONLY, granted[1]!]));
  must(host, a, 'map grant', N.HC_GRANT_TABLE_OP, N.GNTTABOP_MAP_GRANT_REF, 0, b.id, N.PV_FREE_VA + 0x1000, 0);
  const port = must(host, b, 'alloc unbound', N.HC_EVENT_CHANNEL_OP, N.EVTCHNOP_ALLOC_UNBOUND, a.id);
  must(host, a, 'bind', N.HC_EVENT_CHANNEL_OP, N.EVTCHNOP_BIND_INTERDOMAIN, b.id, port);
  checkHost(host, 'pv rig at start');
  return { host, a, b, l1, dir, granted, port };
}
export type PvRig = ReturnType<typeof pvRig>;

/** Values that break hypervisors, and values that make calls succeed (so sequences get deep). */
export function valuePools(r: PvRig) {
  const { a, b, l1, dir, granted, port } = r;
  const mine = [l1, dir, a.kernelBase, freeFrame(a, 2), freeFrame(a, 3), a.evtchn.sharedInfo >>> 12, frameOf(a, BUF)];
  const theirs = [b.kernelBase, freeFrame(b, 0), ...granted, 0];
  const frames = [...mine, ...theirs];
  const wild = [
    0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 255, 256, 511, 512, 1023, 1024, 1025, 4095, 4096, 0x7ff0, 0xffff, 0x10000,
    0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, -1, -4096,
    BUF, BUF + 1, BUF + 2, BUF + 0x3ffc, N.PV_FREE_VA, N.PV_FREE_VA + 0x1000, N.PV_PAGE_TABLES_VA, N.PV_START_INFO_VA,
    N.PV_SHARED_INFO_VA, N.PV_LINEAR_PT_VA, N.PV_STACK_TOP - 4, N.PV_FRAME_LIST_VA, 0x3000000, SCRATCH_VA,
    ...frames, ...frames.map((x) => pte(x)), ...frames.map((x) => pte(x, PTE_P | PTE_U)), ...frames.flatMap((x) => [entryAddr(x, 0), entryAddr(x, 1), entryAddr(x, 1023)]),
    entryAddr(a.kernelBase, N.PV_FREE_VA >>> 22), entryAddr(a.kernelBase, 1023), entryAddr(l1, 1) | 2,
  ];
  const likely = [
    BUF, BUF, BUF, 0, 0, 1, 1, 2, 4, b.id, a.id, N.DOMID_SELF, port, N.PV_FREE_VA, N.PV_FREE_VA + 0x2000, BUF + 0x2000,
    entryAddr(l1, 0), entryAddr(l1, 2), pte(freeFrame(a, 2)), pte(freeFrame(a, 3), PTE_P | PTE_U), pte(l1, PTE_P | PTE_U), freeFrame(a, 2), l1, dir,
  ];
  // mmu_update reads {ptr, val} pairs: even words are likely entry addresses, odd ones values.
  const ptrs = [entryAddr(l1, 0), entryAddr(l1, 1), entryAddr(a.kernelBase, (N.PV_FREE_VA >>> 22) + 1), entryAddr(l1, 5) | 1, entryAddr(dir, 3)];
  const vals = [0, pte(freeFrame(a, 2)), pte(freeFrame(a, 3), PTE_P | PTE_U), pte(l1, PTE_P | PTE_U), pte(l1), pte(a.kernelBase, PTE_P | PTE_U), pte(granted[0]!)];
  // Values each named argument is likely to succeed with (abi/hypercalls.ts names them).
  const byName: Record<string, number[]> = {
    table: [BUF], reqs: [BUF], frames: [BUF], buffer: [BUF], config: [BUF], req: [BUF],
    count: [1, 1, 2, 3, 8], max: [3, 16], length: [4, 16], offset: [0, 4],
    sp: [N.PV_STACK_TOP - 64, 0x3f8000], event: [0x1000, 0x1004], syscall: [0x1000],
    va: [N.PV_FREE_VA, N.PV_FREE_VA + 0x2000, N.PV_FREE_VA + 0x1000, SCRATCH_VA], pte: vals,
    flags: [0, N.UVMF_INVLPG, N.GNTMAP_READONLY], lo: [1000, 0], hi: [0], submap: [0], code: [0, 1],
    ref: [0, 1], dom: [b.id, a.id, N.DOMID_SELF], remote: [b.id, a.id], remotePort: [port, 1, 2], port: [port, 1, 2, 3],
    handle: [0, 1], mfn: [l1, dir, freeFrame(a, 2), freeFrame(a, 3), a.kernelBase], virq: [0, 2],
    dev: [0, 1, 2], features: [0, 1 << 28, 1 << 29], status: [1, 3, 11, 15, 0], queue: [0, 1],
  };
  /** Machine address of a frame of A's for virtio rings (pv rings name machine addresses). */
  const ringBase = (frameOf(a, BUF + 0x2000) << 12) >>> 0;
  return { wild, likely, ptrs, vals, byName, ringBase, a: a.id, b: b.id };
}
type Pools = ReturnType<typeof valuePools>;

/** One hypercall as generated: indices into the value pools, resolved against a live rig. */
export interface CallGen {
  user: boolean;
  /** 0..99: which kind of number (a real call, a small number, any value). */
  numKind: number;
  which: number;
  cmd: number;
  regs: number[];
  mem: number[];
}

export const callGen: fc.Arbitrary<CallGen> = fc.record({
  user: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  numKind: fc.integer({ min: 0, max: 99 }),
  which: fc.nat(),
  cmd: fc.nat(),
  regs: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
  mem: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
});

const FAMILIES = Object.entries(HYPERCALLS).map(([nr, h]) => ({ nr: Number(nr), cmds: h.kind === 'family' ? Object.keys(h.family.commands).map(Number) : [] }));
const CODES = new Set(Object.keys(ERROR_NAMES).map((c) => -Number(c)));

/** Registers r0..r5 and 8 words of hostile memory for one generated call. */
export function resolve(g: CallGen, pools: Pools): { regs: number[]; mem: number[] } {
  const r = pools;
  const pick = (i: number): number => (i % 4 !== 0 ? pools.likely[(i >>> 2) % pools.likely.length]! : pools.wild[(i >>> 2) % pools.wild.length]!) >>> 0;
  const fam = FAMILIES[g.which % FAMILIES.length]!;
  // 80 in 100 a real call, 10 a small number (unknown ones next to real ones), 10 any value.
  const nr = g.numKind < 80 ? fam.nr : g.numKind < 90 ? g.which % 64 : pick(g.which);
  const h = HYPERCALLS[nr];
  const regs = [nr];
  let spec: CallSpec | undefined;
  if (h?.kind === 'call') spec = h.spec;
  else {
    // A family's command: one of its own, one in nine times anything.
    const cmd = h?.kind === 'family' && g.cmd % 9 !== 8 ? fam.cmds[g.cmd % fam.cmds.length] ?? pick(g.cmd) : pick(g.cmd);
    regs.push(cmd);
    spec = h?.kind === 'family' ? h.family.commands[cmd] : undefined;
  }
  const first = regs.length;
  for (let r = first; r < 6; r++) {
    const v = g.regs[r - 1]!;
    const likely = spec ? pools.byName[spec.args[r - first] ?? ''] : undefined;
    regs.push(likely && v % 4 !== 0 ? likely[(v >>> 2) % likely.length]! >>> 0 : pick(v));
  }
  // fast-check's integers lean to small values and edges; a multiplicative hash spreads the choice.
  const one = (xs: readonly number[], m: number): number => xs[(Math.imul(m, 0x9e3779b1) >>> 0) % xs.length]! >>> 0;
  const m = g.mem;
  let mem: number[];
  // The structure the chosen call reads, near-valid three times in four (so calls get through
  // and the checks behind them are reached); otherwise hostile words.
  const shape = m[0]! % 4 !== 0 ? spec?.name : undefined;
  if (shape === 'gnttab_copy') {
    // {ref, dom, offset, localVa, len, flags}: both of B's grants (one read-only), both ways.
    mem = [one([0, 0, 1, 1, 2], m[1]!), one([r.b, r.b, r.b, r.a, N.DOMID_SELF], m[2]!), one([0, 0, 4, 4092, 4096], m[3]!), one([BUF + 0x100, BUF + 0x100, BUF + 0x100, N.PV_FREE_VA, N.PV_START_INFO_VA], m[4]!), one([4, 16, 16, 4096, 0, 8192], m[5]!), one([0, 0, N.GNTCOPY_TO_GRANT, N.GNTCOPY_TO_GRANT, 2], m[6]!), 0, 0];
  } else if (shape === 'virtio_set_queue') {
    // {index, size, desc, avail, used} in A's own ring frame (machine addresses), or not quite.
    const ring = pools.ringBase;
    mem = [one([0, 1, 1, 2, 0xffffffff], m[1]!), one([8, 8, 16, 6, 0x10000], m[2]!), one([ring, ring, ring + 8, 0x1000], m[3]!), one([ring + 0x100, ring + 0x100, ring + 0x101], m[4]!), one([ring + 0x200, ring + 0x200, ring + 0x202, ring], m[5]!), 0, 0, 0];
  } else {
    mem = m.map((w, i) => (w % 4 === 0 ? pick(w >>> 2) : i % 2 === 0 ? pools.ptrs[(w >>> 2) % pools.ptrs.length]! : pools.vals[(w >>> 2) % pools.vals.length]!));
  }
  return { regs, mem };
}

/** Everything a refused call must leave alone (the counters aside, which count refusals). */
function snapshot(host: PvHost): { mem: Uint8Array; rest: string } {
  const f = host.frames;
  const rest = JSON.stringify({
    frames: [f.owner, f.type, f.refs, f.writable, f.l1Refs, f.hvRefs].map((x) => Array.from(x)),
    domains: host.domains.map((d) => ({
      regs: Array.from(d.cpu.regs.subarray(1)),
      pc: d.cpu.pc,
      ptbr: d.cpu.mmu.ptbr,
      cpl: d.cpu.cpl,
      state: d.state,
      exitCode: d.exitCode,
      pages: d.pages,
      kernelMode: d.kernelMode,
      bases: [d.kernelBase, d.userBase, d.kernelSp, d.eventEntry, d.syscallEntry, d.timerDeadline],
      trapTable: Array.from(d.trapTable),
      grant: [d.grantTable, d.grantEntries, d.grantMaps],
      evtchn: [d.evtchn.state, d.evtchn.remoteDom, d.evtchn.remotePort, d.evtchn.virqPort, d.evtchn.devicePort].map((x) => Array.from(x)),
      virtio: d.virtio.map((v) => v.status),
    })),
  });
  return { mem: host.mem.u8.slice(), rest };
}

/** Enter guest user mode as a kernel does: the iret hypercall with a user frame on its stack. */
function enterUser(host: PvHost, a: Domain): boolean {
  const sp = N.PV_STACK_TOP - 256;
  if (!a.access.write(sp, words([0, 0x1000, N.BF_FLAG_USER | N.BF_FLAG_EVENTS, 0x30000]))) return false;
  a.cpu.regs[15] = sp;
  return hc(host, a, N.HC_IRET) === 0 && !a.kernelMode;
}

/** Back to the guest kernel, as a system call would bounce (the hostile kernel may have broken its own way back). */
function backToKernel(host: PvHost, a: Domain): void {
  a.kernelMode = true;
  if (a.kernelBase) host.setBase(a, 'kernel', a.kernelBase);
}

/**
 * The attacker's report stays small: its console (a guest may legitimately print up to
 * CONSOLEIO_MAX bytes a call) is bounded by the host's console bound, the rest by a few KiB
 * however many different calls, numbers and errors the guest made.
 */
function checkReport(a: Domain): void {
  const { console: text, consoleBase64, ...rest } = noThrow('report', () => domainReport(a)) as ReturnType<typeof domainReport> & { consoleBase64?: string };
  check(text.length + (consoleBase64?.length ?? 0) <= 4 * 1024 * 1024, () => `the attacker's report keeps ${text.length} characters of console`);
  checkResultSize("the attacker's report (but its console)", rest, 16 * 1024);
}

const heapDirect = new HeapWatch('pv hypercalls (direct)');

/** One case in eight, the victim goes away mid-case (its own shutdown, or a crash), to attack the clean-up paths. */
const victimFate = fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.record({ at: fc.nat(), how: fc.constantFrom('shutdown' as const, 'crash' as const) }) });

export function directProperty(t?: Tally) {
  return fc.property(fc.array(callGen, { minLength: 1, maxLength: 30 }), victimFate, (calls, fate) => {
    const { rec, done } = recorder(t, 'pv hypercalls');
    const r = pvRig();
    const { host, a, b } = r;
    const pools = valuePools(r);
    const shared = sharedFrames(host, b);
    const victim = domainDigest(host, b, shared);
    let gone: 'shutdown' | 'crash' | undefined;
    for (const [i, g] of calls.entries()) {
      if (!a.live) break;
      if (fate && i === fate.at % calls.length) {
        // While A holds B's grant and a channel to it: the host must release B's side cleanly.
        if (fate.how === 'shutdown') hc(host, b, N.HC_SCHED_OP, N.SCHEDOP_SHUTDOWN, 3);
        else host.crash(b, 'killed by the fuzz case');
        gone = fate.how;
        checkHost(host, `after the victim's ${fate.how}`);
      }
      const { regs, mem } = resolve(g, pools);
      // Hostile structures where mmu_update, set_trap_table, gnttab_copy, iret and virtio read them.
      a.access.write(BUF, words(mem));
      a.access.write(N.PV_STACK_TOP - 16, words(mem.slice(4)));
      if (g.user && !enterUser(host, a)) {
        backToKernel(host, a);
        continue;
      }
      a.cpu.regs[15] = N.PV_STACK_TOP - 16;
      regs.forEach((v, i) => (a.cpu.regs[i] = v));
      const name = hypercallName(regs[0]! >>> 0, regs[1]! >>> 0);
      // For the report: unknown numbers and commands as one key each, not one per number.
      const kind = name.replace(/^hypercall\d+$/, 'hypercall(unknown)').replace(/\.\d+$/, '.(unknown)');
      const before = g.user ? snapshot(host) : undefined;
      const errsBefore = a.errCounts.reduce((x, y) => x + y, 0);
      noThrow(`${g.user ? 'user' : 'kernel'} hypercall ${name}(${regs.slice(1).map((v) => '0x' + (v >>> 0).toString(16)).join(', ')})`, () => dispatch(host, a));
      const res = a.cpu.regs[0]!;
      const refused = a.errCounts.reduce((x, y) => x + y, 0) > errsBefore;
      rec(g.user ? 'user-mode result' : 'kernel-mode result', refused ? errorName(res) : 'ok');
      if (!refused) rec('calls that succeeded', kind);
      else if (!g.user) rec('kernel-mode refusals', `${kind} ${errorName(res)}`);
      if (refused) check(CODES.has(res), () => `${name} returned ${res}, not an ABI error code`);
      // A success is not negative (the guest would read an error), except where the value is
      // data: iret restores r0 from its frame, virtio returns feature and config words whole.
      else if (regs[0] !== N.HC_IRET && regs[0] !== N.HC_VIRTIO_OP) check(res >= 0, () => `${name} returned ${res} without counting an error`);
      if (before) {
        check(res === -1 || res === -38, () => `${name} from guest user mode returned ${res}, not EPERM or ENOSYS`);
        const after = snapshot(host);
        check(after.rest === before.rest, () => `${name} from guest user mode changed host or guest state`);
        check(Buffer.compare(after.mem, before.mem) === 0, () => `${name} from guest user mode changed machine memory`);
      }
      checkHost(host, `after ${g.user ? 'user' : 'kernel'} call ${name}`);
      backToKernel(host, a);
    }
    rec('attacker state', a.state);
    if (!gone) {
      check(b.live, () => `the victim is ${b.state}: ${b.crashMessage ?? ''}`);
      check(domainDigest(host, b, shared) === victim, "the attacker's calls changed the victim's memory or state");
    } else {
      rec('victim went away', gone);
      check(b.state === (gone === 'shutdown' ? 'shutdown' : 'crashed'), () => `the victim was to be ${gone}, is ${b.state}`);
      check(b.grantMaps.every((m) => m === null), 'a dead victim keeps grant mappings');
    }
    checkReport(a);
    heapDirect.tick();
    done();
  });
}

// ---------------------------------------------------------------------------------------------
// The same attack from real guest code: the hypercall instruction, the exit, the scheduler.

export const KTAB = 0x20000;
export const UTAB = 0x21000;
const SENTINEL = 0x600d;
const ENTRY_BYTES = 24;

/** A pv kernel: KTAB's calls in kernel mode, then a user task (pv-user.s's set-up) making UTAB's. */
export const ATTACKER = `
.target pv
.equ START_INFO, ${N.PV_START_INFO_VA}
start:  li32    r10, ${KTAB}
        call    calls
        li32    r1, START_INFO          ; the user directory: pv-user.s's way
        ldw     r2, [r1+${N.SOD_FIRST_FREE}]
        ldw     r3, [r1+${N.SOD_FRAME_LIST}]
        shli    r2, r2, 2
        add     r3, r3, r2
        ldw     r9, [r3+40]             ; a free frame the table calls are unlikely to have used
        li      r0, ${N.HC_UPDATE_VA_MAPPING}
        li32    r1, ${SCRATCH_VA}
        shli    r2, r9, 12
        ori     r2, r2, 7
        li      r3, 2
        hypercall
        li32    r4, ${N.PV_PAGE_TABLES_VA}
        ldw     r5, [r4]
        li32    r6, ${SCRATCH_VA}
        stw     r5, [r6]
        li      r0, ${N.HC_UPDATE_VA_MAPPING}
        li32    r1, ${SCRATCH_VA}
        li      r2, 0
        li      r3, 2
        hypercall
        li      r0, ${N.HC_MMUEXT_OP}
        li      r1, ${N.MMUEXT_PIN_L2_TABLE}
        mov     r2, r9
        hypercall
        li      r0, ${N.HC_MMUEXT_OP}
        li      r1, ${N.MMUEXT_NEW_USER_BASEPTR}
        mov     r2, r9
        hypercall
        li      r0, ${N.HC_SET_CALLBACKS}
        li      r1, 0
        la      r2, sys_entry
        hypercall
        li      r0, ${N.HC_STACK_SWITCH}
        li32    r1, 0x3f8000
        hypercall
        li32    r1, 0x3f4000            ; the user task's stack, apart from the bounce stack
        push    r1
        li      r1, ${N.BF_FLAG_USER}
        push    r1
        la      r1, user
        push    r1
        li      r1, 0
        push    r1
        li      r0, ${N.HC_IRET}
        hypercall
        jmp     sys_entry
user:   li32    r10, ${UTAB}
        call    calls
        syscall
spin:   jmp     spin
sys_entry:
        li      r0, ${N.HC_SCHED_OP}
        li      r1, ${N.SCHEDOP_SHUTDOWN}
        li      r2, ${SENTINEL}
        hypercall
        jmp     spin
; r10 = a table: a count, then {r0..r5} per call; each result replaces its r0
calls:  ldw     r11, [r10]
        addi    r10, r10, 4
loop:   li      r12, 0
        beq     r11, r12, out
        ldw     r0, [r10]
        ldw     r1, [r10+4]
        ldw     r2, [r10+8]
        ldw     r3, [r10+12]
        ldw     r4, [r10+16]
        ldw     r5, [r10+20]
        push    r10
        push    r11
        hypercall
        pop     r11
        pop     r10
        stw     r0, [r10]
        addi    r10, r10, ${ENTRY_BYTES}
        addi    r11, r11, -1
        jmp     loop
out:    ret
.org ${BUF}, rw
buf:    .space 16384
.org ${KTAB}, rw
ktab:   .space 4096
utab:   .space 4096
`;

let attackerImage: GuestImage | undefined;
const heapGuest = new HeapWatch('pv hypercalls (guest code)', 32 * 1024 * 1024, 10);

export function guestProperty(t?: Tally) {
  const gen = fc.record({ kernel: fc.array(callGen, { maxLength: 24 }), user: fc.array(callGen, { minLength: 1, maxLength: 24 }), budget: fc.integer({ min: 2000, max: 30_000 }) });
  return fc.property(gen, ({ kernel, user, budget }) => {
    const { rec, done } = recorder(t, 'pv hypercalls from guest code');
    attackerImage ??= asm(ATTACKER, 'pv');
    const host = newHost(3);
    const a = addDomain(host, attackerImage);
    const b = addDomain(host, asm(IDLE_GUEST, 'pv'));
    // A second victim of the same image as the attacker, as a neighbour running the same code would be.
    const c = addDomain(host, asm(IDLE_GUEST, 'pv'));
    const r = { host, a, b, l1: freeFrame(a, 0), dir: freeFrame(a, 1), granted: [frameOf(b, BUF + 0x2000)], port: 1 };
    const pools = valuePools(r);
    const table = (gs: CallGen[]): number[] => [gs.length, ...gs.flatMap((g) => resolve(g, pools).regs.slice(0, 6))];
    a.access.write(KTAB, words(table(kernel)));
    a.access.write(UTAB, words(table(user)));
    a.access.write(BUF, words(kernel.concat(user).flatMap((g) => resolve(g, pools).mem)));
    const shared = [b, c].map((v) => sharedFrames(host, v));
    const digests = [b, c].map((v, i) => domainDigest(host, v, shared[i]!));
    const res = noThrow('PvHost.run', () => host.run(budget));
    rec('host stop', res.stop);
    rec('attacker state', a.state === 'crashed' ? `crashed: ${(a.crashMessage ?? '').replace(/0x[0-9a-f]+/g, 'N').slice(0, 80)}` : a.state);
    checkHost(host, 'after the guest ran');
    if (a.state === 'shutdown' && a.exitCode === SENTINEL) {
      // The user task ran its calls: each was refused.
      const got = a.access.read(UTAB + 4, user.length * ENTRY_BYTES);
      if (got) {
        const w = new Int32Array(got.buffer, got.byteOffset, got.length >> 2);
        for (let i = 0; i < user.length; i++) {
          const v = w[(i * ENTRY_BYTES) >> 2]!;
          rec('user-mode result', errorName(v));
          check(v === -1 || v === -38, () => `user-mode call ${i} of the guest got ${v}, not EPERM or ENOSYS`);
        }
      }
    }
    [b, c].forEach((v, i) => {
      check(v.live, () => `victim ${v.id} is ${v.state}`);
      check(domainDigest(host, v, shared[i]!) === digests[i], () => `the attacker changed victim ${v.id}'s memory or state`);
    });
    checkReport(a);
    heapGuest.tick();
    done();
  });
}
