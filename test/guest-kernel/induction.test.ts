/**
 * Strength reduction of array indexing and linear-function test replacement (compiler/induction.ts)
 * and the unrolling of the loops it leaves (compiler/unroll.ts): the shape of the loops they
 * produce, the loops they must leave alone, and a property test of
 * random array loops (start, bound, comparison, step, element size, what the body does with the
 * index) compiled with the optimiser and run in Node.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource, functionAsm, loopsOf as loopsOfFunction, run } from './helpers.ts';

/** The loops of a function (helpers.ts), at least one. */
function loopsOf(asm: string, fn: string): string[][] {
  const loops = loopsOfFunction(asm, fn);
  expect(loops.length, functionAsm(asm, fn).join('\n')).toBeGreaterThan(0);
  return loops;
}

/** The loop that runs one iteration at a time (after unrolling, the one that finishes the last few). */
const loopOf = (asm: string, fn: string): string[] => loopsOf(asm, fn).at(-1)!;

const SOURCE = `
const bytes = new Uint8Array(64);
const words = new Int32Array(64);
function zero(): void { for (let i = 0; i < 64; i++) bytes[i] = 0; }
function sum(t: Int32Array, n: number): number { let s = 0; for (let i = 0; i < n; i++) s = (s + t[i]) | 0; return s; }
function copy(): void { for (let i = 0; i < 64; i++) words[i] = bytes[i]; }
function down(): number { let s = 0; for (let i = 63; i >= 0; i -= 2) s += bytes[i]; return s; }
function stride(k: number): void { const step = (k & 31) + 1; for (let j = step; j < 64; j += step) bytes[j] = 1; }
function rare(): number { let s = 0; for (let i = 0; i < 64; i++) if (bytes[i] === 1) s += i; return s; }
function raw(addr: number, n: number): number { let s = 0; for (let i = 0; i < n; i++) s += load8(addr + i); return s; }
function after(): number { let i = 0; while (i < 64 && bytes[i] === 0) i++; return i; }
export function main(): number {
  zero();
  for (let i = 0; i < 64; i++) words[i] = i * 3;
  stride(4);
  copy();
  return sum(words, 64) * 1000 + down() * 100 + rare() + after() + raw(addressOf(bytes), 64) * 100000;
}
`;

describe('array loops', () => {
  const compiled = compileSource(SOURCE);

  it('compute what JavaScript computes', () => {
    // sum of bytes copied in: twelve 1s at 5, 10, ..., 60; down() sums bytes[63], [61], ...: the
    // odd multiples of 5 (5, 15, ..., 55) = 6; rare() = 5 + 10 + ... + 60 = 390; after() = 5.
    expect(run(compiled.image).exitCode).toBe(12 * 1000 + 6 * 100 + 390 + 5 + 12 * 100000);
  });

  it('walk a pointer instead of adding an index to the base (strength reduction)', () => {
    expect(loopOf(compiled.asm, 'zero')).toEqual([expect.stringMatching(/^stb r\d+, \[r\d+\]$/), expect.stringMatching(/^addi (r\d+), \1, 1$/), expect.stringMatching(/^blt r\d+, r\d+, /)]);
  });

  it('scale the pointer step, not the index, for word arrays, and test the pointer against the end (LFTR)', () => {
    const loop = loopOf(compiled.asm, 'sum');
    expect(loop.filter((l) => l.startsWith('shli'))).toEqual([]);
    expect(loop).toContainEqual(expect.stringMatching(/^addi (r\d+), \1, 4$/));
    expect(loop).toHaveLength(4); // ldw, add, addi, blt
  });

  it('bump one pointer per array when two arrays share the index', () => {
    const loop = loopOf(compiled.asm, 'copy');
    expect(loop.filter((l) => l.startsWith('addi'))).toHaveLength(2);
    expect(loop).toHaveLength(5); // ldbu, stw, addi, addi, blt
  });

  it('count down, and step by a register', () => {
    expect(loopOf(compiled.asm, 'down')).toHaveLength(4); // ldbu, add, addi -2, bge
    const stride = loopOf(compiled.asm, 'stride');
    expect(stride).toHaveLength(3); // stb, add, blt
  });

  it('rebuild the index where it is rarely needed, not on every iteration', () => {
    const lines = functionAsm(compiled.asm, 'rare');
    const subs = lines.flatMap((l, i) => (l.startsWith('sub ') ? [i] : []));
    expect(subs).toHaveLength(1);
    // The nearest branch before it skips it: the sub sits in the `if` arm.
    const before = lines.slice(0, subs[0]).reverse().find((l) => /^b(eq|ne|lt|ge)/.test(l))!;
    const skipTo = lines.indexOf(`${/, (\S+)$/.exec(before)![1]}:`);
    expect(skipTo).toBeGreaterThan(subs[0]!);
  });

  it('keep the index for raw memory, whose addresses may pass 2^31 where pointers would not compare as indices', () => {
    const loop = loopOf(compiled.asm, 'raw');
    expect(loop).toHaveLength(5); // add, ldbu, add, addi, blt
    expect(loop[0]).toMatch(/^add /);
  });

  it('rebuild the index on the way out when it is used after the loop', () => {
    // after() returns the index where the scan stopped (5, checked above): p - &bytes on each exit edge.
    const lines = functionAsm(compiled.asm, 'after');
    expect(lines.filter((l) => l.startsWith('sub ')).length).toBeGreaterThan(0);
    expect(loopOf(compiled.asm, 'after').some((l) => l.startsWith('sub '))).toBe(false);
  });
});

describe('unrolled array loops (unroll.ts)', () => {
  const compiled = compileSource(SOURCE);

  it('run four copies per test, each at its own offset from one pointer', () => {
    const [wide, single] = loopsOf(compiled.asm, 'zero');
    expect(wide).toEqual([
      expect.stringMatching(/^stb r\d+, \[(r\d+)-3\]$/),
      expect.stringMatching(/^stb r\d+, \[r\d+-2\]$/),
      expect.stringMatching(/^stb r\d+, \[r\d+-1\]$/),
      expect.stringMatching(/^stb r\d+, \[r\d+\]$/),
      expect.stringMatching(/^addi (r\d+), \1, 4$/),
      expect.stringMatching(/^blt /),
    ]);
    expect(single).toHaveLength(3);
  });

  it('scale offsets by the element size and count down as well as up', () => {
    expect(loopsOf(compiled.asm, 'sum')[0]!.filter((l) => l.startsWith('ldw'))).toEqual([
      expect.stringMatching(/-12\]$/),
      expect.stringMatching(/-8\]$/),
      expect.stringMatching(/-4\]$/),
      expect.stringMatching(/r\d+\]$/),
    ]);
    const down = loopsOf(compiled.asm, 'down')[0]!;
    expect(down.filter((l) => l.startsWith('ldbu'))).toEqual([expect.stringMatching(/\+6\]$/), expect.stringMatching(/\+4\]$/), expect.stringMatching(/\+2\]$/), expect.stringMatching(/r\d+\]$/)]);
    expect(down).toContainEqual(expect.stringMatching(/^addi (r\d+), \1, -8$/));
  });

  it('bump a second pointer once per four copies too', () => {
    const wide = loopsOf(compiled.asm, 'copy')[0]!;
    expect(wide.filter((l) => l.startsWith('stw'))).toEqual([expect.stringMatching(/\[r\d+\]$/), expect.stringMatching(/\+4\]$/), expect.stringMatching(/\+8\]$/), expect.stringMatching(/\+12\]$/)]);
    expect(wide.filter((l) => l.startsWith('addi'))).toHaveLength(2);
  });

  it('leave alone a loop whose step is in a register, or that reads raw memory', () => {
    expect(loopsOf(compiled.asm, 'stride')).toHaveLength(1);
    expect(loopsOf(compiled.asm, 'raw')).toHaveLength(1);
  });

  it('shift an access that comes after the bump by one more step', () => {
    const values = Array.from({ length: 40 }, (_, i) => (i * 29 + 7) % 251);
    const source = `const t = new Uint8Array([${values.join(', ')}]);\nconst u = new Int32Array(40);\nfunction late(n: number): number { let s = 0; let i = 0; while (i < n) { i++; u[i - 1] = t[i - 1] + 1; s = (Math.imul(s, 3) + u[i - 1]) | 0; } return s; }\nexport function main(): number { const s = late(37); let c = 0; for (let j = 0; j < 40; j++) c = (Math.imul(c, 7) + u[j]) | 0; return s ^ c; }`;
    let expected = 0;
    for (let i = 0; i < 37; i++) expected = (Math.imul(expected, 3) + values[i]! + 1) | 0;
    let c = 0;
    for (let j = 0; j < 40; j++) c = (Math.imul(c, 7) + (j < 37 ? values[j]! + 1 : 0)) | 0;
    expected ^= c;
    const compiled = compileSource(source);
    expect(loopsOf(compiled.asm, 'late')[0]!.filter((l) => l.startsWith('ldbu'))).toHaveLength(4);
    expect(run(compiled.image).exitCode).toBe(expected >>> 0);
  });

  it('leave the copies by a side exit (an `if` arm, a return) with the index of the copy that left', () => {
    // Four copies and the loop that finishes the last few: five loads where the source has one.
    const loads = (asm: string, fn: string): number => functionAsm(asm, fn).filter((l) => l.startsWith('ldbu')).length;
    expect(loads(compiled.asm, 'rare')).toBe(5);
    const source = `const t = new Uint8Array(64);\nfunction find(v: number): number { for (let i = 0; i < 64; i++) if (t[i] === v) return i; return -1; }\nexport function main(): number { for (let j = 0; j < 64; j++) t[j] = 100 + j; let ok = 0; for (let v = 98; v < 166; v++) if (find(v) === (v >= 100 && v < 164 ? v - 100 : -1)) ok++; return ok; }`;
    const c = compileSource(source);
    expect(loads(c.asm, 'find')).toBe(5);
    expect(run(c.image).exitCode).toBe(68);
  });

  it('finish every trip count from 0 to 9 and a do/while that runs once whatever the bound', () => {
    const source = `const t = new Uint8Array(16);\nfunction fill(n: number): number { for (let i = 0; i < n; i++) t[i] = 1; let c = 0; for (let i = 0; i < 16; i++) c += t[i]; for (let i = 0; i < 16; i++) t[i] = 0; return c; }\nfunction once(n: number): number { let i = 0; do { t[i] = 7; i++; } while (i < n); return t[0] + t[1]; }\nexport function main(): number { let r = 0; for (let n = 0; n < 10; n++) r = r * 2 + (fill(n) === n ? 1 : 0); return r * 100 + once(-5); }`;
    expect(run(compileSource(source).image).exitCode).toBe(1023 * 100 + 7);
  });
});

describe('loops it leaves alone', () => {
  const cases: [string, string, number][] = [
    ['the index tested unsigned', `const t = new Uint8Array([1, 2, 3, 4]);\nexport function main(): number { let s = 0; for (let i = 0; (i >>> 0) < (4 >>> 0); i++) s += t[i]; return s; }`, 10],
    ['the index stored to a module variable', `const t = new Uint8Array([1, 2, 3, 4]);\nlet last = 0;\nexport function main(): number { let s = 0; for (let i = 0; i < 4; i++) { s += t[i]; last = i; } return s * 10 + last; }`, 103],
    ['an access only on some iterations', `const t = new Uint8Array([1, 2, 3, 4]);\nexport function main(): number { let s = 0; for (let i = 0; i < 4; i++) if (i & 1) s += t[i]; return s; }`, 6],
    ['the bound changes in the loop', `const t = new Uint8Array([1, 2, 3, 4, 5, 6]);\nexport function main(): number { let s = 0; let n = 6; for (let i = 0; i < n; i++) { s += t[i]; n--; } return s; }`, 6],
    ['the index assigned twice', `const t = new Uint8Array([1, 2, 3, 4, 5, 6]);\nexport function main(): number { let s = 0; for (let i = 0; i < 6; i++) { s += t[i]; if (t[i] === 2) i++; } return s; }`, 1 + 2 + 4 + 5 + 6],
    ['the index used in a call', `const t = new Uint8Array([1, 2, 3, 4]);\nfunction f(x: number): number { return x * 10; }\nexport function main(): number { let s = 0; for (let i = 0; i < 4; i++) s += t[i] + f(i); return s; }`, 70],
  ];
  it.each(cases)('%s', (_name, source, expected) => {
    expect(run(compileSource(source).image).exitCode).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random array loops, compiled and in Node.

type Kind = 'Uint8Array' | 'Int8Array' | 'Int16Array' | 'Uint16Array' | 'Int32Array';
interface LoopCase {
  kind: Kind;
  start: number;
  step: number;
  /** How the loop ends; the bound keeps every index in 0..63. */
  test: '<' | '<=' | '!==' | '>=' | '>';
  bound: number;
  body: 'read' | 'write' | 'both' | 'rare' | 'breaks' | 'twoArrays';
  /** The index declared outside the loop and returned too (live after the loop). */
  liveAfter: boolean;
  /** Step from a parameter (a register) rather than a constant. */
  stepInRegister: boolean;
  /** `while (i < n) { i += step; ... a[i - step] ... }`: the index used after its bump. */
  bumpFirst: boolean;
}

const loopCase: fc.Arbitrary<LoopCase> = fc
  .record({
    kind: fc.constantFrom<Kind>('Uint8Array', 'Int8Array', 'Int16Array', 'Uint16Array', 'Int32Array'),
    start: fc.integer({ min: 0, max: 63 }),
    step: fc.constantFrom(1, 2, 3, 5, -1, -2, -3),
    span: fc.integer({ min: 0, max: 63 }),
    body: fc.constantFrom<LoopCase['body']>('read', 'write', 'both', 'rare', 'breaks', 'twoArrays'),
    liveAfter: fc.boolean(),
    stepInRegister: fc.boolean(),
    exact: fc.boolean(),
    bumpFirst: fc.boolean(),
  })
  .map(({ kind, start, step, span, body, liveAfter, stepInRegister, exact, bumpFirst }): LoopCase => {
    if (step > 0) {
      const last = Math.min(63, start + span);
      // `!==` must meet the bound exactly: start + k * step for some k, and within 0..64.
      if (exact) {
        const k = Math.floor((last - start) / step);
        return { kind, start, step, test: '!==', bound: start + k * step, body, liveAfter, stepInRegister, bumpFirst };
      }
      return span % 2 ? { kind, start, step, test: '<', bound: last + 1, body, liveAfter, stepInRegister, bumpFirst } : { kind, start, step, test: '<=', bound: last, body, liveAfter, stepInRegister, bumpFirst };
    }
    const last = Math.max(0, start - span);
    return span % 2 ? { kind, start, step, test: '>=', bound: last, body, liveAfter, stepInRegister, bumpFirst } : { kind, start, step, test: '>', bound: last - 1, body, liveAfter, stepInRegister, bumpFirst };
  });

/** The same program text for both worlds; `ts` adds the parameter types. */
function loopProgram(cases: LoopCase[], ts: boolean): string {
  const p = ts ? ': number' : '';
  const arrays = cases
    .map((c, n) => `const a${n} = new ${c.kind}([${Array.from({ length: 64 }, (_, i) => (i * 37 + n * 11) % 200 - 60).join(', ')}]);\nconst b${n} = new Int32Array(64);`)
    .join('\n');
  const fns = cases.map((c, n) => {
    const a = `a${n}`;
    const step = c.stepInRegister ? 'k' : String(c.step);
    // The index the body works on: i itself, or what it was before a bump at the top.
    const I = c.bumpFirst ? `(i - ${step})` : 'i';
    const body = {
      read: `s = (Math.imul(s, 31) + ${a}[${I}]) | 0;`,
      write: `${a}[${I}] = (s + ${I}) | 0; s = (s + 1) | 0;`,
      both: `${a}[${I}] = (${a}[${I}] + s) | 0; s = (s ^ ${a}[${I}]) | 0;`,
      rare: `if (${a}[${I}] > 50) s = (s + ${I}) | 0;`,
      breaks: `if (${a}[${I}] === 17) break; s = (s + ${a}[${I}]) | 0;`,
      twoArrays: `b${n}[${I}] = ${a}[${I}]; s = (s + b${n}[${I}] * 3) | 0;`,
    }[c.body];
    const head = c.bumpFirst
      ? `let i = ${c.start};\n  while (i ${c.test} ${c.bound}) {\n    i += ${step};`
      : c.liveAfter
        ? `let i = ${c.start};\n  for (; i ${c.test} ${c.bound}; i += ${step}) {`
        : `for (let i = ${c.start}; i ${c.test} ${c.bound}; i += ${step}) {`;
    return `function f${n}(k${p})${ts ? ': number' : ''} {\n  let s = 0;\n  ${head}\n    ${body}\n  }\n  return ${c.liveAfter ? '(s + i * 1000) | 0' : 's'};\n}`;
  });
  return `${arrays}\n${fns.join('\n')}\n`;
}

function runLoopsInNode(cases: LoopCase[]): string {
  const text = loopProgram(cases, false);
  const calls = cases.map((c, n) => `out.push(f${n}(${c.step}), ${`a${n}`}.reduce((x, y) => (x + y) | 0, 0));`).join('\n');
  return (new Function(`const out = [];\n${text}\n${calls}\nreturn out.join('\\n') + '\\n';`) as () => string)();
}

function loopsOnMachine(cases: LoopCase[]): { console: string; stop: string } {
  const text = loopProgram(cases, true);
  const calls = cases
    .map((c, n) => `  printlnNumber(f${n}(${c.step}));\n  { let t = 0; for (let j = 0; j < a${n}.length; j++) t = (t + a${n}[j]) | 0; printlnNumber(t); }`)
    .join('\n');
  const source = `import { printlnNumber } from '../../lib/console.ts';\n${text}\nexport function main(): number {\n${calls}\n  return 0;\n}\n`;
  const r = run(compileSource(source).image);
  return { console: r.console, stop: r.stop };
}

describe('random array loops', () => {
  it('give the same results and leave the same arrays, compiled and in Node', () => {
    fc.assert(
      fc.property(fc.array(loopCase, { minLength: 2, maxLength: 8 }), (cases) => {
        const machine = loopsOnMachine(cases);
        expect(machine.stop).toBe('shutdown');
        expect(machine.console, loopProgram(cases, true)).toBe(runLoopsInNode(cases));
      }),
      { numRuns: 30 },
    );
  });
});
