/**
 * Helpers for the full-virtualization tests: run one image in native, trap and hw modes, compare
 * what a guest can observe, and collect the exits a monitor reports to its tracer.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { GuestImage } from '../../../abi/image.ts';
import type { Cpu, CpuTracer, VmExitEvent } from '../../../hypervisor/machine/cpu.ts';
import type { MachineOptions } from '../../../hypervisor/machine/native.ts';
import { runImage, type RunResult } from '../../../hypervisor/run.ts';
import { HwMachine } from '../../../hypervisor/vmm/hw.ts';
import type { Monitor } from '../../../hypervisor/vmm/monitor.ts';
import { TrapMachine } from '../../../hypervisor/vmm/trap.ts';
import { asm } from '../harness.ts';

export { asm };

export const VMM_MODES = ['trap', 'hw'] as const;
export type VmmTestMode = (typeof VMM_MODES)[number];
export const ALL_MODES = ['native', 'trap', 'hw'] as const;

/** An assembly guest of guest-kernel/programs/asm. */
export function program(name: string): GuestImage {
  return asm(readFileSync(new URL(`../../../guest-kernel/programs/asm/${name}`, import.meta.url), 'utf8'));
}

export interface Observed {
  stop: string;
  exitCode: number | null;
  message: string | undefined;
  console: string;
  instructions: number;
  idleInstructions: number;
  events: Record<string, number>;
  disk: RunResult['disk'];
  diskBytes: string;
}

/** Run `image` in `mode` with its own copy of `disk`; what the guest did, and the full result. */
export function runMode(
  image: GuestImage,
  mode: (typeof ALL_MODES)[number],
  opts: { disk?: Uint8Array; memoryBytes?: number; maxInstructions?: number; input?: string } = {},
): { seen: Observed; result: RunResult } {
  const disk = opts.disk ? opts.disk.slice() : undefined;
  const result = runImage(image, {
    mode,
    maxInstructions: opts.maxInstructions ?? 50_000_000,
    ...(opts.memoryBytes ? { memoryBytes: opts.memoryBytes } : {}),
    ...(disk ? { disk } : {}),
    ...(opts.input !== undefined ? { input: new TextEncoder().encode(opts.input) } : {}),
  });
  const seen: Observed = {
    stop: result.stop,
    exitCode: result.exitCode,
    message: result.message,
    console: result.console,
    instructions: result.instructions,
    idleInstructions: result.idleInstructions,
    events: result.events,
    disk: result.disk,
    diskBytes: disk ? digest(disk) : '',
  };
  return { seen, result };
}

/** A short stable digest of bytes (FNV-1a), so a mismatch prints small. */
export function digest(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return `${bytes.length}:${(h >>> 0).toString(16)}`;
}

/** Run in every mode and expect the guest to see exactly the same; returns the results. */
export function expectSameInEveryMode(image: GuestImage, opts: Parameters<typeof runMode>[2] = {}): Record<string, RunResult> {
  const native = runMode(image, 'native', opts);
  const out: Record<string, RunResult> = { native: native.result };
  for (const mode of VMM_MODES) {
    const r = runMode(image, mode, opts);
    expect(r.seen, `${mode} differs from native`).toEqual(native.seen);
    out[mode] = r.result;
  }
  return out;
}

/**
 * A monitor with a tracer that collects exits (and delivered vectors), for one image; `cpls[i]` is
 * the real CPU's privilege when exit i was reported.
 */
export function monitor(mode: VmmTestMode, image: GuestImage, opts: MachineOptions = {}): { m: Monitor; exits: VmExitEvent[]; cpls: number[]; vectors: number[] } {
  const exits: VmExitEvent[] = [];
  const cpls: number[] = [];
  const vectors: number[] = [];
  const tracer: CpuTracer = {
    exception: (_cpu: Cpu, v: number) => void vectors.push(v),
    portIn: () => {},
    portOut: () => {},
    vmexit: (cpu, e) => {
      exits.push(e);
      cpls.push(cpu.cpl);
    },
  };
  const full = { memoryBytes: 1 << 20, ...opts, tracer };
  const m = mode === 'trap' ? new TrapMachine(full) : new HwMachine(full);
  const err = m.load(image);
  if (err) throw new Error(err);
  return { m, exits, cpls, vectors };
}

/** Exit counts by reason of a result. */
export function exitCounts(r: RunResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r.exits ?? {}).map(([k, v]) => [k, v.count]));
}

/** A result without its host times (the only fields that differ between runs). */
export function withoutHostTime(r: RunResult): unknown {
  return { ...r, hostNs: 0, exits: Object.fromEntries(Object.entries(r.exits ?? {}).map(([k, v]) => [k, { ...v, hostNs: 0 }])) };
}
