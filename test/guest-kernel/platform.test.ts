/**
 * The platform layer (guest-kernel/kernel/platform/): one guest that uses every group of it gives
 * the same transcript in native, trap, hw (native build) and pv (pv build); each build contains
 * only its own arm (no privileged or sensitive instruction in pv, no hypercall in native); an mmu
 * batch of N updates is one mmu_update in pv; the pv interrupt flag costs no hypercall.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClassCode } from '../../abi/isa.ts';
import type { GuestImage } from '../../abi/image.ts';
import { runImage, type RunResult } from '../../hypervisor/run.ts';
import { compileFile, compileSources, instructionClasses, MODES, ROOT } from './helpers.ts';
import type { BootTarget as Target } from '../../guest-kernel/compiler/types.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';

const CHECK = path.join(ROOT, 'guest-kernel/kernel/platform/tests/platform-check.ts');
const SECTOR = 5;
const MAX = 20_000_000;

/** Counters that differ between the builds by design: the platform's own hypercalls. */
const BY_DESIGN = /^pv\.hypercalls \d+$/m;

const images: Record<Target, GuestImage> = {
  native: compileFile(CHECK, 'native').image,
  pv: compileFile(CHECK, 'pv').image,
};

function runWithDisk(image: GuestImage, mode: (typeof MODES)[number]['mode']): { r: RunResult; disk: Uint8Array } {
  const disk = new Uint8Array(64 * 1024);
  return { r: runImage(image, { mode, disk, maxInstructions: MAX }), disk };
}

function compileText(text: string, target: Target): GuestImage {
  const r = compileSources({ 'platform-main.ts': text }, target);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.image;
}

/** A guest that remaps `n` window pages onto source pages in one batch and checks each. */
function batchSource(n: number): string {
  return `
import { conPrint, mmuBegin, mmuEnd, mmuFrameOf, mmuMakePte, mmuSetPte, platformInit } from '../../kernel/platform/platform.ts';
const PAGE = 4096;
const area = new Uint8Array(${2 * n + 1} * PAGE);
export function main(): number {
  platformInit();
  const pages = (addressOf(area) + PAGE - 1) & ~(PAGE - 1);
  for (let p = 0; p < ${2 * n}; p++) store32(pages + p * PAGE, 100 + p);
  mmuBegin();
  for (let i = 0; i < ${n}; i++) {
    if (mmuSetPte(pages + (${n} + i) * PAGE, mmuMakePte(mmuFrameOf(pages + i * PAGE), true)) < 0) return 1;
  }
  if (mmuEnd() < 0) return 2;
  for (let i = 0; i < ${n}; i++) if (load32(pages + (${n} + i) * PAGE) !== 100 + i) return 3;
  conPrint('mapped\\n');
  return 0;
}
`;
}

/** A guest that toggles the interrupt flag `n` times (with save and restore too). */
function flagSource(n: number): string {
  return `
import { irqDisable, irqEnable, irqRestore, irqSave, platformInit } from '../../kernel/platform/platform.ts';
export function main(): number {
  platformInit();
  let on = 0;
  for (let i = 0; i < ${n}; i++) {
    irqEnable();
    const f = irqSave();
    on += f;
    irqRestore(f);
    irqDisable();
  }
  return on === ${n} ? 0 : 1;
}
`;
}

describe('the platform layer', () => {
  it('gives the same transcript and disk in native, trap, hw and pv', () => {
    const results = MODES.map(({ mode, target }) => ({ mode, ...runWithDisk(images[target], mode) }));
    const native = results[0]!;
    expect(native.r.stop).toBe('shutdown');
    expect(native.r.console).toContain('failed step: 0');
    expect(native.r.console).toContain('periodic ticks: 3\none-shot ticks: 4\n');
    expect(native.r.console).toContain('bytes equal: 512');
    expect(native.r.console).toContain('after: window 0 reads 4096\nafter: window 1 reads 4097\n');
    expect(native.r.console).toMatch(/^mmu\.batch_end 1$/m);
    expect(native.r.console).toMatch(/^irq\.ticks 4$/m);
    expect(native.r.console).toMatch(/^pv\.hypercalls 0$/m);
    const expected = native.disk.slice(SECTOR * 512, SECTOR * 512 + 512);
    expect(Array.from(expected.slice(0, 4))).toEqual([3, 10, 17, 24]);
    for (const { mode, r, disk } of results) {
      expect({ mode, stop: r.stop, exitCode: r.exitCode }).toEqual({ mode, stop: 'shutdown', exitCode: 0 });
      expect({ mode, console: r.console.replace(BY_DESIGN, '') }).toEqual({ mode, console: native.r.console.replace(BY_DESIGN, '') });
      expect({ mode, disk: disk.every((b, i) => (i >= SECTOR * 512 && i < SECTOR * 512 + 512 ? b === expected[i - SECTOR * 512] : b === 0)) }).toEqual({ mode, disk: true });
    }
    const pv = results.find((x) => x.mode === 'pv')!;
    expect(Number(/^pv\.hypercalls (\d+)$/m.exec(pv.r.console)![1])).toBeGreaterThan(0);
  });

  it('builds the pv image without privileged or sensitive instructions, and the native one without hypercalls', () => {
    const pv = instructionClasses(images.pv);
    expect(pv.get(ClassCode.Privileged) ?? []).toEqual([]);
    expect(pv.get(ClassCode.Sensitive) ?? []).toEqual([]);
    expect((pv.get(ClassCode.Hypercall) ?? []).length).toBeGreaterThan(0);
    const native = instructionClasses(images.native);
    expect(native.get(ClassCode.Hypercall) ?? []).toEqual([]);
    expect((native.get(ClassCode.Privileged) ?? []).length).toBeGreaterThan(0);
  });

  it('sends an mmu batch of N updates as one mmu_update in pv, and maps them natively too', () => {
    for (const n of [1, 16, 40]) {
      const pv = runImage(compileText(batchSource(n), 'pv'), { mode: 'pv', maxInstructions: MAX });
      expect({ n, stop: pv.stop, exitCode: pv.exitCode, console: pv.console }).toEqual({ n, stop: 'shutdown', exitCode: 0, console: 'mapped\n' });
      expect({ n, mmu_update: pv.hypercalls?.mmu_update }).toEqual({ n, mmu_update: 1 });
      const native = runImage(compileText(batchSource(n), 'native'), { mode: 'trap', maxInstructions: MAX });
      expect({ n, stop: native.stop, exitCode: native.exitCode, console: native.console }).toEqual({ n, stop: 'shutdown', exitCode: 0, console: 'mapped\n' });
    }
  });

  it('keeps the pv interrupt flag in shared memory: toggling it makes no hypercall', () => {
    const count = (n: number): number => {
      const r = runImage(compileText(flagSource(n), 'pv'), { mode: 'pv', maxInstructions: MAX });
      expect({ n, stop: r.stop, exitCode: r.exitCode }).toEqual({ n, stop: 'shutdown', exitCode: 0 });
      return Object.values(r.hypercalls ?? {}).reduce((a, b) => a + b, 0);
    };
    expect(count(50)).toBe(count(0));
  });
});
