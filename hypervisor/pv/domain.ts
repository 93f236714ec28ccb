/**
 * A paravirtual domain: one vcpu (a Cpu on the host's shared machine memory), its frames and
 * quota, the entry points its kernel registered, its event channels and grant table, and what it
 * has done (console output, counters). The hypervisor (pv-host.ts) owns the policy; a Domain is
 * the state, as Xen's struct domain with its vcpu.
 */
import type { VirtioDevice } from '../devices/virtio/device.ts';
import { Cpu } from '../machine/cpu.ts';
import type { PhysicalMemory } from '../machine/memory.ts';
import { EventChannelTable } from './event-channel.ts';
import { GuestAccess } from './guest-access.ts';
import { ConsoleLog, type ConsoleSink } from '../devices/console-log.ts';
import { BoundedCounts, UNKNOWN_CALL_KEYS } from '../limits.ts';

/** Sizes of the counter arrays: more than the ABI has calls and error numbers. */
export const MAX_CALLS = 128;
export const MAX_ERRNO = 128;

export type DomainState = 'running' | 'blocked' | 'shutdown' | 'crashed';

/** A grant mapping this domain made (the handle is its index in `grantMaps`). */
export interface GrantMapping {
  granter: number;
  ref: number;
  frame: number;
  /** Machine address of the L1 entry that holds the mapping. */
  entryAddr: number;
  va: number;
  readonly: boolean;
}

export class Domain {
  readonly cpu: Cpu;
  /** The vcpu's registers seen as unsigned 32-bit values, as the hypercall ABI reads them. */
  readonly uregs: Uint32Array;
  readonly access: GuestAccess;
  readonly evtchn: EventChannelTable;
  state: DomainState = 'running';
  exitCode: number | null = null;
  crashMessage?: string;

  /** Frames the domain owns now, and its quota (Xen's tot_pages and max_pages). */
  pages = 0;
  maxPages: number;

  /** True while the guest kernel runs; false in guest user mode (Xen's TF_kernel_mode). */
  kernelMode = true;
  /** Page directories (machine frames) of the kernel and user address spaces; user 0 = none. */
  kernelBase = 0;
  userBase = 0;
  /** Stack for bounces from guest user mode (stack_switch). */
  kernelSp = 0;
  eventEntry = 0;
  syscallEntry = 0;
  /** Exception handlers by vector (set_trap_table); 0 = none. */
  readonly trapTable = new Int32Array(32);
  /** One-shot timer deadline in this domain's virtual time. */
  timerDeadline = Infinity;

  /** Machine address of our grant table page, and its entry count (setup_table). */
  grantTable = -1;
  grantEntries = 0;
  readonly grantMaps: (GrantMapping | null)[] = [];

  /** Virtio devices, numbered as virtio_op list reports them (virtio.ts). */
  readonly virtio: VirtioDevice[] = [];

  /** Console output kept for the report (bounded); the sink given at boot streams every byte. */
  readonly console: ConsoleLog;
  /** Console input the host has for this domain (`--input`), and how much console_read took. */
  consoleInput: Uint8Array = new Uint8Array(0);
  consoleInputPos = 0;
  /** Hypercalls made, by the dispatcher's call index (dispatch.ts CALL_NAMES). */
  readonly hcCounts = new Float64Array(MAX_CALLS);
  /** Calls to numbers or commands the ABI does not have, by name: a guest picks the numbers, so the table is bounded (limits.ts). */
  readonly unknownCalls = new BoundedCounts(UNKNOWN_CALL_KEYS, 'other-unknown');
  /** Refused hypercalls, by error number (errno, positive). */
  readonly errCounts = new Float64Array(MAX_ERRNO);
  /** Bounces into the kernel, by cause (upcall, syscall, page-fault, ...). */
  readonly bounces = new Map<string, number>();
  upcalls = 0;

  constructor(
    readonly id: number,
    mem: PhysicalMemory,
    sharedInfo: number,
    maxPages: number,
    onConsoleOutput?: ConsoleSink,
  ) {
    this.console = new ConsoleLog(onConsoleOutput);
    this.cpu = new Cpu(mem, { portIn: () => -1, portOut: () => {} });
    this.uregs = new Uint32Array(this.cpu.regs.buffer, this.cpu.regs.byteOffset, this.cpu.regs.length);
    this.access = new GuestAccess(mem, () => this.cpu.mmu.ptbr);
    this.evtchn = new EventChannelTable(mem, sharedInfo);
    this.maxPages = maxPages;
  }

  get live(): boolean {
    return this.state === 'running' || this.state === 'blocked';
  }

  count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}
