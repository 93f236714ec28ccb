/**
 * Differential tests: every program of the corpus (guest-kernel/programs) compiled and run on the
 * machine, and the same source run directly by Node with the intrinsics shimmed, must print the
 * same console text and end with the same exit code. The pv build of each program, run in pv
 * mode, must agree too: one source, two targets, one observable result.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInNode } from '../../guest-kernel/compiler/node-shim.ts';
import { compileFile, corpus, PROGRAMS, run } from './helpers.ts';
import type { RunResult } from '../../hypervisor/run.ts';

const programs = corpus();
const nativeRuns = new Map<string, RunResult>();
function runNative(file: string): RunResult {
  let r = nativeRuns.get(file);
  if (!r) {
    r = run(compileFile(file, 'native').image);
    nativeRuns.set(file, r);
  }
  return r;
}

describe('the corpus', () => {
  it('has at least 25 programs', () => {
    expect(programs.length).toBeGreaterThanOrEqual(25);
  });
});

describe.each(programs.map((p) => [path.relative(PROGRAMS, p), p] as const))('%s', (_name, file) => {
  it('prints the same and exits the same on the machine as in Node', async () => {
    const node = await runInNode(file);
    const machine = runNative(file);
    expect(machine.stop).toBe('shutdown');
    expect(machine.console).toBe(node.console);
    expect(machine.exitCode).toBe(node.exitCode);
    expect(node.console.length).toBeGreaterThan(0);
  });

  it('behaves the same built for pv and run in pv mode', () => {
    const native = runNative(file);
    const pv = run(compileFile(file, 'pv').image, 'pv');
    expect(pv.stop).toBe('shutdown');
    expect(pv.console).toBe(native.console);
    expect(pv.exitCode).toBe(native.exitCode);
  });
});
