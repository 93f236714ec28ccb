/**
 * UART: the console of the bare machine. One byte per OUT to the data port, as a 16550's
 * transmit register; output never blocks, so the status port always reports the transmitter
 * empty. Input bytes wait in a queue and are read one per IN (-1 when none is waiting): bytes
 * given up front are there from the first instruction, live ones (`feed`, the CLI reading the
 * terminal) arrive between run slices, so where the guest is when they arrive is a point in
 * virtual time like any other.
 *
 * Receive interrupt, as a 16550's: with bit 0 of the interrupt-enable register (UART_IER_RX) set,
 * the UART holds IRQ_UART high while a byte waits, and lowers it when the last one is read. The
 * register resets to 0, so a guest that polls and never writes it sees no interrupt and runs
 * exactly as before the register existed.
 */
import { IRQ_UART, UART_DATA, UART_IER, UART_IER_RX, UART_STATUS, UART_STATUS_RX_READY, UART_STATUS_TX_EMPTY } from '../../abi/platform.ts';
import { ConsoleLog, type ConsoleSink } from './console-log.ts';
import type { LevelIrqSink, PortDevice } from './device.ts';

export class Uart implements PortDevice {
  readonly name = 'uart';
  readonly ports = [UART_DATA, UART_IER, UART_STATUS];
  /** Output kept for the report, bounded (console-log.ts); `onOutput` streams every byte. */
  readonly log: ConsoleLog;
  /** Input bytes: those at [head, tail) wait for the guest. */
  private buf: Uint8Array;
  private head = 0;
  private tail: number;
  /** The interrupt-enable register (only UART_IER_RX is implemented). */
  ier = 0;
  private line = false;
  /** Live input may still arrive (`feed`): a guest halted waiting for it waits rather than stops. */
  inputOpen = false;

  /** `onOutput` streams output as it is written (e.g. to stdout); `irq` takes the receive interrupt. */
  constructor(input: Uint8Array = new Uint8Array(0), onOutput?: ConsoleSink, private readonly irq?: LevelIrqSink) {
    this.buf = input.slice();
    this.tail = this.buf.length;
    this.log = new ConsoleLog(onOutput);
  }

  /** Bytes waiting for the guest. */
  waiting(): number {
    return this.tail - this.head;
  }

  /** Live input: append `bytes` to what waits (raising the line if the guest enabled it). */
  feed(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.tail + bytes.length > this.buf.length) {
      const n = this.waiting();
      const next = n + bytes.length <= this.buf.length ? this.buf : new Uint8Array(Math.max(2 * this.buf.length, n + bytes.length, 256));
      next.set(this.buf.subarray(this.head, this.tail), 0);
      this.buf = next;
      this.head = 0;
      this.tail = n;
    }
    this.buf.set(bytes, this.tail);
    this.tail += bytes.length;
    this.update();
  }

  portIn(port: number): number {
    if (port === UART_DATA) {
      if (this.head === this.tail) return -1;
      const b = this.buf[this.head++]!;
      if (this.head === this.tail) this.update();
      return b;
    }
    if (port === UART_IER) return this.ier;
    return UART_STATUS_TX_EMPTY | (this.head < this.tail ? UART_STATUS_RX_READY : 0);
  }

  portOut(port: number, value: number): void {
    if (port === UART_DATA) this.log.push(value & 0xff);
    else if (port === UART_IER) {
      this.ier = value & UART_IER_RX;
      this.update();
    }
  }

  /** What the report keeps of the output (all of it, up to the bound), as bytes. */
  output(): Uint8Array {
    return this.log.bytes();
  }

  /** Drive IRQ_UART: high while the receive interrupt is enabled and a byte waits. */
  private update(): void {
    const high = (this.ier & UART_IER_RX) !== 0 && this.head < this.tail;
    if (high === this.line) return;
    this.line = high;
    this.irq?.setLevel(IRQ_UART, high);
  }
}
