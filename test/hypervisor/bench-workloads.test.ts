/**
 * The workloads of `npm run bench:modes` are honest: built smaller than in the bench (sizes.ts
 * compiled from memory), each gives the same console, exit code and disk bytes in native, trap,
 * hw and pv, and its counts are the ones its design implies — an exit per UART byte and per
 * block-port word under trap and hw, a few kicks for many virtio requests under pv, one bounce
 * and one iret hypercall per system call — so the bench's ratios measure what they claim.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../guest-kernel/compiler/compile.ts';
import { formatDiagnostic } from '../../guest-kernel/compiler/diagnostics.ts';
import { runImage, type RunResult } from '../../hypervisor/run.ts';
import {
  BENCH_DIR,
  BENCH_MODES,
  BENCH_SIZES,
  build,
  diskBytes,
  ROOT,
  runWorkload,
  SIZES_FILE,
  sizesSource,
  WORKLOADS,
  type BenchMode,
  type BuiltWorkload,
  type WorkloadRun,
  type WorkloadSizes,
} from '../../hypervisor/bench/workloads.ts';

/** Small enough for a fast test; the block size is one 64 KiB run of 16 requests. */
const SIZES: WorkloadSizes = { consoleBytes: 4 * 1024, blockBytes: 64 * 1024, syscalls: 256 };

const workload = (name: string) => WORKLOADS.find((w) => w.name === name)!;
const builds = new Map<string, BuiltWorkload>();
const runs = new Map<string, Record<BenchMode, WorkloadRun>>();

/** Every mode's run of workload `name` at SIZES, built and run once per file. */
function all(name: string): Record<BenchMode, WorkloadRun> {
  const have = runs.get(name);
  if (have) return have;
  const w = build(workload(name), SIZES);
  builds.set(name, w);
  const out = {} as Record<BenchMode, WorkloadRun>;
  for (const m of BENCH_MODES) out[m] = runWorkload(w, m);
  runs.set(name, out);
  return out;
}

const exitCount = (r: RunResult, reason: string): number => r.exits?.[reason]?.count ?? 0;

/** What block-io.ts writes at byte `offset` (its blockWord), little-endian. */
function blockBytes(len: number): Uint8Array {
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  for (let o = 0; o < len; o += 4) v.setUint32(o, (Math.imul(o ^ 0x5bd1e995, 0x01000193) ^ (o >>> 7)) >>> 0, true);
  return b;
}

describe('bench workloads', () => {
  it('sizes.ts in the tree is what the bench compiles (sizesSource(BENCH_SIZES))', () => {
    expect(readFileSync(SIZES_FILE, 'utf8')).toBe(sizesSource(BENCH_SIZES));
  });

  it.each(WORKLOADS.map((w) => w.name))('%s: the same console, exit code and disk bytes in native, trap, hw and pv', (name) => {
    const r = all(name);
    const base = r.native;
    expect(base.result.stop).toBe('shutdown');
    expect(base.result.exitCode).toBe(workload(name).exitCode);
    expect(base.result.console.length).toBeGreaterThan(0);
    for (const m of BENCH_MODES) {
      expect(r[m].result.message, m).toBeUndefined();
      expect(r[m].result.stop, m).toBe('shutdown');
      expect(r[m].result.exitCode, m).toBe(base.result.exitCode);
      expect(r[m].result.console, m).toBe(base.result.console);
      expect(Buffer.compare(r[m].disk, base.disk), m).toBe(0);
      expect(r[m].result.disk, m).toEqual(base.result.disk);
    }
    // The native build is one image: the monitors run exactly the instructions the bare machine does.
    expect(r.trap.result.instructions).toBe(base.result.instructions);
    expect(r.hw.result.instructions).toBe(base.result.instructions);
  });

  it('counts are deterministic: a second run of each mode gives the same figures', () => {
    const first = all('syscall');
    const w = builds.get('syscall')!;
    // host time is the one field that may differ, in the run and in each exit row
    const figures = (r: RunResult) => ({
      ...r,
      hostNs: 0,
      exits: Object.fromEntries(Object.entries(r.exits ?? {}).map(([k, v]) => [k, [v.count, v.modelledCycles]])),
    });
    for (const m of BENCH_MODES) expect(figures(runWorkload(w, m).result), m).toEqual(figures(first[m].result));
  });

  it('compute: no device traffic beyond its two lines; every mode within 50% of native in modelled cycles', () => {
    const r = all('compute');
    const out = r.native.result.console.length + 1; // a UART OUT per byte, and the power-off OUT
    for (const m of ['trap', 'hw'] as const) {
      expect(exitCount(r[m].result, 'io-out'), m).toBe(out);
      expect(exitCount(r[m].result, 'io-in'), m).toBe(0);
      expect(r[m].result.modelledCycles / r.native.result.modelledCycles, m).toBeLessThan(1.5);
    }
    expect(Math.abs(r.pv.result.modelledCycles / r.native.result.modelledCycles - 1)).toBeLessThan(0.01);
  });

  it('console: prints the text; an exit per byte under trap and hw, a hypercall per KiB under pv', () => {
    const r = all('console');
    const lines = SIZES.consoleBytes / 64;
    let text = '';
    for (let i = 0; i < lines; i++) {
      let line = `line ${String(i).padStart(4, '0')} `;
      for (let j = 10; j < 63; j++) line += String.fromCharCode(97 + ((i + j) % 26));
      text += `${line}\n`;
    }
    const flushes = SIZES.consoleBytes / 1024;
    expect(r.native.result.console).toBe(`${text}console: lines ${lines}\nconsole: flushes ${flushes}\n`);
    for (const m of ['trap', 'hw'] as const) {
      expect(exitCount(r[m].result, 'io-out'), m).toBe(r.native.result.console.length + 1);
      expect(exitCount(r[m].result, 'io-in'), m).toBe(0);
    }
    // the buffer's flushes, plus the few calls the summary lines take through lib/console.ts
    const writes = r.pv.result.hypercalls?.console_write ?? 0;
    expect(writes).toBeGreaterThanOrEqual(flushes);
    expect(writes).toBeLessThanOrEqual(flushes + 8);
    expect(r.pv.result.exits).toBeUndefined();
  });

  it('block: the disk holds the data; trap and hw exit once per port access; pv kicks far fewer times than it sends requests', () => {
    const r = all('block');
    const bytes = SIZES.blockBytes;
    expect(diskBytes(SIZES)).toBeGreaterThan(bytes);
    expect(Buffer.compare(r.native.disk.subarray(0, bytes), blockBytes(bytes))).toBe(0);
    expect(r.native.disk.subarray(bytes).every((b) => b === 0)).toBe(true);
    const sums = /block: written ([0-9a-f]{8}), read back ([0-9a-f]{8})/.exec(r.native.result.console);
    expect(sums?.[1]).toBe(sums?.[2]);
    for (const m of BENCH_MODES) expect(r[m].result.disk, m).toEqual({ sectorsRead: bytes / 512, sectorsWritten: bytes / 512, errors: 0 });

    // ata.ts: per 4 KiB request OUT sector, count, command, IN status, the data words, IN status;
    // then the flush (OUT command, IN status), the capacity (IN), the console bytes and power-off.
    const requests = bytes / 4096; // each way
    const words = bytes / 4;
    for (const m of ['trap', 'hw'] as const) {
      expect(exitCount(r[m].result, 'io-out'), m).toBe(words + 3 * 2 * requests + 1 + r.native.result.console.length + 1);
      expect(exitCount(r[m].result, 'io-in'), m).toBe(words + 2 * 2 * requests + 1 + 1);
    }

    const blk = r.pv.result.devices?.blk;
    expect(blk?.requests).toBe(2 * requests + 1); // writes, the flush, reads
    expect(blk?.errors).toBe(0);
    // one kick per 64 KiB run (16 requests) and one for the flush, at most
    expect(blk!.kicks).toBeGreaterThan(0);
    expect(blk!.kicks).toBeLessThanOrEqual(2 * (bytes / 65536) + 1);
    expect(blk!.kicks * 8).toBeLessThan(blk!.requests);
    expect(r.pv.result.hypercalls?.virtio_kick).toBe(blk!.kicks);
  });

  it('block: FLUSH hands the host the disk as written so far, in every mode; a host that cannot save it fails the flush, not the run', () => {
    all('block');
    const w = builds.get('block')!;
    const written = blockBytes(SIZES.blockBytes);
    for (const mode of BENCH_MODES) {
      const saved: Uint8Array[] = [];
      const disk = new Uint8Array(diskBytes(SIZES));
      const ok = runImage(mode === 'pv' ? w.pv : w.native, { mode, disk, maxInstructions: 100_000_000, onFlush: (d) => void saved.push(d.slice()) });
      expect(ok.exitCode, mode).toBe(0);
      expect(saved, mode).toHaveLength(1);
      expect(saved[0]!.subarray(0, written.length), mode).toEqual(written);
      expect(saved[0], mode).toEqual(disk);
      const failing = runImage(mode === 'pv' ? w.pv : w.native, {
        mode,
        disk: new Uint8Array(diskBytes(SIZES)),
        maxInstructions: 100_000_000,
        onFlush: () => {
          throw new Error('disk full');
        },
      });
      expect(failing.stop, mode).toBe('shutdown');
      expect(failing.exitCode, mode).toBe(12); // block-io.ts: the flush failed
    }
  });

  it('block: a driver that reads the wrong sectors makes the workload fail (its check can fail)', () => {
    const file = path.join(ROOT, BENCH_DIR, 'disk.ts');
    const source = readFileSync(file, 'utf8');
    const wrong = source
      .replace('return virtioRun(VIRTIO_BLK_T_IN, sector,', 'return virtioRun(VIRTIO_BLK_T_IN, sector + 8,')
      .replace('ataRead(sector + ((o / 512) | 0)', 'ataRead(sector + 8 + ((o / 512) | 0)');
    expect(wrong.split('sector + 8').length).toBe(3); // both drivers changed
    const sources = new Map([
      [SIZES_FILE, sizesSource(SIZES)],
      [file, wrong],
    ]);
    for (const [target, mode] of [['native', 'native'], ['pv', 'pv']] as const) {
      const c = compile(path.join(ROOT, workload('block').file), { target, rootDir: ROOT, sources });
      if (!c.ok) throw new Error(c.diagnostics.map(formatDiagnostic).join('\n'));
      const res = runImage(c.image, { mode, disk: new Uint8Array(diskBytes(SIZES)), maxInstructions: 100_000_000 });
      expect(res.stop, mode).toBe('shutdown');
      expect(res.exitCode, mode).toBe(1);
    }
  });

  it('syscall: one reflected syscall and one IRET exit per call under trap, one IRET exit under hw, one bounce and one iret hypercall under pv', () => {
    const r = all('syscall');
    const n = SIZES.syscalls;
    expect(r.native.result.console).toContain(`syscalls: calls ${n}\n`);
    for (const m of BENCH_MODES) expect(r[m].result.events, m).toEqual({ syscall: n });
    expect(exitCount(r.trap.result, 'syscall')).toBe(n);
    expect(exitCount(r.trap.result, 'iret')).toBe(n);
    expect(exitCount(r.hw.result, 'syscall')).toBe(0);
    expect(exitCount(r.hw.result, 'iret')).toBe(n);
    expect(r.pv.result.hypercalls?.iret).toBe(n);
  });
});
