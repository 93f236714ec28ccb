/**
 * The console a run keeps for its report is bounded (hypervisor/limits.ts): the last N bytes and
 * a total, whatever the guest writes, while a live stream still gets every byte.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConsoleLog, consoleReport, consoleText } from '../../hypervisor/devices/console-log.ts';

describe('ConsoleLog', () => {
  it('keeps exactly the last `capacity` bytes and counts them all, for any mix of single bytes and buffers', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 12 }).map((k) => 2 ** k),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 5000 })), { maxLength: 60 }),
        (capacity, ops) => {
          const streamed: number[] = [];
          const log = new ConsoleLog((b) => streamed.push(...b), capacity);
          const all: number[] = [];
          for (const op of ops) {
            if (typeof op === 'number') {
              log.push(op);
              all.push(op);
            } else {
              log.write(op);
              all.push(...op);
            }
          }
          expect(log.total).toBe(all.length);
          expect(Array.from(log.bytes())).toEqual(all.slice(Math.max(0, all.length - capacity)));
          expect(log.dropped).toBe(Math.max(0, all.length - capacity));
          expect(streamed).toEqual(all);
        },
      ),
      { seed: 10, numRuns: 200 },
    );
  });

  it('reports the bound it hit, and the report stays the same size however much the guest wrote', () => {
    const log = new ConsoleLog(undefined, 1024);
    const chunk = new Uint8Array(4096).fill(0x41);
    for (let i = 0; i < 1000; i++) log.write(chunk);
    const r = consoleReport(log);
    expect(r.consoleBytes).toBe(4096 * 1000);
    expect(r.console).toHaveLength(1024);
    expect(r.boundsHit?.console).toBe('kept the last 1024 of 4096000 console bytes (CONSOLE_KEEP_BYTES)');
    expect(consoleReport(new ConsoleLog()).boundsHit).toBeUndefined();
  });

  it('gives text for UTF-8 and the exact bytes in base64 for anything else', () => {
    const ok = new ConsoleLog();
    ok.write(new TextEncoder().encode('héllo ✓\n'));
    expect(consoleText(ok)).toEqual({ text: 'héllo ✓\n' });
    const raw = new ConsoleLog();
    raw.write(Uint8Array.of(0x41, 0xff, 0x80, 0x42));
    const t = consoleText(raw);
    expect(t.text).toBe('A\ufffd\ufffdB');
    expect(Array.from(Buffer.from(t.base64!, 'base64'))).toEqual([0x41, 0xff, 0x80, 0x42]);
  });

  it('does not show half a character where the ring cut the start', () => {
    const log = new ConsoleLog(undefined, 256);
    log.write(new TextEncoder().encode('x' + 'é'.repeat(200))); // 401 bytes: the last 256 start inside an 'é'
    const t = consoleText(log);
    expect(t.base64).toBeUndefined();
    expect(t.text).toMatch(/^é+$/);
  });
});
