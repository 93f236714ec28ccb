/**
 * Hypercall ABI v1: for every hypercall (and every sub-command of the families that take one), its
 * name, the registers it reads and a zod schema for them; and schemas for the structures a
 * hypercall reads from guest memory, validated after they are read. The hypervisor's dispatcher
 * validates with these before any handler runs, so a handler only ever sees well-formed input.
 * Numbers and layouts come from abi/hypercall-numbers.ts (zod-free, shared with guest code).
 *
 * Register arguments arrive as unsigned 32-bit numbers (r1 >>> 0 ...). A family's first register
 * is its command; the remaining registers are named by `args` in order.
 */
import { z } from 'zod';
import * as N from './hypercall-numbers.ts';
import { VIRTQ_MAX_QUEUE_SIZE } from './ring.ts';
import { EVTCHN_PORTS } from './shared-info.ts';

export { ABI_MAJOR, ABI_MINOR } from './version.ts';

/** Features this host offers (XENVER_GET_FEATURES, submap 0). */
export const FEATURES_SUBMAP0 = N.XENFEAT_MMU_UPDATE | N.XENFEAT_EVTCHN | N.XENFEAT_GRANT_TABLES | N.XENFEAT_BALLOON | N.XENFEAT_TIMER;

const u32 = z.uint32();
/** A guest-virtual address. */
const va = u32;
/** A page-aligned guest-virtual address. */
const pageVa = u32.refine((v) => v % 4096 === 0, 'must be page-aligned');
const port = z.uint32().max(EVTCHN_PORTS - 1);
const domid = z.uint32().max(0xffff);
const count = (max: number) => z.uint32().min(1).max(max);
const device = z.uint32().max(N.VIRTIO_MAX_DEVICES - 1);

/** One call: its name (for reports and traces), the registers it reads, and their schema. */
export interface CallSpec<S extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  /** Names of the argument registers in order: r1.. for plain calls, r2.. after a command. */
  readonly args: readonly string[];
  readonly schema: S;
  /** One line: what it does, for docs and --help. */
  readonly doc: string;
}

const call = <S extends z.ZodRawShape>(name: string, shape: S, doc: string): CallSpec<z.ZodObject<S>> => ({
  name,
  args: Object.keys(shape),
  schema: z.object(shape),
  doc,
});

/** A hypercall that takes a command in r1 selects one of these. */
export interface Family {
  readonly name: string;
  readonly commands: Readonly<Record<number, CallSpec>>;
}

export type HypercallSpec = { kind: 'call'; spec: CallSpec } | { kind: 'family'; family: Family };

export const HYPERCALLS: Readonly<Record<number, HypercallSpec>> = {
  [N.HC_SET_TRAP_TABLE]: {
    kind: 'call',
    spec: call('set_trap_table', { table: va, count: z.uint32().max(32) }, 'register exception handlers: count {vector, handler} pairs at table (count 0 clears)'),
  },
  [N.HC_MMU_UPDATE]: {
    kind: 'call',
    spec: call('mmu_update', { reqs: va, count: count(N.MMU_UPDATE_MAX) }, 'apply count validated {ptr, val} page-table writes, all or none'),
  },
  [N.HC_STACK_SWITCH]: {
    kind: 'call',
    spec: call('stack_switch', { sp: u32.refine((v) => v % 4 === 0, 'must be 4-aligned') }, 'set the kernel stack used for bounces from guest user mode and for a double fault'),
  },
  [N.HC_SET_CALLBACKS]: {
    kind: 'call',
    spec: call('set_callbacks', { event: va.refine((v) => v % 4 === 0, 'must be 4-aligned'), syscall: va.refine((v) => v % 4 === 0, 'must be 4-aligned') }, 'set the event-upcall and system-call entry points'),
  },
  [N.HC_MEMORY_OP]: {
    kind: 'family',
    family: {
      name: 'memory_op',
      commands: {
        [N.XENMEM_INCREASE_RESERVATION]: call('increase_reservation', { count: count(N.XENMEM_MAX_EXTENTS), frames: va }, 'get count frames within the quota; their MFNs are written to frames'),
        [N.XENMEM_DECREASE_RESERVATION]: call('decrease_reservation', { count: count(N.XENMEM_MAX_EXTENTS), frames: va }, 'give back the count frames listed at frames'),
        [N.XENMEM_CURRENT_RESERVATION]: call('current_reservation', {}, 'frames the domain owns'),
        [N.XENMEM_MAXIMUM_RESERVATION]: call('maximum_reservation', {}, "the domain's quota in frames"),
      },
    },
  },
  [N.HC_UPDATE_VA_MAPPING]: {
    kind: 'call',
    spec: call('update_va_mapping', { va: pageVa, pte: u32, flags: z.uint32().max(N.UVMF_TLB_FLUSH | N.UVMF_INVLPG) }, 'validated write of the entry that maps va in the current address space'),
  },
  [N.HC_SET_TIMER_OP]: {
    kind: 'call',
    spec: call('set_timer_op', { lo: u32, hi: z.uint32().max(0x1fffff) }, 'one-shot VIRQ_TIMER at virtual time hi:lo; 0 cancels'),
  },
  [N.HC_XEN_VERSION]: {
    kind: 'family',
    family: {
      name: 'xen_version',
      commands: {
        [N.XENVER_VERSION]: call('version', {}, 'ABI major << 16 | minor'),
        [N.XENVER_GET_FEATURES]: call('get_features', { submap: z.literal(0) }, 'feature bits of submap 0'),
      },
    },
  },
  [N.HC_CONSOLE_IO]: {
    kind: 'family',
    family: {
      name: 'console_io',
      commands: {
        [N.CONSOLEIO_WRITE]: call('console_write', { buffer: va, length: z.uint32().max(N.CONSOLEIO_MAX) }, 'write length bytes from buffer to the console'),
        [N.CONSOLEIO_READ]: call('console_read', { buffer: va, length: z.uint32().max(N.CONSOLEIO_MAX) }, 'copy up to length bytes of console input to buffer; returns the count, 0 when none is left'),
      },
    },
  },
  [N.HC_GRANT_TABLE_OP]: {
    kind: 'family',
    family: {
      name: 'grant_table_op',
      commands: {
        [N.GNTTABOP_SETUP_TABLE]: call('gnttab_setup_table', { table: pageVa, count: z.uint32().max(N.GNTTAB_MAX_ENTRIES) }, 'our grant table is count entries at table'),
        [N.GNTTABOP_MAP_GRANT_REF]: call('gnttab_map', { ref: z.uint32().max(N.GNTTAB_MAX_ENTRIES - 1), dom: domid, va: pageVa, flags: z.uint32().max(N.GNTMAP_READONLY) }, "map domain dom's grant ref at va"),
        [N.GNTTABOP_UNMAP_GRANT_REF]: call('gnttab_unmap', { handle: z.uint32().max(N.GNTTAB_MAX_ENTRIES - 1) }, 'remove a grant mapping'),
        [N.GNTTABOP_COPY]: call('gnttab_copy', { req: va.refine((v) => v % 4 === 0, 'must be 4-aligned') }, 'copy through a grant as the request at req says'),
        [N.GNTTABOP_QUERY_SIZE]: call('gnttab_query_size', {}, 'entries in our grant table'),
      },
    },
  },
  [N.HC_IRET]: { kind: 'call', spec: call('iret', {}, 'return from a bounce: restore r0, pc, flags and sp from the IretFrame at sp') },
  [N.HC_MMUEXT_OP]: {
    kind: 'family',
    family: {
      name: 'mmuext_op',
      commands: {
        [N.MMUEXT_PIN_L1_TABLE]: call('pin_l1_table', { mfn: u32 }, 'validate and pin a page table'),
        [N.MMUEXT_PIN_L2_TABLE]: call('pin_l2_table', { mfn: u32 }, 'validate and pin a page directory'),
        [N.MMUEXT_UNPIN_TABLE]: call('unpin_table', { mfn: u32 }, 'unpin an unreferenced table'),
        [N.MMUEXT_NEW_BASEPTR]: call('new_baseptr', { mfn: u32 }, 'switch the kernel address space'),
        [N.MMUEXT_NEW_USER_BASEPTR]: call('new_user_baseptr', { mfn: u32 }, 'set the user address space (0: none)'),
        [N.MMUEXT_TLB_FLUSH_LOCAL]: call('tlb_flush_local', {}, 'flush the TLB'),
        [N.MMUEXT_INVLPG_LOCAL]: call('invlpg_local', { va }, 'invalidate one page'),
      },
    },
  },
  [N.HC_SCHED_OP]: {
    kind: 'family',
    family: {
      name: 'sched_op',
      commands: {
        [N.SCHEDOP_YIELD]: call('yield', {}, 'give up the rest of the time slice'),
        [N.SCHEDOP_BLOCK]: call('block', {}, 'sleep until an event is pending'),
        [N.SCHEDOP_SHUTDOWN]: call('shutdown', { code: u32 }, 'end the domain with a 32-bit code'),
      },
    },
  },
  [N.HC_EVENT_CHANNEL_OP]: {
    kind: 'family',
    family: {
      name: 'event_channel_op',
      commands: {
        [N.EVTCHNOP_ALLOC_UNBOUND]: call('evtchn_alloc_unbound', { remote: domid }, 'a port that domain remote may bind to'),
        [N.EVTCHNOP_BIND_INTERDOMAIN]: call('evtchn_bind_interdomain', { remote: domid, remotePort: port }, "connect to remote's unbound port"),
        [N.EVTCHNOP_BIND_VIRQ]: call('evtchn_bind_virq', { virq: z.uint32().max(N.VIRQ_COUNT - 1) }, 'bind a virtual interrupt to a new port'),
        [N.EVTCHNOP_CLOSE]: call('evtchn_close', { port }, 'close a port'),
        [N.EVTCHNOP_SEND]: call('evtchn_send', { port }, 'signal the other end of a port'),
        [N.EVTCHNOP_STATUS]: call('evtchn_status', { port }, 'state | detail << 8'),
        [N.EVTCHNOP_UNMASK]: call('evtchn_unmask', { port }, 'clear the mask bit; deliver if pending'),
        [N.EVTCHNOP_MASK]: call('evtchn_mask', { port }, 'set the mask bit'),
      },
    },
  },
  [N.HC_VIRTIO_OP]: {
    kind: 'family',
    family: {
      name: 'virtio_op',
      commands: {
        [N.VIRTIO_LIST]: call('virtio_list', { buffer: va.refine((v) => v % 4 === 0, 'must be 4-aligned'), max: z.uint32().max(N.VIRTIO_MAX_DEVICES) }, 'describe up to max devices at buffer'),
        [N.VIRTIO_GET_FEATURES]: call('virtio_get_features', { dev: device }, 'feature bits the device offers'),
        [N.VIRTIO_SET_FEATURES]: call('virtio_set_features', { dev: device, features: u32 }, 'accept a subset of the offered features'),
        [N.VIRTIO_GET_STATUS]: call('virtio_get_status', { dev: device }, 'the device status byte'),
        [N.VIRTIO_SET_STATUS]: call('virtio_set_status', { dev: device, status: z.uint32().max(0xff) }, 'advance the status handshake; 0 resets'),
        [N.VIRTIO_SET_QUEUE]: call('virtio_set_queue', { dev: device, config: va.refine((v) => v % 4 === 0, 'must be 4-aligned') }, 'configure a queue from a record in guest memory'),
        [N.VIRTIO_BIND_EVENT]: call('virtio_bind_event', { dev: device }, 'a port for used-buffer and config-change notifications'),
        [N.VIRTIO_KICK]: call('virtio_kick', { dev: device, queue: z.uint32().max(15) }, 'process the buffers made available on a queue'),
        [N.VIRTIO_GET_CONFIG]: call('virtio_get_config', { dev: device, offset: z.uint32().max(252).refine((v) => v % 4 === 0, 'must be 4-aligned') }, 'a word of the configuration space'),
      },
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Structures read from guest memory, validated after they are read

/** One mmu_update request. ptr: machine address of a 4-aligned entry, command in the low bits. */
export const MmuUpdateRequest = z.object({
  ptr: u32.refine((v) => (v & 3) === N.MMU_NORMAL_PT_UPDATE, 'command bits must be MMU_NORMAL_PT_UPDATE (0)'),
  val: u32,
});

/** One set_trap_table entry: a vector below 32 and a 4-aligned handler address. */
export const TrapTableEntry = z.object({
  vector: z.uint32().max(31),
  handler: u32.refine((v) => v % 4 === 0, 'must be 4-aligned'),
});

/**
 * iret's frame at sp ({r0, pc, flags, sp}, see BF_* in hypercall-numbers.ts): the pc must be one
 * an instruction can sit at, and flags may hold only BF_FLAG_EVENTS and the two mode bits, both
 * set or both clear, so no bit is given a meaning by accident before an ABI minor defines it.
 */
export const IretFrame = z.object({
  r0: u32,
  pc: u32.refine((v) => v % 4 === 0, 'must be 4-aligned'),
  flags: u32.refine((v) => (v & ~(N.BF_FLAG_EVENTS | N.BF_FLAG_USER)) === 0 && ((v & N.BF_FLAG_USER) === 0 || (v & N.BF_FLAG_USER) === N.BF_FLAG_USER), 'only BF_FLAG_EVENTS and BF_FLAG_USER (both mode bits or neither)'),
  sp: u32,
});

/** virtio_op set_queue's record (abi/ring.ts VIRTQ_CFG_*): queue size a power of two up to 32768. */
export const VirtqConfig = z.object({
  index: z.uint32().max(15),
  size: z
    .uint32()
    .min(1)
    .max(VIRTQ_MAX_QUEUE_SIZE)
    .refine((v) => (v & (v - 1)) === 0, 'must be a power of two'),
  desc: u32.refine((v) => v % 16 === 0, 'must be 16-aligned'),
  avail: u32.refine((v) => v % 2 === 0, 'must be 2-aligned'),
  used: u32.refine((v) => v % 4 === 0, 'must be 4-aligned'),
});

/** gnttab_copy request; offset + len must stay inside the granted frame. */
export const GrantCopyRequest = z
  .object({
    ref: z.uint32().max(N.GNTTAB_MAX_ENTRIES - 1),
    dom: domid,
    offset: z.uint32().max(4095),
    localVa: va,
    len: z.uint32().min(1).max(4096),
    flags: z.uint32().max(N.GNTCOPY_TO_GRANT),
  })
  .refine((r) => r.offset + r.len <= 4096, { message: 'offset + len runs past the granted frame', path: ['len'] });

/** Name of a hypercall and command, for reports: 'event_channel_op.evtchn_send'. */
export function hypercallName(nr: number, cmd: number): string {
  const h = HYPERCALLS[nr];
  if (!h) return `hypercall${nr}`;
  if (h.kind === 'call') return h.spec.name;
  return h.family.commands[cmd]?.name ?? `${h.family.name}.${cmd}`;
}
