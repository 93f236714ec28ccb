/**
 * The trap and hw modes as a user meets them: `tsvisor run --mode trap|hw` with --json (exits by
 * reason, modelled cycles and host time) and --trace (each exit with reason, qualification and
 * the disassembled instruction).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COSTS } from '../../../hypervisor/costs.ts';
import { cli } from '../../e2e/cli-harness.ts';

const PROGRAMS = new URL('../../../guest-kernel/programs/asm/', import.meta.url).pathname;

let dir: string;
const img = (name: string): string => join(dir, `${name}.img`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-vmm-'));
  for (const name of ['demo', 'paging', 'popf-critical']) expect((await cli('asm', join(PROGRAMS, `${name}.s`), '-o', img(name))).code).toBe(0);
});

describe('tsvisor run --mode trap|hw', () => {
  it('streams the same console and exits with the same code as native', async () => {
    const native = await cli('run', img('paging'), '--mode', 'native');
    for (const mode of ['trap', 'hw']) {
      const r = await cli('run', img('paging'), '--mode', mode);
      expect(r.code).toBe(7);
      expect(r.out).toBe(native.out);
    }
  });

  it('--json reports exits by reason with modelled cycles from the cost table and host time', async () => {
    const j = JSON.parse((await cli('run', img('paging'), '--mode', 'trap', '--json')).out);
    expect(j).toMatchObject({ mode: 'trap', exitCode: 7, stop: 'shutdown' });
    expect(Object.keys(j.exits)).toEqual(expect.arrayContaining(['io-out', 'cr-write', 'ptemod', 'shadow-fill', 'page-fault', 'syscall']));
    for (const [reason, s] of Object.entries(j.exits as Record<string, { count: number; modelledCycles: number; hostNs: number }>)) {
      expect(s.count).toBeGreaterThan(0);
      expect(s.modelledCycles).toBe(s.count * COSTS[`trap.${reason}` as keyof typeof COSTS].cycles);
      expect(s.hostNs).toBeGreaterThanOrEqual(0);
    }
    const hw = JSON.parse((await cli('run', img('paging'), '--mode', 'hw', '--json')).out);
    expect(Object.keys(hw.exits)).toContain('ept-violation');
    expect(hw.exits.ptemod).toBeUndefined();
  });

  it('--json gives the same counts on every run; only host times differ', async () => {
    const strip = (j: { hostNs: number; exits: Record<string, { hostNs: number }> }): unknown => ({
      ...j,
      hostNs: 0,
      exits: Object.fromEntries(Object.entries(j.exits).map(([k, v]) => [k, { ...v, hostNs: 0 }])),
    });
    for (const mode of ['trap', 'hw']) {
      const a = JSON.parse((await cli('run', img('demo'), '--mode', mode, '--json')).out);
      const b = JSON.parse((await cli('run', img('demo'), '--mode', mode, '--json')).out);
      expect(strip(a)).toEqual(strip(b));
    }
  });

  it('--trace prints each exit with its reason, qualification and disassembly', async () => {
    const t = (await cli('run', img('paging'), '--mode', 'trap', '--trace')).err;
    expect(t).toMatch(/exit.* io-out port=0x3f8 width=4 dir=out value=0x70 .*@0x[0-9a-f]+ out 0x3f8, r2/);
    expect(t).toMatch(/exit.* cr-write cr=ptbr dir=write value=0x20000 .*mtcr ptbr, r1/);
    expect(t).toMatch(/exit.* ptemod addr=0x22000 gpa=0x22000 value=0x31003 .*stw r2, \[r1\]/);
    expect(t).toMatch(/exit.* shadow-fill addr=0x[0-9a-f]+ gpa=0x[0-9a-f]+ access=fetch/);
    expect(t).toMatch(/exit.* page-fault vector=page-fault addr=0x400000 err=0x3 access=write/);
    expect(t).toMatch(/exc .*page-fault/);
    const h = (await cli('run', img('popf-critical'), '--mode', 'hw', '--trace')).err;
    expect(h).toMatch(/exit.* popf if=0 .*popf/);
    expect(h).toMatch(/exit.* pushf value=0x1 .*pushf/);
    expect(h).toMatch(/exit.* ept-violation gpa=0x1000 gva=0x1000 access=fetch/);
    expect(h).toMatch(/exit.* interrupt vector=irq0/);
  });

  it('runs the Popek–Goldberg guest: exit code 0 under hw, 1 under trap', async () => {
    expect((await cli('run', img('popf-critical'), '--mode', 'hw')).code).toBe(0);
    const trap = await cli('run', img('popf-critical'), '--mode', 'trap');
    expect(trap.code).toBe(1);
    expect(trap.out).toContain('CORRUPTED');
  });

  it('takes the same --memory bound as every mode: 1024 MiB boots, 1025 is one line', async () => {
    for (const mode of ['trap', 'hw']) {
      expect((await cli('run', img('demo'), '--mode', mode, '--memory', '1024', '--max-instructions', '20000')).err, mode).not.toMatch(/do not fit|Error/);
      const r = await cli('run', img('demo'), '--mode', mode, '--memory', '1025');
      expect(r.code).toBe(2);
      expect(r.err).toBe('tsvisor: --memory: at most 1024 MiB in every mode, got 1025\n');
    }
  });
});
