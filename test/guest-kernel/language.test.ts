/**
 * The language a kernel needs (issue 11): typed arrays inside functions, Uint32Array, for...of,
 * Math.min/max/abs/clz32/sign, default parameters, more than six parameters and console.log.
 * Each program runs in Node and on the machine: the native build natively, under
 * trap-and-emulate and under hardware assist, the pv build in pv mode; all five must print the
 * same and exit the same. Codegen checks pin the shapes that make these cheap, and every form
 * that is still refused has its diagnostic.
 */
import { describe, expect, it } from 'vitest';
import { RUNTIME_ERROR_EXIT_CODE } from '../../abi/platform.ts';
import { runImage } from '../../hypervisor/run.ts';
import { agreeInEveryMode, compileSource, errorsOf, functionAsm, loopsOf, MODES, withProgramFiles } from './helpers.ts';


/**
 * Run `src` in Node and in every mode; each must print what Node printed and exit with its
 * code. Returns Node's console, for the test to check it is the answer meant.
 */
async function differential(src: string): Promise<string> {
  return (await withProgramFiles({ 'main.ts': src }, (file) => agreeInEveryMode(file))).console;
}

/** The one diagnostic line of `src` with `code`, at line:col of the test file. */
function refused(src: string, code: string, at: string): string {
  const errors = errorsOf(src);
  const found = errors.find((e) => e.startsWith(`guest-kernel/programs/__test__/main.ts:${at}: error ${code}: `));
  expect(found, `expected ${code} at ${at}, got:\n${errors.join('\n')}`).toBeDefined();
  return found!;
}

describe('typed arrays inside functions', () => {
  it('each frame of a recursion has its own, zeroed on every call', async () => {
    const out = await differential(`
function depth(n: number): number {
  const mine = new Int32Array(6);
  let zeros = 0;
  for (const x of mine) if (x === 0) zeros++;
  mine[0] = n;
  mine[5] = n * 10;
  const below = n > 0 ? depth(n - 1) : 0;
  // The callee's array did not touch this one.
  return (below * 7 + mine[0] + mine[5] + zeros) % 1000003;
}
export function main(): number {
  console.log('depth', depth(12), depth(0));
  return depth(3) & 0x7f;
}
`);
    expect(out).toBe('depth 606305 6\n');
  });

  it('is fresh on every loop iteration, as new gives in JavaScript', async () => {
    const out = await differential(`
export function main(): number {
  let total = 0;
  for (let round = 0; round < 4; round++) {
    const counts = new Uint8Array(5);
    counts[round] += 3;
    counts[4] += round;
    for (const c of counts) total = (total * 3 + c) & 0xffff;
    console.log('round', round, counts[0], counts[1], counts[2], counts[3], counts[4], counts.length);
  }
  return total & 0xff;
}
`);
    expect(out).toBe('round 0 3 0 0 0 0 5\nround 1 0 3 0 0 1 5\nround 2 0 0 3 0 2 5\nround 3 0 0 0 3 3 5\n');
  });

  it('passes to functions, knows its length, and starts with its listed elements', async () => {
    await differential(`
function sum(a: Int16Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}
function fill(b: Uint8Array, v: number): void {
  for (let i = 0; i < b.length; i++) b[i] = v + i;
}
export function main(): number {
  const primes = new Int16Array([2, 3, 5, 7, -11, 13]);
  const bytes = new Uint8Array(300);
  fill(bytes, 250);
  const alias = bytes;
  const words = new Int8Array(3);
  words[1] = 200;
  console.log(sum(primes), primes.length, bytes[0], bytes[5], bytes[299], alias.length, words[1], words[2]);
  return sum(primes);
}
`);
  });

  it('holds 64 KiB beside seven parameters (offsets past 16 bits)', async () => {
    const out = await differential(`
function big(a: number, b: number, c: number, d: number, e: number, f: number, g: number): number {
  const buf = new Int32Array(16000);
  let zeros = 0;
  for (const x of buf) if (x === 0) zeros++;
  buf[15999] = g;
  buf[0] = a;
  return zeros + buf[15999] * 2 + buf[0] + b + c + d + e + f;
}
export function main(): number {
  console.log(big(1, 2, 3, 4, 5, 6, 7), big(10, 0, 0, 0, 0, 0, -100));
  return 0;
}
`);
    expect(out).toBe('16035 15810\n');
  });

  it('a let declared in the same iteration may hold one; a let before the loop one from before it', async () => {
    await differential(`
export function main(): number {
  const a = new Int32Array([1, 2]);
  const b = new Int32Array([3, 4]);
  let cur = a;
  let next = b;
  let s = 0;
  for (let i = 0; i < 5; i++) {
    const tmp = cur; cur = next; next = tmp;
    const scratch = new Int32Array(2);
    let view = scratch;
    view[0] = cur[0] + i;
    s += view[0] + scratch.length;
  }
  console.log(s, cur[0], next[0]);
  return s;
}
`);
  });

  it('is bounds-checked: an index past its length is a named error in every mode', () => {
    const src = `function poke(k: number): number {\n  const buf = new Uint8Array(8);\n  buf[k] = 1;\n  return buf[0];\n}\nexport function main(): number {\n  return poke(3) + poke(8);\n}\n`;
    for (const { mode, target } of MODES) {
      const r = runImage(compileSource(src, target).image, { mode, maxInstructions: 1_000_000 });
      expect(r.exitCode, mode).toBe(RUNTIME_ERROR_EXIT_CODE);
      expect(r.console, mode).toBe("guest-kernel/programs/__test__/main.ts:3:3: index out of bounds in 'buf[k]'\n");
    }
  });

  it('a recursion of 64 KiB frames is a stack overflow in every mode, not a step over the guard page', () => {
    const src = `function dive(n: number): number {\n  const big = new Int32Array(16000);\n  big[0] = n;\n  return n === 0 ? 0 : (dive(n - 1) + big[0]) | 0;\n}\nexport function main(): number {\n  return dive(1000);\n}\n`;
    for (const { mode, target } of MODES) {
      const r = runImage(compileSource(src, target).image, { mode, maxInstructions: 50_000_000 });
      expect(r.exitCode, mode).toBe(RUNTIME_ERROR_EXIT_CODE);
      expect(r.console, mode).toMatch(/^guest-kernel\/programs\/__test__\/main\.ts:1: stack overflow at pc 0x[0-9a-f]+\n$/);
    }
  });

  it('may not be returned: directly, through a const, a call handing it back, or a reassigned parameter', () => {
    const id = `function id(a: Uint8Array): Uint8Array { return a; }\nconst g = new Uint8Array(4);\n`;
    const main = `export function main(): number { return f(g)[0]; }\n`;
    refused(`${id}function f(p: Uint8Array): Uint8Array {\n  const b = new Uint8Array(4);\n  const c = b;\n  return c;\n}\n${main}`, 'TSG2014', '6:10');
    refused(`${id}function f(p: Uint8Array): Uint8Array {\n  const b = new Uint8Array(4);\n  return id(b);\n}\n${main}`, 'TSG2014', '5:10');
    refused(`${id}function f(p: Uint8Array): Uint8Array {\n  const b = new Uint8Array(4);\n  p = b;\n  return p;\n}\n${main}`, 'TSG2014', '6:10');
    // Handing back the caller's array is fine, local arrays or not.
    const ok = compileSource(`${id}function f(p: Uint8Array): Uint8Array {\n  const b = new Uint8Array(4);\n  b[0] = 9;\n  p[0] = b[0];\n  return id(p);\n}\n${main}`);
    expect(runImage(ok.image, { mode: 'native', maxInstructions: 100_000 }).exitCode).toBe(9);
  });

  it('its address may be used in the function (and passed on), not stored outside it or returned', () => {
    const ok = compileSource(`function f(): number {\n  const b = new Uint8Array(4);\n  const p = addressOf(b);\n  store8(p + 2, 7);\n  return b[2];\n}\nexport function main(): number { return f(); }\n`);
    expect(runImage(ok.image, { mode: 'native', maxInstructions: 100_000 }).exitCode).toBe(7);
    expect(refused(`let g = 0;\nexport function main(): number {\n  const b = new Uint8Array(4);\n  g = addressOf(b) + 1;\n  return 0;\n}\n`, 'TSG2014', '4:3')).toContain(
      'addressOf(b) is an address in this function\'s stack frame',
    );
    refused(`function f(): number {\n  const b = new Uint8Array(4);\n  return addressOf(b);\n}\nexport function main(): number { return f(); }\n`, 'TSG2014', '3:10');
    refused(`const t = new Int32Array(2);\nexport function main(): number {\n  const b = new Uint8Array(4);\n  t[0] = addressOf(b);\n  return 0;\n}\n`, 'TSG2014', '4:3');
  });

  it('lives in the frame: its address is sp-relative, its length a constant, nothing in data', () => {
    const c = compileSource(`
function f(k: number): number {
  const buf = new Uint8Array(64);
  buf[k & 63] = 1;
  return buf.length + buf[3];
}
export function main(): number { return f(3); }
`);
    const asm = functionAsm(c.asm, 'f');
    expect(asm.some((l) => /^addi r\d+, sp, \d+$/.test(l))).toBe(true); // element 0's address
    expect(asm).toContain('addi sp, sp, -68'); // 64 bytes and the length word
    expect(asm.some((l) => /^li r\d+, 64$/.test(l))).toBe(true); // the length, stored and folded
    expect(c.asm).not.toMatch(/\.space 64\b/);
  });
});

describe('Uint32Array', () => {
  it('reads back unsigned: values above 2^31 print, compare and divide as in Node; stores wrap', async () => {
    const out = await differential(`
const table = new Uint32Array([0xffffffff, 3000000000, 7, 0x80000000]);
function count(t: Uint32Array, above: number): number {
  let n = 0;
  for (const x of t) if (x > above >>> 0) n++;
  return n;
}
export function main(): number {
  const local = new Uint32Array(3);
  local[0] = -1;
  local[1] = -5;
  local[2] = table[1];
  console.log(table[0], table[1], table[3], local[0], local[1], local[2]);
  console.log(table[0] > table[1], table[3] > 2147483647, table[2] < table[3], local[0] === 4294967295);
  console.log((table[1] / 7) | 0, table[1] % 1000, table[0] >>> 28, Math.max(table[1], table[3]), Math.min(table[0], 10));
  console.log(count(table, 1000), count(local, 2147483647));
  return count(table, 5);
}
`);
    expect(out.split('\n')[0]).toBe('4294967295 3000000000 2147483648 4294967295 4294967291 3000000000');
  });

  it('a let, a parameter or a return value may not hold an element (TSG3010)', () => {
    const t = `const u = new Uint32Array(2);\n`;
    refused(`${t}export function main(): number {\n  let v = u[0];\n  return v;\n}\n`, 'TSG3010', '3:11');
    refused(`${t}function f(x: number): number { return x; }\nexport function main(): number {\n  return f(u[1]);\n}\n`, 'TSG3010', '4:12');
    refused(`${t}function g(): number { return u[0]; }\nexport function main(): number {\n  return g();\n}\n`, 'TSG3010', '2:31');
    refused(`${t}export function main(): number {\n  for (let x of u) x++;\n  return 0;\n}\n`, 'TSG3010', '3:12');
  });
});

describe('for...of', () => {
  it('over module, local and parameter arrays, with break, continue and labels', async () => {
    const out = await differential(`
const grid = new Int8Array([3, -1, 4, -1, 5, -9, 2, 6]);
function positives(a: Int8Array): number {
  let n = 0;
  for (const x of a) {
    if (x < 0) continue;
    n += x;
  }
  return n;
}
export function main(): number {
  const local = new Uint16Array([10, 20, 30, 40]);
  let firstBig = -1;
  for (const v of local) {
    if (v > 25) { firstBig = v; break; }
  }
  let pairs = 0;
  outer: for (const a of grid) {
    for (const b of local) {
      if (a * 10 === b) continue outer;
      if (a < 0) break outer;
      pairs++;
    }
  }
  let last = 0;
  for (let x of grid) { x = x * 2; last = x; }
  console.log(positives(grid), firstBig, pairs, last);
  return pairs;
}
`);
    expect(out).toBe('20 30 2 12\n');
  });

  it('becomes a pointer walk: no index arithmetic in the loop', () => {
    const c = compileSource(`
function total(a: Int32Array): number {
  let s = 0;
  for (const x of a) s = (s + x) | 0;
  return s;
}
const t = new Int32Array(100);
export function main(): number { return total(t); }
`);
    const loops = loopsOf(c.asm, 'total');
    expect(loops.length).toBeGreaterThan(0);
    for (const body of loops) {
      expect(body.some((l) => l.startsWith('ldw'))).toBe(true);
      expect(body.filter((l) => l.startsWith('shli'))).toEqual([]); // no index scaling
      expect(body.some((l) => /^addi (r\d+), \1, (4|16)$/.test(l))).toBe(true); // a pointer bumped by elements
    }
  });

  it('is refused over strings and without its own variable', () => {
    refused(`export function main(): number {\n  let n = 0;\n  for (const c of 'ab') n++;\n  return n;\n}\n`, 'TSG2007', '3:19');
    refused(`const t = new Int32Array(2);\nexport function main(): number {\n  let x = 0;\n  for (x of t) x++;\n  return x;\n}\n`, 'TSG2009', '4:8');
  });
});

describe('Math', () => {
  it('min, max, abs, clz32 and sign give Node\'s answers at the edges', async () => {
    const out = await differential(`
const INT_MIN = -2147483648;
const xs = new Int32Array([0, 1, -1, 2, -2, 255, 65536, 2147483647, -2147483647, INT_MIN, 0x40000000]);
export function main(): number {
  let h = 0;
  for (const x of xs) {
    const a = x === INT_MIN ? 0 : Math.abs(x);
    console.log(x, a, Math.sign(x), Math.clz32(x), Math.min(x, 0), Math.max(x, 0), Math.min(x, -3, 7), Math.max(-5, x, 3));
    h = (h * 31 + Math.clz32(x) + Math.sign(x)) | 0;
  }
  console.log(Math.min(INT_MIN, 2147483647), Math.max(INT_MIN, -2147483647), Math.min(7), Math.max(-7));
  return h & 0xff;
}
`);
    expect(out.split('\n')[9]).toBe('-2147483648 0 -1 0 -2147483648 0 -2147483648 3');
  });

  it('fold with constant arguments, Math.abs(-2147483648) to 2147483648 as in Node', async () => {
    const out = await differential(`
const N = Math.max(3, 8, 5);
const table = new Int32Array(N);
export function main(): number {
  console.log(table.length, Math.abs(-2147483648), Math.clz32(0), Math.clz32(-1), Math.sign(-9), Math.min(4, Math.abs(-2)));
  return N;
}
`);
    expect(out).toBe('8 2147483648 32 0 -1 2\n');
  });

  it('Math.abs(-2147483648) at run time is an integer overflow naming the call, in every mode', () => {
    const src = `const v = new Int32Array([-5, -2147483648]);\nexport function main(): number {\n  let s = 0;\n  for (const x of v) s += Math.abs(x);\n  return s;\n}\n`;
    for (const { mode, target } of MODES) {
      const r = runImage(compileSource(src, target).image, { mode, maxInstructions: 1_000_000 });
      expect(r.exitCode, mode).toBe(RUNTIME_ERROR_EXIT_CODE);
      expect(r.console, mode).toContain("guest-kernel/programs/__test__/main.ts:4:27: integer overflow in 'Math.abs(x)'");
    }
  });

  it('inline: abs is three instructions, clz32 and sign have no branch and no call', () => {
    const c = compileSource(`
export function a(x: number): number { return Math.abs(x); }
export function z(x: number): number { return Math.clz32(x); }
export function s(x: number): number { return Math.sign(x); }
export function main(): number { return a(-3) + z(1) + s(-4); }
`);
    expect(functionAsm(c.asm, 'a').filter((l) => !l.endsWith(':'))).toEqual(['sari r1, r0, 31', 'xor r0, r0, r1', 'subo r0, r0, r1', 'ret']);
    for (const f of ['z', 's']) {
      const asm = functionAsm(c.asm, f);
      expect(asm.some((l) => /^(b|call|jmp)/.test(l)), f).toBe(false);
    }
  });

  it('unsigned arguments compare unsigned; mixing one with a possibly negative value is refused', () => {
    refused(`export function main(): number {\n  let x = -1;\n  return Math.max(x >>> 0, x) & 1;\n}\n`, 'TSG3012', '3:10');
  });

  it('other Math members are TSG2020, naming them', () => {
    expect(refused(`export function main(): number {\n  return Math.floor(3);\n}\n`, 'TSG2020', '2:10')).toContain("'Math.floor' is not supported");
    expect(refused(`export function main(): number {\n  return Math.PI | 0;\n}\n`, 'TSG2020', '2:10')).toContain("'Math.PI' is not supported");
    refused(`export function main(): number {\n  return Math.max();\n}\n`, 'TSG2020', '2:10');
  });
});

describe('default parameters', () => {
  it('a call that leaves them out passes the constants', async () => {
    const out = await differential(`
const BASE = 10;
function fmt(v: number, base = BASE, pad = -1, label = 'n', loud = false): number {
  console.log(v, label, base, pad, loud);
  return (v * base + pad) | 0;
}
function eight(a: number, b: number, c: number, d: number, e: number, f: number, g = 70, h = 80): number {
  return a + b + c + d + e + f + g + h;
}
export function main(): number {
  const r = fmt(1) + fmt(2, 16) + fmt(3, 8, 4) + fmt(4, 2, 0, 'bits') + fmt(5, 1, 1, 'x', true);
  console.log(r, eight(1, 2, 3, 4, 5, 6), eight(1, 2, 3, 4, 5, 6, 7), eight(1, 2, 3, 4, 5, 6, 7, 8));
  return r & 0xff;
}
`);
    expect(out).toBe('1 n 10 -1 false\n2 n 16 -1 false\n3 n 8 4 false\n4 bits 2 0 false\n5 x 1 1 true\n82 171 108 36\n');
  });

  it('a default must be a constant; optional parameters stay refused', () => {
    refused(`let k = 1;\nfunction f(x = k): number { return x; }\nexport function main(): number { return f(); }\n`, 'TSG3001', '2:16');
    refused(`function f(x?: number): number { return 0; }\nexport function main(): number { return f(); }\n`, 'TSG2012', '1:12');
    refused(`function f(x = 0xffffffff): number { return x; }\nexport function main(): number { return f() > 0 ? 1 : 0; }\n`, 'TSG3010', '1:16');
  });
});

describe('more than six parameters', () => {
  it('7 to 10 parameters, recursion, and arguments that are calls themselves', async () => {
    const out = await differential(`
function seven(a: number, b: number, c: number, d: number, e: number, f: number, g: number): number {
  return a - b + c - d + e - f + g * 100;
}
function nine(a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number): number {
  return ((((((((a * 3 + b) * 3 + c) * 3 + d) * 3 + e) * 3 + f) * 3 + g) * 3 + h) * 3 + i) | 0;
}
function ten(a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number): number {
  if (j <= 0) return a + b + c + d + e + f + g + h + i;
  // Rotate the arguments, each recursive call passing four of them on the stack.
  return ten(b, c, d, e, f, g, h, i, a + j, j - 1);
}
export function main(): number {
  console.log(seven(1, 2, 3, 4, 5, 6, 7), nine(1, 2, 3, 4, 5, 6, 7, 8, 9), ten(1, 2, 3, 4, 5, 6, 7, 8, 9, 20));
  const nested = nine(seven(1, 1, 1, 1, 1, 1, 1), ten(0, 0, 0, 0, 0, 0, 0, 0, 0, 3), 3, 4, seven(0, 0, 0, 0, 0, 0, 2), 6, 7, nine(0, 0, 0, 0, 0, 0, 0, 0, 5), 9);
  console.log(nested, seven(nine(1, 1, 1, 1, 1, 1, 1, 1, 1), 0, 0, 0, 0, 0, ten(1, 1, 1, 1, 1, 1, 1, 1, 1, 0)));
  return nested & 0xff;
}
`);
    expect(out.split('\n')[0]).toBe('697 14757 255');
  });

  it('the caller stores arguments 7.. below the return address; no push or pop around the call', () => {
    const c = compileSource(`
function seven(a: number, b: number, c: number, d: number, e: number, f: number, g: number): number { return a + g; }
export function main(): number { return seven(1, 2, 3, 4, 5, 6, 77); }
`);
    const main = functionAsm(c.asm, 'main');
    const setUp = main.indexOf('addi sp, sp, -4'); // the outgoing area, made once in the prologue
    const call = main.indexOf('call seven');
    expect(setUp).toBeGreaterThanOrEqual(0);
    const between = main.slice(setUp + 1, call);
    expect(between.some((l) => /^stw r\d+, \[sp\]$/.test(l))).toBe(true);
    expect(between.filter((l) => /^(push|pop|addi sp)/.test(l))).toEqual([]);
    expect(functionAsm(c.asm, 'seven')).toContain('ldw r1, [sp+4]'); // just above the return address
  });

  it('seventeen are refused', () => {
    refused(`function f(${Array.from({ length: 17 }, (_, i) => `a${i}: number`).join(', ')}): number { return a0; }\nexport function main(): number { return 0; }\n`, 'TSG2016', '1:210');
  });
});

describe('console.log', () => {
  it('prints numbers, unsigned values, booleans and strings as Node does', async () => {
    const out = await differential(`
function shout(s: string): number {
  console.log('inner', s);
  return 5;
}
export function main(): number {
  const name = 'tsvisor';
  let n = -42;
  console.log('hello', name, n, 0, -2147483648, 2147483647, 0xffffffff, n >>> 0, true, n > 0);
  console.log();
  console.log(name);
  console.log('100%', n, 'done%');
  console.log(n, 'first', shout('arg'), name.length, name.charCodeAt(0));
  return 0;
}
`);
    expect(out).toBe(
      'hello tsvisor -42 0 -2147483648 2147483647 4294967295 4294967254 true false\n\ntsvisor\n100% -42 done%\ninner arg\n-42 first 5 7 116\n',
    );
  });

  it('constant arguments become one string with the separators and the newline', () => {
    const c = compileSource(`export function main(): number {\n  console.log('a', 1, true, -3);\n  return 0;\n}\n`);
    const calls = functionAsm(c.asm, 'main').filter((l) => l.startsWith('call'));
    expect(calls).toHaveLength(1);
    expect(c.asm).toContain('.ascii "a 1 true -3"');
  });

  it('refuses a format conversion, a computed first string with more arguments, and other methods', () => {
    refused(`export function main(): number {\n  console.log('%d items', 3);\n  return 0;\n}\n`, 'TSG2010', '2:15');
    refused(`function f(s: string): void {\n  console.log(s, 1);\n}\nexport function main(): number {\n  f('x');\n  return 0;\n}\n`, 'TSG2010', '2:15');
    refused(`export function main(): number {\n  console.warn('x');\n  return 0;\n}\n`, 'TSG2003', '2:3');
  });

  it('TypeScript finds console without the dom library', () => {
    const errors = (() => {
      try {
        compileSource(`export function main(): number {\n  console.log(1);\n  return 0;\n}\n`);
        return [];
      } catch (e) {
        return [(e as Error).message];
      }
    })();
    expect(errors).toEqual([]);
  });
});
