/**
 * Live console input: bytes from a stream (the terminal, a pipe) that runImageLive hands the
 * guest between slices (the UART's queue on native, trap and hw; console_io read and
 * VIRQ_CONSOLE on pv). Bounded: at most `limit` bytes wait here; past that the stream is paused
 * until the guest has read some (backpressure, as for the console output).
 */
import type { Readable } from 'node:stream';

/** What runImageLive takes live input from. */
export interface LiveInput {
  /** Up to `max` bytes that arrived since the last take (empty when none). */
  take(max: number): Uint8Array;
  /** No more bytes will come: the source ended and everything was taken. */
  readonly ended: boolean;
  /** Resolves when bytes arrive or the source ends. */
  wait(): Promise<void>;
}

/** Bytes of live input waiting in the host (here) and in the guest's queue, each at most. */
export const LIVE_INPUT_LIMIT = 64 * 1024;

export class StreamInput implements LiveInput {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private done = false;
  private waiters: (() => void)[] = [];
  private readonly onData = (c: Buffer | string): void => {
    const bytes = typeof c === 'string' ? new TextEncoder().encode(c) : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
    const mapped = this.map ? this.map(bytes) : bytes;
    if (mapped.length > 0) {
      this.chunks.push(mapped);
      this.buffered += mapped.length;
    }
    if (this.buffered >= this.limit) this.stream.pause();
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.done = true;
    this.wake();
  };

  /** `map` may rewrite (or swallow) each chunk as it arrives, e.g. a raw terminal's Ctrl-C. */
  constructor(
    private readonly stream: Readable,
    private readonly map?: (bytes: Uint8Array) => Uint8Array,
    private readonly limit = LIVE_INPUT_LIMIT,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onEnd);
    stream.on('close', this.onEnd);
    stream.resume();
  }

  get ended(): boolean {
    return this.done && this.buffered === 0;
  }

  take(max: number): Uint8Array {
    const n = Math.min(max, this.buffered);
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    if (n > 0 && !this.done && this.buffered < this.limit) this.stream.resume();
    return out;
  }

  wait(): Promise<void> {
    if (this.buffered > 0 || this.done) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stop reading: listeners off and the stream paused, so the process can exit. */
  close(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.pause();
    this.onEnd();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
