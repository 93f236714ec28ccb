/**
 * Attacks on direct paging found in review, kept as regression tests: each sequence once let a
 * guest make its own page tables writable (or keep a stale writable mapping), which is the one
 * thing the frame table exists to prevent.
 */
import { describe, expect, it } from 'vitest';
import * as E from '../../../abi/errors.ts';
import * as N from '../../../abi/hypercall-numbers.ts';
import { ACCESS_WRITE } from '../../../hypervisor/machine/mmu.ts';
import type { Domain } from '../../../hypervisor/pv/domain.ts';
import type { PvHost } from '../../../hypervisor/pv/pv-host.ts';
import { addFreeRegionTable, boot, BUF, entryAddr, expectRefused, hc, pte, writeWords } from './pv-harness.ts';

const TABLE = BUF + 0x1000;

/** d grants its frame at `va` to domain `to` as entry 0 of a table at TABLE; returns the frame. */
function grant(host: PvHost, d: Domain, to: number, va = BUF + 0x2000): number {
  expect(hc(host, d, N.HC_GRANT_TABLE_OP, N.GNTTABOP_SETUP_TABLE, TABLE, 4)).toBe(0);
  const frame = d.access.translate(va, false) >>> 12;
  writeWords(d, TABLE, [(to << 16) | N.GTF_PERMIT_ACCESS, frame]);
  return frame;
}

describe('direct paging stays safe', () => {
  it('a table holding a grant of our own frame cannot be unpinned, nor its grant entry rewritten', () => {
    const { host, d } = boot();
    const dom = d[0]!;
    const x = grant(host, dom, dom.id);
    const t = addFreeRegionTable(host, dom);
    const handle = hc(host, dom, N.HC_GRANT_TABLE_OP, N.GNTTABOP_MAP_GRANT_REF, 0, N.DOMID_SELF, N.PV_FREE_VA, 0);
    expect(handle).toBeGreaterThanOrEqual(0);
    writeWords(dom, BUF, [entryAddr(dom.kernelBase, N.PV_FREE_VA >>> 22), 0]);
    expect(hc(host, dom, N.HC_MMU_UPDATE, BUF, 1)).toBe(1); // unhook the table from the directory
    expectRefused(host, dom, E.EBUSY, N.HC_MMUEXT_OP, N.MMUEXT_UNPIN_TABLE, t);
    writeWords(dom, BUF, [entryAddr(t, 0), pte(x)]);
    expectRefused(host, dom, E.EPERM, N.HC_MMU_UPDATE, BUF, 1);
    expect(hc(host, dom, N.HC_GRANT_TABLE_OP, N.GNTTABOP_UNMAP_GRANT_REF, handle)).toBe(0);
    // The frame's ordinary writable mapping (the image's) is still counted: it cannot become a table.
    expect(host.frames.writable[x]).toBe(1);
    expectRefused(host, dom, E.EBUSY, N.HC_MMUEXT_OP, N.MMUEXT_PIN_L1_TABLE, x);
  });

  it('a page the hypervisor writes into (shared info) can never be pinned as a page table', () => {
    const { host, d } = boot();
    const dom = d[0]!;
    const si = dom.evtchn.sharedInfo >>> 12;
    expect(hc(host, dom, N.HC_UPDATE_VA_MAPPING, N.PV_SHARED_INFO_VA, 0, N.UVMF_INVLPG)).toBe(0); // no mapping left
    expect(host.frames.writable[si]).toBe(0);
    expectRefused(host, dom, E.EBUSY, N.HC_MMUEXT_OP, N.MMUEXT_PIN_L1_TABLE, si);
  });

  it('unmapping a grant leaves no translation of the frame in the mapper’s TLB', () => {
    const { host, d } = boot(2);
    const [g, m] = [d[0]!, d[1]!];
    const x = grant(host, g, m.id);
    const t = addFreeRegionTable(host, m);
    // The same table hooked in a second time, 4 MiB further: the grant shows at both addresses.
    writeWords(m, BUF, [entryAddr(m.kernelBase, (N.PV_FREE_VA >>> 22) + 1), pte(t)]);
    expect(hc(host, m, N.HC_MMU_UPDATE, BUF, 1)).toBe(1);
    const handle = hc(host, m, N.HC_GRANT_TABLE_OP, N.GNTTABOP_MAP_GRANT_REF, 0, g.id, N.PV_FREE_VA, 0);
    // The guest writes through the second address: a TLB entry that names the frame.
    expect(m.cpu.mmu.translate(N.PV_FREE_VA + 0x400000, ACCESS_WRITE, true)).toBe(x << 12);
    expect(hc(host, m, N.HC_GRANT_TABLE_OP, N.GNTTABOP_UNMAP_GRANT_REF, handle)).toBe(0);
    const { rTag, rPhys, wTag, wPhys } = m.cpu.mmu;
    const stale = [...rTag.keys()].filter((i) => (rTag[i] !== -1 && rPhys[i] === x << 12) || (wTag[i] !== -1 && wPhys[i] === x << 12));
    expect(stale).toEqual([]);
  });

  it('a grant table cannot be set up in a page granted to us (the hypervisor would hold the granter’s page)', () => {
    const { host, d } = boot(2);
    const [g, m] = [d[0]!, d[1]!];
    grant(host, g, m.id);
    addFreeRegionTable(host, m);
    expect(hc(host, m, N.HC_GRANT_TABLE_OP, N.GNTTABOP_MAP_GRANT_REF, 0, g.id, N.PV_FREE_VA, 0)).toBeGreaterThanOrEqual(0);
    expectRefused(host, m, E.EBUSY, N.HC_GRANT_TABLE_OP, N.GNTTABOP_SETUP_TABLE, N.PV_FREE_VA, 4);
  });

  it("a domain's grant mappings go when it shuts down, so the granter may balloon the frame out", () => {
    const { host, d } = boot(2);
    const [g, m] = [d[0]!, d[1]!];
    const x = grant(host, g, m.id);
    addFreeRegionTable(host, m);
    hc(host, m, N.HC_GRANT_TABLE_OP, N.GNTTABOP_MAP_GRANT_REF, 0, g.id, N.PV_FREE_VA, 0);
    expect(host.frames.refs[x]).toBe(2);
    hc(host, m, N.HC_SCHED_OP, N.SCHEDOP_SHUTDOWN, 0);
    expect(host.frames.refs[x]).toBe(1);
    expect(g.access.readU32(TABLE)! & (N.GTF_READING | N.GTF_WRITING)).toBe(0);
  });
});

