/**
 * What a guest wrote to its console, kept for the run's report: the last `capacity` bytes in a
 * ring, plus the total. A guest that prints forever costs the host a fixed amount of memory
 * (hypervisor/limits.ts); whoever streams the console live gets every byte through `sink` as it
 * is written, so only the report is cut, never the stream.
 *
 * The UART, pv's console_io and virtio-console all keep their output here. The ring starts small
 * and doubles up to its capacity, so the many short-lived domains of the tests stay cheap.
 */
import { CONSOLE_KEEP_BYTES } from '../limits.ts';

/** Receives console bytes as the guest writes them; `bytes` is a view valid only during the call. */
export type ConsoleSink = (bytes: Uint8Array) => void;

export class ConsoleLog {
  private ring = new Uint8Array(256);
  /** Bytes written in all (kept or not). */
  total = 0;
  private readonly one = new Uint8Array(1);

  /** `capacity` is rounded up to a power of two so the ring index is a mask. */
  constructor(
    private readonly sink?: ConsoleSink,
    readonly capacity: number = CONSOLE_KEEP_BYTES,
  ) {
    this.capacity = 2 ** Math.ceil(Math.log2(Math.max(capacity, 256)));
  }

  /** One byte (a UART OUT). */
  push(byte: number): void {
    this.keep(byte);
    if (this.sink) {
      this.one[0] = byte;
      this.sink(this.one);
    }
  }

  /** A buffer of bytes (console_io write, a virtio-console chain), handed to the sink in one call. */
  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    // Copied in runs rather than byte by byte: a guest writing 4 KiB per hypercall must not cost
    // the host a loop iteration per byte. Only the bytes the ring can keep are copied.
    const keepFrom = Math.max(0, bytes.length - this.capacity);
    this.total += keepFrom;
    let i = keepFrom;
    while (i < bytes.length) {
      this.grow(this.total + (bytes.length - i));
      const ring = this.ring;
      const at = this.total & (ring.length - 1);
      const n = Math.min(bytes.length - i, ring.length - at);
      ring.set(bytes.subarray(i, i + n), at);
      this.total += n;
      i += n;
    }
    if (this.sink) this.sink(bytes);
  }

  /** Bytes written but no longer kept. */
  get dropped(): number {
    return Math.max(0, this.total - this.capacity);
  }

  /** The kept bytes, oldest first (a copy). */
  bytes(): Uint8Array {
    const n = Math.min(this.total, this.ring.length);
    const start = (this.total - n) & (this.ring.length - 1);
    const out = new Uint8Array(n);
    const first = Math.min(n, this.ring.length - start);
    out.set(this.ring.subarray(start, start + first), 0);
    out.set(this.ring.subarray(0, n - first), first);
    return out;
  }

  private keep(byte: number): void {
    if (this.total >= this.ring.length) this.grow(this.total + 1);
    const ring = this.ring;
    ring[this.total & (ring.length - 1)] = byte;
    this.total++;
  }

  /**
   * Make room for `upTo` bytes in all, up to the capacity. While the ring is growing it has been
   * filled in order from 0 (it has never wrapped), so a plain copy keeps the order.
   */
  private grow(upTo: number): void {
    let len = this.ring.length;
    if (len >= this.capacity || upTo <= len) return;
    while (len < upTo && len < this.capacity) len *= 2;
    const grown = new Uint8Array(len);
    grown.set(this.ring.subarray(0, Math.min(this.total, this.ring.length)));
    this.ring = grown;
  }
}

/**
 * The report's `console`: the kept bytes as UTF-8 text. When the ring dropped the start, a
 * character cut in half at the front is skipped rather than shown as U+FFFD. When the bytes are
 * not valid UTF-8 (a guest may write any byte), `base64` holds them exactly, since JSON text
 * cannot.
 */
export function consoleText(log: ConsoleLog): { text: string; base64?: string } {
  let bytes = log.bytes();
  if (log.dropped > 0) {
    let skip = 0;
    while (skip < 3 && skip < bytes.length && (bytes[skip]! & 0xc0) === 0x80) skip++;
    bytes = bytes.subarray(skip);
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { text: new TextDecoder().decode(bytes), base64: Buffer.from(bytes).toString('base64') };
  }
}

/** The report's console fields (machine/native.ts PlatformReport), and the bound when it was hit. */
export function consoleReport(log: ConsoleLog): { console: string; consoleBytes: number; consoleBase64?: string; boundsHit?: Record<string, string> } {
  const { text, base64 } = consoleText(log);
  return {
    console: text,
    consoleBytes: log.total,
    ...(base64 !== undefined ? { consoleBase64: base64 } : {}),
    ...(log.dropped > 0 ? { boundsHit: { console: `kept the last ${log.capacity} of ${log.total} console bytes (CONSOLE_KEEP_BYTES)` } } : {}),
  };
}
