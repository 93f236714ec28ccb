/**
 * The guest's console on the way to the user's terminal, pipe or file: gathered into chunks of
 * CONSOLE_CHUNK_BYTES (one write per chunk, not per byte, which ran at about 0.3 MB/s), written
 * out between run slices, and — when the reader is slower than the guest — the guest waits for
 * the reader to drain (backpressure), so host memory does not grow with what the guest prints.
 */
import type { ConsoleSink } from './devices/console-log.ts';
import { CONSOLE_CHUNK_BYTES } from './limits.ts';

/** Where console bytes go: `write` says whether the reader wants more now, `drained` waits until it does. */
export interface ByteOut {
  write(bytes: Uint8Array): boolean;
  drained(): Promise<void>;
}

export class ConsoleStream {
  private readonly buf = new Uint8Array(CONSOLE_CHUNK_BYTES);
  private n = 0;
  private full = false;

  constructor(private readonly out: ByteOut) {}

  /** The sink a run's console writes into (RunOptions.onConsoleOutput). */
  readonly sink: ConsoleSink = (bytes) => {
    if (bytes.length === 1) {
      // The UART's case, a byte per OUT: no subarray per byte.
      this.buf[this.n++] = bytes[0]!;
      if (this.n === this.buf.length) this.flush();
      return;
    }
    let i = 0;
    while (i < bytes.length) {
      const k = Math.min(bytes.length - i, this.buf.length - this.n);
      this.buf.set(bytes.subarray(i, i + k), this.n);
      this.n += k;
      i += k;
      if (this.n === this.buf.length) this.flush();
    }
  };

  /** Write out what is gathered (before a trace line, so the two stay in order). */
  flush(): void {
    if (this.n === 0) return;
    // The writer may keep the chunk (a stream queues it): hand it a copy, the buffer is reused.
    if (!this.out.write(this.buf.slice(0, this.n))) this.full = true;
    this.n = 0;
  }

  /** Between slices: write out, and wait while the reader is behind. */
  async settle(): Promise<void> {
    this.flush();
    if (this.full) {
      this.full = false;
      await this.out.drained();
    }
  }
}

/** A ByteOut over a Node stream (stdout). */
export function streamOut(stream: NodeJS.WritableStream & { writableNeedDrain?: boolean }): ByteOut {
  return {
    write: (bytes) => stream.write(bytes),
    drained: () => (stream.writableNeedDrain ? new Promise<void>((resolve) => stream.once('drain', () => resolve())) : Promise.resolve()),
  };
}

/** A ByteOut over a text callback (tests capturing output): UTF-8 decoded in stream mode. */
export function textOut(out: (text: string) => void): ByteOut {
  const dec = new TextDecoder();
  return {
    write: (bytes) => {
      const s = dec.decode(bytes, { stream: true });
      if (s) out(s);
      return true;
    },
    drained: () => Promise.resolve(),
  };
}
