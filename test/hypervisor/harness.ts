/**
 * Test helpers for the machine: assemble a snippet, load it on a native machine, and run it with
 * every exception intercepted (so a test sees exactly which vector an instruction raised, and the
 * CPU state at that point) or delivered through a real vector table.
 */
import { expect } from 'vitest';
import { assemble, formatAsmError } from '../../guest-kernel/compiler/assembler.ts';
import type { GuestImage } from '../../abi/image.ts';
import { Stop } from '../../hypervisor/machine/cpu.ts';
import { NativeMachine, type MachineOptions } from '../../hypervisor/machine/native.ts';

export function asm(src: string, target: 'native' | 'pv' = 'native'): GuestImage {
  const r = assemble(src, { fileName: 'test.s', target });
  if (!r.ok) throw new Error(r.errors.map(formatAsmError).join('\n'));
  return r.image;
}

export function boot(src: string, opts: MachineOptions = {}): NativeMachine {
  const m = new NativeMachine({ memoryBytes: 1 << 20, ...opts });
  const err = m.load(asm(src));
  if (err) throw new Error(err);
  return m;
}

export interface Outcome {
  stop: Stop;
  /** The vector that stopped the CPU (intercepted exception), or -1. */
  vector: number;
  err: number;
  m: NativeMachine;
}

/**
 * Run `src` with all exceptions 0..31 intercepted, until HLT, an exception or `limit`
 * instructions. `cpl3` starts the code at privilege 3 (paging off: identity mapping).
 */
export function exec(src: string, opts: { cpl3?: boolean; limit?: number; setup?: (m: NativeMachine) => void } = {}): Outcome {
  const m = boot(src);
  m.cpu.interceptVectors = -1;
  if (opts.cpl3) m.cpu.setCpl(3);
  opts.setup?.(m);
  let stop: Stop;
  // Event stops (STI, POPF, OUT, ...) only ask the platform to look for interrupts: go on.
  do stop = m.cpu.run(opts.limit ?? 10_000);
  while (stop === Stop.Event);
  return { stop, vector: stop === Stop.Exit ? m.cpu.exit.vector : -1, err: m.cpu.exit.err, m };
}

/** Run a snippet that ends in `brk` and return the registers (signed 32-bit). */
export function regsAfter(src: string, opts: { cpl3?: boolean } = {}): Int32Array {
  const o = exec(src, opts);
  expect(o.vector, `expected the closing brk, got stop ${o.stop} vector ${o.vector}`).toBe(3);
  return o.m.cpu.regs;
}

/** Where enterUser leaves the kernel stack (ksp) and the user's sp. */
export const KERNEL_STACK_TOP = 0x8000;
export const USER_STACK_TOP = 0x7000;

/**
 * Assembly that points vbar at the label `table` (the snippet ends with a 4-aligned
 * `table: .space 1024`), installs `label` as the handler of `vector`, sets ksp to
 * KERNEL_STACK_TOP, and irets to the label `user` at privilege 3 with sp USER_STACK_TOP and the
 * FLAGS `flags` (privilege bits included).
 */
export function enterUser(vector: number, label: string, flags = 3 << 4): string {
  return `
      la r1, table
      mtcr vbar, r1
      la r2, ${label}
      stw r2, [r1+${vector * 4}]
      li r1, ${KERNEL_STACK_TOP}
      mtcr ksp, r1
      la r1, user
      li r2, ${USER_STACK_TOP}
      push r2
      li r2, ${flags}
      push r2
      push r1
      iret`;
}
