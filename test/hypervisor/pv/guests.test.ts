import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ABI_MAJOR, ABI_MINOR } from '../../../abi/version.ts';
import { PvHost } from '../../../hypervisor/pv/pv-host.ts';
import { runImage } from '../../../hypervisor/run.ts';
import { asm } from '../harness.ts';

const program = (name: string): string => readFileSync(new URL(`../../../guest-kernel/programs/asm/${name}`, import.meta.url), 'utf8');

describe('paravirtual guests', () => {
  it('takes timer upcalls through an event channel, returning with iret', () => {
    const r = runImage(asm(program('pv-timer.s'), 'pv'), { mode: 'pv' });
    expect(r.stop).toBe('shutdown');
    expect(r.exitCode).toBe(3);
    expect(r.console).toBe('three timer upcalls!\n\n');
    expect(r.events).toEqual({ upcall: 3 });
    expect(r.hypercalls).toMatchObject({ set_timer_op: 4, iret: 3, evtchn_bind_virq: 1 });
    expect(r.hypercallErrors).toEqual({});
    expect(r.idleInstructions).toBeGreaterThan(0); // it slept in sched_op block between ticks
  });

  it('reads console input after VIRQ_CONSOLE wakes it, and times out without input', () => {
    const img = asm(program('pv-console-in.s'), 'pv');
    const text = 'hello from the host, in several pieces';
    const r = runImage(img, { mode: 'pv', input: new TextEncoder().encode(text) });
    expect(r.exitCode).toBe(text.length);
    expect(r.console).toBe(`read: ${text}\nwoken by console\n`);
    expect(r.hypercalls).toMatchObject({ console_read: Math.ceil(text.length / 8) + 1 });
    const none = runImage(img, { mode: 'pv' });
    expect(none.exitCode).toBe(0);
    expect(none.console).toBe('no console input\nwoken by timer\n');
  });

  it("bounces a user task's system call and page fault into the kernel, switching address spaces", () => {
    const r = runImage(asm(program('pv-user.s'), 'pv'), { mode: 'pv' });
    expect(r.message).toBeUndefined();
    expect(r.exitCode).toBe(7);
    expect(r.console).toBe('syscall and page fault from user mode\n');
    expect(r.events).toEqual({ 'page-fault': 1, syscall: 1 });
    expect(r.hypercalls).toMatchObject({ iret: 2, new_user_baseptr: 1, pin_l2_table: 1 });
  });

  it('is deterministic: the same counts on every run', () => {
    const img = asm(program('pv-timer.s'), 'pv');
    const a = runImage(img, { mode: 'pv' });
    const b = runImage(img, { mode: 'pv' });
    expect({ ...a, hostNs: 0 }).toEqual({ ...b, hostNs: 0 });
  });

  it('two domains share a page through a grant and signal each other; a revoked grant no longer maps', () => {
    const host = new PvHost({ machineBytes: 4 * (1 << 20) + 64 * 1024 });
    const img = asm(program('pv-grant.s'), 'pv');
    const d0 = host.createDomain(img, { memoryBytes: 1 << 20 });
    const d1 = host.createDomain(img, { memoryBytes: 1 << 20 });
    if (typeof d0 === 'string' || typeof d1 === 'string') throw new Error('boot failed');
    const r = host.run(10_000_000);
    expect(r.stop).toBe('shutdown');
    expect(String.fromCharCode(...d1.console.bytes())).toBe('ping\n');
    expect(String.fromCharCode(...d0.console.bytes())).toBe('pong\n');
    expect(d0.exitCode).toBe(0);
    expect(d1.exitCode).toBe(13); // EACCES: the map after revocation failed
    expect([d0.evtchn.sent, d1.evtchn.sent]).toEqual([1, 2]);
  });

  it('crashes only the faulting domain: an unhandled page fault in one leaves the other running', () => {
    const host = new PvHost({ machineBytes: 4 * (1 << 20) + 64 * 1024 });
    const bad = asm('.target pv\nstart: li32 r1, 0x30000000\nldw r2, [r1]\n', 'pv');
    const good = asm('.target pv\nstart: li r0, 29\nli r1, 2\nli r2, 5\nhypercall\n', 'pv');
    const d0 = host.createDomain(bad, { memoryBytes: 1 << 20 }) as Exclude<ReturnType<PvHost['createDomain']>, string>;
    const d1 = host.createDomain(good, { memoryBytes: 1 << 20 }) as typeof d0;
    host.run(1_000_000);
    expect(d0.state).toBe('crashed');
    expect(d0.crashMessage).toMatch(/unhandled page-fault at pc 0x1008 \(address 0x30000000/);
    expect(d1.exitCode).toBe(5);
  });
});

describe('ABI versions at boot', () => {
  const src = '.target pv\nstart: li r0, 29\nli r1, 2\nli r2, 9\nhypercall\n';
  const host = `this host serves ABI ${ABI_MAJOR}.0 to ${ABI_MAJOR}.${ABI_MINOR}`;
  it('refuses a guest built for the next major with a one-line message', () => {
    const img = asm(src, 'pv');
    const r = runImage({ ...img, abi: { major: ABI_MAJOR + 1, minor: 0 } }, { mode: 'pv' });
    expect(r.stop).toBe('refused');
    expect(r.message).toBe(`image is built for ABI ${ABI_MAJOR + 1}.0; ${host}`);
    expect(r.instructions).toBe(0);
  });
  it('refuses a newer minor of our major, and the hypervisor refuses both even when driven without the CLI', () => {
    const img = asm(src, 'pv');
    expect(runImage({ ...img, abi: { major: ABI_MAJOR, minor: ABI_MINOR + 1 } }, { mode: 'pv' }).message).toBe(`image is built for ABI ${ABI_MAJOR}.${ABI_MINOR + 1}; ${host}`);
    const h = new PvHost({ machineBytes: 2 * (1 << 20) + 64 * 1024 });
    expect(h.createDomain({ ...img, abi: { major: ABI_MAJOR + 1, minor: 0 } }, { memoryBytes: 1 << 20 })).toBe(`image is built for ABI ${ABI_MAJOR + 1}.0; ${host}`);
    expect(h.createDomain({ ...img, target: 'native' }, { memoryBytes: 1 << 20 })).toBe("image is built for target 'native', a pv domain needs a 'pv' image");
    expect(h.domains).toEqual([]);
    expect(Array.from(h.frames.owner).filter((o) => o > 0)).toEqual([]); // no frame taken
  });
  it('runs a guest built for the previous minor', () => {
    const img = asm(src, 'pv');
    expect(ABI_MINOR).toBeGreaterThan(0);
    const r = runImage({ ...img, abi: { major: ABI_MAJOR, minor: ABI_MINOR - 1 } }, { mode: 'pv' });
    expect([r.stop, r.exitCode]).toEqual(['shutdown', 9]);
  });
});
