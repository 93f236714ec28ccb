/**
 * Interrupt controller, after the 8259: eight lines, a mask register, a pending register (IRR)
 * and one line in service (ISR). A line is delivered when it is pending, unmasked, and no line is
 * in service; the kernel ends service with an EOI. Without nesting there is no priority among
 * in-service lines to track; among pending lines the lowest number wins, as on the 8259.
 * Lines are edge-triggered: raising a line that is already pending is not counted twice.
 */
import { PIC_EOI, PIC_IN_SERVICE, PIC_MASK, PIC_PENDING } from '../../abi/platform.ts';
import type { IrqSink, PortDevice } from './device.ts';

export const PIC_LINES = 8;

export class Pic implements PortDevice, IrqSink {
  readonly name = 'pic';
  readonly ports = [PIC_EOI, PIC_MASK, PIC_PENDING, PIC_IN_SERVICE];
  mask = 0xff;
  pending = 0;
  inService = -1;
  /** Raises per line, including ones that coalesced with a pending raise. */
  readonly raised = new Float64Array(PIC_LINES);

  raise(line: number): void {
    this.raised[line]! += 1;
    this.pending |= 1 << line;
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
    if (port === PIC_EOI) this.inService = -1;
    else if (port === PIC_MASK) this.mask = value & 0xff;
  }
}
