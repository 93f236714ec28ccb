/**
 * Intrinsics: the machine's instructions as functions, for guest code compiled by the tsvisor
 * compiler (guest-kernel/compiler). This is the one place they are declared; the compiler
 * recognises a call only when the callee resolves to a declaration in this file, and expands it
 * inline (no call instruction). Under Node (guest-kernel/compiler/node-shim.ts) the same names are
 * installed on globalThis as shims, so guest sources also run directly for differential tests.
 *
 * Arguments are 32-bit integers. Where an argument must be a compile-time constant it says so;
 * passing anything else is a compile error, not a slower instruction.
 */

/** True when compiling for the pv target, false for native and user. A constant: the untaken branch of `if (TARGET_PV)` is not compiled. */
declare const TARGET_PV: boolean;
/**
 * True when compiling for the user target (a program of the guest kernel, at privilege 3, talking
 * to it by `syscall`: guest-kernel/kernel/syscall-abi.ts), false for native and pv. A constant,
 * folded like TARGET_PV; false under Node.
 */
declare const TARGET_USER: boolean;

// Memory ------------------------------------------------------------------------------------

/** Load the byte at `addr`, zero-extended (`ldbu`). */
declare function load8(addr: number): number;
/** Load the byte at `addr`, sign-extended (`ldb`). */
declare function load8s(addr: number): number;
/** Load the 16 bits at `addr` (2-aligned), zero-extended (`ldhu`). */
declare function load16(addr: number): number;
/** Load the 16 bits at `addr` (2-aligned), sign-extended (`ldh`). */
declare function load16s(addr: number): number;
/** Load the word at `addr` (4-aligned) (`ldw`). */
declare function load32(addr: number): number;
/** Store the low byte of `value` at `addr` (`stb`). */
declare function store8(addr: number, value: number): void;
/** Store the low 16 bits of `value` at `addr` (2-aligned) (`sth`). */
declare function store16(addr: number, value: number): void;
/** Store `value` at `addr` (4-aligned) (`stw`). */
declare function store32(addr: number, value: number): void;

// Privileged instructions -------------------------------------------------------------------

/** Read a 32-bit word from I/O port `port` (`in`, or `inr` when the port is not a constant). */
declare function portIn(port: number): number;
/** Write `value` to I/O port `port` (`out`, or `outr` when the port is not a constant). */
declare function portOut(port: number, value: number): void;
/** Mask external interrupts (`cli`). */
declare function cli(): void;
/** Accept external interrupts (`sti`). */
declare function sti(): void;
/** Idle until the next external interrupt (`hlt`). */
declare function hlt(): void;
/** Read FLAGS (IF, CPL) with `pushf`; sensitive: works at any privilege, revealing the CPL. */
declare function pushf(): number;
/** Write FLAGS with `popf`; at privilege 3 the change to IF is silently ignored (sensitive). */
declare function popf(flags: number): void;
/** Read control register `cr` (`mfcr`); `cr` must be a constant, e.g. `Cr.Ptbr` from abi/isa.ts. */
declare function readCr(cr: number): number;
/** Write control register `cr` (`mtcr`); `cr` must be a constant. */
declare function writeCr(cr: number, value: number): void;
/** Drop the TLB entry of the page holding virtual address `addr` (`invlpg`). */
declare function invlpg(addr: number): void;

// Traps and calls -----------------------------------------------------------------------------

/** System call (`syscall`): number in r0, arguments in r1..r5; returns r0 as the kernel left it. */
declare function syscall(nr: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number): number;
/** Hypercall (`hypercall`): number in r0, arguments in r1..r5; returns r0 (negative on failure). */
declare function hypercall(nr: number, a1?: number, a2?: number, a3?: number, a4?: number, a5?: number): number;
/** Raise a breakpoint exception (`brk`). */
declare function breakpoint(): void;

// Addresses ---------------------------------------------------------------------------------

/**
 * The address of a function (its first instruction), of a static typed array (its element 0) or
 * of a string literal (its first byte). Constant-folded to a label.
 */
declare function addressOf(
  x: ((...args: never[]) => unknown) | string | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array,
): number;

/**
 * The address of an interrupt, exception or upcall entry for `handler`, to store in the vector
 * table. The compiler generates the entry: it pushes r0..r14 below the CPU's trap frame, calls
 * `handler(frame)` with `frame` = the address of the saved r0, pops the registers (so a handler
 * may change a saved register, e.g. r0 to return a system call's result) and returns with `iret`.
 * Frame layout (words): frame+4*n = saved rn (n = 0..14), frame+60 = pc, +64 = FLAGS, +68 = old sp.
 */
declare function interruptEntry(handler: (frame: number) => void): number;
