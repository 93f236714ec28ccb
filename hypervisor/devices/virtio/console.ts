/**
 * virtio-console (virtio 1.2 §5.3), port 0 only, no features. The transmit queue carries
 * output: every readable byte of a chain goes to the console, in order. The receive queue
 * carries input: the host hands bytes to `input()`, which waits (bounded) until the driver
 * offers writable buffers, and fills them in order. Input stays queued across a device reset:
 * it belongs to the host's terminal, not to the device.
 */
import { VIRTIO_CONSOLE_MAX_TX, VIRTIO_CONSOLE_QUEUE_RX, VIRTIO_CONSOLE_QUEUE_TX, VIRTIO_ID_CONSOLE } from '../../../abi/ring.ts';
import { VirtioDevice, type VirtioDeviceOptions } from './device.ts';
import { DescriptorChain, type RingError } from './virtqueue.ts';

export interface VirtioConsoleOptions extends VirtioDeviceOptions {
  /** Streams output as each chain is taken (e.g. to stdout). */
  readonly onOutput?: (bytes: Uint8Array) => void;
  /** Input bytes held for the driver at most; more are dropped and counted. Default 64 KiB. */
  readonly inputLimit?: number;
}

export class VirtioConsole extends VirtioDevice {
  private readonly onOutput?: (bytes: Uint8Array) => void;
  private readonly inputLimit: number;
  private readonly out: Uint8Array[] = [];
  /** Input not yet given to the driver, oldest first. */
  private inbox: number[] = [];
  readonly consoleStats = { txChains: 0, txBytes: 0, txDropped: 0, rxBytes: 0, inputDropped: 0 };

  constructor(opts: VirtioConsoleOptions) {
    super(opts, VIRTIO_ID_CONSOLE, ['receiveq', 'transmitq'], 0);
    this.onOutput = opts.onOutput;
    this.inputLimit = opts.inputLimit ?? 65536;
  }

  config(): Uint8Array {
    return new Uint8Array(0); // no VIRTIO_CONSOLE_F_SIZE: nothing to say
  }

  /** Everything written so far. */
  output(): Uint8Array {
    const all = new Uint8Array(this.consoleStats.txBytes);
    let o = 0;
    for (const b of this.out) {
      all.set(b, o);
      o += b.length;
    }
    return all;
  }

  outputText(): string {
    return new TextDecoder().decode(this.output());
  }

  /** Input bytes not yet delivered. */
  get pendingInput(): number {
    return this.inbox.length;
  }

  /** Bytes typed on the host: delivered into receive buffers now, or when the driver offers some. */
  input(bytes: Uint8Array): void {
    const room = Math.max(0, this.inputLimit - this.inbox.length);
    const n = Math.min(room, bytes.length);
    for (let i = 0; i < n; i++) this.inbox.push(bytes[i]!);
    this.consoleStats.inputDropped += bytes.length - n;
    if (n > 0 && this.live && this.queue(VIRTIO_CONSOLE_QUEUE_RX).ready) this.run(VIRTIO_CONSOLE_QUEUE_RX);
  }

  protected override onDriverOk(): void {
    if (this.inbox.length > 0 && this.queue(VIRTIO_CONSOLE_QUEUE_RX).ready) this.run(VIRTIO_CONSOLE_QUEUE_RX);
  }

  protected service(index: number): RingError | null {
    return index === VIRTIO_CONSOLE_QUEUE_TX ? this.drain(index, (c) => this.transmit(c)) : this.receive();
  }

  private transmit(c: DescriptorChain): number | RingError {
    if (c.writable.length > 0) return c.misframed('write-only-buffer', 'output bytes');
    this.consoleStats.txChains++;
    if (c.readableBytes > VIRTIO_CONSOLE_MAX_TX) {
      this.consoleStats.txDropped++;
      return 0;
    }
    const bytes = c.read(0, c.readableBytes);
    if (!(bytes instanceof Uint8Array)) return bytes;
    this.out.push(bytes);
    this.consoleStats.txBytes += bytes.length;
    this.onOutput?.(bytes);
    return 0;
  }

  /** Fill receive buffers with pending input, one chain after another. */
  private receive(): RingError | null {
    const q = this.queue(VIRTIO_CONSOLE_QUEUE_RX);
    while (this.inbox.length > 0) {
      const c = q.pop();
      if (c === null) return null;
      if (!(c instanceof DescriptorChain)) return c;
      if (c.readable.length > 0 || c.writableBytes === 0) return c.misframed('read-only-buffer', 'input bytes');
      const n = Math.min(c.writableBytes, this.inbox.length);
      const e = c.write(0, Uint8Array.from(this.inbox.slice(0, n)));
      if (e) return e;
      this.inbox = this.inbox.slice(n);
      this.consoleStats.rxBytes += n;
      const pe = q.push(c, n);
      if (pe) return pe;
    }
    return null;
  }
}
