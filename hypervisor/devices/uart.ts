/**
 * UART: the console of the bare machine. One byte per OUT to the data port, as a 16550's
 * transmit register; output never blocks, so the status port always reports the transmitter
 * empty. Input bytes, given up front, are read one per IN (-1 when none is left).
 */
import { UART_DATA, UART_STATUS, UART_STATUS_RX_READY, UART_STATUS_TX_EMPTY } from '../../abi/platform.ts';
import type { PortDevice } from './device.ts';

export class Uart implements PortDevice {
  readonly name = 'uart';
  readonly ports = [UART_DATA, UART_STATUS];
  private readonly out: number[] = [];
  private readonly input: Uint8Array;
  private inputPos = 0;

  /** `onByte` streams output as it is written (e.g. to stdout). */
  constructor(input: Uint8Array = new Uint8Array(0), private readonly onByte?: (byte: number) => void) {
    this.input = input;
  }

  portIn(port: number): number {
    if (port === UART_DATA) return this.inputPos < this.input.length ? this.input[this.inputPos++]! : -1;
    return UART_STATUS_TX_EMPTY | (this.inputPos < this.input.length ? UART_STATUS_RX_READY : 0);
  }

  portOut(port: number, value: number): void {
    if (port !== UART_DATA) return;
    const byte = value & 0xff;
    this.out.push(byte);
    this.onByte?.(byte);
  }

  /** Everything written so far, as bytes. */
  output(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}
