import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import chalk from 'chalk';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../hypervisor/cli.ts';
import { EXIT_BUDGET } from '../../hypervisor/limits.ts';
import { cli } from './cli-harness.ts';

const BIN = new URL('../../hypervisor/bin/tsvisor.mjs', import.meta.url).pathname;
const DEMO = new URL('../../guest-kernel/programs/asm/demo.s', import.meta.url).pathname;

/** A clear one-line error: exit 2, one line on stderr, no stack trace. */
function expectOneLineError(r: { code: number; err: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /);
}

let dir: string;
let image: string;
/** A disk for the demo guest: its sector 1 holds a line of text. */
let disk: string;
const diskBytes = new Uint8Array(4 * 512);
diskBytes.set(new TextEncoder().encode('words from sector one\n'), 512);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvisor-cli-'));
  image = join(dir, 'demo.img');
  expect((await cli('asm', DEMO, '-o', image)).code).toBe(0);
  disk = join(dir, 'demo-disk.bin');
  writeFileSync(disk, diskBytes);
});

describe('tsvisor run', () => {
  it('streams the console and exits with the low 8 bits of the shutdown code', async () => {
    const r = await cli('run', image, '--mode', 'native');
    expect(r.out).toContain('hello from a native tsvisor guest');
    expect(r.code).toBe(42);
  });

  it('--json prints one object with mode, exitCode, console, instructions, events and hostNs', async () => {
    const r = await cli('run', image, '--json');
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ mode: 'native', exitCode: 42, events: { irq0: 5 } });
    expect(j.console).toContain('hello');
    expect(typeof j.instructions).toBe('number');
    expect(typeof j.hostNs).toBe('number');
  });

  it('prints hello, reads a sector, takes timer interrupts and shuts down with a code; two runs give identical JSON except host time', async () => {
    const runs = [await cli('run', image, '--json', '--disk', disk), await cli('run', image, '--json', '--disk', disk)];
    const [a, b] = runs.map((r) => JSON.parse(r.out));
    expect(runs.map((r) => r.code)).toEqual([42, 42]);
    expect(a).toMatchObject({ stop: 'shutdown', exitCode: 42, events: { irq0: 5 }, disk: { sectorsRead: 1, sectorsWritten: 0, errors: 0 } });
    expect(a.console).toMatch(/^hello from a native tsvisor guest\nsector 1 of the disk: words from sector one\n/);
    expect(a.hostNs).toBeGreaterThan(0);
    expect({ ...a, hostNs: 0 }).toEqual({ ...b, hostNs: 0 });
    expect(readFileSync(disk)).toEqual(Buffer.from(diskBytes)); // read only: the file is not rewritten
  });

  it('says so when there is no disk to read, instead of printing what an empty bus returns', async () => {
    const r = await cli('run', image);
    expect(r.out).toContain('no disk to read (run it with --disk FILE)');
    expect(r.out).not.toContain('\ufffd');
    expect(r.code).toBe(42);
  });

  it('exits with the low 8 bits of a 32-bit shutdown code; --json has all 32 bits', async () => {
    const src = join(dir, 'power.s');
    writeFileSync(src, 'li32 r1, 0xdeadbeef\nout 0xf4, r1\n');
    expect((await cli('asm', src, '-o', join(dir, 'power.img'))).code).toBe(0);
    expect((await cli('run', join(dir, 'power.img'))).code).toBe(0xef);
    const j = await cli('run', join(dir, 'power.img'), '--json');
    expect([j.code, JSON.parse(j.out).exitCode]).toEqual([0xef, 0xdeadbeef]);
  });

  it('--trace prints interrupts and port accesses with the disassembled instruction', async () => {
    const r = await cli('run', image, '--trace', '--disk', disk);
    expect(r.err).toMatch(/irq0/);
    expect(r.err).toMatch(/out .*0x3f8 \(uart\).*out 0x3f8, r2/);
    expect(r.err).toMatch(/in .*0x1f0 \(block\)/);
  });

  it('streams the console as the guest writes it: a guest stopped midway has printed its first bytes', async () => {
    const r = await cli('run', image, '--max-instructions', '60');
    expect(r.code).toBe(EXIT_BUDGET);
    expect(r.out.length).toBeGreaterThan(0);
    expect('hello from a native tsvisor guest\n'.startsWith(r.out)).toBe(true);
    expect(r.out.length).toBeLessThan('hello from a native tsvisor guest\n'.length);
  });

  it('--trace colours its lines when the terminal takes colour', async () => {
    const level = chalk.level;
    chalk.level = 1;
    try {
      const r = await cli('run', image, '--trace', '--max-instructions', '200');
      // \x1b[33m yellow is an interrupt, cyan a port access; the address and time are dim.
      expect(r.err).toMatch(/\x1b\[36mout \x1b\[39m/);
      expect(r.err).toMatch(/\x1b\[2m@0x/);
    } finally {
      chalk.level = level;
    }
  });

  it('--max-instructions stops a runaway guest with a clear message and its own exit status (not timeout(1)\'s 124)', async () => {
    const loop = join(dir, 'loop.s');
    writeFileSync(loop, 'spin: jmp spin\n');
    expect((await cli('asm', loop, '-o', join(dir, 'loop.img'))).code).toBe(0);
    const r = await cli('run', join(dir, 'loop.img'), '--max-instructions', '1000');
    expect(r.code).toBe(EXIT_BUDGET);
    expect(EXIT_BUDGET).not.toBe(124);
    expect(r.err).toMatch(/stopped after 1000 instructions/);
  });

  it('--disk saves the guest writes to the file', async () => {
    const src = join(dir, 'w.s');
    writeFileSync(src, 'li r1, 1\nout 0x1f3, r1\nout 0x1f2, r1\nli r1, 0x30\nout 0x1f7, r1\nli r2, 0x41424344\nli r3, 128\nl: out 0x1f0, r2\naddi r3, r3, -1\nli r4, 0\nbne r3, r4, l\nout 0xf4, r4\n');
    expect((await cli('asm', src, '-o', join(dir, 'w.img'))).code).toBe(0);
    const disk = join(dir, 'disk.bin');
    writeFileSync(disk, new Uint8Array(2048));
    expect((await cli('run', join(dir, 'w.img'), '--disk', disk)).code).toBe(0);
    const bytes = readFileSync(disk);
    expect(bytes.length).toBe(2048);
    expect(bytes.readUInt32LE(512)).toBe(0x41424344);
    expect(bytes.readUInt32LE(1020)).toBe(0x41424344);
    expect(bytes.readUInt32LE(1024)).toBe(0);
  });
});

describe('tsvisor run --mode pv', () => {
  const PV_TIMER = new URL('../../guest-kernel/programs/asm/pv-timer.s', import.meta.url).pathname;

  it('--json adds hypercalls by name, errors by code and event-channel counts', async () => {
    const img = join(dir, 'pv-timer.img');
    expect((await cli('asm', PV_TIMER, '-o', img)).code).toBe(0);
    const r = await cli('run', img, '--mode', 'pv', '--json');
    expect(r.code).toBe(3);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ mode: 'pv', exitCode: 3, hypercalls: { set_timer_op: 4, iret: 3 }, hypercallErrors: {}, eventChannels: { upcalls: 3 } });
  });

  it('--trace shows each hypercall with its decoded arguments and result, and each bounce', async () => {
    const img = join(dir, 'pv-timer.img');
    expect((await cli('asm', PV_TIMER, '-o', img)).code).toBe(0);
    const r = await cli('run', img, '--mode', 'pv', '--trace');
    expect(r.err).toMatch(/hc +d0 set_timer_op\(lo=0x3e8, hi=0x0\) -> 0/);
    expect(r.err).toMatch(/hc +d0 evtchn_bind_virq\(virq=0x0\) -> 2/);
    expect(r.err).toMatch(/bnc +d0 upcall -> 0x/);
  });

  it('--cmdline reaches the start-of-day page', async () => {
    const src = join(dir, 'cmdline.s');
    // Print the command line from the start-of-day page (0x400000 + 64), 5 bytes.
    writeFileSync(src, '.target pv\nstart: li r0, 18\nli r1, 0\nli32 r2, 0x400040\nli r3, 5\nhypercall\nli r0, 29\nli r1, 2\nli r2, 0\nhypercall\n');
    expect((await cli('asm', src, '-o', join(dir, 'cmdline.img'))).code).toBe(0);
    const r = await cli('run', join(dir, 'cmdline.img'), '--mode', 'pv', '--cmdline', 'quiet root=/dev/vda');
    expect(r.out).toBe('quiet');
  });

  it('refuses a native image in pv mode with one line', async () => {
    expectOneLineError(await cli('run', image, '--mode', 'pv'), /built for target 'native', mode 'pv' needs a 'pv' image/);
  });
});

describe('compiled guests', () => {
  const HELLO = new URL('../../guest-kernel/programs/hello.ts', import.meta.url).pathname;

  it('compile, then run in native and pv: the same console and exit code', async () => {
    const nat = join(dir, 'hello-native.img');
    const pv = join(dir, 'hello-pv.img');
    expect((await cli('compile', HELLO, '--target', 'native', '-o', nat)).code).toBe(0);
    expect((await cli('compile', HELLO, '--target', 'pv', '-o', pv)).code).toBe(0);
    const a = JSON.parse((await cli('run', nat, '--json')).out);
    const b = JSON.parse((await cli('run', pv, '--mode', 'pv', '--json')).out);
    expect(a.console.length).toBeGreaterThan(0);
    expect([b.console, b.exitCode]).toEqual([a.console, a.exitCode]);
  });

  it('disasm and --trace show the source line beside each instruction', async () => {
    const img = join(dir, 'hello-native.img');
    expect((await cli('compile', HELLO, '--target', 'native', '-o', img)).code).toBe(0);
    expect((await cli('disasm', img)).out).toMatch(/guest-kernel\/programs\/hello\.ts:\d+/);
    expect((await cli('run', img, '--trace')).err).toMatch(/out .*0x3f8 \(uart\).*; guest-kernel\/(programs\/hello|lib\/console)\.ts:\d+/);
  });
});

describe('bad input gets one clear line and exit code 2', () => {
  it('a missing file', async () => expectOneLineError(await cli('run', join(dir, 'nope.img')), /cannot read image '.*nope\.img': no such file/));

  it('a truncated image', async () => {
    const cut = join(dir, 'cut.img');
    writeFileSync(cut, readFileSync(image).subarray(0, 20));
    expectOneLineError(await cli('run', cut), /cut\.img: .*truncated/);
  });

  it('an image cut anywhere after the header, naming the field that runs past the end', async () => {
    const whole = readFileSync(image);
    const cut = join(dir, 'cut2.img');
    for (const n of [40, 100, whole.length - 1]) {
      writeFileSync(cut, whole.subarray(0, n));
      expectOneLineError(await cli('run', cut), /cut2\.img: (header\.segmentCount|segment\[0\]\.fileOffset|header\.symbolsOffset): .*past the end of the file/);
    }
  });

  it('a directory where an image should be', async () => expectOneLineError(await cli('run', dir), /cannot read image '.*': is a directory/));

  it('an output file that cannot be written', async () => {
    expectOneLineError(await cli('asm', DEMO, '-o', join(dir, 'no-such-dir', 'x.img')), /cannot write image '.*x\.img': no such directory/);
    expectOneLineError(await cli('asm', DEMO, '-o', dir), /cannot write image '.*': is a directory/);
  });

  it('a missing output flag, a missing or an extra positional', async () => {
    expectOneLineError(await cli('asm', DEMO), /asm: missing -o OUT\.img/);
    // `run` with no image boots the guest kernel (test/e2e/kernel-build.test.ts); an image with a
    // kernel command line after `--` is refused, since only the kernel reads one.
    expectOneLineError(await cli('run', image, '--', 'hello'), /run: the words after -- are the kernel's command line \(run without IMAGE\)/);
    expectOneLineError(await cli('run', image, image), /expected one image file, got 2/);
  });

  it('a flag without its value, or a value for a flag that takes none', async () => {
    expectOneLineError(await cli('run', image, '--mode'), /run: Option '--mode <value>' argument missing/);
    expectOneLineError(await cli('run', image, '--json=yes'), /run: Option '--json' does not take an argument/);
  });

  it('a file that is not an image', async () => {
    const foreign = join(dir, 'foreign.img');
    writeFileSync(foreign, 'this is a text file, not a guest image\n');
    expectOneLineError(await cli('run', foreign), /foreign\.img: .*magic/);
  });

  it('an unknown mode', async () => expectOneLineError(await cli('run', image, '--mode', 'warp'), /--mode: unknown mode 'warp'/));

  it('an unknown flag', async () => expectOneLineError(await cli('run', image, '--fast'), /^tsvisor: run: Unknown option '--fast' \(tsvisor run --help lists the flags\)$/m));

  it('a bad number', async () => {
    for (const bad of ['lots', 'abc', '0', '1e3', '1.5', '0x10', '99999999999999999999']) {
      expectOneLineError(await cli('run', image, '--max-instructions', bad), new RegExp(`--max-instructions: expected a positive whole number, got '${bad}'`));
    }
    expectOneLineError(await cli('run', image, '--max-instructions=-5'), /--max-instructions: expected a positive whole number, got '-5'/);
    // A separate `-5` is the flag's value too (parseArgs alone would call it ambiguous).
    expectOneLineError(await cli('run', image, '--max-instructions', '-5'), /^tsvisor: --max-instructions: expected a positive whole number, got '-5'\n$/);
    expectOneLineError(await cli('run', image, '--memory', '2048'), /--memory: at most 1024 MiB in every mode, got 2048/);
  });

  it('an assembler syntax error, with line and column', async () => {
    const bad = join(dir, 'bad.s');
    writeFileSync(bad, 'start:\n  li r1, 1\n  add r1, r2, r99\n');
    expectOneLineError(await cli('asm', bad, '-o', join(dir, 'bad.img')), /bad\.s:3:15: .*r99/);
  });

  it('an unknown command', async () => expectOneLineError(await cli('frobnicate'), /unknown command 'frobnicate'/));

  it('no command at all: the usage, on stderr', async () => {
    const r = await cli();
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err).toMatch(/^usage: tsvisor COMMAND/);
  });
});

describe('help', () => {
  it('lists every command, and every flag of each command', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    const names = Object.keys(COMMANDS);
    expect(names).toEqual(expect.arrayContaining(['run', 'asm', 'disasm', 'compile', 'demo']));
    for (const name of names) {
      expect(top.out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      const help = await cli(name, '--help');
      expect(help.code, name).toBe(0);
      // Every flag parseArgs accepts for the command, as the help spells it.
      for (const [flag, o] of Object.entries(COMMANDS[name]!.options)) {
        expect(help.out, `${name} --${flag}`).toMatch(new RegExp(`^  ${o.short ? `-${o.short}, ` : ''}--${flag}\\b`, 'm'));
      }
    }
  });
});

describe('the installed executable', () => {
  // A child process loads TypeScript through tsx: seconds on a busy machine, hence the limit.
  it('runs through the bin launcher and reports errors without a stack trace', { timeout: 120_000 }, () => {
    const ok = spawnSync(process.execPath, [BIN, 'run', image, '--json'], { encoding: 'utf8' });
    expect(ok.status).toBe(42);
    expect(JSON.parse(ok.stdout).exitCode).toBe(42);
    const bad = spawnSync(process.execPath, [BIN, 'run', image, '--mode', 'warp'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('stops quietly with its status when the reader of its output goes away (| head)', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [BIN, 'run', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // closed before the guest's first byte: every write meets EPIPE
    let err = '';
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    expect(err).toBe('');
    expect(status).toBe(42);
  });

  it('disassembles an image with its labels', async () => {
    const r = await cli('disasm', image);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/puts:/);
    expect(r.out).toMatch(/out 0x3f8, r2/);
  });
});
