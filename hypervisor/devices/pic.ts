/**
 * Interrupt controller, after the 8259: eight lines, a mask register, a pending register (IRR)
 * and one line in service (ISR). A line is delivered when it is pending, unmasked, and no line is
 * in service; the kernel ends service with an EOI. Without nesting there is no priority among
 * in-service lines to track; among pending lines the lowest number wins, as on the 8259.
 * Lines are edge-triggered: raising a line that is already pending is not counted twice. A device
 * may instead drive a line as a level (`setLevel`, the UART): pending from its rising edge, no
 * longer pending if it falls before the CPU takes it, and pending again at EOI while still high.
 * No device drives a level unless the guest enabled it (UART_IER), so guests that never do see
 * the edge-triggered controller unchanged.
 */
import { PIC_EOI, PIC_IN_SERVICE, PIC_MASK, PIC_PENDING } from '../../abi/platform.ts';
import type { LevelIrqSink, PortDevice } from './device.ts';

export const PIC_LINES = 8;

export class Pic implements PortDevice, LevelIrqSink {
  readonly name = 'pic';
  readonly ports = [PIC_EOI, PIC_MASK, PIC_PENDING, PIC_IN_SERVICE];
  mask = 0xff;
  pending = 0;
  inService = -1;
  /** Lines driven high as levels (setLevel). */
  level = 0;
  /** Raises per line, including ones that coalesced with a pending raise. */
  readonly raised = new Float64Array(PIC_LINES);

  raise(line: number): void {
    this.raised[line]! += 1;
    this.pending |= 1 << line;
  }

  setLevel(line: number, high: boolean): void {
    const bit = 1 << line;
    if (high) {
      if ((this.level & bit) === 0) this.raise(line);
      this.level |= bit;
    } else {
      this.level &= ~bit;
      this.pending &= ~bit;
    }
  }

  /** The line that would be delivered now, or -1. */
  deliverable(): number {
    if (this.inService >= 0) return -1;
    const ready = this.pending & ~this.mask & 0xff;
    return ready === 0 ? -1 : 31 - Math.clz32(ready & -ready);
  }

  /** The CPU takes `line`: it moves from pending to in service. */
  acknowledge(line: number): void {
    this.pending &= ~(1 << line);
    this.inService = line;
  }

  portIn(port: number): number {
    if (port === PIC_MASK) return this.mask;
    if (port === PIC_PENDING) return this.pending;
    if (port === PIC_IN_SERVICE) return this.inService;
    return 0;
  }

  portOut(port: number, value: number): void {
    if (port === PIC_EOI) {
      // A level line still high after its service is pending again (a new request).
      if (this.inService >= 0 && this.level & (1 << this.inService)) this.raise(this.inService);
      this.inService = -1;
    }
    else if (port === PIC_MASK) this.mask = value & 0xff;
  }
}
