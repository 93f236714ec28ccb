/**
 * The default exception handler of every compiled program. The compiler adds this module to each
 * program it builds (guest code never imports it, and Node never runs it); the start-up code
 * (compiler/startup.ts) points exception vectors 0..31 (native: the vector table; pv: the trap
 * table; user: the kernel's SYS_TRAP registration) at an entry stub that switches to a small
 * static stack and calls `runtimeError`. It reports the first fault on one console line (user:
 * a write to FD_STDERR), then shuts the machine down (user: exits the task) with
 * RUNTIME_ERROR_EXIT_CODE:
 *
 *   guest-kernel/programs/x.ts:12:9: integer overflow in 'i * i'        a run-time check's site
 *   guest-kernel/programs/x.ts:7: division by zero at pc 0x1040          #DE anywhere else
 *   guest-kernel/programs/x.ts:3: stack overflow at pc 0x1010            a fault in the guard page
 *   guest-kernel/programs/x.ts:5: page-fault (vector 14) at pc 0x1024, address 0x2000000
 *
 * `file:line` comes from the tables the compiler puts in the image (abi/runtime-tables.ts); a pc
 * outside them (a wild jump) is reported without it. Written in the subset; it must not fault,
 * and if it does anyway the second entry shuts down at once, without a message.
 */
import { CONSOLEIO_WRITE, HC_CONSOLE_IO, HC_SCHED_OP, SCHEDOP_SHUTDOWN } from '../../abi/hypercall-numbers.ts';
import { PAGE_SIZE, Vector } from '../../abi/isa.ts';
import { POWER_SHUTDOWN, RUNTIME_ERROR_EXIT_CODE, UART_DATA } from '../../abi/platform.ts';
import { FD_STDERR, SYS_EXIT, SYS_WRITE } from '../kernel/syscall-abi.ts';
import {
  RT_CODE,
  RT_FILE_BYTES,
  RT_FILE_COUNT,
  RT_FILES,
  RT_GUARD,
  RT_LINE_COUNT,
  RT_LINE_MASK,
  RT_LINE_SHIFT,
  RT_LINES,
  RT_SITE_BYTES,
  RT_SITE_COUNT,
  RT_SITE_FILE,
  RT_SITE_MESSAGE,
  RT_SITES,
  RT_VECTOR_NAMES,
  RT_VECTORS,
} from '../../abi/runtime-tables.ts';

/** The message is built here, then written in one go (pv: one console hypercall). */
const message = new Uint8Array(512);
let length = 0;
let reporting = false;

/** Append one byte, keeping the last one for the newline. */
function put(c: number): void {
  if (length < message.length - 1) {
    message[length] = c;
    length++;
  }
}

/** Append a string of the tables: its bytes at `s`, its length in the word below. */
function putString(s: number): void {
  const n = load32(s - 4);
  for (let i = 0; i < n; i++) put(load8(s + i));
}

function putText(s: string): void {
  for (let i = 0; i < s.length; i++) put(s.charCodeAt(i));
}

function putDecimal(n: number): void {
  if (n >= 10) putDecimal((n / 10) | 0);
  put(48 + (n % 10));
}

/** `n`'s 32 bits in hexadecimal, without leading zeros. */
function putHex(n: number): void {
  let shift = 28;
  while (shift > 0 && ((n >>> shift) & 15) === 0) shift -= 4;
  for (; shift >= 0; shift -= 4) {
    const d = (n >>> shift) & 15;
    put(d < 10 ? 48 + d : 87 + d);
  }
}

/** The site entry of the check whose trapping instruction is at `pc`, or 0. */
function siteAt(tables: number, pc: number): number {
  const n = load32(tables + RT_SITE_COUNT);
  let p = load32(tables + RT_SITES);
  for (let i = 0; i < n; i++) {
    if (load32(p) === pc) return p;
    p += RT_SITE_BYTES;
  }
  return 0;
}

/** The name string of the source file the code at `pc` came from, or 0. */
function fileAt(tables: number, pc: number): number {
  const n = load32(tables + RT_FILE_COUNT);
  let p = load32(tables + RT_FILES);
  let file = 0;
  for (let i = 0; i < n; i++) {
    if ((load32(p) >>> 0) > (pc >>> 0)) break;
    file = load32(p + 4);
    p += RT_FILE_BYTES;
  }
  return file;
}

/** The source line the instruction at `pc` came from, or 0. */
function lineAt(tables: number, pc: number): number {
  const n = load32(tables + RT_LINE_COUNT);
  const lines = load32(tables + RT_LINES);
  let start = load32(tables + RT_CODE);
  if ((pc >>> 0) < (start >>> 0)) return 0;
  for (let i = 0; i < n; i++) {
    const run = load32(lines + 4 * i);
    const end = (start + ((run >>> RT_LINE_SHIFT) << 2)) | 0;
    if ((pc >>> 0) < (end >>> 0)) return run & RT_LINE_MASK;
    start = end;
  }
  return 0;
}

function shutdown(): void {
  if (TARGET_PV) hypercall(HC_SCHED_OP, SCHEDOP_SHUTDOWN, RUNTIME_ERROR_EXIT_CODE);
  else if (TARGET_USER) syscall(SYS_EXIT, RUNTIME_ERROR_EXIT_CODE);
  else portOut(POWER_SHUTDOWN, RUNTIME_ERROR_EXIT_CODE);
}

/**
 * Report exception `vector` taken at `pc` (the faulting instruction; for a double fault, the one
 * whose exception could not be delivered) and shut down. `faultAddr` is the page fault's address
 * (kept by a double fault); `tables` the address of the header of abi/runtime-tables.ts.
 */
export function runtimeError(vector: number, pc: number, faultAddr: number, tables: number): void {
  if (reporting) {
    shutdown();
    return;
  }
  reporting = true;
  // A breakpoint saves the address after BRK: name the line of the BRK itself.
  const at = vector === Vector.Breakpoint ? (pc - 4) | 0 : pc;
  // Checks trap with #DE, #OF or #BR; any other exception at a check's pc (a page fault of a
  // load the compiler labelled, say) is not what the check reports.
  const checked = vector === Vector.DivideError || vector === Vector.Overflow || vector === Vector.BoundRange;
  const site = checked ? siteAt(tables, at) : 0;
  if (site !== 0) {
    putString(load32(site + RT_SITE_FILE));
    put(58); // ':'
    putString(load32(site + RT_SITE_MESSAGE));
  } else {
    const file = fileAt(tables, at);
    const line = lineAt(tables, at);
    if (file !== 0 && line !== 0) {
      putString(file);
      put(58);
      putDecimal(line);
      putText(': ');
    }
    const guard = load32(tables + RT_GUARD);
    const fault = vector === Vector.PageFault || vector === Vector.DoubleFault;
    const inGuard = guard !== 0 && fault && (faultAddr >>> 0) >= (guard >>> 0) && (faultAddr >>> 0) < ((guard + PAGE_SIZE) >>> 0);
    if (inGuard) {
      putText('stack overflow');
    } else if (vector === Vector.DivideError) {
      putText('division by zero');
    } else {
      const name = vector >= 0 && vector < RT_VECTORS ? load32(load32(tables + RT_VECTOR_NAMES) + 4 * vector) : 0;
      if (name !== 0) putString(name);
      else putText('exception');
      putText(' (vector ');
      putDecimal(vector);
      putText(')');
    }
    putText(' at pc 0x');
    putHex(pc);
    if (vector === Vector.PageFault && !inGuard) {
      putText(', address 0x');
      putHex(faultAddr);
    }
  }
  message[length] = 10;
  length++;
  if (TARGET_PV) {
    hypercall(HC_CONSOLE_IO, CONSOLEIO_WRITE, addressOf(message), length);
  } else if (TARGET_USER) {
    syscall(SYS_WRITE, FD_STDERR, addressOf(message), length);
  } else {
    for (let i = 0; i < length; i++) portOut(UART_DATA, message[i]);
  }
  shutdown();
}
