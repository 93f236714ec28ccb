/**
 * The I/O port space: 65536 ports, each claimed by at most one device.
 * A read of an unclaimed port returns all ones, as an ISA bus with nothing on it does; a write is
 * dropped. Both are counted, since on real hardware they are usually a driver bug.
 */
import type { PortIo } from '../machine/cpu.ts';
import type { PortDevice } from './device.ts';

export const PORT_COUNT = 0x10000;

export class PortBus implements PortIo {
  private readonly owner = new Int16Array(PORT_COUNT).fill(-1);
  private readonly devices: PortDevice[] = [];
  unclaimedReads = 0;
  unclaimedWrites = 0;

  attach(dev: PortDevice): void {
    for (const port of dev.ports) {
      if (!Number.isInteger(port) || port < 0 || port >= PORT_COUNT) throw new Error(`${dev.name}: port ${port} out of range`);
      const other = this.owner[port]!;
      if (other >= 0) throw new Error(`${dev.name}: port 0x${port.toString(16)} already claimed by ${this.devices[other]!.name}`);
      this.owner[port] = this.devices.length;
    }
    this.devices.push(dev);
  }

  /** The device that claims `port`, if any (for traces and exit reports). */
  deviceAt(port: number): PortDevice | undefined {
    const i = this.owner[port & 0xffff]!;
    return i >= 0 ? this.devices[i] : undefined;
  }

  portIn(port: number): number {
    const i = this.owner[port & 0xffff]!;
    if (i < 0) {
      this.unclaimedReads++;
      return -1;
    }
    return this.devices[i]!.portIn(port);
  }

  portOut(port: number, value: number): void {
    const i = this.owner[port & 0xffff]!;
    if (i < 0) {
      this.unclaimedWrites++;
      return;
    }
    this.devices[i]!.portOut(port, value);
  }
}
