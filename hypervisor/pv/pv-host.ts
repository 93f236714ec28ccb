/**
 * The paravirtual hypervisor: machine memory shared by every domain, the frame table, the
 * domains, and the loop that runs them. Like Xen's 64-bit PV guests, each guest kernel runs
 * deprivileged (privilege 3) in its own address space, so the CPU intercepts every exception and
 * system call (Stop.Exit) and the hypervisor bounces it into the kernel's registered entry; the
 * hypervisor, not the kernel, owns the real vector table and page-table base. HYPERCALL exits
 * too and goes through the dispatcher.
 *
 * Scheduling is round-robin in fixed slices of virtual time, so runs with several domains are
 * deterministic. A domain that blocks sleeps until an event is pending for it; when every live
 * domain sleeps, virtual time skips to the earliest timer.
 */
import chalk from 'chalk';
import type { GuestImage } from '../../abi/image.ts';
import { PAGE_SHIFT, REG_SP, Vector, vectorName } from '../../abi/isa.ts';
import * as E from '../../abi/errors.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import { IretFrame } from '../../abi/hypercalls.ts';
import { SI_TIME_HI, SI_TIME_LO } from '../../abi/shared-info.ts';
import { Stop } from '../machine/cpu.ts';
import { PhysicalMemory } from '../machine/memory.ts';
import { bootDomain, type BootOptions } from './boot.ts';
import { dispatch, type DispatchTrace } from './dispatch.ts';
import type { Domain } from './domain.ts';
import { EVTCHNSTAT_INTERDOMAIN } from './event-channel.ts';
import { compileFields } from './fast-schema.ts';
import { FrameTable } from './frames.ts';
import { attachVirtio, detachVirtio } from './virtio.ts';
import { unmapGrant } from './handlers.ts';
import { NetBridge } from '../devices/virtio/bridge.ts';

/** Instructions of virtual time a domain runs before the next domain's turn. */
export const TIME_SLICE = 10_000;

export interface PvHostOptions {
  /** Machine memory for all domains together. */
  machineBytes: number;
  /** One line per hypercall, bounce and crash (`--trace`). */
  trace?: (line: string) => void;
}

const validIretFrame = compileFields(IretFrame)!;
/** iret's {r0, pc, flags, sp}, read into this buffer: no allocation per call. */
const iretFrame = new Uint32Array(4);
/** The bounce frame is built here and copied out: a bounce per system call must not allocate. */
const bounceFrame = new Uint32Array(N.BF_BYTES / 4);
const bounceBytes = new Uint8Array(bounceFrame.buffer);

export type HostStop = 'shutdown' | 'limit' | 'halted' | 'paused';

export class PvHost {
  readonly mem: PhysicalMemory;
  readonly frames: FrameTable;
  readonly domains: Domain[] = [];
  /** The software switch every domain's net device joins. */
  readonly bridge = new NetBridge();
  private next = 0;
  private yielded = false;
  readonly trace?: (line: string) => void;
  private readonly traceCall?: DispatchTrace;

  constructor(opts: PvHostOptions) {
    this.mem = new PhysicalMemory(opts.machineBytes);
    this.frames = new FrameTable(this.mem);
    // Frame 0 stays the hypervisor's: no guest entry can ever name machine address 0.
    this.frames.owner[0] = -1;
    if (opts.trace) {
      const out = opts.trace;
      this.trace = out;
      this.traceCall = (d, name, args, result) => {
        const a = typeof args === 'string' ? chalk.red(args) : Object.entries(args).map(([k, v]) => `${k}=0x${v.toString(16)}`).join(', ');
        const r = result < 0 ? chalk.red(String(result)) : String(result);
        out(`${chalk.dim(String(d.cpu.icount).padStart(10))} ${chalk.cyan('hc  ')} d${d.id} ${name}(${a}) -> ${r}  ${chalk.dim('@0x' + (d.cpu.exit.pc >>> 0).toString(16))}`);
      };
    }
  }

  /** Build a domain from a pv image (start of day). Returns it, or a one-line refusal. */
  createDomain(image: GuestImage, opts: BootOptions): Domain | string {
    const d = bootDomain(this, this.domains.length, image, opts);
    if (typeof d === 'string') return d;
    attachVirtio(this, d, opts.virtio ?? {}, this.bridge);
    this.domains.push(d);
    return d;
  }

  /** Virtual time used by all domains together (the budget `run` counts against). */
  virtualTime(): number {
    let used = 0;
    for (const d of this.domains) used += d.cpu.icount;
    return used;
  }

  domain(id: number): Domain | undefined {
    const d = this.domains[id];
    return d && d.live ? d : undefined;
  }

  /**
   * Run every domain until all have shut down, or `limit` instructions of virtual time in all.
   * With `pauseAt`, return 'paused' between two domain slices once that much virtual time has
   * passed: the scheduler's own loop is where a run can stop and go on unchanged.
   */
  run(limit: number, pauseAt = Infinity): { stop: HostStop; message?: string } {
    for (;;) {
      const live = this.domains.filter((d) => d.live);
      if (live.length === 0) return { stop: 'shutdown' };
      const used = this.virtualTime();
      if (used >= limit) return { stop: 'limit', message: `stopped after ${limit} instructions (--max-instructions)` };
      if (used >= pauseAt) return { stop: 'paused' };
      this.pollDevices();
      const d = this.pickRunnable();
      if (d) {
        this.runSlice(d, limit - used);
        continue;
      }
      // Everyone sleeps. Devices that stopped a batch at its budget may still complete what a
      // sleeper waits for: let them finish first (each poll consumes a budget of finite work).
      if (this.pollDevices()) continue;
      // Then skip virtual time to the earliest timer.
      const sleeper = live.reduce((a, b) => (b.timerDeadline < a.timerDeadline ? b : a));
      if (sleeper.timerDeadline === Infinity) {
        return { stop: 'halted', message: `every domain is blocked with no event and no timer pending` };
      }
      const cpu = sleeper.cpu;
      if (sleeper.timerDeadline > cpu.icount) {
        cpu.idle += sleeper.timerDeadline - cpu.icount;
        cpu.icount = sleeper.timerDeadline;
      }
      this.fireTimer(sleeper);
    }
  }

  /**
   * Devices that stopped a batch at its budget go on from where they were (bounded work per
   * call). Returns whether any device had work to do.
   */
  private pollDevices(): boolean {
    let polled = false;
    for (const d of this.domains) {
      if (!d.live) continue;
      for (const dev of d.virtio) {
        if (!dev.hasPendingWork) continue;
        dev.poll();
        polled = true;
      }
    }
    return polled;
  }

  private pickRunnable(): Domain | undefined {
    for (let i = 0; i < this.domains.length; i++) {
      const d = this.domains[(this.next + i) % this.domains.length]!;
      if (d.state === 'running') {
        this.next = (this.next + i + 1) % this.domains.length;
        return d;
      }
    }
    return undefined;
  }

  private runSlice(d: Domain, budget: number): void {
    const cpu = d.cpu;
    const sliceEnd = cpu.icount + Math.min(TIME_SLICE, budget);
    this.yielded = false;
    this.deliverEvents(d);
    while (d.state === 'running' && !this.yielded) {
      if (cpu.icount >= d.timerDeadline) {
        this.fireTimer(d);
        this.deliverEvents(d);
        continue;
      }
      const until = Math.min(sliceEnd, d.timerDeadline);
      if (cpu.icount >= until) return;
      const stop = cpu.run(until);
      if (stop === Stop.Exit) this.handleExit(d);
      else if (stop === Stop.Halt || stop === Stop.TripleFault) this.crash(d, `unexpected CPU stop ${stop} at pc 0x${(cpu.pc >>> 0).toString(16)}`);
      if (d.state === 'running') this.deliverEvents(d);
    }
  }

  private handleExit(d: Domain): void {
    const x = d.cpu.exit;
    if (x.vector === -1) {
      dispatch(this, d, this.traceCall);
      // A hypercall's return is an entry into the guest too (abi/shared-info.ts SI_TIME_*): a
      // kernel at privilege 3 cannot read CR Time, so this is how its clock moves between events.
      this.stampTime(d);
      return;
    }
    if (x.vector === Vector.Syscall) {
      if (!d.syscallEntry) return this.crash(d, `system call at pc 0x${(x.pc >>> 0).toString(16)} with no syscall callback registered`);
      this.bounce(d, Vector.Syscall, 0, 0, x.pc, d.syscallEntry, false);
      return;
    }
    const handler = x.vector < 32 ? d.trapTable[x.vector]! : 0;
    const addr = x.vector === Vector.PageFault ? d.cpu.cr[3]! >>> 0 : 0;
    if (!handler) {
      const where = x.vector === Vector.PageFault ? ` (address 0x${addr.toString(16)}, error 0x${x.err.toString(16)})` : '';
      return this.crash(d, `unhandled ${vectorName(x.vector)} at pc 0x${(x.pc >>> 0).toString(16)}${where}, no trap-table entry`);
    }
    this.bounce(d, x.vector, x.err, addr, x.pc, handler, false);
  }

  /**
   * Enter the guest kernel at `entry` with a bounce frame (abi/hypercall-numbers.ts BF_*), as
   * Xen's create_bounce_frame: from guest user mode, switch to the kernel address space and stack.
   *
   * When the frame cannot be written (the kernel's stack ran into an unmapped page), Xen crashes
   * the domain. We do too, unless the kernel registered a handler for vector 8 and a stack with
   * stack_switch: then, as x86-64's IST stack lets a native kernel take #DF on a known-good stack,
   * we bounce a double fault onto that stack (error 0, the original fault's address for a page
   * fault, the pc and sp of the event that failed), with events masked so that no upcall lands
   * on the handler's stack while it reports. A double fault that cannot be written either crashes.
   */
  private bounce(d: Domain, vector: number, err: number, addr: number, resumePc: number, entry: number, maskEvents: boolean): void {
    const cpu = d.cpu;
    const fromUser = !d.kernelMode;
    const oldSp = cpu.regs[REG_SP]!;
    const flags = (d.evtchn.eventsEnabled() ? N.BF_FLAG_EVENTS : 0) | (fromUser ? N.BF_FLAG_USER : 0);
    if (fromUser) this.switchAddressSpace(d, d.kernelBase);
    const sp = fromUser ? d.kernelSp : oldSp;
    let frame = (sp - N.BF_BYTES) >>> 0;
    const w = bounceFrame;
    w[N.BF_VECTOR >> 2] = vector;
    w[N.BF_ERRCODE >> 2] = err;
    w[N.BF_FAULTADDR >> 2] = addr;
    w[N.BF_PC >> 2] = resumePc;
    w[N.BF_FLAGS >> 2] = flags;
    w[N.BF_SP >> 2] = oldSp;
    if (!d.access.write(frame, bounceBytes)) {
      const failed = `cannot write a bounce frame for ${vectorName(vector)} at 0x${frame.toString(16)} (kernel stack unmapped)`;
      const dfEntry = d.trapTable[Vector.DoubleFault]!;
      if (vector === Vector.DoubleFault || dfEntry === 0 || d.kernelSp === 0) return this.crash(d, failed);
      frame = (d.kernelSp - N.BF_BYTES) >>> 0;
      w[N.BF_VECTOR >> 2] = Vector.DoubleFault;
      w[N.BF_ERRCODE >> 2] = 0;
      if (!d.access.write(frame, bounceBytes)) {
        return this.crash(d, `${failed}, nor for the double fault at 0x${frame.toString(16)}`);
      }
      this.trace?.(`${chalk.dim(String(cpu.icount).padStart(10))} ${chalk.red('dbl ')} d${d.id} ${failed}`);
      vector = Vector.DoubleFault;
      entry = dfEntry;
      maskEvents = true;
    }
    d.kernelMode = true;
    cpu.regs[REG_SP] = frame;
    cpu.pc = entry;
    if (maskEvents) d.evtchn.setEventsEnabled(false);
    d.count(d.bounces, vector === N.PV_UPCALL_VECTOR ? 'upcall' : vectorName(vector));
    this.stampTime(d);
    this.trace?.(`${chalk.dim(String(cpu.icount).padStart(10))} ${chalk.yellow('bnc ')} d${d.id} ${vector === N.PV_UPCALL_VECTOR ? 'upcall' : vectorName(vector)} -> 0x${(entry >>> 0).toString(16)}${fromUser ? ' (from user)' : ''}`);
  }

  /**
   * HC_IRET: pop {r0, pc, flags, sp} at sp, validated after it is read (IretFrame); back to guest
   * user mode when the flags say so. Returns 0 or -errno (nothing changed).
   */
  iret(d: Domain): number {
    const cpu = d.cpu;
    const w = iretFrame;
    if (!d.access.readWordsInto(cpu.regs[REG_SP]!, 4, w)) return -E.EFAULT;
    if (!validIretFrame(w, 0)) return -E.EINVAL;
    const flags = w[2]!;
    cpu.regs[0] = w[0]!;
    cpu.pc = w[1]!;
    cpu.regs[REG_SP] = w[3]!;
    d.evtchn.setEventsEnabled((flags & N.BF_FLAG_EVENTS) !== 0);
    if ((flags & N.BF_FLAG_USER) === N.BF_FLAG_USER) {
      d.kernelMode = false;
      if (d.userBase) this.switchAddressSpace(d, d.userBase);
    }
    return 0;
  }

  /** Enter the event callback if an upcall is pending and the domain has events enabled. */
  private deliverEvents(d: Domain): void {
    if (d.eventEntry === 0 || !d.evtchn.upcallPending() || !d.evtchn.eventsEnabled()) return;
    d.upcalls++;
    this.bounce(d, N.PV_UPCALL_VECTOR, 0, 0, d.cpu.pc, d.eventEntry, true);
  }

  private stampTime(d: Domain): void {
    const si = d.evtchn.sharedInfo;
    this.mem.i32[(si + SI_TIME_LO) >>> 2] = d.cpu.icount | 0;
    this.mem.i32[(si + SI_TIME_HI) >>> 2] = Math.floor(d.cpu.icount / 0x100000000);
  }

  private fireTimer(d: Domain): void {
    d.timerDeadline = Infinity;
    const port = d.evtchn.virqPort[N.VIRQ_TIMER]!;
    if (port) this.raiseEvent(d, port);
  }

  private switchAddressSpace(d: Domain, base: number): void {
    d.cpu.mmu.ptbr = base << PAGE_SHIFT;
    d.cpu.mmu.flushAll();
  }

  // --- services for the handlers --------------------------------------------------------------

  raiseEvent(d: Domain, port: number): void {
    if (d.evtchn.setPending(port)) this.wake(d);
  }

  wake(d: Domain): void {
    if (d.state === 'blocked' && d.evtchn.upcallPending()) d.state = 'running';
  }

  /** SCHEDOP_block: enable events and sleep unless one is already pending (no lost wake-up). */
  block(d: Domain): void {
    d.evtchn.setEventsEnabled(true);
    if (!d.evtchn.upcallPending()) {
      d.state = 'blocked';
      this.yielded = true;
    }
  }

  /** SCHEDOP_yield: end the current slice; the next runnable domain goes first. */
  yieldSlice(): void {
    this.yielded = true;
  }

  shutdown(d: Domain, code: number): void {
    d.state = 'shutdown';
    d.exitCode = code >>> 0;
    this.releaseDomainRefs(d);
    this.trace?.(`${chalk.dim(String(d.cpu.icount).padStart(10))} ${chalk.bold('down')} d${d.id} shutdown code ${d.exitCode}`);
  }

  crash(d: Domain, message: string): void {
    d.state = 'crashed';
    d.crashMessage = `domain ${d.id} crashed: ${message}`;
    this.trace?.(`${chalk.dim(String(d.cpu.icount).padStart(10))} ${chalk.red('crash')} ${d.crashMessage}`);
    this.releaseDomainRefs(d);
  }

  /** Point the kernel or user address space at a pinned directory (the hypervisor holds a reference). */
  setBase(d: Domain, which: 'kernel' | 'user', f: number): void {
    const old = which === 'kernel' ? d.kernelBase : d.userBase;
    if (old) this.frames.hvRefs[old]! -= 1;
    if (f) this.frames.hvRefs[f]! += 1;
    if (which === 'kernel') d.kernelBase = f;
    else d.userBase = f;
    const active = which === 'kernel' ? d.kernelMode : !d.kernelMode;
    if (active && f) this.switchAddressSpace(d, f);
  }

  /** Set or clear GTF_READING/GTF_WRITING on a grant entry from the mappings that use it. */
  markGrantInUse(granter: Domain, ref: number): void {
    if (granter.grantTable < 0) return;
    let reading = false;
    let writing = false;
    for (const d of this.domains) {
      for (const m of d.grantMaps) {
        if (m && m.granter === granter.id && m.ref === ref) {
          if (m.readonly) reading = true;
          else writing = true;
        }
      }
    }
    const at = (granter.grantTable + ref * N.GNT_ENTRY_BYTES + N.GNT_FLAGS) >>> 1;
    const flags = this.mem.u16[at]! & ~(N.GTF_READING | N.GTF_WRITING);
    this.mem.u16[at] = flags | (reading ? N.GTF_READING : 0) | (writing ? N.GTF_WRITING : 0);
  }

  /** Does any domain map a grant of `d`? */
  grantsMappedFrom(d: Domain): boolean {
    return this.domains.some((o) => o.grantMaps.some((m) => m !== null && m.granter === d.id));
  }

  releaseGrantTable(d: Domain): void {
    if (d.grantTable >= 0) this.frames.hvRefs[d.grantTable >>> PAGE_SHIFT]! -= 1;
    d.grantTable = -1;
    d.grantEntries = 0;
  }

  /** A dead domain's interdomain channels fall back to unbound on the other side; its net device leaves the bridge; its grant mappings go. */
  private releaseDomainRefs(d: Domain): void {
    detachVirtio(d);
    // Its grant mappings go, so the granters' frames are theirs to balloon out again.
    d.grantMaps.forEach((m, handle) => {
      if (m) unmapGrant(this, d, handle);
    });
    for (const o of this.domains) {
      if (o === d) continue;
      const t = o.evtchn;
      for (let p = 1; p < t.state.length; p++) {
        if (t.state[p] === EVTCHNSTAT_INTERDOMAIN && t.remoteDom[p] === d.id) t.bindUnbound(p, d.id);
      }
    }
  }

  /** Report name → count maps as plain objects. */
  static counts(m: Map<string, number>): Record<string, number> {
    return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}

