/**
 * Helpers for the pv tests: boot domains from an assembled pv image with the real start of day,
 * make a hypercall on a domain's vcpu exactly as the guest would (registers, then the
 * dispatcher), and snapshot guest and host state to prove a refused call changed nothing.
 */
import { expect } from 'vitest';
import * as N from '../../../abi/hypercall-numbers.ts';
import { hypercallName } from '../../../abi/hypercalls.ts';
import { PAGE_SHIFT, PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { dispatch } from '../../../hypervisor/pv/dispatch.ts';
import type { Domain } from '../../../hypervisor/pv/domain.ts';
import { PvHost } from '../../../hypervisor/pv/pv-host.ts';
import { asm } from '../harness.ts';

/** A writable data area in every test guest. */
export const BUF = 0x10000;
export const MEM = 1 << 20;

export const IDLE_GUEST = `.target pv\nstart: jmp start\n.org ${BUF}, rw\nbuf: .space 16384\n`;

export function boot(domains = 1, src = IDLE_GUEST): { host: PvHost; d: Domain[] } {
  const host = new PvHost({ machineBytes: domains * 2 * MEM + 64 * 1024 });
  const image = asm(src, 'pv');
  const d: Domain[] = [];
  for (let i = 0; i < domains; i++) {
    const dom = host.createDomain(image, { memoryBytes: MEM });
    if (typeof dom === 'string') throw new Error(dom);
    d.push(dom);
  }
  return { host, d };
}

/**
 * Names of the calls this test file has seen succeed (`hc`) and refused in guest kernel mode
 * (`expectRefused`), so a file can check that it covered every call of the ABI.
 */
export const seen = { succeeded: new Set<string>(), refused: new Set<string>() };

const errors = (d: Domain): number => d.errCounts.reduce((a, b) => a + b, 0);

/** Make hypercall `nr` with `args` in r1.. on d's vcpu; returns r0 as a signed number. */
export function hc(host: PvHost, d: Domain, nr: number, ...args: number[]): number {
  loadRegs(d, nr, args);
  const before = errors(d);
  dispatch(host, d);
  if (errors(d) === before) seen.succeeded.add(hypercallName(nr, args[0] ?? 0));
  return d.cpu.regs[0]!;
}

function loadRegs(d: Domain, nr: number, args: number[]): void {
  d.cpu.regs[0] = nr;
  args.forEach((a, i) => (d.cpu.regs[i + 1] = a));
}

export function writeWords(d: Domain, va: number, words: number[]): void {
  expect(d.access.write(va, new Uint8Array(new Uint32Array(words.map((w) => w >>> 0)).buffer))).toBe(true);
}

export function readWord(d: Domain, va: number): number {
  return d.access.readU32(va)!;
}

/** The i-th entry of d's frame list (its pfn -> mfn table). */
export function mfnOf(d: Domain, pfn: number): number {
  return readWord(d, N.PV_FRAME_LIST_VA + pfn * 4);
}

/** A frame of d that nothing maps yet (the start-of-day page says where they begin). */
export function freeFrame(d: Domain, k = 0): number {
  return mfnOf(d, readWord(d, N.PV_START_INFO_VA + N.SOD_FIRST_FREE) + k);
}

export const entryAddr = (table: number, index: number): number => (table << PAGE_SHIFT) | (index << 2);
export const pte = (frame: number, flags = PTE_P | PTE_W | PTE_U): number => ((frame << PAGE_SHIFT) | flags) >>> 0;

/**
 * Give d an L1 for the region at PV_FREE_VA (region 2): pin a free frame as an L1 and hook it into
 * the directory. Returns the L1's frame.
 */
export function addFreeRegionTable(host: PvHost, d: Domain, k = 0): number {
  const l1 = freeFrame(d, k);
  expect(hc(host, d, N.HC_MMUEXT_OP, N.MMUEXT_PIN_L1_TABLE, l1)).toBe(0);
  writeWords(d, BUF, [entryAddr(d.kernelBase, N.PV_FREE_VA >>> 22), pte(l1)]);
  expect(hc(host, d, N.HC_MMU_UPDATE, BUF, 1)).toBe(1);
  return l1;
}

/** Everything a hypercall could change, except the counters (which count refusals by design). */
export function snapshot(host: PvHost) {
  const f = host.frames;
  return {
    mem: host.mem.u8.slice(),
    frames: [f.owner, f.type, f.refs, f.writable, f.l1Refs, f.hvRefs].map((a) => Array.from(a)),
    domains: host.domains.map((d) => ({
      regs: Array.from(d.cpu.regs.subarray(1)),
      pc: d.cpu.pc,
      ptbr: d.cpu.mmu.ptbr,
      state: d.state,
      exitCode: d.exitCode,
      pages: d.pages,
      maxPages: d.maxPages,
      kernelMode: d.kernelMode,
      bases: [d.kernelBase, d.userBase, d.kernelSp, d.eventEntry, d.syscallEntry],
      trapTable: Array.from(d.trapTable),
      timer: d.timerDeadline,
      grant: [d.grantTable, d.grantEntries],
      grantMaps: JSON.stringify(d.grantMaps),
      evtchn: [d.evtchn.state, d.evtchn.remoteDom, d.evtchn.remotePort, d.evtchn.virq, d.evtchn.virqPort, d.evtchn.devicePort].map((a) => Array.from(a)),
      events: [d.evtchn.sent, d.evtchn.notified, d.upcalls],
      console: d.console.total,
      consoleInput: d.consoleInputPos,
    })),
  };
}

/** Run a refused call: the exact error code, and guest and host state unchanged. */
export function expectRefused(host: PvHost, d: Domain, code: number, nr: number, ...args: number[]): void {
  loadRegs(d, nr, args); // the guest's own register writes are not the call's doing
  const before = snapshot(host);
  const kernelMode = d.kernelMode;
  dispatch(host, d);
  expect(d.cpu.regs[0]).toBe(-code);
  if (kernelMode) seen.refused.add(hypercallName(nr, args[0] ?? 0));
  const after = snapshot(host);
  expect(after.domains).toEqual(before.domains);
  expect(after.frames).toEqual(before.frames);
  expect(Buffer.compare(Buffer.from(after.mem), Buffer.from(before.mem))).toBe(0);
}
