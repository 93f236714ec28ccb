/**
 * The cost model as a run reports it: every result carries modelled cycles beside host time, and
 * the total is the instructions, the exits and each mode's price for events and hypercalls, from
 * the one table in hypervisor/costs.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COSTS } from '../../hypervisor/costs.ts';
import { runImage, type Mode } from '../../hypervisor/run.ts';
import { asm } from './harness.ts';

const program = (name: string): string => readFileSync(new URL(`../../guest-kernel/programs/asm/${name}`, import.meta.url), 'utf8');
const total = (r: Readonly<Record<string, number>> | undefined): number => Object.values(r ?? {}).reduce((a, b) => a + b, 0);
const disk = (): Uint8Array => {
  const d = new Uint8Array(64 * 512);
  d.set(new TextEncoder().encode('sector one\n'), 512);
  return d;
};

describe('modelled cycles in every result', () => {
  const demo = asm(program('demo.s'));

  it.each<Mode>(['native', 'hw'])('%s: instructions, exits, and each event the CPU delivers at native.event', (mode) => {
    const r = runImage(demo, { mode, disk: disk() });
    expect(r.stop).toBe('shutdown');
    expect(total(r.events)).toBeGreaterThan(0);
    const exits = Object.values(r.exits ?? {}).reduce((a, e) => a + e.modelledCycles, 0);
    if (mode === 'hw') expect(exits).toBeGreaterThan(0);
    expect(r.modelledCycles).toBe(r.instructions * COSTS.instruction.cycles + exits + total(r.events) * COSTS['native.event'].cycles);
  });

  it('trap: the exit rows price the reflected events, which are not counted again', () => {
    const r = runImage(demo, { mode: 'trap', disk: disk() });
    const exits = Object.values(r.exits ?? {}).reduce((a, e) => a + e.modelledCycles, 0);
    expect(r.exits?.interrupt?.count).toBe(r.events.irq0);
    expect(r.modelledCycles).toBe(r.instructions * COSTS.instruction.cycles + exits);
  });

  it('pv: each hypercall a transition and each bounce into the kernel another', () => {
    const r = runImage(asm(program('pv-timer.s'), 'pv'), { mode: 'pv' });
    expect(r.events).toEqual({ upcall: 3 });
    expect(r.modelledCycles).toBe(
      r.instructions * COSTS.instruction.cycles + total(r.hypercalls) * COSTS['pv.hypercall'].cycles + 3 * COSTS['pv.bounce'].cycles,
    );
  });

  it('the same image costs more modelled cycles under each monitor than on the bare machine, and the same every run', () => {
    const cycles = (mode: Mode): number => runImage(demo, { mode, disk: disk() }).modelledCycles;
    const native = cycles('native');
    expect(cycles('trap')).toBeGreaterThan(native);
    expect(cycles('hw')).toBeGreaterThan(native);
    expect(cycles('trap')).toBe(cycles('trap'));
  });

  it('a refused image costs nothing', () => {
    expect(runImage(demo, { mode: 'pv' }).modelledCycles).toBe(0);
  });

  it('every row says where its number comes from', () => {
    for (const [name, c] of Object.entries(COSTS)) {
      expect(c.cycles, name).toBeGreaterThan(0);
      expect(c.source.length, name).toBeGreaterThan(20);
    }
  });
});
