/**
 * Timer: one periodic channel, like the PIT in rate-generator mode, counting virtual time
 * (instructions) instead of a crystal, so runs are deterministic. Writing n to the period port
 * raises the timer line every n instructions from now; 0 stops it.
 * Ticks that fall due while a tick is still pending coalesce (the line is edge-triggered), and
 * are counted as missed: a guest that idles in HLT through several periods sees one interrupt.
 */
import { IRQ_TIMER, TIMER_COUNT, TIMER_PERIOD } from '../../abi/platform.ts';
import type { Clock, IrqSink, PortDevice, TimedDevice } from './device.ts';

export class Timer implements PortDevice, TimedDevice {
  readonly name = 'timer';
  readonly ports = [TIMER_PERIOD, TIMER_COUNT];
  period = 0;
  private next = Infinity;
  ticks = 0;
  missed = 0;

  constructor(
    private readonly clock: Clock,
    private readonly irq: IrqSink,
  ) {}

  nextDeadline(): number {
    return this.next;
  }

  advance(now: number): void {
    if (now < this.next) return;
    this.ticks++;
    this.irq.raise(IRQ_TIMER);
    const late = Math.floor((now - this.next) / this.period);
    this.missed += late;
    this.next += (late + 1) * this.period;
  }

  portIn(port: number): number {
    if (port === TIMER_PERIOD) return this.period;
    return this.next === Infinity ? 0 : this.next - this.clock.now();
  }

  portOut(port: number, value: number): void {
    if (port !== TIMER_PERIOD) return;
    this.period = value >>> 0;
    this.next = this.period === 0 ? Infinity : this.clock.now() + this.period;
  }
}
