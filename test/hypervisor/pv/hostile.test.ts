/**
 * A hostile guest kernel: random sequences of hypercalls whose registers and memory hold the
 * values that break hypervisors (huge and negative counts, unaligned and out-of-range pointers,
 * another domain's frames, our own page tables, frame 0). Whatever it does, the host must not
 * throw, every result must be a success or an ABI error code, and the frame table's invariants
 * (hypervisor/pv/README.md) must hold after every call, for the attacker and its neighbour.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../../abi/errors.ts';
import * as N from '../../../abi/hypercall-numbers.ts';
import { HYPERCALLS } from '../../../abi/hypercalls.ts';
import { PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { dispatch } from '../../../hypervisor/pv/dispatch.ts';
import { FrameType } from '../../../hypervisor/pv/frames.ts';
import type { PvHost } from '../../../hypervisor/pv/pv-host.ts';
import { addFreeRegionTable, boot, BUF, entryAddr, freeFrame, hc, pte, writeWords } from './pv-harness.ts';

/** What the frame table promises, recomputed from the tables themselves. */
function checkInvariants(host: PvHost): void {
  const f = host.frames;
  const i32 = host.mem.i32;
  const refs = new Int32Array(f.count);
  const writable = new Int32Array(f.count);
  const l1Refs = new Int32Array(f.count);
  for (let t = 0; t < f.count; t++) {
    const type = f.type[t]! as FrameType;
    if (type === FrameType.None) continue;
    const owner = f.owner[t]! - 1;
    const d = host.domains[owner]!;
    expect(owner, `table ${t} belongs to a domain`).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 1024; i++) {
      const v = i32[(t << 10) + i]!;
      if (!(v & PTE_P)) continue;
      const target = v >>> 12;
      expect(target, `entry ${i} of table ${t} names a frame of machine memory`).toBeLessThan(f.count);
      if (type === FrameType.L1) {
        refs[target]! += 1;
        if (v & PTE_W) writable[target]! += 1;
        const own = f.owner[target] === owner + 1;
        const granted = d.grantMaps.some((m) => m !== null && m.entryAddr === ((t << 12) | (i << 2)) && m.frame === target);
        expect(own || granted, `L1 ${t}[${i}] names frame ${target} of someone else`).toBe(true);
      } else if (target === t) {
        expect(v & PTE_W, `directory ${t} maps itself writable`).toBe(0);
      } else {
        l1Refs[target]! += 1;
        expect([f.type[target], f.owner[target]], `directory ${t}[${i}] names a pinned L1 of its own`).toEqual([FrameType.L1, owner + 1]);
      }
    }
  }
  for (let t = 0; t < f.count; t++) {
    if (f.type[t] !== FrameType.None) expect(writable[t], `page table ${t} is mapped writable`).toBe(0);
  }
  expect(Array.from(f.refs)).toEqual(Array.from(refs));
  expect(Array.from(f.writable)).toEqual(Array.from(writable));
  expect(Array.from(f.l1Refs)).toEqual(Array.from(l1Refs));
  expect(f.owner[0]).toBe(-1);
  for (const d of host.domains) {
    expect(Array.from(f.owner).filter((o) => o === d.id + 1).length, `domain ${d.id} owns as many frames as it counts`).toBe(d.pages); // a dead domain keeps its memory until the host goes (nothing destroys domains yet)
    if (!d.live) continue;
    expect(d.pages).toBeLessThanOrEqual(d.maxPages);
    for (const base of [d.kernelBase, d.userBase]) {
      if (base) expect([f.type[base], f.owner[base]]).toEqual([FrameType.L2, d.id + 1]);
    }
  }
}

const families = Object.entries(HYPERCALLS).map(([nr, h]) => ({ nr: Number(nr), cmds: h.kind === 'family' ? Object.keys(h.family.commands).map(Number) : [] }));
const CODES = new Set(Object.keys(ERROR_NAMES).map((c) => -Number(c)));

describe('a hostile guest kernel', () => {
  it('never makes the host throw, gets only ABI error codes, and cannot break the frame table', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.array(fc.nat(), { minLength: 5, maxLength: 5 }), fc.array(fc.nat(), { minLength: 8, maxLength: 8 })), { minLength: 1, maxLength: 25 }), (seed, calls) => {
        const { host, d } = boot(2);
        const [a, b] = [d[0]!, d[1]!];
        // Some state worth attacking: a second L1 hooked in, a grant from b to a, a channel between them.
        const l1 = addFreeRegionTable(host, a);
        expect(hc(host, b, N.HC_GRANT_TABLE_OP, N.GNTTABOP_SETUP_TABLE, BUF + 0x1000, 8)).toBe(0);
        writeWords(b, BUF + 0x1000, [(a.id << 16) | N.GTF_PERMIT_ACCESS, b.access.translate(BUF + 0x2000, false) >>> 12]);
        const port = hc(host, b, N.HC_EVENT_CHANNEL_OP, N.EVTCHNOP_ALLOC_UNBOUND, a.id);
        hc(host, a, N.HC_EVENT_CHANNEL_OP, N.EVTCHNOP_BIND_INTERDOMAIN, b.id, port);
        const mine = [l1, a.kernelBase, freeFrame(a, 1), freeFrame(a, 2), a.evtchn.sharedInfo >>> 12, a.access.translate(BUF, false) >>> 12];
        const theirs = [b.kernelBase, freeFrame(b, 0), b.access.translate(BUF + 0x2000, false) >>> 12, 0];
        const frame = [...mine, ...theirs];
        const values = [
          0, 1, 2, 3, 4, 7, 8, 31, 32, 255, 256, 511, 512, 1023, 1024, 1025, 4095, 4096, 0x7ff0, 0xffff,
          0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, -1, -4096, seed,
          BUF, BUF + 1, BUF + 2, BUF + 0x1000, BUF + 0xfffc, N.PV_FREE_VA, N.PV_FREE_VA + 0x1000, N.PV_PAGE_TABLES_VA, N.PV_START_INFO_VA,
          N.PV_SHARED_INFO_VA, N.PV_LINEAR_PT_VA, N.PV_STACK_TOP - 4, 0x3000000,
          ...frame, ...frame.map((x) => pte(x)), ...frame.map((x) => pte(x, PTE_P | PTE_U)), ...frame.flatMap((x) => [entryAddr(x, 0), entryAddr(x, 2), entryAddr(x, 1023)]),
          entryAddr(a.kernelBase, N.PV_FREE_VA >>> 22), entryAddr(a.kernelBase, 1023), entryAddr(l1, 1) | 2,
        ];
        // Three picks in four come from values that make calls succeed, so sequences get deep.
        const likely = [
          BUF, BUF, BUF, BUF, 0, 1, 1, 2, b.id, port, N.PV_FREE_VA, BUF + 0x2000,
          entryAddr(l1, 0), entryAddr(l1, 1), pte(freeFrame(a, 1)), pte(freeFrame(a, 2), PTE_P | PTE_U), pte(l1, PTE_P | PTE_U), freeFrame(a, 2),
        ];
        const pick = (i: number): number => (i % 4 !== 0 ? likely[(i >>> 2) % likely.length]! : values[(i >>> 2) % values.length]!) >>> 0;
        for (const [which, cmd, regs, mem] of calls) {
          if (!a.live) break;
          const fam = families[which % families.length]!;
          const nr = which % 13 === 12 ? pick(which) : fam.nr;
          const c = fam.cmds.length > 0 && cmd % 9 !== 8 ? fam.cmds[cmd % fam.cmds.length]! : pick(cmd);
          // Hostile memory too: the structures mmu_update, set_trap_table, gnttab_copy and iret read.
          // (Through the guest's current address space, which the calls may have changed.)
          // Even words are likely entry addresses and odd ones entry values: mmu_update's {ptr, val}.
          const ptrs = [entryAddr(l1, 0), entryAddr(l1, 1), entryAddr(a.kernelBase, (N.PV_FREE_VA >>> 22) + 1), entryAddr(l1, 5) | 1];
          const vals = [0, pte(freeFrame(a, 1)), pte(freeFrame(a, 2), PTE_P | PTE_U), pte(l1, PTE_P | PTE_U), pte(l1), pte(a.kernelBase, PTE_P | PTE_U)];
          const words = mem.map((m, i) => (m % 4 === 0 ? pick(m >>> 2) : i % 2 === 0 ? ptrs[(m >>> 2) % ptrs.length]! : vals[(m >>> 2) % vals.length]!));
          a.access.write(BUF, new Uint8Array(Uint32Array.from(words).buffer));
          a.access.write(N.PV_STACK_TOP - 16, new Uint8Array(Uint32Array.from(mem.slice(0, 4).map(pick)).buffer));
          a.cpu.regs[15] = N.PV_STACK_TOP - 16;
          a.cpu.regs[0] = nr;
          a.cpu.regs[1] = c;
          regs.forEach((r, i) => (a.cpu.regs[i + 2] = pick(r)));
          const errorsBefore = a.errCounts.reduce((x, y) => x + y, 0);
          dispatch(host, a);
          const r = a.cpu.regs[0]!;
          const refused = a.errCounts.reduce((x, y) => x + y, 0) > errorsBefore;
          if (refused) expect(CODES.has(r), `result ${r} is an ABI error code`).toBe(true);
          else if (nr !== N.HC_IRET) expect(r).toBeGreaterThanOrEqual(0);
          checkInvariants(host);
          // Whatever iret did, let the next call come from the guest kernel again.
          a.kernelMode = true;
          if (a.userBase) host.setBase(a, 'kernel', a.kernelBase);
        }
        expect(b.live).toBe(true);
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
