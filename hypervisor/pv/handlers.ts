/**
 * Hypercall handlers. Each receives arguments the dispatcher has already validated against the
 * call's schema in abi/hypercalls.ts, and returns the guest's result: >= 0, or -errno. A handler
 * checks everything that depends on state (ownership, types, bindings) before it changes
 * anything, so a refused call leaves guest and host exactly as they were. Structures read from
 * guest memory are validated with their schema after they are read.
 */
import { PAGE_SHIFT, PTE_P, PTE_U, PTE_W } from '../../abi/isa.ts';
import * as E from '../../abi/errors.ts';
import * as N from '../../abi/hypercall-numbers.ts';
import { ABI_MAJOR, ABI_MINOR, FEATURES_SUBMAP0, GrantCopyRequest, MmuUpdateRequest, TrapTableEntry } from '../../abi/hypercalls.ts';
import { EVTCHNSTAT_INTERDOMAIN, EVTCHNSTAT_UNBOUND } from './event-channel.ts';
import type { Domain } from './domain.ts';
import { FrameTable, FrameType } from './frames.ts';
import { compileFields, compileSchema } from './fast-schema.ts';
import type { PvHost } from './pv-host.ts';
import { VIRTIO_HANDLERS } from './virtio.ts';

/** Validated arguments, by the names in the call's spec. */
export type Args = Readonly<Record<string, number>>;
export type Handler = (h: PvHost, d: Domain, a: Args) => number;

const ok = 0;

// ---------------------------------------------------------------------------------------------
// Page tables

/** The L1 entry that maps `va` in domain d's current address space: its machine address, or -errno. */
function l1EntryFor(h: PvHost, d: Domain, va: number): number {
  const dir = d.cpu.mmu.ptbr >>> PAGE_SHIFT;
  const pde = h.mem.i32[(FrameTable.entryAddr(dir, va >>> 22)) >>> 2]!;
  if (!(pde & PTE_P)) return -E.EINVAL;
  return FrameTable.entryAddr(pde >>> PAGE_SHIFT, (va >>> PAGE_SHIFT) & 1023);
}

/** Is the entry at machine address `ptr` one of d's grant mappings? */
function holdsGrantAt(d: Domain, ptr: number): boolean {
  const maps = d.grantMaps;
  for (let i = 0; i < maps.length; i++) if (maps[i] !== null && maps[i]!.entryAddr === ptr) return true;
  return false;
}

/** Does the table at frame `f` hold one of d's grant mappings? */
function holdsGrantIn(d: Domain, f: number): boolean {
  return d.grantMaps.some((m) => m !== null && m.entryAddr >>> PAGE_SHIFT === f);
}

/**
 * Validate a batch of {entry address, value} writes against the frame table, then apply them all.
 * The batch is `n` pairs in `w` from index `at`: ptr, val, ptr, val... Returns the number applied
 * or -errno (nothing applied).
 */
export function applyEntryUpdates(h: PvHost, d: Domain, w: ArrayLike<number>, at: number, n: number): number {
  const ft = h.frames;
  const i32 = h.mem.i32;
  for (let k = 0; k < n; k++) {
    const ptr = w[at + 2 * k]!;
    const val = w[at + 2 * k + 1]!;
    const table = ptr >>> PAGE_SHIFT;
    if (!ft.ownedBy(table, d.id)) return -E.EPERM;
    const t = ft.type[table]! as FrameType;
    if (t === FrameType.None) return -E.EINVAL; // not a page table: Xen's mmu_update updates tables only
    if (t === FrameType.L1) {
      // A grant mapping is removed only by unmap_grant_ref, which keeps the grant's books (a
      // grant of our own frame to ourselves included: its counts are the grant's, not the entry's).
      // An entry naming a frame we do not own is always a grant mapping, so an earlier request
      // of the same batch for the same entry (validated, so naming our own frame) changes nothing here.
      const old = i32[ptr >>> 2]!;
      if (old & PTE_P && !ft.ownedBy(old >>> PAGE_SHIFT, d.id)) return -E.EPERM;
      if (holdsGrantAt(d, ptr)) return -E.EPERM;
      const s = ft.checkL1Entry(val, d.id);
      if (s < 0) return s;
      if (val & PTE_P && val & PTE_W && val >>> PAGE_SHIFT === table) return -E.EPERM;
    } else {
      const s = ft.checkL2Entry(val, d.id, table);
      if (s < 0) return s;
    }
  }
  for (let k = 0; k < n; k++) {
    const ptr = w[at + 2 * k]!;
    const val = w[at + 2 * k + 1]!;
    const table = ptr >>> PAGE_SHIFT;
    const t = ft.type[table]! as FrameType;
    ft.account(t, i32[ptr >>> 2]!, -1, table);
    ft.account(t, val, +1, table);
    i32[ptr >>> 2] = val;
  }
  // Stricter than Xen, which leaves flushing to the guest: a stale writable TLB entry for a page
  // that has just become a page table would break the invariant, so every update flushes.
  if (n > 0) d.cpu.mmu.flushAll();
  return n;
}

const validMmuRequest = compileFields(MmuUpdateRequest)!;
const validTrapEntry = compileSchema(TrapTableEntry);
const validGrantCopy = compileSchema(GrantCopyRequest);

/** mmu_update's batch, read once into this buffer (no allocation per call) and validated there. */
const mmuBatch = new Uint32Array(N.MMU_UPDATE_MAX * 2);

const mmuUpdate: Handler = (h, d, a) => {
  const n = a.count!;
  if (!d.access.readWordsInto(a.reqs!, n * 2, mmuBatch)) return -E.EFAULT;
  for (let i = 0; i < n; i++) if (!validMmuRequest(mmuBatch, 2 * i)) return -E.EINVAL;
  return applyEntryUpdates(h, d, mmuBatch, 0, n);
};

/** update_va_mapping's one {ptr, val} request. */
const vaRequest = new Uint32Array(2);

const updateVaMapping: Handler = (h, d, a) => {
  const entry = l1EntryFor(h, d, a.va!);
  if (entry < 0) return entry;
  vaRequest[0] = entry;
  vaRequest[1] = a.pte!;
  const r = applyEntryUpdates(h, d, vaRequest, 0, 1);
  return r < 0 ? r : ok;
};

function pin(t: FrameType.L1 | FrameType.L2): Handler {
  return (h, d, a) => {
    const s = h.frames.pin(a.mfn!, t, d.id);
    if (s === 0) d.cpu.mmu.flushAll();
    return s;
  };
}

const unpin: Handler = (h, d, a) => {
  if (a.mfn === d.kernelBase || a.mfn === d.userBase) return -E.EBUSY;
  // A table holding a grant mapping (even of our own frame) stays until the grant is unmapped:
  // unpinning would drop the mapping's counts a first time and unmap_grant_ref a second.
  if (holdsGrantIn(d, a.mfn!)) return -E.EBUSY;
  return h.frames.unpin(a.mfn!, d.id);
};

function baseptr(which: 'kernel' | 'user'): Handler {
  return (h, d, a) => {
    const f = a.mfn!;
    if (which === 'user' && f === 0) {
      h.setBase(d, 'user', 0);
      return ok;
    }
    if (!h.frames.ownedBy(f, d.id)) return -E.EPERM;
    if (h.frames.type[f] !== FrameType.L2) return -E.EINVAL;
    h.setBase(d, which, f);
    return ok;
  };
}

// ---------------------------------------------------------------------------------------------
// Reservation (the balloon)

const increaseReservation: Handler = (h, d, a) => {
  const n = a.count!;
  if (d.pages + n > d.maxPages) return -E.ENOMEM;
  if (!d.access.writable(a.frames!, n * 4)) return -E.EFAULT;
  const got = h.frames.allocate(n, d.id + 1);
  if (!got) return -E.ENOMEM;
  d.pages += n;
  d.access.write(a.frames!, new Uint8Array(Uint32Array.from(got).buffer));
  return n;
};

const decreaseReservation: Handler = (h, d, a) => {
  const n = a.count!;
  const words = d.access.readWords(a.frames!, n);
  if (!words) return -E.EFAULT;
  const list = Array.from(words);
  if (new Set(list).size !== list.length) return -E.EINVAL;
  for (const f of list) {
    const s = h.frames.releasable(f, d.id);
    if (s < 0) return s;
  }
  h.frames.free(list);
  d.pages -= n;
  d.cpu.mmu.flushAll();
  return n;
};

// ---------------------------------------------------------------------------------------------
// Event channels

function remoteDomain(h: PvHost, d: Domain, id: number): Domain | undefined {
  return h.domain(id === N.DOMID_SELF ? d.id : id);
}

const evtchnAllocUnbound: Handler = (h, d, a) => {
  const remote = remoteDomain(h, d, a.remote!);
  if (!remote) return -E.ESRCH;
  const p = d.evtchn.allocate();
  if (p < 0) return p;
  d.evtchn.bindUnbound(p, remote.id);
  return p;
};

const evtchnBindInterdomain: Handler = (h, d, a) => {
  const remote = remoteDomain(h, d, a.remote!);
  if (!remote) return -E.ESRCH;
  const rp = a.remotePort!;
  const rt = remote.evtchn;
  if (rt.state[rp] !== EVTCHNSTAT_UNBOUND || rt.remoteDom[rp] !== d.id) return -E.EINVAL;
  const p = d.evtchn.allocate();
  if (p < 0) return p;
  d.evtchn.bindInterdomain(p, remote.id, rp);
  rt.bindInterdomain(rp, d.id, p);
  return p;
};

const evtchnBindVirq: Handler = (_h, d, a) => {
  if (d.evtchn.virqPort[a.virq!] !== 0) return -E.EEXIST;
  const p = d.evtchn.allocate();
  if (p < 0) return p;
  d.evtchn.bindVirq(p, a.virq!);
  return p;
};

const evtchnClose: Handler = (h, d, a) => {
  const t = d.evtchn;
  const p = a.port!;
  if (!t.isBound(p)) return -E.EBADF;
  if (t.state[p] === EVTCHNSTAT_INTERDOMAIN) {
    // The other end falls back to unbound, waiting for us again (Xen's semantics).
    const remote = h.domain(t.remoteDom[p]!);
    if (remote) remote.evtchn.bindUnbound(t.remotePort[p]!, d.id);
  }
  t.close(p);
  return ok;
};

const evtchnSend: Handler = (h, d, a) => {
  const t = d.evtchn;
  const p = a.port!;
  if (!t.isBound(p)) return -E.EBADF;
  if (t.state[p] !== EVTCHNSTAT_INTERDOMAIN) return -E.EINVAL;
  const remote = h.domain(t.remoteDom[p]!);
  if (!remote) return -E.ESRCH;
  t.sent++;
  h.raiseEvent(remote, t.remotePort[p]!);
  return ok;
};

const evtchnStatus: Handler = (_h, d, a) => d.evtchn.status(a.port!);

const evtchnUnmask: Handler = (h, d, a) => {
  if (!d.evtchn.isBound(a.port!)) return -E.EBADF;
  if (d.evtchn.unmask(a.port!)) h.wake(d);
  return ok;
};

const evtchnMask: Handler = (_h, d, a) => {
  if (!d.evtchn.isBound(a.port!)) return -E.EBADF;
  d.evtchn.mask(a.port!);
  return ok;
};

// ---------------------------------------------------------------------------------------------
// Grant tables

const gnttabSetupTable: Handler = (h, d, a) => {
  if (d.grantMaps.some((m) => m !== null) || h.grantsMappedFrom(d)) return -E.EBUSY;
  if (a.count === 0) {
    h.releaseGrantTable(d);
    return ok;
  }
  const pa = d.access.translate(a.table!, true);
  if (pa < 0) return -E.EFAULT;
  // Our own ordinary page: not one granted to us, which we would pin in its owner's hands.
  if (!h.frames.ownedBy(pa >>> PAGE_SHIFT, d.id) || h.frames.type[pa >>> PAGE_SHIFT] !== FrameType.None) return -E.EPERM;
  h.releaseGrantTable(d);
  d.grantTable = pa;
  d.grantEntries = a.count!;
  h.frames.hvRefs[pa >>> PAGE_SHIFT]! += 1; // the table must not be ballooned out under us
  return ok;
};

/** Read and check the granter's entry `ref` for access by `d`. Returns the frame or -errno. */
function checkGrant(h: PvHost, d: Domain, granter: Domain, ref: number, write: boolean): number {
  if (granter.grantTable < 0 || ref >= granter.grantEntries) return -E.ENOENT;
  const e = granter.grantTable + ref * N.GNT_ENTRY_BYTES;
  const flags = h.mem.u16[(e + N.GNT_FLAGS) >>> 1]!;
  const domid = h.mem.u16[(e + N.GNT_DOMID) >>> 1]!;
  const frame = h.mem.i32[(e + N.GNT_FRAME) >>> 2]! >>> 0;
  if (!(flags & N.GTF_PERMIT_ACCESS) || domid !== d.id) return -E.EACCES;
  if (write && flags & N.GTF_READONLY) return -E.EACCES;
  if (!h.frames.ownedBy(frame, granter.id)) return -E.EPERM;
  if (h.frames.type[frame] !== FrameType.None) return -E.EPERM; // never grant a page table
  return frame;
}

const gnttabMap: Handler = (h, d, a) => {
  const granter = remoteDomain(h, d, a.dom!);
  if (!granter) return -E.ESRCH;
  const readonly = (a.flags! & N.GNTMAP_READONLY) !== 0;
  const frame = checkGrant(h, d, granter, a.ref!, !readonly);
  if (frame < 0) return frame;
  const entry = l1EntryFor(h, d, a.va!);
  if (entry < 0) return entry;
  if (h.frames.type[entry >>> PAGE_SHIFT] !== FrameType.L1 || !h.frames.ownedBy(entry >>> PAGE_SHIFT, d.id)) return -E.EINVAL;
  if (h.mem.i32[entry >>> 2]! & PTE_P) return -E.EBUSY;
  let handle = d.grantMaps.indexOf(null);
  if (handle < 0) handle = d.grantMaps.length;
  if (handle >= N.GNTTAB_MAX_ENTRIES) return -E.ENOSPC;
  const val = (frame << PAGE_SHIFT) | PTE_P | PTE_U | (readonly ? 0 : PTE_W);
  h.frames.account(FrameType.L1, val, +1, entry >>> PAGE_SHIFT);
  h.mem.i32[entry >>> 2] = val;
  d.grantMaps[handle] = { granter: granter.id, ref: a.ref!, frame, entryAddr: entry, va: a.va!, readonly };
  h.markGrantInUse(granter, a.ref!);
  d.cpu.mmu.flushPage(a.va!);
  return handle;
};

const gnttabUnmap: Handler = (h, d, a) => {
  if (!d.grantMaps[a.handle!]) return -E.EINVAL;
  unmapGrant(h, d, a.handle!);
  return ok;
};

/** Remove grant mapping `handle` of d and its counts; also used when d dies. */
export function unmapGrant(h: PvHost, d: Domain, handle: number): void {
  const m = d.grantMaps[handle]!;
  const cur = h.mem.i32[m.entryAddr >>> 2]!;
  if (cur & PTE_P && cur >>> PAGE_SHIFT === m.frame) {
    h.frames.account(FrameType.L1, cur, -1, m.entryAddr >>> PAGE_SHIFT);
    h.mem.i32[m.entryAddr >>> 2] = 0;
  }
  d.grantMaps[handle] = null;
  const granter = h.domains[m.granter];
  if (granter) h.markGrantInUse(granter, m.ref);
  // The whole TLB, not just m.va: the same table may be hooked in at other addresses, and a
  // stale writable entry would outlive the grant (Xen flushes on grant unmap too).
  d.cpu.mmu.flushAll();
}

const gnttabCopy: Handler = (h, d, a) => {
  const w = d.access.readWords(a.req!, N.GNTCOPY_BYTES / 4);
  if (!w) return -E.EFAULT;
  const q = { ref: w[0]!, dom: w[1]!, offset: w[2]!, localVa: w[3]!, len: w[4]!, flags: w[5]! };
  if (!validGrantCopy(q)) return -E.EINVAL;
  const granter = remoteDomain(h, d, q.dom);
  if (!granter) return -E.ESRCH;
  const toGrant = q.flags === N.GNTCOPY_TO_GRANT;
  const frame = checkGrant(h, d, granter, q.ref, toGrant);
  if (frame < 0) return frame;
  const remote = (frame << PAGE_SHIFT) + q.offset;
  if (toGrant) {
    const bytes = d.access.read(q.localVa, q.len);
    if (!bytes) return -E.EFAULT;
    h.mem.u8.set(bytes, remote);
  } else if (!d.access.write(q.localVa, h.mem.u8.slice(remote, remote + q.len))) {
    return -E.EFAULT;
  }
  return q.len;
};

// ---------------------------------------------------------------------------------------------
// Callbacks, scheduling, console, version

const setTrapTable: Handler = (_h, d, a) => {
  const words = a.count === 0 ? new Uint32Array(0) : d.access.readWords(a.table!, a.count! * 2);
  if (!words) return -E.EFAULT;
  const entries: { vector: number; handler: number }[] = [];
  for (let i = 0; i < a.count!; i++) {
    const e = { vector: words[2 * i]!, handler: words[2 * i + 1]! };
    if (!validTrapEntry(e)) return -E.EINVAL;
    entries.push(e);
  }
  d.trapTable.fill(0);
  for (const e of entries) d.trapTable[e.vector] = e.handler;
  return ok;
};

const setCallbacks: Handler = (_h, d, a) => {
  d.eventEntry = a.event!;
  d.syscallEntry = a.syscall!;
  return ok;
};

const stackSwitch: Handler = (_h, d, a) => {
  d.kernelSp = a.sp!;
  return ok;
};

const setTimerOp: Handler = (_h, d, a) => {
  const t = a.hi! * 0x100000000 + a.lo!;
  // The slice loop reads the deadline before every run of the vcpu: nothing else to tell.
  d.timerDeadline = t === 0 ? Infinity : t;
  return ok;
};

const consoleWrite: Handler = (_h, d, a) => {
  if (a.length === 0) return 0;
  const bytes = d.access.read(a.buffer!, a.length!);
  if (!bytes) return -E.EFAULT;
  d.console.write(bytes);
  return a.length!;
};

const consoleRead: Handler = (_h, d, a) => {
  const n = Math.min(a.length!, d.consoleInput.length - d.consoleInputPos);
  if (n === 0) return 0;
  // Take the bytes only once they are in the guest's buffer: a refused read loses no input.
  if (!d.access.write(a.buffer!, d.consoleInput.subarray(d.consoleInputPos, d.consoleInputPos + n))) return -E.EFAULT;
  d.consoleInputPos += n;
  return n;
};

export const HANDLERS: Readonly<Record<string, Handler>> = {
  set_trap_table: setTrapTable,
  mmu_update: mmuUpdate,
  stack_switch: stackSwitch,
  set_callbacks: setCallbacks,
  increase_reservation: increaseReservation,
  decrease_reservation: decreaseReservation,
  current_reservation: (_h, d) => d.pages,
  maximum_reservation: (_h, d) => d.maxPages,
  update_va_mapping: (h, d, a) => {
    const r = updateVaMapping(h, d, a);
    if (r === ok && a.flags! & N.UVMF_INVLPG) d.cpu.mmu.flushPage(a.va!);
    return r;
  },
  set_timer_op: setTimerOp,
  version: () => (ABI_MAJOR << 16) | ABI_MINOR,
  get_features: () => FEATURES_SUBMAP0,
  console_write: consoleWrite,
  console_read: consoleRead,
  gnttab_setup_table: gnttabSetupTable,
  gnttab_map: gnttabMap,
  gnttab_unmap: gnttabUnmap,
  gnttab_copy: gnttabCopy,
  gnttab_query_size: (_h, d) => d.grantEntries,
  pin_l1_table: pin(FrameType.L1),
  pin_l2_table: pin(FrameType.L2),
  unpin_table: unpin,
  new_baseptr: baseptr('kernel'),
  new_user_baseptr: baseptr('user'),
  tlb_flush_local: (_h, d) => {
    d.cpu.mmu.flushAll();
    return ok;
  },
  invlpg_local: (_h, d, a) => {
    d.cpu.mmu.flushPage(a.va!);
    return ok;
  },
  yield: (h) => {
    h.yieldSlice();
    return ok;
  },
  block: (h, d) => {
    h.block(d);
    return ok;
  },
  shutdown: (h, d, a) => {
    h.shutdown(d, a.code!);
    return ok;
  },
  evtchn_alloc_unbound: evtchnAllocUnbound,
  evtchn_bind_interdomain: evtchnBindInterdomain,
  evtchn_bind_virq: evtchnBindVirq,
  evtchn_close: evtchnClose,
  evtchn_send: evtchnSend,
  evtchn_status: evtchnStatus,
  evtchn_unmask: evtchnUnmask,
  evtchn_mask: evtchnMask,
  ...VIRTIO_HANDLERS,
};
