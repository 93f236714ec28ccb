/**
 * The `tsvisor` command. Every failure a user can cause (a missing file, a bad flag, a broken
 * image, an assembler error, an output path that cannot be written) ends in one line on stderr
 * and exit code 2, never a stack trace.
 * Output files are written whole or not at all (fs-util.ts).
 *
 * Exit codes of `run` (limits.ts): the low 8 bits of the guest's shutdown code; 120 when
 * --max-instructions stopped it, 121 when --timeout did; 122 when the guest died (triple fault,
 * domain crash); 123 when it halted with nothing to wake it; 130 on SIGINT; 2 for bad input or an
 * image the host refuses to boot. None is timeout(1)'s 124.
 */
import { fstatSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import chalk from 'chalk';
import { decodeImage, encodeImage, formatImageError, segmentFlagsString, type GuestImage } from '../abi/image.ts';
import { disassembleImage } from '../abi/listing.ts';
import { assemble, formatAsmError, formatListing } from '../guest-kernel/compiler/assembler.ts';
import { DiskFile } from './disk-file.ts';
import { FileError, MAX_IMAGE_BYTES, MAX_SOURCE_BYTES, readRegularFile, writeOutputs, type Output } from './fs-util.ts';
import { makeTracer } from './machine/trace.ts';
import { IMPLEMENTED_MODES, MODES, runImageLive, type Mode, type RunResult } from './run.ts';
import { buildKernel, cmdlineBytes, DEFAULT_CACHE_DIR, KERNEL_TARGETS, KernelBuildError, withCmdline, type KernelBuild, type KernelTarget } from './kernel-build.ts';
import { StreamInput } from './live-input.ts';
import { ConsoleStream, streamOut, textOut, type ByteOut } from './console-stream.ts';
import { FlagError, flagSet, joinNegativeValues, memoryMiB, oneOf, positiveInt, seconds, utf8Text } from './flags.ts';
import {
  DEFAULT_MAX_INSTRUCTIONS,
  DEFAULT_TIMEOUT_SECONDS,
  EXIT_BUDGET,
  EXIT_GUEST_DIED,
  EXIT_HALTED,
  EXIT_INTERRUPTED,
  EXIT_TIMEOUT,
  EXIT_USAGE,
  MAX_MEMORY_MIB,
} from './limits.ts';
import { SOD_CMDLINE_MAX } from '../abi/hypercall-numbers.ts';
import { ABI_MAJOR, ABI_MINOR } from '../abi/version.ts';
import { PortBus } from './devices/port-bus.ts';
import { BlockDevice } from './devices/block.ts';
import { Pic } from './devices/pic.ts';
import { Power } from './devices/power.ts';
import { Timer } from './devices/timer.ts';
import { Uart } from './devices/uart.ts';
import { DEMO_SOURCE } from './demo.ts';

/** A user-caused failure: printed as one line, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  summary: string;
  usage: string;
  options: Options;
  /** One line per option, for --help. */
  help: Record<string, string>;
  /**
   * `afterDash`: the words after a `--` (undefined when there is none); they are in `positionals`
   * too, after those before it, so a command that does not care sees them as before.
   */
  run(positionals: string[], values: Record<string, string | boolean | undefined>, io: Io, afterDash?: string[]): number | Promise<number>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** The guest's console as bytes, with backpressure (stdout); without it, `out` gets UTF-8 text. */
  console?: ByteOut;
  /**
   * Where `run` reads live console input when no --input is given: the process's stdin when it is
   * a terminal, a pipe, a socket or a file; undefined (nothing is read) otherwise.
   */
  input?: () => Readable | undefined;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

/** Read a regular file the user named (fs-util.ts: no FIFOs or devices, at most maxBytes). */
function readInput(path: string, what: string, maxBytes = MAX_SOURCE_BYTES): Uint8Array {
  try {
    return readRegularFile(path, what, maxBytes);
  } catch (e) {
    throw e instanceof FileError ? new UsageError(e.message) : e;
  }
}

/**
 * Write a command's outputs as one transaction (fs-util.ts writeOutputs: all or none, regular
 * files only, symlinks followed, mode and owner kept); a path that cannot be written is bad input.
 */
function writeOutput(...outputs: Output[]): void {
  try {
    writeOutputs(outputs);
  } catch (e) {
    throw e instanceof FileError ? new UsageError(e.message) : e;
  }
}

function loadImage(path: string): GuestImage {
  const r = decodeImage(readInput(path, 'image', MAX_IMAGE_BYTES));
  if (!r.ok) throw new UsageError(`${path}: ${formatImageError(r.error)}`);
  return r.image;
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `missing ${what}` : `expected one ${what}, got ${positionals.length}: ${positionals.join(' ')}`);
  }
  return positionals[0]!;
}

function assembleFile(path: string): { image: GuestImage; listing: string } {
  const text = new TextDecoder().decode(readInput(path, 'source'));
  const r = assemble(text, { fileName: path });
  if (!r.ok) {
    const more = r.errors.length > 1 ? ` (and ${r.errors.length - 1} more error${r.errors.length > 2 ? 's' : ''})` : '';
    throw new UsageError(formatAsmError(r.errors[0]!) + more);
  }
  return { image: r.image, listing: formatListing(r.listing) };
}

/** A bus with the native platform's devices, only to name ports in traces and listings. */
function portNamer(): (port: number) => string | undefined {
  const bus = new PortBus();
  const pic = new Pic();
  for (const d of [new Uart(), pic, new Timer({ now: () => 0 }, pic), new BlockDevice(new Uint8Array(0), pic), new Power()]) bus.attach(d);
  return (p) => bus.deviceAt(p)?.name;
}

/** `run`'s exit status for each way a run ends (limits.ts has the table). */
const EXIT_FOR_STOP: Record<Exclude<RunResult['stop'], 'shutdown'>, number> = {
  refused: EXIT_USAGE,
  limit: EXIT_BUDGET,
  timeout: EXIT_TIMEOUT,
  'triple-fault': EXIT_GUEST_DIED,
  crashed: EXIT_GUEST_DIED,
  halted: EXIT_HALTED,
  interrupted: EXIT_INTERRUPTED,
};

/**
 * Print a run's result and choose the exit status. Why a run stopped, and each bound the guest
 * reached, go to stderr as one line each, with --json too (the JSON has them as well, but a
 * person reading a pipeline's stderr should not have to open it). The console bound is only news
 * with --json: streamed output is never cut.
 */
function runCommandResult(r: RunResult, json: boolean, io: Io): number {
  if (json) io.out(JSON.stringify(r) + '\n');
  for (const [what, line] of Object.entries(r.boundsHit ?? {})) {
    if (json || what !== 'console') io.err(`tsvisor: note: ${line}\n`);
  }
  if (r.stop === 'shutdown') return r.exitCode! & 0xff;
  io.err(`tsvisor: ${r.message ?? r.stop}\n`);
  return EXIT_FOR_STOP[r.stop];
}

/**
 * The console of a live run: streamed in chunks to the Io (consoleSink), written out between
 * slices with backpressure (between), and flushed before each trace line so the two keep their
 * order on a terminal.
 */
function liveConsole(io: Io): { stream: ConsoleStream; trace: (line: string) => void } {
  const stream = new ConsoleStream(io.console ?? textOut((s) => io.out(s)));
  return {
    stream,
    trace: (line) => {
      stream.flush();
      io.err(line + '\n');
    },
  };
}

/** SIGINT ends a live run with its report (status 130); a second one kills the process as usual. */
function interruptible<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  return body(ac.signal).finally(() => process.removeListener('SIGINT', onSigint));
}

/**
 * Live console input for `run` from `stream`. A terminal is put in raw mode (no line editing or
 * local echo: the guest echoes what it wants), with two of the terminal driver's jobs kept: Enter
 * (CR) reaches the guest as LF, and Ctrl-C is not passed on but raises SIGINT, which stops the
 * run as before (a second one kills the process). `close` puts the terminal back.
 */
function openLiveInput(stream: Readable): { input: StreamInput; close: () => void } {
  const tty = stream as Partial<ReadStream>;
  const raw = tty.isTTY === true && typeof tty.setRawMode === 'function';
  if (raw) tty.setRawMode!(true);
  const map = raw
    ? (bytes: Uint8Array): Uint8Array => {
        const out: number[] = [];
        for (const b of bytes) {
          if (b === 0x03) process.kill(process.pid, 'SIGINT');
          else out.push(b === 0x0d ? 0x0a : b);
        }
        return Uint8Array.from(out);
      }
    : undefined;
  const input = new StreamInput(stream, map);
  return {
    input,
    close: () => {
      input.close();
      if (raw) tty.setRawMode!(false);
      if (!raw) stream.destroy();
    },
  };
}

/** stdin, when it is something a user types or pipes into (not /dev/null or a closed descriptor). */
function stdinForInput(): Readable | undefined {
  try {
    const st = fstatSync(0);
    if (!(process.stdin.isTTY || st.isFIFO() || st.isSocket() || st.isFile())) return undefined;
  } catch {
    return undefined;
  }
  return process.stdin;
}

/** The kernel cache: $TSVISOR_CACHE_DIR, else node_modules/.cache/tsvisor in the repository. */
function kernelCacheDir(): string {
  const env = process.env.TSVISOR_CACHE_DIR;
  return env !== undefined && env !== '' ? env : DEFAULT_CACHE_DIR;
}

/** Build (or take from the cache) the kernel for `target`; progress and notes go to stderr. */
function kernelBuild(target: KernelTarget, io: Io): Promise<KernelBuild> {
  return buildKernel(target, { cacheDir: kernelCacheDir(), log: (line) => io.err(`tsvisor: ${line}\n`) });
}

/**
 * The image `run` boots when it is given none: the guest kernel with `cmdline` written into it
 * (kernel-build.ts), the pv build for pv and the native build for the other modes. A mode the
 * hypervisor does not implement gets an empty image instead of a build: run refuses the mode
 * before it looks at the image, with the same message as for an image file.
 */
async function kernelImage(mode: Mode, cmdline: string, io: Io): Promise<GuestImage> {
  if (!IMPLEMENTED_MODES.includes(mode)) return { target: 'native', abi: { major: ABI_MAJOR, minor: ABI_MINOR }, entry: 0, segments: [] };
  const built = await kernelBuild(mode === 'pv' ? 'pv' : 'native', io);
  return withCmdline(built.image, cmdline);
}

export const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'boot a guest image, or the guest kernel, and stream its console',
    usage:
      'tsvisor run [IMAGE] [--mode MODE] [--json] [--trace] [--max-instructions N] [--timeout SECONDS] [--memory MIB] [--disk FILE [--disk-readonly]] [--input TEXT] [--cmdline TEXT] [-- PROGRAM ARGS...]\n' +
      '\n' +
      'With no IMAGE, boots the guest kernel (guest-kernel/kernel/): the pv build for --mode pv, the native build for\n' +
      'native, trap and hw, compiled only when its sources changed ("building the kernel (native)..." on stderr) and\n' +
      'cached in $TSVISOR_CACHE_DIR (default node_modules/.cache/tsvisor; see tsvisor kernel build). Its command line\n' +
      'is empty (the shell), or PROGRAM ARGS... after --, joined by single spaces (run that program, shut down with its status).',
    options: {
      ...HELP,
      mode: { type: 'string', default: 'native' },
      json: { type: 'boolean' },
      trace: { type: 'boolean' },
      'max-instructions': { type: 'string' },
      timeout: { type: 'string' },
      memory: { type: 'string' },
      disk: { type: 'string' },
      'disk-readonly': { type: 'boolean' },
      input: { type: 'string' },
      cmdline: { type: 'string' },
    },
    help: {
      '--mode MODE': `native | trap | bt | hw | pv (default native; see README for what is built)`,
      '--json': 'print one JSON object (mode, exitCode, console, instructions, events, hostNs, ...) instead of streaming the console',
      '--trace': 'print each exception, interrupt and port access to stderr, with the instruction',
      '--max-instructions N': `stop a runaway guest after N instructions of virtual time (default ${DEFAULT_MAX_INSTRUCTIONS}; exit status ${EXIT_BUDGET})`,
      '--timeout SECONDS': `stop the run after this much host time (default ${DEFAULT_TIMEOUT_SECONDS}; exit status ${EXIT_TIMEOUT}); --json still prints the run so far`,
      '--memory MIB': `guest physical memory in MiB, 1 to ${MAX_MEMORY_MIB} in every mode (default 16)`,
      '--disk FILE': 'back the block device with FILE, a raw image used in place: the sectors the guest wrote are written into it on each guest FLUSH and when the run ends (never replaced or rewritten whole)',
      '--disk-readonly': "open the --disk FILE read-only: the guest's writes fail (needed for a file without write permission)",
      '--input TEXT': 'console input: what the UART hands the guest (native, trap, hw), or console_io read (pv); without it, input is read live from stdin when stdin is a terminal (raw mode; Ctrl-C stops the run), a pipe or a file, and a guest waiting for input waits until stdin ends',
      '--cmdline TEXT': `pv: the command line in the start-of-day page (at most ${SOD_CMDLINE_MAX - 1} bytes of UTF-8); not the kernel's, which follows --`,
      '-- PROGRAM ARGS...': `no IMAGE: the kernel's command line, at most 255 bytes of UTF-8 (an IMAGE starting with '-' is named ./-x.img)`,
    },
    async run(allPos, v, io, afterDash) {
      // Words after -- are the kernel's command line; before it, at most one IMAGE.
      const pos = afterDash === undefined ? allPos : allPos.slice(0, allPos.length - afterDash.length);
      if (pos.length > 1) throw new UsageError(`expected one image file, got ${pos.length}: ${pos.join(' ')}`);
      const path = pos[0];
      const kernelCmdline = (afterDash ?? []).join(' ');
      if (path !== undefined && kernelCmdline !== '') {
        throw new UsageError(`run: the words after -- are the kernel's command line (run without IMAGE); an image's is --cmdline (pv)`);
      }
      // Every flag is checked before anything is read or opened (flags.ts).
      const mode = oneOf(v.mode, '--mode', MODES, 'mode');
      const maxInstructions = positiveInt(v['max-instructions'], '--max-instructions', DEFAULT_MAX_INSTRUCTIONS);
      const timeoutMs = seconds(v.timeout, '--timeout', DEFAULT_TIMEOUT_SECONDS);
      const memory = memoryMiB(v.memory, 16);
      const cmdline = utf8Text(v.cmdline, '--cmdline', SOD_CMDLINE_MAX - 1);
      const diskPath = v.disk as string | undefined;
      if (v['disk-readonly'] === true && diskPath === undefined) throw new UsageError('--disk-readonly: needs --disk FILE');
      if (path === undefined) cmdlineBytes(kernelCmdline); // at most 255 bytes: one line, before any build
      const file = path === undefined ? undefined : loadImage(path);
      // Opened in place, as QEMU opens a raw image (disk-file.ts): refused now, with one line, if
      // it is not a regular file, too large, or not writable without --disk-readonly.
      let df: DiskFile | undefined;
      try {
        df = diskPath === undefined ? undefined : DiskFile.open(diskPath, { readOnly: v['disk-readonly'] === true });
      } catch (e) {
        throw e instanceof FileError ? new UsageError(e.message) : e;
      }
      const json = v.json === true;
      const live = liveConsole(io);
      let liveIn: ReturnType<typeof openLiveInput> | undefined;
      let r: RunResult;
      let diskError: string | undefined;
      try {
        // After the flags and the disk: a mistake in them is reported before seconds of compiling.
        const image = file ?? (await kernelImage(mode, kernelCmdline, io));
        // --input TEXT is all the input there is; only without it is stdin read, live.
        const stdin = typeof v.input === 'string' ? undefined : io.input?.();
        const li = stdin ? openLiveInput(stdin) : undefined;
        liveIn = li;
        r = await interruptible((signal) =>
          runImageLive(image, {
            mode,
            maxInstructions,
            timeoutMs,
            signal,
            between: () => live.stream.settle(),
            memoryBytes: memory * 1024 * 1024,
            // A guest's FLUSH is its request for durability: the sectors it wrote go into the file
            // then, and an fsync, as QEMU's raw driver; a file that cannot be written fails the
            // flush for the guest, not the run.
            ...(df ? { disk: df.bytes, onDiskWrite: (o: number, l: number) => df.noteWrite(o, l), diskReadOnly: df.readOnly, onFlush: () => df.flush() } : {}),
            ...(typeof v.input === 'string' ? { input: new TextEncoder().encode(v.input) } : {}),
            ...(li ? { liveInput: li.input } : {}),
            ...(cmdline !== undefined ? { cmdline } : {}),
            ...(json ? {} : { onConsoleOutput: live.stream.sink }),
            ...(v.trace ? { tracer: makeTracer(live.trace, { portName: portNamer(), image }), trace: live.trace } : {}),
          }),
        );
        // What the guest wrote since its last FLUSH. If it cannot be written the result is still
        // printed, then one line, and the exit code is 2: the file does not hold the guest's disk.
        try {
          df?.flush();
        } catch (e) {
          if (!(e instanceof FileError)) throw e;
          diskError = e.message;
        }
      } finally {
        df?.close();
        liveIn?.close();
      }
      const code = runCommandResult(r, json, io);
      if (diskError === undefined) return code;
      io.err(`tsvisor: ${diskError}\n`);
      return 2;
    },
  },
  asm: {
    summary: 'assemble a source file into a guest image',
    usage: 'tsvisor asm FILE.s -o OUT.img [--listing OUT.lst]',
    options: { ...HELP, output: { type: 'string', short: 'o' }, listing: { type: 'string' } },
    help: { '-o, --output OUT.img': 'image to write (required)', '--listing OUT.lst': 'also write a listing: address, word, source line' },
    run(pos, v) {
      const src = one(pos, 'source file');
      if (typeof v.output !== 'string') throw new UsageError('asm: missing -o OUT.img');
      const { image, listing } = assembleFile(src);
      // One transaction: a listing that cannot be written leaves no new image behind either.
      writeOutput(
        { path: v.output, data: encodeImage(image), what: 'image' },
        ...(typeof v.listing === 'string' ? [{ path: v.listing, data: new TextEncoder().encode(listing), what: 'listing' }] : []),
      );
      return 0;
    },
  },
  disasm: {
    summary: 'disassemble a guest image (with source lines when it has a listing)',
    usage: 'tsvisor disasm IMAGE',
    options: { ...HELP },
    help: {},
    run(pos, _v, io) {
      io.out(disassembleImage(loadImage(one(pos, 'image file'))));
      return 0;
    },
  },
  compile: {
    summary: 'compile a guest written in the TypeScript subset into an image',
    usage: 'tsvisor compile ENTRY.ts --target native|pv|user -o OUT.img [--listing OUT.lst] [--unchecked]',
    options: { ...HELP, target: { type: 'string', default: 'native' }, output: { type: 'string', short: 'o' }, listing: { type: 'string' }, unchecked: { type: 'boolean' } },
    help: {
      '--target native|pv|user': 'what the image is for (default native): a native or pv guest (start-up, console and shutdown differ), or a user program of the guest kernel (loaded at USER_BASE, system calls)',
      '-o, --output OUT.img': 'image to write (required)',
      '--listing OUT.lst': 'also write a listing: address, encoding, disassembly and source line',
      '--unchecked': 'no run-time checks of integer overflow, array bounds or inexact division (for comparison in benchmarks): such a program wraps and reads or writes outside its arrays silently; division by zero still traps',
    },
    async run(pos, v, io) {
      const entry = one(pos, 'entry file');
      const target = oneOf(v.target, '--target', ['native', 'pv', 'user'] as const, 'target');
      if (typeof v.output !== 'string') throw new UsageError('compile: missing -o OUT.img');
      // The compiler host reads files itself and would wait forever on a FIFO: the entry must be
      // a regular file under the size limit, like every other input.
      readInput(entry, 'entry file');
      // The compiler brings the TypeScript compiler API with it (seconds to load on these
      // machines): only `compile` pays for it, not every `run`.
      const { compile } = await import('../guest-kernel/compiler/compile.ts');
      const { formatDiagnostic } = await import('../guest-kernel/compiler/diagnostics.ts');
      const unchecked = flagSet(v.unchecked, '--unchecked');
      const result = compile(entry, { target, rootDir: process.cwd(), ...(unchecked ? { unchecked } : {}) });
      if (!result.ok) {
        // One line per diagnostic (file:line:col: error CODE: message), then the verdict.
        for (const d of result.diagnostics) io.err(formatDiagnostic(d) + '\n');
        const n = result.diagnostics.length;
        io.err(`tsvisor: compile: ${n} error${n === 1 ? '' : 's'}, no image written\n`);
        return 2;
      }
      // Image and listing as one transaction; the error names the user's path (fs-util.ts).
      writeOutput(
        { path: v.output, data: encodeImage(result.image), what: 'image' },
        ...(typeof v.listing === 'string' ? [{ path: v.listing, data: new TextEncoder().encode(result.listing), what: 'listing' }] : []),
      );
      const st = result.stats;
      const checks = unchecked ? 'no run-time checks (--unchecked)' : `${st.checks} run-time checks (${st.checksInLoops} in loops)`;
      io.out(`${v.output}: ${target} image, ${st.functions} functions, ${st.codeBytes} bytes of code, ${st.dataBytes} bytes of data, ${checks}\n`);
      return 0;
    },
  },
  kernel: {
    summary: 'build the guest kernel (and its user programs) into the cache',
    usage:
      'tsvisor kernel build [--target native|pv|all]\n' +
      '\n' +
      'Compiles the user programs of guest-kernel/kernel/user/ (target user) and the kernel with them embedded, unless\n' +
      'the cache holds the image already: one file per build, keyed by a hash of guest-kernel/{compiler,lib,kernel}/ and\n' +
      'abi/, in $TSVISOR_CACHE_DIR (default node_modules/.cache/tsvisor). Prints each image\'s path and sizes.',
    options: { ...HELP, target: { type: 'string', default: 'all' } },
    help: {
      '--target native|pv|all': 'the build(s) to make (default all): native boots in modes native, trap and hw; pv in mode pv',
    },
    async run(pos, v, io) {
      if (pos.length !== 1 || pos[0] !== 'build') {
        throw new UsageError(pos.length === 0 ? 'kernel: missing subcommand (tsvisor kernel build)' : `kernel: unknown subcommand '${pos.join(' ')}' (expected: build)`);
      }
      const which = oneOf(v.target, '--target', ['native', 'pv', 'all'] as const, 'target');
      for (const target of which === 'all' ? KERNEL_TARGETS : [which]) {
        const b = await kernelBuild(target, io);
        const segs = b.image.segments.map((s) => `${segmentFlagsString(s.flags)} ${s.data.length}${s.memSize > s.data.length ? `+${s.memSize - s.data.length}` : ''}`);
        const file = encodeImage(b.image).length;
        const how = b.cached ? 'cached' : `built in ${(b.ms / 1000).toFixed(1)} s`;
        io.out(`${target}: ${b.path}\n  ${file} bytes (${how}); segments ${segs.join(', ')} bytes (+ zero-filled)\n`);
        if (b.programs) io.out(`  programs: ${b.programs.length === 0 ? 'none' : b.programs.map((p) => `${p.name} ${p.bytes}`).join(', ')}${b.programs.length ? ' bytes' : ''}\n`);
      }
      return 0;
    },
  },
  demo: {
    summary: 'assemble and boot the built-in demo guest, then say what it did',
    usage: 'tsvisor demo [--json]',
    options: { ...HELP, json: { type: 'boolean' } },
    help: { '--json': 'print the run as JSON' },
    async run(pos, v, io) {
      if (pos.length > 0) throw new UsageError(`demo: takes no arguments, got: ${pos.join(' ')}`);
      const r0 = assemble(DEMO_SOURCE, { fileName: 'demo.s' });
      if (!r0.ok) throw new Error(`demo guest does not assemble: ${formatAsmError(r0.errors[0]!)}`);
      const disk = new Uint8Array(64 * 1024);
      disk.set(new TextEncoder().encode('sector 1 says hi\n'), 512);
      const json = v.json === true;
      io.out(json ? '' : chalk.bold('tsvisor demo: booting a native guest (UART, block device, timer, power port)\n'));
      const live = liveConsole(io);
      const r = await interruptible((signal) =>
        runImageLive(r0.image, { mode: 'native', disk, signal, between: () => live.stream.settle(), ...(json ? {} : { onConsoleOutput: live.stream.sink }) }),
      );
      if (json) io.out(JSON.stringify(r) + '\n');
      else {
        io.out(chalk.bold(`\nguest shut down with code ${r.exitCode} after ${r.instructions} instructions (${r.idleInstructions} idle)\n`));
        io.out(`events: ${Object.entries(r.events).map(([k, n]) => `${k} ${n}`).join(', ')}; disk sectors read: ${r.disk.sectorsRead}\n`);
      }
      return r.stop === 'shutdown' ? 0 : EXIT_FOR_STOP[r.stop];
    },
  },
};

/** Register a command from elsewhere (the compiler's `compile`), keeping one table. */
export function registerCommand(name: string, cmd: Command): void {
  COMMANDS[name] = cmd;
}

function usage(): string {
  const lines = ['usage: tsvisor COMMAND [options]   (tsvisor COMMAND --help for its flags)', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  lines.push('', `  ${'--version'.padEnd(9)} print the version and the hypercall ABI it serves`);
  return lines.join('\n') + '\n';
}

function commandHelp(name: string, c: Command): string {
  const lines = [`usage: ${c.usage}`, '', c.summary, '', 'options:'];
  for (const [flag, text] of Object.entries(c.help)) lines.push(`  ${flag.padEnd(24)} ${text}`);
  lines.push(`  ${'-h, --help'.padEnd(24)} show this help`);
  return lines.join('\n') + '\n';
}

/** The process's own streams; the console goes to stdout as bytes, with backpressure. */
const PROCESS_IO: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), console: streamOut(process.stdout), input: stdinForInput };

/** `tsvisor --version`: the tool's version and the hypercall ABI it serves. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `tsvisor ${pkg.version} (hypercall ABI ${ABI_MAJOR}.${ABI_MINOR})\n`;
}

export async function main(argv: string[], io: Io = PROCESS_IO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage error: the usage goes to stderr, as the other errors do.
    io.err(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(version());
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`tsvisor: unknown command '${name}' (try: ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  try {
    let parsed;
    // The first `--` ends the flags (a flag cannot take it as its value: parseArgs refuses that);
    // what follows is handed over word for word.
    const dash = rest.indexOf('--');
    const afterDash = dash < 0 ? undefined : rest.slice(dash + 1);
    try {
      const args = joinNegativeValues(dash < 0 ? rest : rest.slice(0, dash), (flag) => cmd.options[flag]?.type === 'string');
      parsed = parseArgs({ args, options: cmd.options, allowPositionals: true, strict: true });
    } catch (e) {
      // parseArgs explains how to pass a positional that starts with '-'; the first sentence is the error.
      const first = (e as Error).message.split('\n')[0]!.replace(/\.( .*)?$/, '');
      throw new UsageError(`${name}: ${first} (tsvisor ${name} --help lists the flags)`);
    }
    if (parsed.values.help) {
      io.out(commandHelp(name, cmd));
      return 0;
    }
    const positionals = afterDash === undefined ? parsed.positionals : [...parsed.positionals, ...afterDash];
    return await cmd.run(positionals, parsed.values as Record<string, string | boolean | undefined>, io, afterDash);
  } catch (e) {
    if (e instanceof UsageError || e instanceof FlagError) {
      io.err(`tsvisor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof KernelBuildError) {
      // The compiler's diagnostics, one line each (file:line:col: error CODE: message), then the verdict.
      for (const line of e.lines) io.err(line + '\n');
      io.err(`tsvisor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
