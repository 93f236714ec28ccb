/**
 * The bare machine's platform: I/O port numbers, interrupt lines and the reset state, as seen by a
 * native kernel. Numbers only (no imports), so guest code compiled by our compiler can import this
 * file directly and host and guest cannot disagree.
 *
 * Port numbers follow the PC where the PC has an equivalent (COM1 at 0x3f8, the PIC at 0x20, the
 * PIT at 0x40, the ATA task file at 0x1f0, QEMU's isa-debug-exit at 0xf4), so that an x86 reader
 * recognises them. All port accesses move one 32-bit word.
 */

// UART (one byte per OUT, like a 16550's THR)
/** OUT: low 8 bits go to the console. IN: next input byte, or -1 when none is waiting. */
export const UART_DATA = 0x3f8;
/**
 * IN/OUT: interrupt-enable register, a 16550's IER (COM1 base + 1). Bit 0 (UART_IER_RX, the
 * 16550's ERBFI, "received data available"): while it is set and an input byte is waiting, the
 * UART holds IRQ_UART high; reading the last waiting byte lowers it. The other bits read as 0.
 * Reset value 0: a guest that never writes it polls UART_STATUS and sees no interrupt.
 */
export const UART_IER = 0x3f9;
export const UART_IER_RX = 1 << 0;
/** IN: bit 0 = input byte ready, bit 5 = transmitter empty (always set: output never blocks). */
export const UART_STATUS = 0x3fd;
export const UART_STATUS_RX_READY = 1 << 0;
export const UART_STATUS_TX_EMPTY = 1 << 5;

// Interrupt controller (8259-like: eight lines, a mask and end-of-interrupt)
/** OUT any value: end of interrupt for the line in service. */
export const PIC_EOI = 0x20;
/** IN/OUT: mask register; bit n set = line n masked. Reset value 0xff (all masked). */
export const PIC_MASK = 0x21;
/** IN: lines raised and not yet acknowledged (the 8259's IRR). */
export const PIC_PENDING = 0x22;
/** IN: the line being serviced, or -1 (the 8259's ISR as a number). */
export const PIC_IN_SERVICE = 0x23;

// Timer (a PIT reduced to one periodic channel, counting virtual time)
/** OUT n: raise IRQ_TIMER every n instructions of virtual time (0 stops it). IN: the period. */
export const TIMER_PERIOD = 0x40;
/** IN: instructions of virtual time until the next tick (0 when stopped). */
export const TIMER_COUNT = 0x41;

// Block device (an ATA task file reduced to what a teaching kernel needs; one word per IN/OUT)
/** IN/OUT: one 32-bit word of the sector buffer. */
export const BLK_DATA = 0x1f0;
/** OUT: number of sectors for the next command (1..BLK_MAX_SECTORS). */
export const BLK_COUNT = 0x1f2;
/** OUT: first sector for the next command. */
export const BLK_SECTOR = 0x1f3;
/** IN: disk size in sectors. */
export const BLK_CAPACITY = 0x1f4;
/** OUT: command (BLK_CMD_*). IN: status (BLK_STATUS_*). */
export const BLK_COMMAND = 0x1f7;
export const BLK_CMD_READ = 0x20;
export const BLK_CMD_WRITE = 0x30;
export const BLK_CMD_FLUSH = 0xe7;
export const BLK_STATUS_READY = 1 << 0;
/** Data request: the data port expects (write) or holds (read) more words. */
export const BLK_STATUS_DRQ = 1 << 3;
/** The last command failed (sector out of range, bad count, unknown command). */
export const BLK_STATUS_ERROR = 1 << 7;
export const BLK_SECTOR_BYTES = 512;
export const BLK_MAX_SECTORS = 128;

// Power (QEMU's isa-debug-exit, but the whole 32-bit value is the shutdown code)
/** OUT code: power off; the run ends with this 32-bit shutdown code. */
export const POWER_SHUTDOWN = 0xf4;
/**
 * The shutdown code of a compiled program stopped by a run-time error (an exception its default
 * handler reported: integer overflow, index out of bounds, division by zero, stack overflow, a
 * stray page fault), on both targets: 134 = 128 + SIGABRT, what a shell shows for a C program's
 * abort(), so that it stands apart from the small numbers `main` returns.
 */
export const RUNTIME_ERROR_EXIT_CODE = 134;

// Interrupt lines of the PIC; line n arrives on vector Vector.IrqBase + n (abi/isa.ts)
export const IRQ_TIMER = 0;
/**
 * The UART's line (COM1 is IRQ 4 on a PC; here line 1). Level-triggered, as the 16550's INTR
 * output: high while UART_IER_RX is set and input waits; the PIC raises it again at EOI while it
 * stays high, so a handler that reads one byte per interrupt sees every byte.
 */
export const IRQ_UART = 1;
export const IRQ_BLOCK = 2;

// Reset state of the bare machine: privilege 0, paging off, IF clear, pc = the image's entry,
// sp = the top of physical memory. Images are linked at physical addresses; by convention code
// starts at LOAD_BASE so that page 0 stays free to catch null pointers once paging is on.
export const LOAD_BASE = 0x1000;
export const DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024;
