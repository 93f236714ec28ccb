/** Function values: a system-call table, handler tables, function-typed locals and parameters. */
import { print, printlnNumber } from '../lib/console.ts';

type Syscall = (a: number, b: number) => number;
type Handler = (x: number) => number;

let exitCode = 0;
let written = 0;

function sysExit(code: number, _unused: number): number {
  exitCode = code;
  return 0;
}

function sysWrite(c: number, n: number): number {
  for (let i = 0; i < n; i++) written = (written * 31 + c + i) | 0;
  return n;
}

function sysAdd(a: number, b: number): number {
  return (a + b) | 0;
}

function sysBad(_a: number, _b: number): number {
  return -38; // -ENOSYS
}

/** The table the dispatcher indexes: a read-only array of function addresses. */
const syscalls = [sysExit, sysWrite, sysAdd, sysBad];

function double(x: number): number {
  return x * 2;
}
function square(x: number): number {
  return Math.imul(x, x);
}
function negate(x: number): number {
  return -x;
}

const handlers: Handler[] = [double, square, negate, double];
let onTick: Handler = square;

function dispatch(nr: number, a: number, b: number): number {
  if (nr < 0 || nr >= syscalls.length) return -38;
  return syscalls[nr](a, b);
}

function apply(h: Handler, x: number): number {
  return h(x);
}

function pick(k: number): Handler {
  return handlers[k & 3];
}

export function main(): number {
  printlnNumber(dispatch(2, 40, 2));
  printlnNumber(dispatch(1, 7, 5));
  printlnNumber(written);
  printlnNumber(dispatch(3, 0, 0));
  printlnNumber(dispatch(9, 0, 0));
  let total = 0;
  for (let i = 0; i < 12; i++) {
    const h = handlers[i % handlers.length];
    total = (total + h(i)) | 0;
  }
  printlnNumber(total);
  printlnNumber(apply(negate, 5) + apply(pick(1), 6));
  printlnNumber(onTick(9));
  onTick = pick(2);
  printlnNumber(onTick(9));
  print('same: ');
  printlnNumber(pick(0) === pick(3) ? 1 : 0);
  dispatch(0, 3, 0);
  return exitCode;
}
