/**
 * The Popek–Goldberg test: a feature, not a bug report.
 *
 * Popek and Goldberg (CACM 1974): a machine can be virtualized by trap-and-emulate when every
 * sensitive instruction is privileged. This machine, like x86, has sensitive instructions that
 * are not privileged: POPF at privilege 3 silently ignores IF instead of trapping, and PUSHF shows
 * the real privilege. guest-kernel/programs/asm/popf-critical.s is a native kernel that turns
 * interrupts off with POPF around a critical section that a timer interrupt must not enter, and
 * checks that none did. On the bare machine and under hw (where POPF exits and the monitor
 * emulates it at the guest's privilege 0) its check passes; under trap, where the deprivileged
 * kernel's POPF never reaches the monitor, the interrupt enters the section, updates are lost,
 * and the guest says so and powers off with 1. Trap-and-emulate alone cannot virtualize this
 * machine, which is why VMware translated binaries and why VT-x added exits.
 */
import { describe, expect, it } from 'vitest';
import { exitCounts, program, runMode } from './harness.ts';

const image = program('popf-critical.s');
const INTACT = 'critical section intact: POPF disabled interrupts';
const BROKEN = 'critical section CORRUPTED: POPF did not disable interrupts (Popek-Goldberg)';

describe('Popek–Goldberg: POPF cannot disable interrupts under trap-and-emulate', () => {
  const runs = { native: runMode(image, 'native'), hw: runMode(image, 'hw'), trap: runMode(image, 'trap') };
  const { native, hw, trap } = runs;

  it('on the bare machine the critical section is intact and the guest powers off with 0', () => {
    expect(native.seen.stop).toBe('shutdown');
    expect(native.seen.exitCode).toBe(0);
    expect(native.seen.console).toContain('pushf says CPL 0');
    expect(native.seen.console).toContain('taken inside the critical section: 0, counter updates lost: 0');
    expect(native.seen.console).toContain(INTACT);
  });

  it('under hw POPF and PUSHF exit, the monitor emulates them, and the guest sees exactly the bare machine', () => {
    expect(hw.seen).toEqual(native.seen);
    const exits = exitCounts(hw.result);
    expect(exits.popf).toBe(40); // 20 rounds, each: POPF off, POPF back on
    expect(exits.pushf).toBe(21); // the CPL check, then one per round
  });

  it('under trap POPF does not trap: the timer enters the critical section and the guest reports the corruption', () => {
    expect(trap.seen.stop).toBe('shutdown');
    expect(trap.seen.exitCode).toBe(1);
    expect(trap.seen.console).toContain(BROKEN);
    expect(trap.seen.console).not.toContain(INTACT);
    // PUSHF leaks the real privilege to a kernel that believes it runs at 0.
    expect(trap.seen.console).toContain('pushf says CPL 3');
    // Every tick landed inside a section, and each one's update was lost.
    const m = /timer ticks: (\d+), taken inside the critical section: (\d+), counter updates lost: (\d+)/.exec(trap.seen.console);
    expect(m).not.toBeNull();
    const [ticks, inside, lost] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(inside).toBeGreaterThan(0);
    expect(lost).toBe(inside);
    expect(ticks).toBeGreaterThan(0);
    // The monitor never saw a POPF or PUSHF: they are not exits in trap mode.
    const exits = exitCounts(trap.result);
    expect(exits.popf).toBeUndefined();
    expect(exits.pushf).toBeUndefined();
    expect(exits.interrupt).toBe(ticks);
  });

  it('trap differs from the first line on: PUSHF has already told the kernel it is deprivileged', () => {
    expect(trap.seen.console.split('\n')[0]).not.toBe(native.seen.console.split('\n')[0]);
    expect(native.seen.console).toBe(hw.seen.console);
  });
});
