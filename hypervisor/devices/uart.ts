/**
 * UART: the console of the bare machine. One byte per OUT to the data port, as a 16550's
 * transmit register; output never blocks, so the status port always reports the transmitter
 * empty. Input bytes, given up front, are read one per IN (-1 when none is left).
 */
import { UART_DATA, UART_STATUS, UART_STATUS_RX_READY, UART_STATUS_TX_EMPTY } from '../../abi/platform.ts';
import { ConsoleLog, type ConsoleSink } from './console-log.ts';
import type { PortDevice } from './device.ts';

export class Uart implements PortDevice {
  readonly name = 'uart';
  readonly ports = [UART_DATA, UART_STATUS];
  /** Output kept for the report, bounded (console-log.ts); `onOutput` streams every byte. */
  readonly log: ConsoleLog;
  private readonly input: Uint8Array;
  private inputPos = 0;

  /** `onOutput` streams output as it is written (e.g. to stdout). */
  constructor(input: Uint8Array = new Uint8Array(0), onOutput?: ConsoleSink) {
    this.input = input;
    this.log = new ConsoleLog(onOutput);
  }

  portIn(port: number): number {
    if (port === UART_DATA) return this.inputPos < this.input.length ? this.input[this.inputPos++]! : -1;
    return UART_STATUS_TX_EMPTY | (this.inputPos < this.input.length ? UART_STATUS_RX_READY : 0);
  }

  portOut(port: number, value: number): void {
    if (port !== UART_DATA) return;
    this.log.push(value & 0xff);
  }

  /** What the report keeps of the output (all of it, up to the bound), as bytes. */
  output(): Uint8Array {
    return this.log.bytes();
  }
}
