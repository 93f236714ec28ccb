/**
 * Target 5: random command lines. `main(argv, io)` of hypervisor/cli.ts, called in-process with
 * a capturing io, on argv drawn from the real commands and flags (read from COMMANDS, so flags
 * added later are fuzzed too), bogus ones, and odd values (negative and huge numbers, empty
 * strings, unicode, a directory, a missing file, /dev/null), inside a temporary directory with a
 * few valid files (sources, images, a disk) and some that are not.
 *
 * Each case asserts: no exception escapes `main`, whose promise resolves to an exit status (0,
 * 2, or for `run`/`demo` a run status 0..255); status 2 comes with a message; stderr is a few
 * lines (unless --trace asked for a trace) and never a stack trace; stdout stays bounded; every
 * file in the directory that was not named as an output is byte-identical and of the same type
 * afterwards, and no temporary file is left behind; host memory stays bounded.
 *
 * Safety of the fuzzer itself (not a weakening of the check): an output path that would leave
 * the temporary directory (a relative path resolves against the repository) is moved into it,
 * the instruction budget is capped so a looping guest ends in milliseconds, and --memory is
 * capped to keep allocations small on a shared machine.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { encodeImage } from '../../abi/image.ts';
import { COMMANDS, main } from '../../hypervisor/cli.ts';
import { check, hashBytes, HeapWatch, noThrowAsync, recorder, type Tally } from './common.ts';
import { asm } from './pv-props.ts';

/** Values of these options are not paths; every other string option may name a file to write. */
const NOT_PATHS = new Set(['mode', 'max-instructions', 'memory', 'input', 'cmdline', 'target', 'timeout']);
export const MAX_BUDGET = 20_000;
const MAX_MEMORY_MIB = 32;

const NATIVE_SRC = `li r1, 'o'\nout 0x3f8, r1\nli r1, 'k'\nout 0x3f8, r1\nli r1, 10\nout 0x3f8, r1\nli r1, 7\nout 0xf4, r1\n`;
const PV_SRC = `.target pv\nli r0, 18\nli r1, 0\nla r2, msg\nli r3, 3\nhypercall\nli r0, 29\nli r1, 2\nli r2, 5\nhypercall\nmsg: .ascii "pv\\n"\n`;
const LOOP_SRC = `l: jmp l\n`;
const DISK_SRC = `li r1, 1\nout 0x1f3, r1\nout 0x1f2, r1\nli r1, 0x30\nout 0x1f7, r1\nli r2, 0x41414141\nli r3, 128\nw: out 0x1f0, r2\naddi r3, r3, -1\nli r4, 0\nbne r3, r4, w\nout 0xf4, r4\n`;

/** The temporary directory of one case: what it holds, by name. */
let files: [string, string | Uint8Array][] | undefined;

export function makeWorkdir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsvisor-fuzz-'));
  files ??= [
    ['prog.s', NATIVE_SRC],
    ['pv.s', PV_SRC],
    ['loop.s', LOOP_SRC],
    ['bad.s', 'frobnicate r1, r2\n'],
    ['prog.img', encodeImage(asm(NATIVE_SRC, 'native'))],
    ['pv.img', encodeImage(asm(PV_SRC, 'pv'))],
    ['loop.img', encodeImage(asm(LOOP_SRC, 'native'))],
    ['diskw.img', encodeImage(asm(DISK_SRC, 'native'))],
    ['garbage.img', Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff)],
    ['empty.img', new Uint8Array(0)],
    ['disk.bin', new Uint8Array(16 * 512).fill(7)],
    ['main.ts', 'export function main(): number {\n  return 3;\n}\n'],
    ['ünï cödé.s', NATIVE_SRC],
    ['sub/inner.img', encodeImage(asm(NATIVE_SRC, 'native'))],
  ];
  mkdirSync(path.join(dir, 'sub'));
  for (const [name, data] of files) writeFileSync(path.join(dir, name), data);
  symlinkSync('/dev/null', path.join(dir, 'devnull'));
  symlinkSync(path.join(dir, 'prog.img'), path.join(dir, 'link.img'));
  return dir;
}

/** Every entry under `dir`: type and content digest (a symlink: its target, not followed). */
export function listing(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.set(p, 'dir');
        walk(p);
      } else if (st.isSymbolicLink()) out.set(p, 'symlink');
      else if (st.isFile()) out.set(p, `file ${st.mode & 0o7777} ${hashBytes(readFileSync(p))}`);
      else out.set(p, `other ${st.mode}`);
    }
  };
  walk(dir);
  return out;
}

/** An argv token as generated: resolved against the case's directory when it is a path. */
type Tok = { p: string } | { lit: string };

const FUTURE_FLAGS = ['--timeout', '--disk-readonly', '--seed', '--svg'];
const BOGUS_FLAGS = ['--bogus', '-x', '---', '--', '-', '--mode=', '--=', '-o=', '--json=1', '--no-json', '--HELP', '--max_instructions'];
const ODD = ['', ' ', '-1', '0', '1', '7', '100', '1e3', '0x10', '1.5', '+5', '99999999999999999999', '4294967296', '9007199254740993', 'NaN', 'ü', '💥🔥', '\u0000', 'a\nb', 'x'.repeat(5000)];
const MODES = ['native', 'trap', 'hw', 'pv', 'bt', 'NATIVE', 'kvm'];
const PATHS = ['prog.s', 'pv.s', 'loop.s', 'bad.s', 'prog.img', 'pv.img', 'loop.img', 'diskw.img', 'garbage.img', 'empty.img', 'disk.bin', 'main.ts', 'ünï cödé.s', 'sub', 'sub/inner.img', 'devnull', 'link.img', 'missing.img', 'nodir/x.img', 'out.img', 'out.lst', 'sub/out.img'];

function realFlags(): string[] {
  const flags = new Set<string>();
  for (const c of Object.values(COMMANDS)) {
    for (const [name, o] of Object.entries(c.options)) {
      flags.add(`--${name}`);
      if (o.short) flags.add(`-${o.short}`);
    }
  }
  return [...flags, ...FUTURE_FLAGS];
}

const lit = (xs: string[]): fc.Arbitrary<Tok> => fc.constantFrom(...xs).map((l) => ({ lit: l }));
const paths = (xs: string[]): fc.Arbitrary<Tok> => fc.constantFrom(...xs).map((p) => ({ p }));
const NUMBERS = ['1', '7', '500', '20000', '0', '-1', '-0', '1e3', '0x10', '1.5', '+5', ' 5', '99999999999999999999', '4294967296', '9007199254740993', '', 'ten', '٣'];

/** Values a flag is likely to be given, by flag name; any odd value otherwise. */
function flagValue(name: string, sane = false): fc.Arbitrary<Tok> {
  const odd = fc.oneof(lit([...ODD, '/dev/null', '/nonexistent/x', '/']), paths(PATHS));
  const likely: Record<string, fc.Arbitrary<Tok>> = {
    mode: sane ? lit(['native', 'trap', 'hw', 'pv']) : lit(MODES),
    'max-instructions': sane ? lit(['1', '100', '5000', '20000']) : lit(NUMBERS),
    memory: sane ? lit(['1', '2', '16']) : lit(NUMBERS),
    timeout: sane ? lit(['1', '0.5', '30']) : lit([...NUMBERS, '0.001', '0.5']),
    disk: paths(['disk.bin', 'disk.bin', 'empty.img', 'sub', 'devnull', 'missing.img', 'nodir/x.img', 'prog.img', 'link.img']),
    output: paths(['out.img', 'out.img', 'sub/out.img', 'prog.img', 'sub', 'devnull', 'nodir/x.img', 'link.img', 'out.lst']),
    listing: paths(['out.lst', 'out.lst', 'out.img', 'sub', 'devnull', 'prog.s']),
    target: lit(['native', 'pv', 'PV', '', 'bt']),
    input: lit(['hello', '', 'ü💥', 'x'.repeat(5000), '\u0000\n']),
    cmdline: lit(['quiet', '', 'x'.repeat(300), 'ü💥']),
  };
  if (sane) return likely[name] ?? odd;
  return fc.oneof({ weight: 4, arbitrary: likely[name] ?? odd }, { weight: 1, arbitrary: odd });
}

/** Positionals a command takes, by command. */
const POSITIONALS: Record<string, string[]> = {
  run: ['prog.img', 'pv.img', 'loop.img', 'diskw.img', 'garbage.img', 'empty.img', 'link.img', 'sub', 'devnull', 'missing.img', 'prog.s', 'sub/inner.img'],
  disasm: ['prog.img', 'pv.img', 'garbage.img', 'empty.img', 'sub', 'devnull', 'missing.img'],
  asm: ['prog.s', 'pv.s', 'loop.s', 'bad.s', 'ünï cödé.s', 'prog.img', 'sub', 'devnull', 'missing.s'],
  compile: ['main.ts', 'main.ts', 'prog.s', 'missing.ts', 'sub'],
};

/** Any value: a path of the case, an odd literal, or any short text. */
const value: fc.Arbitrary<Tok> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATHS).map((p) => ({ p })) },
  { weight: 3, arbitrary: fc.constantFrom(...ODD, ...MODES, '/dev/null', '/nonexistent/x', '/').map((l) => ({ lit: l })) },
  // Any text, but never an absolute path or a way up: relative paths land in the case's directory.
  { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }).map((s) => ({ lit: s.replace(/^\/+/, '').replace(/\.\./g, '_') })) },
);

/** A command line: a command, mostly its own flags with fitting values, and its positional. */
export function argvGen(): fc.Arbitrary<Tok[]> {
  const names = Object.keys(COMMANDS);
  const command = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...names.filter((n) => n !== 'compile'), 'run', 'run', 'run', 'asm') },
    { weight: 1, arbitrary: fc.constantFrom('compile') },
    { weight: 2, arbitrary: fc.constantFrom('', 'runn', 'help', '--help', '-h', 'RUN', 'ünï', '--version', 'bt') },
  );
  const all = realFlags();
  // Sane command lines (fitting flags and values) reach the runs; wild ones the refusals.
  return fc.tuple(command, fc.integer({ min: 0, max: 9 })).chain(([c, wildness]) => {
    const sane = wildness < 5;
    const opts = Object.entries(COMMANDS[c]?.options ?? {}) as [string, { type: string; short?: string }][];
    const own = opts.length > 0 ? fc.constantFrom(...opts) : fc.constant(['help', { type: 'boolean' }] as [string, { type: string; short?: string }]);
    const ownUnit = own.chain(([name, o]) => {
      const spelled = o.short ? fc.constantFrom(`--${name}`, `-${o.short}`) : fc.constant(`--${name}`);
      if (o.type === 'boolean') return fc.oneof({ weight: 5, arbitrary: spelled.map((f): Tok[] => [{ lit: f }]) }, { weight: sane ? 0 : 1, arbitrary: fc.constant<Tok[]>([{ lit: `--${name}=yes` }]) });
      return fc.oneof(
        { weight: 4, arbitrary: fc.tuple(spelled, flagValue(name, sane)).map(([f, v]): Tok[] => [{ lit: f }, v]) },
        { weight: 1, arbitrary: flagValue(name, sane).map((v): Tok[] => [{ lit: `--${name}=${'p' in v ? `@${v.p}` : v.lit}` }]) },
        { weight: sane ? 0 : 1, arbitrary: spelled.map((f): Tok[] => [{ lit: f }]) }, // its value missing
      );
    });
    const otherUnit = fc.tuple(fc.constantFrom(...all, ...BOGUS_FLAGS), value, fc.boolean()).map(([f, v, bare]): Tok[] => (bare ? [{ lit: f }] : [{ lit: f }, v]));
    const unit = sane ? ownUnit : fc.oneof({ weight: 6, arbitrary: ownUnit }, { weight: 2, arbitrary: otherUnit }, { weight: 1, arbitrary: value.map((v): Tok[] => [v]) });
    const positional = fc.oneof({ weight: 6, arbitrary: paths(POSITIONALS[c] ?? PATHS).map((v): Tok[] => [v]) }, { weight: sane ? 0 : 1, arbitrary: fc.constant<Tok[]>([]) }, { weight: sane ? 0 : 1, arbitrary: value.map((v): Tok[] => [v]) });
    // asm and compile need -o: most of their command lines have one.
    const needsOut = c === 'asm' || c === 'compile' ? fc.oneof({ weight: 4, arbitrary: flagValue('output').map((v): Tok[][] => [[{ lit: '-o' }, v]]) }, { weight: 1, arbitrary: fc.constant<Tok[][]>([]) }) : fc.constant<Tok[][]>([]);
    return fc.tuple(positional, fc.array(unit, { maxLength: 3 }), needsOut, fc.nat()).map(([pos, us, o, at]) => {
      const parts = [...us, ...o];
      parts.splice(at % (parts.length + 1), 0, pos); // the positional anywhere among the flags
      return [{ lit: c }, ...parts.flat()];
    });
  });
}

/** Paths of a case resolve inside its directory; `--flag=@path` is a path too. */
function resolveArgv(toks: Tok[], dir: string): string[] {
  return toks.map((t) => ('p' in t ? path.join(dir, t.p) : t.lit.replace(/=@(.*)$/, (_, p: string) => `=${path.join(dir, p)}`)));
}

/**
 * The fuzzer's own guard rails (see the header): parse as the command will, then move output
 * paths into `dir`, cap the budget and the memory. Returns the argv to run and the outputs named.
 */
export function guard(argv: string[], dir: string): { argv: string[]; outputs: Set<string>; trace: boolean; command?: string } {
  const outputs = new Set<string>();
  const cmd = COMMANDS[argv[0] ?? ''];
  if (!cmd) return { argv, outputs, trace: false };
  // As main does (hypervisor/flags.ts joinNegativeValues): `--flag -5` is the value -5.
  const takes = (f: string): boolean => (cmd.options as Record<string, { type: string }>)[f]?.type === 'string';
  const rest: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && takes(a.slice(2)) && next !== undefined && /^-\d/.test(next)) {
      rest.push(`${a}=${next}`);
      i++;
    } else rest.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true, tokens: true });
  } catch {
    // main refuses it before anything runs; the budget still goes first, in case it does not.
    return { argv: argv[0] === 'run' ? [argv[0], '--max-instructions', String(MAX_BUDGET), ...argv.slice(1)] : argv, outputs, trace: false, command: argv[0] };
  }
  const inside = (p: string): boolean => {
    const r = path.resolve(dir, p);
    return r === dir || r.startsWith(dir + path.sep);
  };
  let k = 0;
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    let v = t.value;
    if (t.name === 'max-instructions' && /^\d+$/.test(v) && Number(v) > MAX_BUDGET) v = String(MAX_BUDGET);
    else if (t.name === 'memory' && /^\d+$/.test(v) && Number(v) > MAX_MEMORY_MIB) v = String(MAX_MEMORY_MIB);
    else if (!NOT_PATHS.has(t.name)) {
      if (!inside(v)) v = path.join(dir, `out-${k++}`);
      const at = path.resolve(dir, v);
      outputs.add(at);
      // Written through a symlink, the target is what changes.
      try {
        outputs.add(realpathSync(at));
      } catch {
        /* not there yet */
      }
    }
    if (v === t.value) continue;
    if (t.inlineValue) rest[t.index] = t.rawName.startsWith('--') ? `${t.rawName}=${v}` : `${t.rawName}${v}`;
    else rest[t.index + 1] = v;
  }
  // A run without a budget of its own gets one first: a later --max-instructions still wins.
  const budget = argv[0] === 'run' ? ['--max-instructions', String(MAX_BUDGET)] : [];
  const trace = (parsed.values as Record<string, unknown>).trace === true;
  return { argv: [argv[0]!, ...budget, ...rest], outputs, trace, command: argv[0] };
}

const heap = new HeapWatch('random command lines', 32 * 1024 * 1024, 20);

/**
 * `compile` loads the TypeScript compiler (tens of MiB of heap, once): load it before the first
 * heap measurement, so that the watch sees growth per case and not that one load.
 */
let warm: Promise<unknown> | undefined;
export const warmCompiler = (): Promise<unknown> => (warm ??= import('../../guest-kernel/compiler/compile.ts'));

export function cliProperty(t?: Tally) {
  return fc.asyncProperty(argvGen(), async (toks) => {
    const { rec, done } = recorder(t, 'command lines');
    await warmCompiler();
    const dir = makeWorkdir();
    try {
      const g = guard(resolveArgv(toks, dir), dir);
      const before = listing(dir);
      const out: string[] = [];
      const err: string[] = [];
      // Relative paths (any odd value may become one) resolve inside the case's directory.
      const cwd = process.cwd();
      process.chdir(dir);
      let code: number;
      try {
        code = await noThrowAsync(`main(${JSON.stringify(g.argv.map((a) => a.replace(dir, '$DIR')))})`, () => main(g.argv, { out: (s) => void out.push(s), err: (s) => void err.push(s) }));
      } finally {
        process.chdir(cwd);
      }
      const shown = JSON.stringify(g.argv.map((a) => a.replace(dir, '$DIR').slice(0, 60)));
      rec('exit status', `${g.command ?? '(no command)'} ${code}`);
      check(Number.isInteger(code), () => `${shown}: main resolved to ${String(code)}, not an exit status`);
      const runs = g.command === 'run' || g.command === 'demo';
      check(code === 0 || code === 2 || (runs && code >= 0 && code <= 255), () => `${shown}: exit status ${code}`);
      const stderr = err.join('');
      if (code === 2) check(stderr.trim().length > 0, () => `${shown}: status 2 without a message`);
      check(!/^\s+at /m.test(stderr), () => `${shown}: a stack trace on stderr: ${stderr.slice(0, 400)}`);
      const lines = stderr.split('\n').filter((l) => l.length > 0);
      if (!g.trace) check(lines.length <= 8, () => `${shown}: ${lines.length} lines on stderr: ${stderr.slice(0, 400)}`);
      if (lines[0]) rec('first stderr line', lines[0].replace(dir, '$DIR').replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 70));
      check(out.join('').length <= 2 * 1024 * 1024, () => `${shown}: ${out.join('').length} bytes on stdout`);
      const after = listing(dir);
      for (const [p, what] of before) {
        if (g.outputs.has(p)) continue;
        check(after.get(p) === what, () => `${shown}: ${p.replace(dir, '$DIR')} was ${what}, is now ${after.get(p) ?? 'gone'} (not named as an output)`);
      }
      for (const p of after.keys()) {
        check(before.has(p) || g.outputs.has(p), () => `${shown}: left ${p.replace(dir, '$DIR')} behind (not named as an output)`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    heap.tick();
    done();
  });
}
