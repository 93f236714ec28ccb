/**
 * What a device is to the machine. A device claims I/O ports and answers 32-bit reads and writes
 * on them; it may raise interrupt lines and ask to be woken at a point in virtual time. That is
 * all the CPU and the platform know of it (Firecracker's devices are as narrow).
 */
export interface PortDevice {
  readonly name: string;
  readonly ports: readonly number[];
  portIn(port: number): number;
  portOut(port: number, value: number): void;
}

/** Where a device raises its interrupt line (the interrupt controller). */
export interface IrqSink {
  raise(line: number): void;
}

/**
 * A sink that also takes level-triggered lines (the UART's receive interrupt): a line is pending
 * from its rising edge, stops being pending when it falls before the CPU took it, and is pending
 * again at EOI while it is still high.
 */
export interface LevelIrqSink extends IrqSink {
  setLevel(line: number, high: boolean): void;
}

/** Virtual time, in instructions: what timers count. */
export interface Clock {
  now(): number;
}

/** A device that acts at a point in virtual time (a timer). */
export interface TimedDevice {
  /** Virtual time of the next action, or Infinity. */
  nextDeadline(): number;
  /** Virtual time has reached `now`: act on every deadline at or before it. */
  advance(now: number): void;
}
