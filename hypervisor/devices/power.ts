/**
 * Power port: a write ends the run with that 32-bit shutdown code. QEMU's isa-debug-exit sits
 * on the same port but mangles the code ((v << 1) | 1); ours keeps all 32 bits so the guest's
 * main() return value arrives intact.
 */
import { POWER_SHUTDOWN } from '../../abi/platform.ts';
import type { PortDevice } from './device.ts';

export class Power implements PortDevice {
  readonly name = 'power';
  readonly ports = [POWER_SHUTDOWN];
  /** The shutdown code (unsigned), or null while the machine runs. */
  code: number | null = null;

  portIn(): number {
    return this.code === null ? 0 : this.code | 0;
  }

  portOut(_port: number, value: number): void {
    if (this.code === null) this.code = value >>> 0;
  }
}
