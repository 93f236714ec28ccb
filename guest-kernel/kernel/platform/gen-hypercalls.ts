/**
 * Generates guest-kernel/kernel/platform/hypercalls.ts, the typed guest wrappers of the pv ABI,
 * from the one table of it, HYPERCALLS in abi/hypercalls.ts: one guest function per plain
 * hypercall and one per sub-command of a family, so kernel code calls `hcSchedBlock()` and never
 * writes `hypercall(NUMBER, ...)` by hand (Linux's HYPERVISOR_sched_op, generated instead of
 * written). This file is host code (it imports zod through abi/hypercalls.ts and the TypeScript
 * compiler API); the file it writes is guest code in the compiler's subset.
 *
 *   npx tsx guest-kernel/kernel/platform/gen-hypercalls.ts          write the file
 *   npx tsx guest-kernel/kernel/platform/gen-hypercalls.ts --check  exit 1 if it is out of date
 *
 * test/guest-kernel/hypercall-wrappers.test.ts regenerates in memory and fails when the committed
 * file differs, so a change to the ABI table that is not reflected here cannot go unnoticed.
 *
 * Names, mechanically:
 *   - plain call `set_trap_table`          -> `hcSetTrapTable(table, count)`
 *   - family `sched_op`, command `block`   -> `hcSchedBlock()`: `hc`, the family's name without a
 *     trailing `_op`, then the command's name, all camelCased. The command's first word is left
 *     out when it merely abbreviates the family name (its letters appear in order in it:
 *     `gnttab` in grant_table, `evtchn` in event_channel, `console` in console_io, `virtio` in
 *     virtio_op), unless nothing would be left: `gnttab_map` -> `hcGrantTableMap`,
 *     `evtchn_send` -> `hcEventChannelSend`, `version` -> `hcXenVersionVersion`.
 * Parameters are the spec's `args`, in register order; a family's command goes in r1 as the
 * constant the ABI table names it by (e.g. SCHEDOP_BLOCK), so the numbers come from
 * abi/hypercall-numbers.ts, which guest code may import, and not from this generator.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import * as N from '../../../abi/hypercall-numbers.ts';
import { type CallSpec, HYPERCALLS } from '../../../abi/hypercalls.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../../..');
export const ABI_TABLE_FILE = path.join(ROOT, 'abi/hypercalls.ts');
export const OUTPUT_FILE = path.join(HERE, 'hypercalls.ts');
export const GENERATE_COMMAND = 'npx tsx guest-kernel/kernel/platform/gen-hypercalls.ts';

/** One generated wrapper. */
export interface Wrapper {
  /** The guest function's name, e.g. 'hcSchedShutdown'. */
  readonly fn: string;
  /** The hypercall's number and its constant in abi/hypercall-numbers.ts. */
  readonly nr: number;
  readonly nrConst: string;
  /** For a family command: its number and constant; undefined for a plain call. */
  readonly cmd?: number;
  readonly cmdConst?: string;
  /** 'sched_op.shutdown', or 'set_trap_table' (as abi/hypercalls.ts hypercallName says). */
  readonly specName: string;
  readonly args: readonly string[];
  readonly doc: string;
}

const words = (name: string): string[] => name.split('_').filter((w) => w !== '');
const pascal = (ws: readonly string[]): string => ws.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');

/** True when the letters of `short` appear in order in `long`. */
function abbreviates(short: string, long: string): boolean {
  let j = 0;
  for (const c of long) if (j < short.length && c === short[j]) j++;
  return j === short.length;
}

export function wrapperName(spec: string, family?: string): string {
  if (family === undefined) return `hc${pascal(words(spec))}`;
  const fam = words(family);
  if (fam.length > 1 && fam[fam.length - 1] === 'op') fam.pop();
  let cmd = words(spec);
  if (cmd.length > 1 && abbreviates(cmd[0]!, fam.join(''))) cmd = cmd.slice(1);
  return `hc${pascal(fam)}${pascal(cmd)}`;
}

/**
 * The constant names the ABI table keys its entries by (`[N.HC_SCHED_OP]`, and in a family
 * `[N.SCHEDOP_SHUTDOWN]`), read from the table's source: 'nr' -> name, 'nr.cmd' -> name.
 * Each is checked against its value, so a name is never guessed from a number.
 */
export function keyConstants(source = fs.readFileSync(ABI_TABLE_FILE, 'utf8')): Map<string, string> {
  const sf = ts.createSourceFile(ABI_TABLE_FILE, source, ts.ScriptTarget.ES2022, true);
  const values = N as unknown as Record<string, unknown>;
  const constOf = (p: ts.ObjectLiteralElementLike): [string, number] => {
    const name = p.name;
    if (!name || !ts.isComputedPropertyName(name) || !ts.isPropertyAccessExpression(name.expression) || !ts.isIdentifier(name.expression.expression) || name.expression.expression.text !== 'N') {
      throw new Error(`${ABI_TABLE_FILE}: HYPERCALLS keys must be [N.CONSTANT], found ${p.getText(sf)}`);
    }
    const c = name.expression.name.text;
    const v = values[c];
    if (typeof v !== 'number') throw new Error(`${ABI_TABLE_FILE}: N.${c} is not a number in abi/hypercall-numbers.ts`);
    return [c, v];
  };
  const prop = (o: ts.ObjectLiteralExpression, key: string): ts.Expression | undefined => {
    for (const p of o.properties) if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === key) return p.initializer;
    return undefined;
  };
  const out = new Map<string, string>();
  let table: ts.ObjectLiteralExpression | undefined;
  sf.forEachChild(function visit(n) {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === 'HYPERCALLS' && n.initializer && ts.isObjectLiteralExpression(n.initializer)) table = n.initializer;
    else n.forEachChild(visit);
  });
  if (!table) throw new Error(`${ABI_TABLE_FILE}: no HYPERCALLS object literal`);
  for (const entry of table.properties) {
    const [hc, nr] = constOf(entry);
    out.set(String(nr), hc);
    const body = ts.isPropertyAssignment(entry) ? entry.initializer : undefined;
    const family = body && ts.isObjectLiteralExpression(body) ? prop(body, 'family') : undefined;
    const commands = family && ts.isObjectLiteralExpression(family) ? prop(family, 'commands') : undefined;
    if (commands && ts.isObjectLiteralExpression(commands)) {
      for (const c of commands.properties) {
        const [name, cmd] = constOf(c);
        out.set(`${nr}.${cmd}`, name);
      }
    }
  }
  return out;
}

/** Every wrapper, in hypercall then command order. Throws when a name would be used twice. */
export function wrappers(consts = keyConstants()): Wrapper[] {
  const constFor = (key: string, what: string): string => {
    const c = consts.get(key);
    if (!c) throw new Error(`${ABI_TABLE_FILE}: no [N.CONSTANT] key found for ${what}`);
    return c;
  };
  const out: Wrapper[] = [];
  const byNumber = (o: object): number[] =>
    Object.keys(o)
      .map(Number)
      .sort((a, b) => a - b);
  for (const nr of byNumber(HYPERCALLS)) {
    const h = HYPERCALLS[nr]!;
    const nrConst = constFor(String(nr), `hypercall ${nr}`);
    if (h.kind === 'call') {
      out.push({ fn: wrapperName(h.spec.name), nr, nrConst, specName: h.spec.name, args: h.spec.args, doc: h.spec.doc });
      continue;
    }
    for (const cmd of byNumber(h.family.commands)) {
      const spec: CallSpec = h.family.commands[cmd]!;
      const cmdConst = constFor(`${nr}.${cmd}`, `${h.family.name} command ${cmd}`);
      out.push({ fn: wrapperName(spec.name, h.family.name), nr, nrConst, cmd, cmdConst, specName: `${h.family.name}.${spec.name}`, args: spec.args, doc: spec.doc });
    }
  }
  const seen = new Map<string, string>();
  for (const w of out) {
    const other = seen.get(w.fn);
    if (other) throw new Error(`wrapper name ${w.fn} would be used by both ${other} and ${w.specName}: rename one in abi/hypercalls.ts`);
    seen.set(w.fn, w.specName);
    if (w.args.length > (w.cmd === undefined ? 5 : 4)) throw new Error(`${w.specName}: too many arguments for r1..r5`);
  }
  return out;
}

/** The text of guest-kernel/kernel/platform/hypercalls.ts. */
export function generate(list: readonly Wrapper[] = wrappers()): string {
  const imports = [...new Set(list.flatMap((w) => (w.cmdConst ? [w.nrConst, w.cmdConst] : [w.nrConst])))].sort();
  const lines: string[] = [
    `// Generated by guest-kernel/kernel/platform/gen-hypercalls.ts from HYPERCALLS in abi/hypercalls.ts. Do not edit:`,
    `// change the ABI table, then run \`${GENERATE_COMMAND}\`.`,
    '/**',
    ' * Typed guest wrappers of the pv ABI: one function per hypercall and per sub-command of a family.',
    ' * Each returns the hypercall\'s r0: >= 0 on success, -errno (abi/errors.ts) on failure. The',
    ' * hypervisor validates every argument against the schema in abi/hypercalls.ts before it acts.',
    ' */',
    'import {',
    ...imports.map((c) => `  ${c},`),
    "} from '../../../abi/hypercall-numbers.ts';",
  ];
  for (const w of list) {
    const params = w.args.map((a) => `${a}: number`).join(', ');
    const callArgs = [w.nrConst, ...(w.cmdConst ? [w.cmdConst] : []), ...w.args].join(', ');
    lines.push('', `/** ${w.specName}: ${w.doc.replaceAll('*/', '* /').replace(/\.$/, '')}. */`, `export function ${w.fn}(${params}): number {`, `  return hypercall(${callArgs});`, '}');
  }
  return lines.join('\n') + '\n';
}

function main(argv: readonly string[]): number {
  const text = generate();
  if (argv.includes('--check')) {
    const current = fs.existsSync(OUTPUT_FILE) ? fs.readFileSync(OUTPUT_FILE, 'utf8') : '';
    if (current === text) return 0;
    process.stderr.write(`${path.relative(ROOT, OUTPUT_FILE)} is out of date with abi/hypercalls.ts: run \`${GENERATE_COMMAND}\`\n`);
    return 1;
  }
  fs.writeFileSync(OUTPUT_FILE, text);
  process.stdout.write(`wrote ${path.relative(ROOT, OUTPUT_FILE)} (${wrappers().length} wrappers)\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) process.exitCode = main(process.argv.slice(2));
