/**
 * The guest console library: print characters, strings and numbers. Written in the TypeScript
 * subset, for every target: `TARGET_PV` and `TARGET_USER` are compile-time constants, so a native
 * build contains only the port writes (one OUT per byte to the UART, like a 16550's THR), a pv
 * build only the console hypercalls (HC_CONSOLE_IO with a buffer, as Xen's console_io) and a
 * user build only write system calls to its standard output (SYS_WRITE to FD_STDOUT,
 * guest-kernel/kernel/syscall-abi.ts). Under Node the intrinsics are shimmed
 * (compiler/node-shim.ts) and the same code prints to a captured buffer.
 *
 * Every program loads this module: `console.log(...)` compiles to calls of print, putc,
 * printNumber, printUnsigned and printBoolean (compiler/console-log.ts).
 */
import { CONSOLEIO_WRITE, HC_CONSOLE_IO } from '../../abi/hypercall-numbers.ts';
import { UART_DATA } from '../../abi/platform.ts';
import { FD_STDOUT, SYS_WRITE } from '../kernel/syscall-abi.ts';

/** Digits of a number are built here, last digit first, then written in one go. */
const digits = new Uint8Array(16);

/** Write `length` bytes starting at address `addr` (pv: one hypercall; user: write system calls until all are written or one fails). */
function writeBytes(addr: number, length: number): void {
  if (TARGET_PV) {
    hypercall(HC_CONSOLE_IO, CONSOLEIO_WRITE, addr, length);
  } else if (TARGET_USER) {
    let at = addr;
    let left = length;
    while (left > 0) {
      const n = syscall(SYS_WRITE, FD_STDOUT, at, left);
      if (n <= 0) return;
      at = (at + n) | 0;
      left = (left - n) | 0;
    }
  } else {
    for (let i = 0; i < length; i++) portOut(UART_DATA, load8(addr + i));
  }
}

/** Write one byte. */
export function putc(c: number): void {
  if (TARGET_PV) {
    digits[0] = c;
    hypercall(HC_CONSOLE_IO, CONSOLEIO_WRITE, addressOf(digits), 1);
  } else if (TARGET_USER) {
    digits[0] = c;
    writeBytes(addressOf(digits), 1);
  } else {
    portOut(UART_DATA, c);
  }
}

/** Write a string. */
export function print(s: string): void {
  if (TARGET_PV || TARGET_USER) {
    writeBytes(addressOf(s), s.length);
  } else {
    for (let i = 0; i < s.length; i++) portOut(UART_DATA, s.charCodeAt(i));
  }
}

/** Write a string and a newline. */
export function println(s: string): void {
  print(s);
  putc(10);
}

/** Write the digits of `n` (in `base`, 2..16, lower-case) from the digit buffer's end. */
function printDigits(n: number, base: number, negative: boolean): void {
  // Work with a non-positive value so that -2147483648 needs no special case.
  let v = negative ? n : -n;
  let at = 16;
  do {
    const d = -(v % base);
    at--;
    digits[at] = d < 10 ? 48 + d : 87 + d;
    v = (v / base) | 0;
  } while (v !== 0);
  if (negative) {
    at--;
    digits[at] = 45; // '-'
  }
  if (TARGET_PV || TARGET_USER) {
    writeBytes(addressOf(digits) + at, 16 - at);
  } else {
    for (let i = at; i < 16; i++) portOut(UART_DATA, digits[i]);
  }
}

/** Write a signed decimal number. */
export function printNumber(n: number): void {
  printDigits(n, 10, n < 0);
}

/** Write a signed decimal number and a newline. */
export function printlnNumber(n: number): void {
  printDigits(n, 10, n < 0);
  putc(10);
}

/** Write `n` as an unsigned decimal number (0..4294967295). */
export function printUnsigned(n: number): void {
  if (n >= 0) {
    printDigits(n, 10, false);
  } else {
    // 2147483648..4294967295: all digits but the last fit an int32.
    printDigits(((n >>> 0) / 10) | 0, 10, false);
    putc(48 + ((n >>> 0) % 10));
  }
}

/** Write `true` or `false`, as JavaScript prints a boolean. */
export function printBoolean(b: boolean): void {
  print(b ? 'true' : 'false');
}

/** Write `n` as eight hexadecimal digits (its 32 bits, unsigned). */
export function printHex(n: number): void {
  for (let shift = 28; shift >= 0; shift -= 4) {
    const d = (n >>> shift) & 15;
    putc(d < 10 ? 48 + d : 87 + d);
  }
}

/** Write `label`, a number and a newline: `printKV("sum = ", 42)` prints "sum = 42". */
export function printKV(label: string, n: number): void {
  print(label);
  printlnNumber(n);
}
