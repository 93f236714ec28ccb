/**
 * Records and function values (issue 11): classes with a fixed layout in static storage, arrays
 * of them, methods; tables of functions and calls through them (`callr`). Each program runs in
 * Node and on the machine (the native build natively, under trap-and-emulate and under hardware
 * assist, the pv build in pv mode) and must print and exit the same; codegen checks pin a field
 * access to one load or store and an element address to base + shift; every refused form has its
 * diagnostic.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNTIME_ERROR_EXIT_CODE } from '../../abi/platform.ts';
import { GUEST_LIB_SHIMS } from '../../guest-kernel/compiler/node-shim.ts';
import { strideOf } from '../../guest-kernel/compiler/records.ts';
import { runImage } from '../../hypervisor/run.ts';
import { agreeInEveryMode, compileSource, errorsOf, functionAsm, MODES, PROGRAMS, ROOT, withProgramFiles } from './helpers.ts';



const agree = (file: string): Promise<{ console: string; exitCode: number }> => agreeInEveryMode(file);

/**
 * `files` (the first is the entry; CONSOLE in a source stands for the console library) written
 * to a temporary directory and run by `agree`. Returns Node's console and exit code, for the
 * test to check they are the answer meant.
 */
async function differential(files: Record<string, string>): Promise<{ console: string; exitCode: number }> {
  return withProgramFiles(files, agree);
}

describe('records: the machine gives Node answer in every mode', () => {
  it('a task table with states, scheduled round-robin', async () => {
    const r = await differential({
      'main.ts': `import { printlnNumber } from 'CONSOLE';
const enum State { Unused, Runnable, Running, Zombie }
class Task { state = State.Unused; pid = 0; runs = 0; }
const NTASK = 6;
const tasks = recordArray(Task, NTASK);
let current = 0;
function spawn(pid: number): void {
  for (let i = 0; i < tasks.length; i++) {
    if (tasks[i].state === State.Unused) { tasks[i].state = State.Runnable; tasks[i].pid = pid; return; }
  }
}
function next(): number {
  for (let k = 1; k <= NTASK; k++) {
    const i = (current + k) % NTASK;
    if (tasks[i].state === State.Runnable) return i;
  }
  return -1;
}
export function main(): number {
  spawn(10); spawn(11); spawn(12); spawn(13);
  let order = 0;
  for (let step = 0; step < 10; step++) {
    const i = next();
    if (i < 0) break;
    current = i;
    const t = tasks[i];
    t.runs++;
    order = (order * 7 + t.pid) % 100003;
    if (t.runs === 2 && t.pid === 11) t.state = State.Zombie;
  }
  for (let i = 0; i < NTASK; i++) printlnNumber(tasks[i].state * 100 + tasks[i].runs);
  printlnNumber(order);
  return tasks[1].state;
}
`,
    });
    expect(r.console.split('\n').slice(0, 4)).toEqual(['102', '302', '103', '103']);
    expect(r.exitCode).toBe(3);
  });

  it('nested records, typed-array fields, record arrays inside a record, a record from another module', async () => {
    const r = await differential({
      'main.ts': `import { printlnNumber } from 'CONSOLE';
import { Inode } from './fs.ts';
class File { refs = 0; offset = 0; writable = false; }
class Proc {
  pid = 0;
  readonly name = new Uint8Array(6);
  readonly files = recordArray(File, 3);
  readonly cwd = new Inode();
}
const procs = recordArray(Proc, 4);
const spare = new Proc();
function checksum(a: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = (s * 31 + a[i]) | 0;
  return s;
}
function blocks(a: Int32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}
export function main(): number {
  for (let i = 0; i < procs.length; i++) {
    const p = procs[i];
    p.pid = i + 1;
    p.name[0] = 97 + i;
    p.name[5] = p.name.length;
    p.files[i % 3].refs += 2;
    p.files[2].writable = i > 1;
    p.cwd.addrs[i] = 10 * i;
  }
  spare.cwd.size = 77;
  printlnNumber(checksum(procs[2].name));
  printlnNumber(blocks(procs[3].cwd.addrs) + procs[3].cwd.addrs.length);
  printlnNumber(procs[1].files[1].refs + procs[1].files.length);
  printlnNumber(procs[3].files[2].writable ? 1 : 0);
  printlnNumber(spare.cwd.size + spare.cwd.addrs[1] + procs[0].cwd.inum);
  return procs[2].files[2].refs;
}
`,
      'fs.ts': `export class Inode { inum = 1; size = 0; readonly addrs = new Int32Array([1, 2, 3, 4, 0, 0, 0, 0]); }
`,
    });
    expect(r.console).toBe(`${[99, 0, 0, 0, 0, 6].reduce((s, b) => (s * 31 + b) | 0, 0)}\n44\n5\n1\n80\n`);
    expect(r.exitCode).toBe(2);
  });

  it('methods and this, records as parameters and results, record-typed lets and consts', async () => {
    const r = await differential({
      'main.ts': `import { printlnNumber, println } from 'CONSOLE';
class Counter {
  n = 0;
  step = 1;
  bump(by = 1): Counter { this.n += this.step * by; return this; }
  twice(): number { this.bump(); this.bump(); return this.n; }
  same(other: Counter): boolean { return this === other; }
}
const counters = recordArray(Counter, 3);
const a = new Counter();
let cur: Counter = a;
let last = counters[2];
const first = counters[0];
function pick(i: number): Counter { return i < 0 ? a : counters[i]; }
function total(cs: RecordArray<Counter>): number {
  let s = 0;
  for (let i = 0; i < cs.length; i++) s += cs[i].n;
  return s;
}
export function main(): number {
  counters[1].step = 10;
  printlnNumber(pick(1).bump().bump(3).n);
  printlnNumber(a.twice());
  cur = pick(2);
  cur.step = 5;
  printlnNumber(cur.twice());
  println(cur.same(last) ? 'same' : 'other');
  println(a.same(first) ? 'same' : 'other');
  last = first;
  last.bump(4);
  printlnNumber(total(counters));
  return pick(-1).n + counters[0].n;
}
`,
    });
    expect(r.console).toBe('40\n2\n10\nsame\nother\n54\n');
    expect(r.exitCode).toBe(6);
  });

  it('the corpus programs run the same in trap and hw mode too', async () => {
    for (const name of ['records.ts', 'syscall-table.ts']) await agree(path.join(PROGRAMS, name));
  });
});

describe('function values: tables and callr', () => {
  it('a system-call table dispatching on a number', async () => {
    const r = await differential({
      'main.ts': `import { printlnNumber } from 'CONSOLE';
let log = 0;
function sysGetpid(_a: number, _b: number): number { return 42; }
function sysWrite(a: number, b: number): number { log = (log * 10 + a) | 0; return b; }
function sysSum(a: number, b: number): number { return (a + b) | 0; }
const syscalls = [sysGetpid, sysWrite, sysSum];
function syscall(nr: number, a: number, b: number): number {
  if (nr >= syscalls.length) return -38;
  return syscalls[nr](a, b);
}
export function main(): number {
  let acc = 0;
  for (let i = 0; i < 12; i++) acc = (acc + syscall(i % 4, i, i * 2)) | 0;
  printlnNumber(acc);
  printlnNumber(log);
  return syscall(0, 0, 0);
}
`,
    });
    expect(r.console).toBe(`${42 * 3 + (2 + 10 + 18) + (6 + 18 + 30) - 38 * 3}\n159\n`);
    expect(r.exitCode).toBe(42);
  });

  it('handler tables with different functions; function-typed locals, parameters, results and module variables', async () => {
    const r = await differential({
      'main.ts': `import { printlnNumber } from 'CONSOLE';
type Handler = (irq: number) => number;
let timerTicks = 0;
function timer(irq: number): number { timerTicks++; return irq; }
function uart(irq: number): number { return irq * 100; }
function spurious(_irq: number): number { return -1; }
const handlers: Handler[] = [timer, uart, spurious, spurious, timer];
let fallback: Handler = spurious;
function route(irq: number): Handler { return irq < handlers.length ? handlers[irq] : fallback; }
function deliver(h: Handler, irq: number): number { return h(irq); }
export function main(): number {
  let s = 0;
  for (let irq = 0; irq < 7; irq++) {
    const h = route(irq);
    s += deliver(h, irq);
  }
  printlnNumber(s);
  fallback = uart;
  printlnNumber(route(9)(9));
  printlnNumber(route(0) === route(4) ? 1 : 0);
  printlnNumber(route(1) === route(2) ? 1 : 0);
  return timerTicks;
}
`,
    });
    expect(r.console).toBe(`${0 + 100 - 1 - 1 + 4 - 1 - 1}\n900\n1\n0\n`);
    expect(r.exitCode).toBe(2);
  });

  it('a function reachable only through a table is emitted; one in no reachable table is not', () => {
    const c = compileSource(`function a(): number { return 1; }
function b(): number { return 2; }
function unused(): number { return 3; }
const t = [a, b];
const u = [unused];
function never(): number { return u[0](); }
export function main(): number { return t[1](); }
`);
    expect(c.asm).toMatch(/^a:$/m);
    expect(c.asm).toMatch(/^b:$/m);
    expect(c.asm).not.toMatch(/^unused:$/m);
    expect(c.asm).toMatch(/^t:\n\s*\.word a, b$/m);
    expect(functionAsm(c.asm, 'main')).toContain('callr r7');
  });
});

describe('an index out of range is a run-time error naming the source', () => {
  const cases = [
    { what: 'record array', src: `class T { x = 1; }\nconst ts = recordArray(T, 4);\nfunction get(i: number): number { return ts[i].x; }\nexport function main(): number { return get(1) + get(4); }\n`, text: "index out of bounds in 'ts[i]'" },
    { what: 'record array parameter', src: `class T { x = 1; }\nconst ts = recordArray(T, 4);\nfunction get(a: RecordArray<T>, i: number): number { return a[i].x; }\nexport function main(): number { return get(ts, -1); }\n`, text: "index out of bounds in 'a[i]'" },
    { what: 'function table', src: `function f(x: number): number { return x; }\nconst t = [f, f];\nfunction call(i: number): number { return t[i](i); }\nexport function main(): number { return call(1) + call(2); }\n`, text: "index out of bounds in 't[i]'" },
  ];
  for (const c of cases) {
    it(`${c.what}: every mode stops with the message`, () => {
      for (const { mode, target } of MODES) {
        const r = runImage(compileSource(c.src, target).image, { mode, maxInstructions: 50_000_000 });
        expect(r.stop, mode).toBe('shutdown');
        expect(r.exitCode, mode).toBe(RUNTIME_ERROR_EXIT_CODE);
        const line = r.console.trimEnd().split('\n').pop()!;
        expect(line, mode).toMatch(/^guest-kernel\/programs\/__test__\/main\.ts:3:\d+: /);
        expect(line, mode).toContain(c.text);
      }
    });
  }
});

describe('codegen', () => {
  const SRC = `class Task { state = 0; pid = 0; ticks = 0; flags = 0; }
class Five { a = 0; b = 0; c = 0; d = 0; e = 0; }
const tasks = recordArray(Task, 64);
const fives = recordArray(Five, 10);
function get(t: Task): number { return t.pid; }
function set(t: Task, v: number): void { t.pid = v; }
function pidOf(i: number): number { return tasks[i].pid; }
function eOf(i: number): number { return fives[i].e; }
function f(x: number): number { return x; }
const table = [f, f];
function via(i: number, x: number): number { return table[i](x); }
function viaValue(g: (x: number) => number, x: number): number { return g(x); }
const bytes = new Int32Array(4);
function reuse(t: Task, u: Task): number { const a = t.ticks; u.pid = 5; bytes[a & 3] = 1; return (a + t.ticks) | 0; }
export function main(): number { set(tasks[1], 3); return get(tasks[1]) + pidOf(1) + eOf(2) + via(1, 2) + viaValue(f, 1) + reuse(tasks[0], tasks[1]); }
`;
  const asm = compileSource(SRC).asm;

  it('a field access is one load or store at the field offset', () => {
    expect(functionAsm(asm, 'get')).toEqual(['ldw r0, [r0+4]', 'ret']);
    expect(functionAsm(asm, 'set')).toEqual(['stw r1, [r0+4]', 'ret']);
  });

  it('a store to one field, or to a typed array, does not make another field be loaded again', () => {
    const body = functionAsm(asm, 'reuse');
    expect(body.filter((l) => l.startsWith('ldw') && l.endsWith('[r0+8]'))).toHaveLength(1);
    expect(body.filter((l) => l.startsWith('stw') && l.endsWith('[r1+4]'))).toHaveLength(1);
  });

  it('an element address is base + (i << k) after one bounds check, the field offset folded into the load', () => {
    const body = functionAsm(asm, 'pidOf').filter((l) => !l.endsWith(':'));
    expect(body).toEqual(['la r1, tasks', 'chki r0, 64', 'shli r0, r0, 4', 'add r0, r1, r0', 'ldw r0, [r0+4]', 'ret']);
  });

  it('a stride that is not a power of two is a multiply; records pad to one when that adds at most a quarter', () => {
    expect(functionAsm(asm, 'eOf').filter((l) => !l.endsWith(':'))).toEqual(['la r1, fives', 'chki r0, 10', 'muli r0, r0, 20', 'add r0, r1, r0', 'ldw r0, [r0+16]', 'ret']);
    expect([4, 12, 20, 24, 28, 40, 52, 56, 100, 112].map(strideOf)).toEqual([4, 12, 20, 24, 32, 40, 64, 64, 100, 128]);
  });

  it('a call through a table is a bounds check, a load and callr; through a value just callr', () => {
    const body = functionAsm(asm, 'via').filter((l) => !l.endsWith(':'));
    expect(body.slice(0, 5)).toEqual(['la r2, table', 'chki r0, 2', 'shli r0, r0, 2', 'add r0, r2, r0', 'ldw r0, [r0]']);
    expect(body).toContain('callr r7');
    expect(functionAsm(asm, 'viaValue')).toEqual(['mov r7, r0', 'mov r0, r1', 'callr r7', 'ret']);
  });

  it('static records are data: a record array has its length word, a table is read-only words', () => {
    expect(asm).toMatch(/\.word 64 ; const tasks = recordArray\(Task, 64\)\ntasks:\n\s*\.space 1024/);
    const rodata = asm.slice(asm.indexOf('__text_end:'), asm.indexOf('__rodata_end:'));
    expect(rodata).toMatch(/\.word 2 ; const table: function table\ntable:\n\s*\.word f, f/);
  });
});

describe('the Node side', () => {
  it('recordArray is shimmed: n new instances, frozen', () => {
    class P {
      x = 1;
    }
    const make = GUEST_LIB_SHIMS.recordArray as (c: new () => P, n: number) => readonly P[];
    const ps = make(P, 3);
    expect(ps.length).toBe(3);
    expect(ps[0]).not.toBe(ps[1]);
    expect(Object.isFrozen(ps)).toBe(true);
  });

  it('every function lib.guest.d.ts declares has a shim', () => {
    const lib = fs.readFileSync(path.join(ROOT, 'guest-kernel/lib/lib.guest.d.ts'), 'utf8');
    const declared = [...lib.matchAll(/^declare function (\w+)/gm)].map((m) => m[1]);
    expect(declared.sort()).toEqual(Object.keys(GUEST_LIB_SHIMS).sort());
  });
});

describe('refused forms: one diagnostic each', () => {
  const MAIN = `export function main(): number { return 0; }\n`;
  const cases: { name: string; source: string; code: string; message: string; at: string }[] = [
    { name: 'constructor', source: `class P { x = 0; constructor() {} }\n${MAIN}`, code: 'TSG2030', message: 'constructors are not supported', at: '1:18' },
    { name: 'inheritance', source: `class A { x = 0; }\nclass B extends A { y = 0; }\n${MAIN}`, code: 'TSG2030', message: "inheritance ('extends') is not supported", at: '2:9' },
    { name: 'getter', source: `class P { x = 0; get y(): number { return 1; } }\n${MAIN}`, code: 'TSG2030', message: 'getters and setters are not supported', at: '1:22' },
    { name: 'static field', source: `class P { static n = 0; x = 0; }\n${MAIN}`, code: 'TSG2030', message: 'static members are not supported', at: '1:11' },
    { name: 'static method', source: `class P { x = 0; static make(): number { return 1; } }\n${MAIN}`, code: 'TSG2030', message: 'static methods are not supported', at: '1:25' },
    { name: 'generic class', source: `class P<T> { x = 0; }\n${MAIN}`, code: 'TSG2030', message: 'generic classes are not supported', at: '1:9' },
    { name: '#private field', source: `class P { #x = 0; y = 0; }\n${MAIN}`, code: 'TSG2030', message: "private names ('#x') are not supported", at: '1:11' },
    { name: 'no fields', source: `class P { m(): number { return 1; } }\n${MAIN}`, code: 'TSG2030', message: "record class 'P' has no fields", at: '1:7' },
    { name: 'new in a function', source: `class P { x = 0; }\nexport function main(): number {\n  const p = new P();\n  return p.x;\n}\n`, code: 'TSG2031', message: "'new P()' outside a module-level initialiser is not supported: there is no heap", at: '3:13' },
    { name: 'recordArray in a function', source: `class P { x = 0; }\nexport function main(): number {\n  return recordArray(P, 4).length;\n}\n`, code: 'TSG2031', message: 'recordArray(...) allocates static storage', at: '3:10' },
    { name: 'record array declared with let', source: `class P { x = 0; }\nlet ps = recordArray(P, 4);\n${MAIN}`, code: 'TSG2031', message: "record array 'ps' must be declared const", at: '2:5' },
    { name: 'field without initialiser', source: `class P { x!: number; }\n${MAIN}`, code: 'TSG2032', message: "record field 'x' needs a constant initialiser", at: '1:11' },
    { name: 'non-constant field initialiser', source: `let k = 3;\nclass P { x = k; }\n${MAIN}`, code: 'TSG2032', message: "the initialiser of field 'x' must be a constant expression", at: '2:15' },
    { name: 'optional field', source: `class P { x?: number; y = 0; }\n${MAIN}`, code: 'TSG2032', message: "optional field 'x' is not supported", at: '1:11' },
    { name: 'field pointing at a record', source: `class A { x = 0; }\nconst a = new A();\nclass P { y = 0; other: A = a; }\n${MAIN}`, code: 'TSG2032', message: "field 'other' of type 'A' is not supported: a field cannot refer to another record", at: '3:18' },
    { name: 'embedded array not readonly', source: `class P { buf = new Uint8Array(4); }\n${MAIN}`, code: 'TSG2032', message: "field 'buf' holds a typed array, which is part of the record: declare it readonly", at: '1:11' },
    { name: 'record containing itself', source: `class A { readonly b = new B(); }\nclass B { readonly a = new A(); }\n${MAIN}`, code: 'TSG2032', message: "record 'A' would contain itself", at: '2:11' },
    { name: 'unsigned field initialiser', source: `class P { x = 0xffffffff; }\n${MAIN}`, code: 'TSG2032', message: "field 'x' would start above 2147483647", at: '1:15' },
    { name: 'function-valued field', source: `class P { x = 0; f = (): number => 1; }\n${MAIN}`, code: 'TSG2001', message: "closures are not supported (a function-valued field 'f')", at: '1:22' },
    { name: 'two records of one shape', source: `class A { x = 0; y = 0; }\nclass B { x = 0; }\n${MAIN}`, code: 'TSG2033', message: "record 'A' has every member of record 'B'", at: '1:7' },
    { name: 'interface as a parameter type', source: `interface I { x: number }\nfunction f(i: I): number { return i.x; }\n${MAIN}`, code: 'TSG2003', message: "interface 'I' is an object type: objects are outside the subset (a record is an instance of a class", at: '1:11' },
    { name: 'method as a value', source: `class P { x = 0; m(): number { return 1; } }\nconst p = new P();\nexport function main(): number {\n  const g = p.m;\n  return 0;\n}\n`, code: 'TSG2017', message: "method 'm' can only be called", at: '4:15' },
    { name: 'unsigned value stored in a field', source: `class P { x = 0; }\nconst p = new P();\nexport function main(): number {\n  p.x = (p.x + 5) >>> 0;\n  return 0;\n}\n`, code: 'TSG3010', message: "'p.x' would hold an unsigned value above 2147483647", at: '4:3' },
    { name: 'writing a function table', source: `function a(): number { return 1; }\nconst t = [a, a];\nexport function main(): number {\n  t[0] = a;\n  return 0;\n}\n`, code: 'TSG2034', message: 'a function table is read-only', at: '4:3' },
    { name: 'function table declared with let', source: `function a(): number { return 1; }\nlet t = [a, a];\n${MAIN}`, code: 'TSG2034', message: "function table 't' must be declared const", at: '2:5' },
    { name: 'closure in a function table', source: `const t = [(): number => 1];\n${MAIN}`, code: 'TSG2034', message: 'a function table holds names of functions declared at module level', at: '1:12' },
    { name: 'record array too large', source: `class P { readonly b = new Int32Array(1000); }\nconst ps = recordArray(P, 100000);\n${MAIN}`, code: 'TSG3011', message: "static array 'ps' needs 409600004 bytes", at: '2:7' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const errors = errorsOf(c.source);
      expect(errors, errors.join('\n')).toHaveLength(1);
      expect(errors[0]).toContain(`guest-kernel/programs/__test__/main.ts:${c.at}: error ${c.code}: ${c.message}`);
    });
  }

  it('a class with three refused members gives three errors, and none at its uses', () => {
    const errors = errorsOf(`class P { x = 0; constructor() {} get y(): number { return 1; } static z = 1; }\nconst p = new P();\nexport function main(): number {\n  return p.x + p.x + p.x;\n}\n`);
    expect(errors.map((e) => e.split(': error ')[1]!.slice(0, 7))).toEqual(['TSG2030', 'TSG2030', 'TSG2030']);
    expect(errors.every((e) => e.includes('main.ts:1:'))).toBe(true);
  });
});
