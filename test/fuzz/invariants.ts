/**
 * The paravirtual host's invariants (hypervisor/pv/README.md, "Direct paging, and why it is
 * safe"; frames.ts), recomputed from machine memory and the domains' own records rather than
 * trusted from the counters the host keeps. Factored from the inline check of
 * test/hypervisor/pv/hostile.test.ts and extended to grants, hypervisor references, the vcpus,
 * event channels and scrubbing.
 *
 * `hostViolations` returns every broken rule as one line each (empty when all hold), so the
 * suite can show it catches a deliberately broken host (invariants.test.ts); `checkHost` throws.
 */
import { EVTCHNSTAT_INTERDOMAIN, GNT_ENTRY_BYTES, GNT_FLAGS, GNT_FRAME, GTF_PERMIT_ACCESS, GTF_READONLY } from '../../abi/hypercall-numbers.ts';
import { PAGE_SHIFT, PTE_A, PTE_D, PTE_P, PTE_W } from '../../abi/isa.ts';
import type { Domain } from '../../hypervisor/pv/domain.ts';
import { FrameType } from '../../hypervisor/pv/frames.ts';
import type { PvHost } from '../../hypervisor/pv/pv-host.ts';
import { hashBytes, Violation } from './common.ts';

const FREE = 0;
const HYPERVISOR = -1;
/** Enough to diagnose; a broken count array would otherwise list every frame. */
const MAX_REPORTED = 12;
const ZERO_PAGE = Buffer.alloc(4096);

export function hostViolations(host: PvHost, opts: { scrubbed?: boolean } = {}): string[] {
  const out: string[] = [];
  const bad = (s: string): void => void (out.length < MAX_REPORTED && out.push(s));
  const f = host.frames;
  const i32 = host.mem.i32;
  const n = f.count;
  const doms = host.domains;
  const ownerOf = (frame: number): Domain | undefined => doms[f.owner[frame]! - 1];

  // Ownership: one owner per frame (the table holds one), and it is someone who exists.
  if (f.owner[0] !== HYPERVISOR) bad(`frame 0 belongs to ${f.owner[0]}, not the hypervisor`);
  const owned = new Int32Array(doms.length);
  for (let t = 0; t < n; t++) {
    const o = f.owner[t]!;
    if (o === FREE && f.type[t] !== FrameType.None) bad(`free frame ${t} is typed ${f.type[t]}`);
    if (o === FREE || o === HYPERVISOR) continue;
    if (o < 1 || o > doms.length) bad(`frame ${t} has owner ${o}: no such domain`);
    else owned[o - 1]! += 1;
  }
  for (const d of doms) {
    if (owned[d.id] !== d.pages) bad(`domain ${d.id} owns ${owned[d.id]} frames but counts ${d.pages}`);
    if (d.live && d.pages > d.maxPages) bad(`domain ${d.id} holds ${d.pages} frames, over its quota ${d.maxPages}`);
  }

  // Page tables, and the counts recomputed from what they contain.
  const refs = new Int32Array(n);
  const writable = new Int32Array(n);
  const l1Refs = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const type = f.type[t]! as FrameType;
    if (type === FrameType.None) continue;
    const d = ownerOf(t);
    if (!d) {
      bad(`page table ${t} (type ${type}) is not a domain's frame (owner ${f.owner[t]})`);
      continue;
    }
    for (let i = 0; i < 1024; i++) {
      const v = i32[(t << 10) + i]!;
      if (!(v & PTE_P)) continue;
      const target = v >>> PAGE_SHIFT;
      if (target >= n) {
        bad(`entry ${i} of table ${t} names frame ${target}, outside machine memory`);
        continue;
      }
      if (type === FrameType.L1) {
        refs[target]! += 1;
        if (v & PTE_W) writable[target]! += 1;
        if (f.owner[target] !== d.id + 1) {
          const at = ((t << PAGE_SHIFT) | (i << 2)) >>> 0;
          const grant = d.grantMaps.some((m) => m !== null && m.entryAddr === at && m.frame === target);
          if (!grant) bad(`L1 ${t}[${i}] of domain ${d.id} maps frame ${target} of owner ${f.owner[target]}, not a grant mapping`);
        }
      } else if (target === t) {
        if (v & PTE_W) bad(`directory ${t} maps itself writable`);
      } else {
        l1Refs[target]! += 1;
        if (f.type[target] !== FrameType.L1 || f.owner[target] !== d.id + 1) bad(`directory ${t}[${i}] names frame ${target}, not a pinned L1 of domain ${d.id}`);
      }
    }
  }
  for (let t = 0; t < n; t++) {
    if (f.type[t] !== FrameType.None && writable[t]! > 0) bad(`page table ${t} has ${writable[t]} writable mapping(s)`);
    if (f.refs[t] !== refs[t]) bad(`frame ${t}: refs ${f.refs[t]}, the tables hold ${refs[t]}`);
    if (f.writable[t] !== writable[t]) bad(`frame ${t}: writable ${f.writable[t]}, the tables hold ${writable[t]}`);
    if (f.l1Refs[t] !== l1Refs[t]) bad(`frame ${t}: l1Refs ${f.l1Refs[t]}, the directories hold ${l1Refs[t]}`);
  }

  // Frames the hypervisor holds: counted, the domain's own, never page tables (invariant 4).
  const hv = new Int32Array(n);
  for (const d of doms) {
    const si = d.evtchn.sharedInfo >>> PAGE_SHIFT;
    hv[si]! += 1;
    if (d.grantTable >= 0) hv[d.grantTable >>> PAGE_SHIFT]! += 1;
    if (d.kernelBase) hv[d.kernelBase]! += 1;
    if (d.userBase) hv[d.userBase]! += 1;
    if (!d.live) continue;
    for (const [what, fr] of [['shared-info page', si], ['grant table', d.grantTable >= 0 ? d.grantTable >>> PAGE_SHIFT : -1]] as const) {
      if (fr < 0) continue;
      if (f.owner[fr] !== d.id + 1) bad(`domain ${d.id}'s ${what} (frame ${fr}) is not its own`);
      if (f.type[fr] !== FrameType.None) bad(`domain ${d.id}'s ${what} (frame ${fr}) is a page table`);
    }
    for (const [what, base] of [['kernel', d.kernelBase], ['user', d.userBase]] as const) {
      if (!base) continue;
      if (f.type[base] !== FrameType.L2 || f.owner[base] !== d.id + 1) bad(`domain ${d.id}'s ${what} base ${base} is not a pinned directory of its own`);
    }
    if (!d.kernelBase) bad(`live domain ${d.id} has no kernel address space`);
    // The vcpu: privilege 3 always, on the address space its mode says.
    if (d.cpu.cpl !== 3) bad(`domain ${d.id}'s vcpu runs at privilege ${d.cpu.cpl}`);
    const want = d.kernelMode ? d.kernelBase : d.userBase || d.kernelBase;
    if (d.cpu.mmu.ptbr >>> PAGE_SHIFT !== want) bad(`domain ${d.id} (${d.kernelMode ? 'kernel' : 'user'} mode) runs on ptbr frame ${d.cpu.mmu.ptbr >>> PAGE_SHIFT}, not ${want}`);
  }
  for (let t = 0; t < n; t++) {
    const d = ownerOf(t);
    if (d?.live && f.hvRefs[t] !== hv[t]) bad(`frame ${t} of domain ${d.id}: hvRefs ${f.hvRefs[t]}, expected ${hv[t]}`);
  }

  // Grant mappings: only of frames their granter still owns and may grant, where they say.
  for (const d of doms) {
    d.grantMaps.forEach((m, handle) => {
      if (m === null) return;
      const where = `domain ${d.id}'s grant mapping ${handle}`;
      if (!d.live) return bad(`${where} outlives the domain (${d.state})`);
      const g = doms[m.granter];
      if (!g) return bad(`${where} names granter ${m.granter}, no such domain`);
      if (f.owner[m.frame] !== g.id + 1) bad(`${where}: frame ${m.frame} is no longer domain ${g.id}'s`);
      if (f.type[m.frame] !== FrameType.None) bad(`${where}: frame ${m.frame} is a page table`);
      if (g.grantTable < 0 || m.ref >= g.grantEntries) bad(`${where}: ref ${m.ref} is outside domain ${g.id}'s grant table`);
      const table = m.entryAddr >>> PAGE_SHIFT;
      if (f.type[table] !== FrameType.L1 || f.owner[table] !== d.id + 1) bad(`${where} sits in frame ${table}, not a pinned L1 of its own`);
      const v = i32[m.entryAddr >>> 2]!;
      if (!(v & PTE_P) || v >>> PAGE_SHIFT !== m.frame) bad(`${where}: its entry holds 0x${(v >>> 0).toString(16)}, not frame ${m.frame}`);
      else if (m.readonly && v & PTE_W) bad(`${where} is read-only but its entry is writable`);
    });
  }

  // Event channels: an interdomain port of a live domain has its live peer pointing back.
  for (const d of doms) {
    if (!d.live) continue;
    const t = d.evtchn;
    for (let p = 1; p < t.state.length; p++) {
      if (t.state[p] !== EVTCHNSTAT_INTERDOMAIN) continue;
      const r = doms[t.remoteDom[p]!];
      if (!r?.live) continue;
      const q = t.remotePort[p]!;
      if (r.evtchn.state[q] !== EVTCHNSTAT_INTERDOMAIN || r.evtchn.remoteDom[q] !== d.id || r.evtchn.remotePort[q] !== p) {
        bad(`domain ${d.id} port ${p} is connected to domain ${r.id} port ${q}, which does not point back`);
      }
    }
  }

  // Scrubbing: a free frame holds nothing (frames are zeroed on the way out and on the way in),
  // so no domain's data outlives its ownership of a frame.
  if (opts.scrubbed !== false) {
    const u8 = host.mem.u8;
    for (let t = 1; t < n; t++) {
      if (f.owner[t] !== FREE) continue;
      // A native compare per frame: this runs after every call of a fuzz case.
      if (Buffer.from(u8.buffer, u8.byteOffset + (t << PAGE_SHIFT), 4096).equals(ZERO_PAGE)) continue;
      const i = i32.subarray(t << 10, (t + 1) << 10).findIndex((w) => w !== 0);
      bad(`free frame ${t} holds data (word ${i} = 0x${(i32[(t << 10) + i]! >>> 0).toString(16)})`);
    }
  }
  return out;
}

/** Throw when any invariant is broken, listing them. */
export function checkHost(host: PvHost, what = 'pv host'): void {
  const v = hostViolations(host);
  if (v.length > 0) throw new Violation(`${what}: invariants broken:\n  ${v.join('\n  ')}`);
}

/**
 * Frames of `victim` another domain may legitimately change: its shared-info page (events sent
 * to it, time stamps), its grant table (the in-use flags the hypervisor keeps), and every frame
 * it grants writable (gnttab_copy and writable mappings write there). A frame granted read-only
 * is not in the set: nobody but its owner may change it. Read at the start of a case.
 */
export function sharedFrames(host: PvHost, victim: Domain): Set<number> {
  const s = new Set<number>([victim.evtchn.sharedInfo >>> PAGE_SHIFT]);
  if (victim.grantTable >= 0) {
    s.add(victim.grantTable >>> PAGE_SHIFT);
    for (let r = 0; r < victim.grantEntries; r++) {
      const e = victim.grantTable + r * GNT_ENTRY_BYTES;
      const flags = host.mem.u16[(e + GNT_FLAGS) >>> 1]!;
      const frame = host.mem.i32[(e + GNT_FRAME) >>> 2]! >>> 0;
      if (flags & GTF_PERMIT_ACCESS && !(flags & GTF_READONLY) && frame < host.frames.count) s.add(frame);
    }
  }
  return s;
}

/**
 * A digest of everything of `victim` an attacker must not change: which frames it owns, their
 * types, and their contents, except the frames in `except` (sharedFrames).
 */
export function domainDigest(host: PvHost, victim: Domain, except: ReadonlySet<number>): string {
  const f = host.frames;
  const frames: number[] = [];
  for (let t = 0; t < f.count; t++) if (f.owner[t] === victim.id + 1) frames.push(t);
  const parts = new Uint8Array(frames.length * (4096 + 8));
  const dv = new DataView(parts.buffer);
  frames.forEach((t, k) => {
    const at = k * (4096 + 8);
    dv.setUint32(at, t, true);
    dv.setUint32(at + 4, f.type[t]!, true);
    if (except.has(t)) return;
    parts.set(host.mem.u8.subarray(t << PAGE_SHIFT, (t + 1) << PAGE_SHIFT), at + 8);
    // The walker sets accessed and dirty bits in the victim's own tables as the victim runs.
    if (f.type[t] !== FrameType.None) for (let i = 0; i < 1024; i++) parts[at + 8 + 4 * i]! &= ~(PTE_A | PTE_D);
  });
  const regs = Array.from(victim.cpu.regs).join(',');
  return `${hashBytes(parts)}:${frames.length}:${victim.state}:${victim.cpu.pc}:${hashBytes(new TextEncoder().encode(regs))}`;
}
