/**
 * `npm run bench:console`: how fast a guest's console reaches the user, the way `tsvisor run`
 * streams it (console-stream.ts: 64 KiB chunks, written between run slices, with backpressure).
 * Guests: pv-console-flood.s (console_io writes of 4 KiB) and console-flood.s (one UART OUT per
 * byte: the interpreter's speed is the limit there, not the stream). Sinks: a file, a pipe into
 * `cat > /dev/null`, and the report's ring alone (--json). Medians of RUNS runs after a warm-up,
 * printed, never asserted; the target is 50 MB/s to a file and to a pipe. The last sink
 * is the way it was done before (a decode and a write per byte), on a smaller budget,
 * measured in the same process for the ratio.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestImage } from '../../abi/image.ts';
import { assemble, formatAsmError } from '../../guest-kernel/compiler/assembler.ts';
import { ConsoleStream, streamOut } from '../console-stream.ts';
import { runImageLive, type Mode } from '../run.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbs = (x: number): string => x.toFixed(x < 10 ? 2 : 0);

function image(name: string): GuestImage {
  const file = new URL(`../../guest-kernel/programs/asm/hostile/${name}.s`, import.meta.url);
  const r = assemble(readFileSync(file, 'utf8'), { fileName: name });
  if (!r.ok) throw new Error(formatAsmError(r.errors[0]!));
  return r.image;
}

type Sink = 'file' | 'pipe' | 'ring only' | 'file, a write per byte (before)';

/** MB/s of one run of `img` for `budget` instructions into `sink`, end to end (the last byte written). */
async function once(img: GuestImage, mode: Mode, budget: number, sink: Sink, dir: string): Promise<number> {
  let stream: NodeJS.WritableStream | undefined;
  let done: Promise<unknown> = Promise.resolve();
  if (sink === 'file' || sink === 'file, a write per byte (before)') {
    const ws = createWriteStream(join(dir, 'console.out'));
    stream = ws;
    done = new Promise<void>((r) => ws.on('close', () => r()));
  } else if (sink === 'pipe') {
    const cat = spawn('sh', ['-c', 'cat > /dev/null'], { stdio: ['pipe', 'ignore', 'inherit'] });
    stream = cat.stdin;
    done = new Promise((r) => cat.on('close', r));
  }
  const cs = stream ? new ConsoleStream(streamOut(stream)) : undefined;
  const t0 = performance.now();
  let r;
  if (sink === 'file, a write per byte (before)') {
    // What `tsvisor run` did before: each byte decoded and written on its own.
    const dec = new TextDecoder();
    const out = stream!;
    const perByte = (bytes: Uint8Array): void => {
      for (const b of bytes) {
        const text = dec.decode(Uint8Array.of(b), { stream: true });
        if (text) out.write(text);
      }
    };
    // A smaller budget (it is slow): pv's is just past the guest filling its buffer (~45,000 instructions).
    r = await runImageLive(img, { mode, maxInstructions: mode === 'pv' ? 47_000 : budget / 10, onConsoleOutput: perByte });
  } else {
    r = await runImageLive(img, { mode, maxInstructions: budget, ...(cs ? { onConsoleOutput: cs.sink, between: () => cs.settle() } : {}) });
  }
  stream?.end();
  await done;
  const s = (performance.now() - t0) / 1000;
  return r.consoleBytes / 1e6 / s;
}

const dir = mkdtempSync(join(tmpdir(), 'tsvisor-bench-console-'));
try {
  const guests: [string, GuestImage, Mode, number][] = [
    ['pv console_io, 4 KiB writes', image('pv-console-flood'), 'pv', 1_000_000],
    ['native UART, a byte per OUT', image('console-flood'), 'native', 30_000_000],
  ];
  for (const [name, img, mode, budget] of guests) {
    for (const sink of ['file', 'pipe', 'ring only', 'file, a write per byte (before)'] as Sink[]) {
      const rates: number[] = [];
      for (let i = 0; i < RUNS + 1; i++) {
        const rate = await once(img, mode, budget, sink, dir);
        if (i > 0) rates.push(rate);
      }
      console.log(`${name.padEnd(28)} to ${sink.padEnd(32)}: median ${mbs(median(rates)).padStart(6)} MB/s (min ${mbs(Math.min(...rates))}, max ${mbs(Math.max(...rates))})`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
