/**
 * virtio-console (virtio 1.2 §5.3), port 0 only, no features. The transmit queue carries
 * output: every readable byte of a chain goes to the console, in order. The receive queue
 * carries input: the host hands bytes to `input()`, which waits (bounded) until the driver
 * offers writable buffers, and fills them in order. Input stays queued across a device reset:
 * it belongs to the host's terminal, not to the device.
 *
 * Output accumulates in one growing byte buffer and input waits in a fixed ring of inputLimit
 * bytes, so that moving bytes through the queues allocates nothing per chain (a chain's bytes
 * are copied straight between guest memory and these buffers).
 */
import { ConsoleLog } from '../console-log.ts';
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
  private readonly inputLimit: number;
  /** Output kept for inspection, bounded (console-log.ts); `onOutput` hears every byte. */
  private readonly outputLog: ConsoleLog;
  /** One chain's bytes on their way to the log: a chain is at most VIRTIO_CONSOLE_MAX_TX. */
  private readonly chainBytes = new Uint8Array(VIRTIO_CONSOLE_MAX_TX);
  /** Input not yet given to the driver: inboxCount bytes from inboxHead, wrapping. */
  private readonly inbox: Uint8Array;
  private inboxHead = 0;
  private inboxCount = 0;
  private readonly transmitChain = (c: DescriptorChain): number | RingError => this.transmit(c);
  readonly consoleStats = { txChains: 0, txBytes: 0, txDropped: 0, rxBytes: 0, inputDropped: 0 };

  constructor(opts: VirtioConsoleOptions) {
    super(opts, VIRTIO_ID_CONSOLE, ['receiveq', 'transmitq'], 0);
    this.outputLog = new ConsoleLog(opts.onOutput);
    this.inputLimit = opts.inputLimit ?? 65536;
    this.inbox = new Uint8Array(this.inputLimit);
  }

  config(): Uint8Array {
    return new Uint8Array(0); // no VIRTIO_CONSOLE_F_SIZE: nothing to say
  }

  /** What is kept of the output: all of it, up to CONSOLE_KEEP_BYTES (hypervisor/limits.ts). */
  output(): Uint8Array {
    return this.outputLog.bytes();
  }

  outputText(): string {
    return new TextDecoder().decode(this.output());
  }

  /** Input bytes not yet delivered. */
  get pendingInput(): number {
    return this.inboxCount;
  }

  /** Bytes typed on the host: delivered into receive buffers now, or when the driver offers some. */
  input(bytes: Uint8Array): void {
    const n = Math.min(this.inputLimit - this.inboxCount, bytes.length);
    for (let i = 0; i < n; i++) this.inbox[(this.inboxHead + this.inboxCount + i) % this.inputLimit] = bytes[i]!;
    this.inboxCount += n;
    this.consoleStats.inputDropped += bytes.length - n;
    if (n > 0 && this.live && this.queue(VIRTIO_CONSOLE_QUEUE_RX).ready) this.run(VIRTIO_CONSOLE_QUEUE_RX);
  }

  protected override onDriverOk(): void {
    if (this.inboxCount > 0 && this.queue(VIRTIO_CONSOLE_QUEUE_RX).ready) this.run(VIRTIO_CONSOLE_QUEUE_RX);
  }

  protected service(index: number): RingError | null {
    return index === VIRTIO_CONSOLE_QUEUE_TX ? this.drain(index, this.transmitChain) : this.receive();
  }

  private transmit(c: DescriptorChain): number | RingError {
    if (c.writableCount > 0) return c.misframed('write-only-buffer', 'output bytes');
    this.consoleStats.txChains++;
    const n = c.readableBytes;
    if (n > VIRTIO_CONSOLE_MAX_TX) {
      this.consoleStats.txDropped++;
      return 0;
    }
    const e = c.readInto(0, this.chainBytes, 0, n);
    if (e) return e;
    this.consoleStats.txBytes += n;
    this.outputLog.write(this.chainBytes.subarray(0, n));
    return 0;
  }

  /** Fill receive buffers with pending input, one chain after another. */
  private receive(): RingError | null {
    const q = this.queue(VIRTIO_CONSOLE_QUEUE_RX);
    while (this.inboxCount > 0) {
      const c = q.pop();
      if (c === null) return null;
      if (!(c instanceof DescriptorChain)) return c;
      if (c.readableCount > 0 || c.writableBytes === 0) return c.misframed('read-only-buffer', 'input bytes');
      const n = Math.min(c.writableBytes, this.inboxCount);
      // At most two pieces: to the end of the inbox ring, then from its start.
      const first = Math.min(n, this.inputLimit - this.inboxHead);
      const e = c.write(0, this.inbox, this.inboxHead, first) ?? (n > first ? c.write(first, this.inbox, 0, n - first) : null);
      if (e) return e;
      this.inboxHead = (this.inboxHead + n) % this.inputLimit;
      this.inboxCount -= n;
      this.consoleStats.rxBytes += n;
      const pe = q.push(c, n);
      if (pe) return pe;
    }
    return null;
  }
}
