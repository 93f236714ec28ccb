/**
 * Every resource the host keeps for a guest, and its bound: the one place to read them.
 *
 * tsvisor assumes every guest is hostile (Firecracker's threat model): whatever a guest does, the
 * host's memory and time stay bounded. A guest that reaches a bound is told — an error code from
 * the call that would have grown the resource, or a crash of its own domain with a message — and
 * the run's report names the bound it hit (`boundsHit` in `run --json`, a note on stderr
 * otherwise). The host itself never fails because of it.
 *
 * | resource | bound | when a guest hits it |
 * |---|---|---|
 * | console output kept for the report (`--json`) | the last CONSOLE_KEEP_BYTES, plus a total count | older bytes are dropped from the report (streamed output loses nothing) |
 * | console output waiting to be streamed | CONSOLE_CHUNK_BYTES, then the guest waits for the reader (backpressure) | nothing: the guest is paused, not the host |
 * | counters keyed by a guest-chosen number (unknown hypercalls) | UNKNOWN_CALL_KEYS names, then one 'other' bucket | counted under 'other'; the call still returns -ENOSYS |
 * | exceptions and bounces by vector | 256 vectors, a fixed table | — |
 * | guest memory | MAX_MEMORY_MIB for every mode (pv's balloon quota is capped to fit) | `--memory` refused at start; a balloon request past the quota gets -ENOMEM |
 * | grant mappings | GNTTAB_MAX_ENTRIES per domain (abi/hypercall-numbers.ts) | -ENOSPC |
 * | event channels | the shared page's bitmap (abi/shared-info.ts) | -ENOSPC |
 * | virtio requests in flight | the queue size Q (at most 32768), one chain time-to-live of Q | the device goes to NEEDS_RESET (devices/virtio) |
 * | frames waiting for a net receive buffer | 256 per device (devices/virtio/net.ts `backlog`) | dropped and counted (rxDropped), as a full NIC queue |
 * | console input waiting for the guest | 64 KiB (devices/virtio/console.ts `inputLimit`) | dropped and counted (inputDropped) |
 * | a device's ring-error log | 16 lines (devices/virtio/device.ts ERROR_LOG) | the oldest line goes |
 * | trace lines (`--trace`) | none kept: each is written as it happens | — |
 * | virtual time | `--max-instructions` (DEFAULT_MAX_INSTRUCTIONS) | the run stops: exit status EXIT_BUDGET |
 * | host time | `--timeout` seconds (DEFAULT_TIMEOUT_SECONDS) | the run stops: exit status EXIT_TIMEOUT |
 * | image and disk files | fs-util.ts's size limits | refused at start with one line |
 */

/** Console bytes the report keeps (a ring of the last ones); 1 MiB is more than a terminal shows. */
export const CONSOLE_KEEP_BYTES = 1 << 20;
/** Console bytes gathered before they are handed to the stream (one write per chunk, not per byte). */
export const CONSOLE_CHUNK_BYTES = 64 * 1024;
/** Distinct unknown hypercall names counted one by one; the rest share the 'other' bucket. */
export const UNKNOWN_CALL_KEYS = 16;
/** Guest memory, in MiB, in every mode. */
export const MAX_MEMORY_MIB = 1024;
/** Virtual-time budget when `--max-instructions` is not given. */
export const DEFAULT_MAX_INSTRUCTIONS = 2_000_000_000;
/** Host-time budget when `--timeout` is not given: long enough that no one hits it by accident. */
export const DEFAULT_TIMEOUT_SECONDS = 600;

/**
 * Exit statuses of `tsvisor run`. 0–255 otherwise are the low 8 bits of the guest's own shutdown
 * code (`--json` has all 32 bits and the stop kind, which tell the two apart). The tool's own
 * statuses stay clear of timeout(1)'s 124–127 and 137, so a script wrapping tsvisor in
 * timeout(1) can still tell who stopped what.
 */
export const EXIT_USAGE = 2;
/** `--max-instructions` reached (virtual time). */
export const EXIT_BUDGET = 120;
/** `--timeout` reached (host time). */
export const EXIT_TIMEOUT = 121;
/** The guest died: a triple fault (native, trap, hw) or a domain crash (pv) — Xen crashes an HVM domain on a triple fault. */
export const EXIT_GUEST_DIED = 122;
/** The guest halted with nothing that could ever wake it. */
export const EXIT_HALTED = 123;
/** SIGINT (128 + 2, the shell's convention). */
export const EXIT_INTERRUPTED = 130;

/**
 * Counts keyed by a value the guest chooses: the first `capacity` keys are counted by name, every
 * later one in `other`, so a guest cannot grow the host's map (or the report) without end.
 */
export class BoundedCounts {
  private readonly map = new Map<string, number>();
  /** Counts of keys that came after the table was full. */
  other = 0;

  constructor(
    readonly capacity: number,
    /** The name the overflow bucket has in `entries()`. */
    readonly otherKey = 'other',
  ) {}

  add(key: string): void {
    const n = this.map.get(key);
    if (n !== undefined) this.map.set(key, n + 1);
    else if (this.map.size < this.capacity) this.map.set(key, 1);
    else this.other++;
  }

  /** The count of `key`, if it has a row of its own. */
  get(key: string): number | undefined {
    return this.map.get(key);
  }

  /** The named counts, then 'other' when anything overflowed. */
  entries(): [string, number][] {
    const out = [...this.map];
    if (this.other > 0) out.push([this.otherKey, this.other]);
    return out;
  }

  get full(): boolean {
    return this.other > 0;
  }
}
