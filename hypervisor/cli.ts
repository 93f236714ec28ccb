/**
 * The `tsvisor` command. Every failure a user can cause (a missing file, a bad flag, a broken
 * image, an assembler error, an output path that cannot be written) ends in one line on stderr
 * and exit code 2, never a stack trace.
 * Output files are written whole or not at all (temp file, then rename).
 *
 * Exit codes of `run`: the low 8 bits of the guest's shutdown code; 124 when --max-instructions
 * stopped it (as timeout(1)); 125 when the guest died without shutting down (triple fault, HLT
 * with nothing to wake it); 2 for bad input or an image the host refuses to boot.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import chalk from 'chalk';
import { decodeImage, encodeImage, formatImageError, type GuestImage } from '../abi/image.ts';
import { disassembleImage } from '../abi/listing.ts';
import { assemble, formatAsmError, formatListing } from '../guest-kernel/compiler/assembler.ts';
import { writeFileAtomic } from './fs-util.ts';
import { makeTracer } from './machine/trace.ts';
import { DEFAULT_MAX_INSTRUCTIONS, MODES, runImage, type Mode, type RunResult } from './run.ts';
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
  run(positionals: string[], values: Record<string, string | boolean | undefined>, io: Io): number | Promise<number>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UsageError(`cannot read ${what} '${path}': ${why}`);
  }
}

/** Write an output file whole (fs-util.ts); a path the user gave that cannot be written is bad input. */
function writeOutput(path: string, data: Uint8Array, what: string): void {
  try {
    writeFileAtomic(path, data);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such directory' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on device' : (e as Error).message.split('\n')[0];
    throw new UsageError(`cannot write ${what} '${path}': ${why}`);
  }
}

function loadImage(path: string): GuestImage {
  const r = decodeImage(readInput(path, 'image'));
  if (!r.ok) throw new UsageError(`${path}: ${formatImageError(r.error)}`);
  return r.image;
}

function positiveInt(value: string | boolean | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${flag}: expected a positive whole number, got '${String(value)}'`);
  }
  return n;
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

function runCommandResult(r: RunResult, json: boolean, io: Io): number {
  if (json) io.out(JSON.stringify(r) + '\n');
  if (r.stop === 'shutdown') return r.exitCode! & 0xff;
  if (!json) io.err(`tsvisor: ${r.message ?? r.stop}\n`);
  if (r.stop === 'refused') return 2;
  return r.stop === 'limit' ? 124 : 125;
}

export const COMMANDS: Record<string, Command> = {
  run: {
    summary: 'boot a guest image and stream its console',
    usage: 'tsvisor run IMAGE [--mode MODE] [--json] [--trace] [--max-instructions N] [--memory MIB] [--disk FILE] [--input TEXT] [--cmdline TEXT]',
    options: {
      ...HELP,
      mode: { type: 'string', default: 'native' },
      json: { type: 'boolean' },
      trace: { type: 'boolean' },
      'max-instructions': { type: 'string' },
      memory: { type: 'string' },
      disk: { type: 'string' },
      input: { type: 'string' },
      cmdline: { type: 'string' },
    },
    help: {
      '--mode MODE': `native | trap | bt | hw | pv (default native; see README for what is built)`,
      '--json': 'print one JSON object (mode, exitCode, console, instructions, events, hostNs, ...) instead of streaming the console',
      '--trace': 'print each exception, interrupt and port access to stderr, with the instruction',
      '--max-instructions N': `stop a runaway guest after N instructions of virtual time (default ${DEFAULT_MAX_INSTRUCTIONS})`,
      '--memory MIB': 'guest physical memory in MiB (default 16)',
      '--disk FILE': 'back the block device with FILE; saved whole (temporary file, then rename) on each guest FLUSH and when the run ends, if written',
      '--input TEXT': 'console input: what the UART hands the guest (native, trap, hw), or console_io read (pv)',
      '--cmdline TEXT': 'pv: the command line in the start-of-day page (at most 255 bytes)',
    },
    run(pos, v, io) {
      const path = one(pos, 'image file');
      const mode = v.mode as string;
      if (!(MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode: unknown mode '${mode}' (expected one of: ${MODES.join(', ')})`);
      const maxInstructions = positiveInt(v['max-instructions'], '--max-instructions', DEFAULT_MAX_INSTRUCTIONS);
      const memoryMiB = positiveInt(v.memory, '--memory', 16);
      if (memoryMiB > 1024) throw new UsageError(`--memory: at most 1024 MiB, got ${memoryMiB}`);
      const image = loadImage(path);
      const diskPath = v.disk as string | undefined;
      const disk = diskPath === undefined ? undefined : readInput(diskPath, 'disk image');
      const json = v.json === true;
      const r = runImage(image, {
        mode: mode as Mode,
        maxInstructions,
        memoryBytes: memoryMiB * 1024 * 1024,
        // A guest's FLUSH is its request for durability: the file is rewritten whole then (a temporary
        // file, then rename), as QEMU syncs a raw image; a file that cannot be written fails the
        // flush for the guest, not the run.
        ...(disk && diskPath ? { disk, onFlush: (d: Uint8Array) => writeOutput(diskPath, d, 'disk image') } : {}),
        ...(typeof v.input === 'string' ? { input: new TextEncoder().encode(v.input) } : {}),
        ...(typeof v.cmdline === 'string' ? { cmdline: v.cmdline } : {}),
        ...(json ? {} : { onConsoleByte: consoleStreamer(io) }),
        ...(v.trace ? { tracer: makeTracer((l) => io.err(l + '\n'), { portName: portNamer(), image }), trace: (l: string) => io.err(l + '\n') } : {}),
      });
      if (disk && diskPath && r.disk.sectorsWritten > 0) writeOutput(diskPath, disk, 'disk image');
      return runCommandResult(r, json, io);
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
      writeOutput(v.output, encodeImage(image), 'image');
      if (typeof v.listing === 'string') writeOutput(v.listing, new TextEncoder().encode(listing), 'listing');
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
    usage: 'tsvisor compile ENTRY.ts --target native|pv -o OUT.img [--listing OUT.lst]',
    options: { ...HELP, target: { type: 'string', default: 'native' }, output: { type: 'string', short: 'o' }, listing: { type: 'string' } },
    help: {
      '--target native|pv': 'the platform the image is for (default native): start-up, console and shutdown differ',
      '-o, --output OUT.img': 'image to write (required)',
      '--listing OUT.lst': 'also write a listing: address, encoding, disassembly and source line',
    },
    async run(pos, v, io) {
      const entry = one(pos, 'entry file');
      const target = v.target as string;
      if (target !== 'native' && target !== 'pv') throw new UsageError(`--target: unknown target '${target}' (expected native or pv)`);
      if (typeof v.output !== 'string') throw new UsageError('compile: missing -o OUT.img');
      // The compiler brings the TypeScript compiler API with it (seconds to load on these
      // machines): only `compile` pays for it, not every `run`.
      const { compile } = await import('../guest-kernel/compiler/compile.ts');
      const { formatDiagnostic } = await import('../guest-kernel/compiler/diagnostics.ts');
      const result = compile(entry, { target, rootDir: process.cwd() });
      if (!result.ok) {
        // One line per diagnostic (file:line:col: error CODE: message), then the verdict.
        for (const d of result.diagnostics) io.err(formatDiagnostic(d) + '\n');
        const n = result.diagnostics.length;
        io.err(`tsvisor: compile: ${n} error${n === 1 ? '' : 's'}, no image written\n`);
        return 2;
      }
      try {
        writeFileAtomic(v.output, encodeImage(result.image));
        if (typeof v.listing === 'string') writeFileAtomic(v.listing, new TextEncoder().encode(result.listing));
      } catch (e) {
        io.err(`tsvisor: compile: cannot write output: ${(e as Error).message.split('\n')[0]}\n`);
        return 2;
      }
      const st = result.stats;
      io.out(`${v.output}: ${target} image, ${st.functions} functions, ${st.codeBytes} bytes of code, ${st.dataBytes} bytes of data\n`);
      return 0;
    },
  },
  demo: {
    summary: 'assemble and boot the built-in demo guest, then say what it did',
    usage: 'tsvisor demo [--json]',
    options: { ...HELP, json: { type: 'boolean' } },
    help: { '--json': 'print the run as JSON' },
    run(_pos, v, io) {
      const r0 = assemble(DEMO_SOURCE, { fileName: 'demo.s' });
      if (!r0.ok) throw new Error(`demo guest does not assemble: ${formatAsmError(r0.errors[0]!)}`);
      const disk = new Uint8Array(64 * 1024);
      disk.set(new TextEncoder().encode('sector 1 says hi\n'), 512);
      const json = v.json === true;
      io.out(json ? '' : chalk.bold('tsvisor demo: booting a native guest (UART, block device, timer, power port)\n'));
      const r = runImage(r0.image, { mode: 'native', disk, ...(json ? {} : { onConsoleByte: consoleStreamer(io) }) });
      if (json) io.out(JSON.stringify(r) + '\n');
      else {
        io.out(chalk.bold(`\nguest shut down with code ${r.exitCode} after ${r.instructions} instructions (${r.idleInstructions} idle)\n`));
        io.out(`events: ${Object.entries(r.events).map(([k, n]) => `${k} ${n}`).join(', ')}; disk sectors read: ${r.disk.sectorsRead}\n`);
      }
      return r.stop === 'shutdown' ? 0 : 125;
    },
  },
};

function consoleStreamer(io: Io): (byte: number) => void {
  // Bytes arrive one at a time; a TextDecoder in stream mode keeps UTF-8 sequences whole.
  const dec = new TextDecoder();
  return (b) => {
    const s = dec.decode(Uint8Array.of(b), { stream: true });
    if (s) io.out(s);
  };
}

/** Register a command from elsewhere (the compiler's `compile`), keeping one table. */
export function registerCommand(name: string, cmd: Command): void {
  COMMANDS[name] = cmd;
}

function usage(): string {
  const lines = ['usage: tsvisor COMMAND [options]   (tsvisor COMMAND --help for its flags)', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

function commandHelp(name: string, c: Command): string {
  const lines = [`usage: ${c.usage}`, '', c.summary, '', 'options:'];
  for (const [flag, text] of Object.entries(c.help)) lines.push(`  ${flag.padEnd(24)} ${text}`);
  lines.push(`  ${'-h, --help'.padEnd(24)} show this help`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[], io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
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
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`tsvisor: unknown command '${name}' (try: ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
    } catch (e) {
      // parseArgs explains how to pass a positional that starts with '-'; the first sentence is the error.
      const first = (e as Error).message.split('\n')[0]!.replace(/\.( .*)?$/, '');
      throw new UsageError(`${name}: ${first} (tsvisor ${name} --help lists the flags)`);
    }
    if (parsed.values.help) {
      io.out(commandHelp(name, cmd));
      return 0;
    }
    return await cmd.run(parsed.positionals, parsed.values as Record<string, string | boolean | undefined>, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`tsvisor: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
