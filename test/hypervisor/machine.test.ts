import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BLK_SECTOR_BYTES } from '../../abi/platform.ts';
import { ABI_MAJOR, ABI_MINOR } from '../../abi/version.ts';
import { runImage } from '../../hypervisor/run.ts';
import { asm } from './harness.ts';

const demo = readFileSync(new URL('../../guest-kernel/programs/asm/demo.s', import.meta.url), 'utf8');

function demoDisk(): Uint8Array {
  const disk = new Uint8Array(16 * BLK_SECTOR_BYTES);
  disk.set(new TextEncoder().encode('the second sector\n'), BLK_SECTOR_BYTES);
  return disk;
}

describe('the native platform', () => {
  it('runs an assembled guest that prints, reads a sector, takes timer interrupts and shuts down with a code', () => {
    const r = runImage(asm(demo), { mode: 'native', disk: demoDisk() });
    expect(r.stop).toBe('shutdown');
    expect(r.exitCode).toBe(42);
    expect(r.console).toContain('hello from a native tsvisor guest');
    expect(r.console).toContain('sector 1 of the disk: the second sector');
    expect(r.events).toEqual({ irq0: 5 });
    expect(r.disk.sectorsRead).toBe(1);
    expect(r.idleInstructions).toBeGreaterThan(0); // the ticks arrived while the CPU idled in HLT
  });

  it('gives the same counts on every run of the same image', () => {
    const a = runImage(asm(demo), { mode: 'native', disk: demoDisk() });
    const b = runImage(asm(demo), { mode: 'native', disk: demoDisk() });
    expect({ ...a, hostNs: 0 }).toEqual({ ...b, hostNs: 0 });
  });

  it('writes guest data to the disk image through the data port', () => {
    const src = `
      li r1, 3
      out 0x1f3, r1          ; sector 3
      li r1, 1
      out 0x1f2, r1          ; one sector
      li r1, 0x30
      out 0x1f7, r1          ; write
      li r2, 0
      li r3, 128
    l:  out 0x1f0, r2        ; word i = i
      addi r2, r2, 1
      bne r2, r3, l
      in r4, 0x1f7
      out 0xf4, r4`;
    const disk = new Uint8Array(8 * BLK_SECTOR_BYTES);
    const r = runImage(asm(src), { mode: 'native', disk });
    expect(r.exitCode).toBe(1); // status READY, no DRQ, no error
    const words = new Int32Array(disk.buffer, 3 * BLK_SECTOR_BYTES, 128);
    expect(Array.from(words)).toEqual(Array.from({ length: 128 }, (_, i) => i));
    expect(disk.subarray(0, 3 * BLK_SECTOR_BYTES).every((b) => b === 0)).toBe(true);
  });

  it('refuses a block request past the end of the disk without touching it', () => {
    const src = `li r1, 8\nout 0x1f3, r1\nli r1, 1\nout 0x1f2, r1\nli r1, 0x30\nout 0x1f7, r1\nli r1, 7\nout 0x1f0, r1\nin r4, 0x1f7\nout 0xf4, r4`;
    const disk = new Uint8Array(8 * BLK_SECTOR_BYTES);
    const r = runImage(asm(src), { mode: 'native', disk });
    expect(r.exitCode).toBe(0x81); // READY | ERROR
    expect(r.disk.errors).toBeGreaterThan(0);
    expect(disk.every((b) => b === 0)).toBe(true);
  });

  it('stops a runaway guest at the instruction limit', () => {
    const r = runImage(asm('l: jmp l'), { mode: 'native', maxInstructions: 5000 });
    expect(r.stop).toBe('limit');
    expect(r.instructions).toBe(5000);
    expect(r.message).toMatch(/stopped after 5000 instructions/);
  });

  it('reports a triple fault when an exception cannot be delivered', () => {
    const r = runImage(asm('li r1, 0\ndiv r2, r1, r1'), { mode: 'native', memoryBytes: 1 << 20 });
    // vector table at 0 holds 0: the handler is address 0, whose opcode 0 is invalid, whose
    // handler is again address 0... until the stack runs out of memory below 0.
    expect(r.stop).toBe('triple-fault');
    expect(r.message).toMatch(/triple fault/);
  });

  it('reports a guest that halts with interrupts disabled', () => {
    const r = runImage(asm('hlt'), { mode: 'native' });
    expect(r.stop).toBe('halted');
    expect(r.message).toMatch(/interrupts disabled/);
  });

  it('boots an image built for this ABI or an older minor, and refuses a newer minor or another major', () => {
    const img = asm('li r1, 9\nout 0xf4, r1');
    const run = (major: number, minor: number) => runImage({ ...img, abi: { major, minor } }, { mode: 'native' });
    expect(run(ABI_MAJOR, ABI_MINOR).exitCode).toBe(9);
    expect(run(ABI_MAJOR, 0).exitCode).toBe(9);
    for (const [major, minor] of [[ABI_MAJOR, ABI_MINOR + 1], [ABI_MAJOR + 1, 0], [ABI_MAJOR - 1, 0]] as const) {
      const r = run(major, minor);
      expect(r.stop).toBe('refused');
      expect(r.message).toBe(`image is built for ABI ${major}.${minor}; this host serves ABI ${ABI_MAJOR}.0 to ${ABI_MAJOR}.${ABI_MINOR}`);
    }
  });

  it('refuses an image built for the paravirtual target', () => {
    const r = runImage(asm('nop', 'pv'), { mode: 'native' });
    expect(r.stop).toBe('refused');
    expect(r.message).toMatch(/built for target 'pv'/);
  });
});
