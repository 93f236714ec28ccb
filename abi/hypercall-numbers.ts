/**
 * The paravirtual ABI's numbers and layouts: hypercall numbers and sub-commands, the start-of-day
 * page, the guest's initial address space, the bounce frame, feature bits. Numbers only, no
 * imports, so guest code compiled by our compiler imports this file directly and the guest build
 * and the host cannot drift. The zod schemas that validate each call live in abi/hypercalls.ts;
 * error codes in abi/errors.ts; the shared-info page in abi/shared-info.ts.
 *
 * Calling convention (KVM's, on our registers): HYPERCALL with the number in r0 and up to five
 * arguments in r1..r5; the result comes back in r0: >= 0 on success, -errno on failure. Other
 * registers are preserved. Numbers follow Xen's xen.h where Xen has the same call; a retired
 * number keeps its slot, with a comment saying since when.
 *
 * Versioning: ABI_MAJOR.ABI_MINOR in abi/version.ts. Additions (a new hypercall, a new
 * sub-command, a new feature bit) bump the minor; a guest built for an older minor keeps working.
 */

// ---------------------------------------------------------------------------------------------
// Hypercall numbers

/** set_trap_table(table, count): exception handlers, as {vector u32, handler u32} pairs. */
export const HC_SET_TRAP_TABLE = 0;
/** mmu_update(reqs, count): batched, validated page-table writes; returns entries applied. */
export const HC_MMU_UPDATE = 1;
/**
 * stack_switch(sp): the guest-kernel stack pointer used for bounces from guest user mode, and for
 * a double fault (vector 8, if the trap table has it) when a bounce frame cannot be written.
 */
export const HC_STACK_SWITCH = 3;
/** set_callbacks(event_entry, syscall_entry): where upcalls and system calls enter the kernel. */
export const HC_SET_CALLBACKS = 4;
/** memory_op(cmd, ...): reservation (balloon) operations, XENMEM_*. */
export const HC_MEMORY_OP = 12;
/** update_va_mapping(va, pte, flags): validated write of the entry that maps va. */
export const HC_UPDATE_VA_MAPPING = 14;
/** set_timer_op(deadline_lo, deadline_hi): one-shot VIRQ_TIMER at a virtual time; 0 cancels. */
export const HC_SET_TIMER_OP = 15;
/** xen_version(cmd, arg): ABI version and feature bits. */
export const HC_XEN_VERSION = 17;
/** console_io(cmd, buffer, length): write bytes to the console, or read bytes of console input. */
export const HC_CONSOLE_IO = 18;
/** grant_table_op(cmd, ...): GNTTABOP_*. */
export const HC_GRANT_TABLE_OP = 20;
/** iret(): return from a bounce; sp points at {r0, pc, flags, sp} (see the bounce frame). */
export const HC_IRET = 23;
/** mmuext_op(cmd, arg): pin/unpin page tables, switch address space, flush TLB. */
export const HC_MMUEXT_OP = 26;
/** sched_op(cmd, arg): yield, block, shutdown. */
export const HC_SCHED_OP = 29;
/** event_channel_op(cmd, a, b): EVTCHNOP_*. */
export const HC_EVENT_CHANNEL_OP = 32;
/** virtio_op(cmd, ...): discover and set up virtio devices, and kick their queues (tsvisor's own; Xen has none). */
export const HC_VIRTIO_OP = 40;

// console_io
export const CONSOLEIO_WRITE = 0;
/**
 * read(buffer, length): copy up to length bytes of console input into buffer; returns how many
 * (0: none left). VIRQ_CONSOLE goes pending when input arrives, as Xen's does for dom0's console.
 */
export const CONSOLEIO_READ = 1;
/** Longest console_io write or read, in bytes. */
export const CONSOLEIO_MAX = 4096;

// sched_op
export const SCHEDOP_YIELD = 0;
/** Block until an event is pending (returns at once if one is). */
export const SCHEDOP_BLOCK = 1;
/** sched_op(SCHEDOP_SHUTDOWN, code): end the domain with a 32-bit shutdown code. */
export const SCHEDOP_SHUTDOWN = 2;

// xen_version
/** Returns ABI_MAJOR << 16 | ABI_MINOR. */
export const XENVER_VERSION = 0;
/** xen_version(XENVER_GET_FEATURES, submap): 32 feature bits of submap `submap` (only 0 exists). */
export const XENVER_GET_FEATURES = 6;
/** Feature bits, submap 0. */
export const XENFEAT_MMU_UPDATE = 1 << 0;
export const XENFEAT_EVTCHN = 1 << 1;
export const XENFEAT_GRANT_TABLES = 1 << 2;
export const XENFEAT_BALLOON = 1 << 3;
export const XENFEAT_TIMER = 1 << 4;

// mmu_update: a request is two words, {ptr, val}; ptr is the machine address of the entry to
// write, whose low two bits select the command (entries are 4-aligned, so the bits are free).
export const MMU_REQ_BYTES = 8;
export const MMU_NORMAL_PT_UPDATE = 0;
/** Largest batch one mmu_update accepts. */
export const MMU_UPDATE_MAX = 1024;

// update_va_mapping flags
export const UVMF_NONE = 0;
/** Flush the whole TLB after the update. */
export const UVMF_TLB_FLUSH = 1;
/** Invalidate just the updated va after the update. */
export const UVMF_INVLPG = 2;

// mmuext_op(cmd, arg)
/** Validate the page at machine frame `arg` as a page table (L1) and make it one. */
export const MMUEXT_PIN_L1_TABLE = 0;
/** Validate the page at machine frame `arg` as a page directory (L2) and make it one. */
export const MMUEXT_PIN_L2_TABLE = 1;
/** Release a pinned table that nothing references any more; it becomes an ordinary page. */
export const MMUEXT_UNPIN_TABLE = 4;
/** Switch the guest kernel's address space to the pinned directory at frame `arg`. */
export const MMUEXT_NEW_BASEPTR = 5;
/** Flush this vcpu's whole TLB. */
export const MMUEXT_TLB_FLUSH_LOCAL = 6;
/** Invalidate the TLB entry of guest-virtual address `arg`. */
export const MMUEXT_INVLPG_LOCAL = 7;
/** The address space for guest user mode (entered by iret to user mode); 0 = same as kernel. */
export const MMUEXT_NEW_USER_BASEPTR = 15;

// memory_op(cmd, count, array): the balloon. `array` holds machine frame numbers, one u32 each.
/** increase_reservation(count, out_array): get `count` new frames; their MFNs are written out. */
export const XENMEM_INCREASE_RESERVATION = 0;
/** decrease_reservation(count, in_array): give back the frames listed (unmapped, unpinned). */
export const XENMEM_DECREASE_RESERVATION = 1;
/** current_reservation(): frames the domain owns now. */
export const XENMEM_CURRENT_RESERVATION = 3;
/** maximum_reservation(): the domain's quota, in frames. */
export const XENMEM_MAXIMUM_RESERVATION = 4;
/** Largest count one memory_op accepts. */
export const XENMEM_MAX_EXTENTS = 1024;

// event_channel_op(cmd, a, b)
/** alloc_unbound(remote_dom): a port that domain `remote_dom` may bind to. Returns the port. */
export const EVTCHNOP_ALLOC_UNBOUND = 6;
/** bind_interdomain(remote_dom, remote_port): connect to an unbound port. Returns the local port. */
export const EVTCHNOP_BIND_INTERDOMAIN = 0;
/** bind_virq(virq): a port that receives a virtual interrupt. Returns the port. */
export const EVTCHNOP_BIND_VIRQ = 1;
/** close(port): free the port; an interdomain peer's end falls back to unbound, waiting for us. */
export const EVTCHNOP_CLOSE = 3;
/** send(port): set the pending bit of the other end of an interdomain port. */
export const EVTCHNOP_SEND = 4;
/** status(port): the state (EVTCHNSTAT_*) | detail << 8 (remote domain, or virq number). */
export const EVTCHNOP_STATUS = 5;
/** unmask(port): clear the port's mask bit; a port that went pending while masked is delivered now. */
export const EVTCHNOP_UNMASK = 9;
/** mask(port): set the port's mask bit (a guest may also just write the bit). */
export const EVTCHNOP_MASK = 12;

export const EVTCHNSTAT_CLOSED = 0;
export const EVTCHNSTAT_UNBOUND = 1;
export const EVTCHNSTAT_INTERDOMAIN = 2;
export const EVTCHNSTAT_VIRQ = 4;
/** A port bound to a virtio device of the hypervisor (virtio_op bind_event); detail = device. */
export const EVTCHNSTAT_DEVICE = 6;

export const VIRQ_TIMER = 0;
export const VIRQ_CONSOLE = 2;
export const VIRQ_COUNT = 8;

// virtio_op(cmd, ...): devices are numbered 0.. in the order VIRTIO_LIST reports them. Ring and
// buffer addresses are machine addresses of frames the domain owns (the guest finds them through
// the linear page table); the device checks every one. Layouts: abi/ring.ts.
/** list(buffer, max): write up to max device records {type, queues, max queue size, features}; returns the count. */
export const VIRTIO_LIST = 0;
export const VIRTIO_DEV_TYPE = 0;
export const VIRTIO_DEV_QUEUES = 4;
export const VIRTIO_DEV_MAX_QUEUE_SIZE = 8;
export const VIRTIO_DEV_FEATURES = 12;
export const VIRTIO_DEV_BYTES = 16;
/** get_features(dev): the feature bits the device offers. */
export const VIRTIO_GET_FEATURES = 1;
/** set_features(dev, features): the driver's choice, a subset of the offer (before FEATURES_OK). */
export const VIRTIO_SET_FEATURES = 2;
/** get_status(dev): the device status byte (abi/ring.ts VIRTIO_STATUS_*). */
export const VIRTIO_GET_STATUS = 3;
/** set_status(dev, status): the next step of the status handshake; 0 resets the device. */
export const VIRTIO_SET_STATUS = 4;
/** set_queue(dev, config): configure a queue from a VIRTQ_CFG_* record at guest-virtual config. */
export const VIRTIO_SET_QUEUE = 5;
/** bind_event(dev): a new port on which the device signals used buffers and configuration changes. */
export const VIRTIO_BIND_EVENT = 6;
/** kick(dev, queue): the driver has made buffers available. */
export const VIRTIO_KICK = 7;
/** get_config(dev, offset): one 32-bit word of the device's configuration space. */
export const VIRTIO_GET_CONFIG = 8;
export const VIRTIO_MAX_DEVICES = 16;

/** Domain ids: DOMID_SELF names the caller wherever a domain is expected. */
export const DOMID_SELF = 0x7ff0;

// grant_table_op(cmd, ...)
/**
 * setup_table(va, count): the guest's grant table is `count` entries at guest-virtual `va`
 * (page-aligned, at most GNTTAB_MAX_ENTRIES), which the guest writes directly, as Xen's v1 table.
 */
export const GNTTABOP_SETUP_TABLE = 2;
/** map_grant_ref(ref, dom, va, flags): map domain `dom`'s grant `ref` at our `va`. Returns a handle. */
export const GNTTABOP_MAP_GRANT_REF = 0;
/** unmap_grant_ref(handle): remove a mapping made by map_grant_ref. */
export const GNTTABOP_UNMAP_GRANT_REF = 1;
/** copy(req): copy bytes between our memory and a granted frame; req is a GNTCOPY_* struct. */
export const GNTTABOP_COPY = 5;
/** query_size(): entries in our grant table. */
export const GNTTABOP_QUERY_SIZE = 6;
/** map_grant_ref flags */
export const GNTMAP_READONLY = 1 << 2;

/** A grant entry: {flags u16, domid u16, frame u32}, 8 bytes (Xen's grant_entry_v1). */
export const GNT_ENTRY_BYTES = 8;
export const GNT_FLAGS = 0;
export const GNT_DOMID = 2;
export const GNT_FRAME = 4;
/** Entry flags: publish domid and frame first, then flags (the hypervisor reads flags last). */
export const GTF_PERMIT_ACCESS = 1;
export const GTF_READONLY = 1 << 2;
/** Set by the hypervisor while the grant is mapped read-only / writable; the granter must wait. */
export const GTF_READING = 1 << 3;
export const GTF_WRITING = 1 << 4;
export const GNTTAB_MAX_ENTRIES = 512;

/** gnttab_copy request, read from guest memory and validated after it is read (abi/hypercalls.ts). */
export const GNTCOPY_REF = 0; //       the remote grant reference
export const GNTCOPY_DOMID = 4; //     the granting domain
export const GNTCOPY_OFFSET = 8; //    offset in the granted frame
export const GNTCOPY_LOCAL_VA = 12; // our buffer (guest-virtual)
export const GNTCOPY_LEN = 16; //      bytes; offset + len must stay within the frame
export const GNTCOPY_FLAGS = 20; //    GNTCOPY_TO_GRANT: local -> granted frame; otherwise granted -> local
export const GNTCOPY_BYTES = 24;
export const GNTCOPY_TO_GRANT = 1;

// ---------------------------------------------------------------------------------------------
// Start of day

/**
 * The guest's initial address space, built by the hypervisor. Everything below is mapped with
 * user permission (the guest kernel runs at privilege 3); the page-table pages are mapped
 * read-only, since a guest never writes its page tables except through mmu_update.
 *   image segments at their linked addresses (LOAD_BASE = 0x1000 upwards)
 *   stack: PV_STACK_PAGES pages below PV_STACK_TOP
 *   start-of-day page, shared-info page, page tables, frame list, from PV_START_INFO_VA up
 *   the linear page table at PV_LINEAR_PT_VA (read-only)
 * The rest of the 4 GiB is the guest's to map (PV_FREE_VA is a convenient start).
 */
export const PV_STACK_TOP = 0x00400000;
export const PV_STACK_PAGES = 16;
export const PV_START_INFO_VA = 0x00400000;
export const PV_SHARED_INFO_VA = 0x00401000;
/** The page directory first, then the page tables, read-only. */
export const PV_PAGE_TABLES_VA = 0x00402000;
/** The frame list: machine frame number of each of the domain's pages (Xen's P2M), u32 each. */
export const PV_FRAME_LIST_VA = 0x00420000;
export const PV_FREE_VA = 0x00800000;
/**
 * The linear page table: the directory's last entry names the directory itself, read-only, so
 * the entry that maps virtual address va can be read at PV_LINEAR_PT_VA + (va >>> 12) * 4, and
 * the machine address of va is (that entry & ~0xfff) | (va & 0xfff). Guests use it to find the
 * machine addresses they put in virtio descriptors and grant entries.
 */
export const PV_LINEAR_PT_VA = 0xffc00000;

/** Start-of-day page: at PV_START_INFO_VA, and in r1 at entry. Byte offsets of u32 fields. */
export const SOD_MAGIC = 0; //            SOD_MAGIC_VALUE
export const SOD_ABI_VERSION = 4; //      ABI_MAJOR << 16 | ABI_MINOR of the host
export const SOD_DOMID = 8; //            this domain's id
export const SOD_NR_PAGES = 12; //        pages the domain owns at start
export const SOD_SHARED_INFO = 16; //     guest-virtual address of the shared-info page
export const SOD_FRAME_LIST = 20; //      guest-virtual address of the frame list
export const SOD_PT_BASE = 24; //         guest-virtual address of the page directory (read-only)
export const SOD_PT_BASE_MFN = 28; //     machine frame of the page directory
export const SOD_FIRST_FREE = 32; //      index in the frame list of the first frame nothing maps
export const SOD_CONSOLE_PORT = 36; //    event-channel port bound to VIRQ_CONSOLE
export const SOD_MAX_PAGES = 40; //       the domain's quota, in frames
export const SOD_CMDLINE = 64; //         NUL-terminated command line
export const SOD_CMDLINE_MAX = 256;
export const SOD_MAGIC_VALUE = 0x56505354; // 'TSPV'

// ---------------------------------------------------------------------------------------------
// Bounces: how the hypervisor enters the guest kernel

/**
 * The bounce frame the hypervisor writes on the guest-kernel stack when it enters the kernel
 * for an event upcall, a system call from guest user mode, or an exception (Xen's
 * create_bounce_frame). The stack is the current one in guest kernel mode, or the one set by
 * stack_switch when coming from guest user mode. When that frame cannot be written, a handler for
 * vector 8 gets a double-fault frame on the stack_switch stack instead (error 0, the original
 * fault's address, pc and sp), or, without one, the domain crashes. Byte offsets from the new sp:
 */
export const BF_VECTOR = 0; //     exception vector, Vector.Syscall, or PV_UPCALL_VECTOR
export const BF_ERRCODE = 4;
export const BF_FAULTADDR = 8; //  for a page fault; HC_IRET reuses this slot for r0
export const BF_PC = 12;
/** Bit 0: events were enabled (UPCALL_MASK was 0); bits 4-5: 3 if guest user mode was interrupted. */
export const BF_FLAGS = 16;
export const BF_SP = 20;
export const BF_BYTES = 24;
export const PV_UPCALL_VECTOR = 0xff;
/**
 * HC_IRET: the kernel points sp at the frame's BF_FAULTADDR slot holding the r0 to restore, so
 * [sp] = r0, [sp+4] = pc, [sp+8] = flags, [sp+12] = sp (x86-64 Xen's iret pops rax the same way).
 * Returning to guest user mode switches to the user address space.
 */
export const IRET_FRAME_R0 = 0;
export const BF_FLAG_EVENTS = 1 << 0;
/** BF_FLAGS bits 4-5: 3 when guest user mode was interrupted (iret returns there), else 0. */
export const BF_FLAG_USER = 3 << 4;
