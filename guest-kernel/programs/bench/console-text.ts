/**
 * Console workload: print CONSOLE_BYTES of text (lines of 64 bytes, "line 0000 " then letters)
 * through a 1 KiB output buffer (console-buffer.ts), then a summary through the guest console
 * library. Native: one UART OUT per byte, so trap and hw take an exit per byte; pv: one
 * console_io hypercall per 1 KiB. Shuts down with 0.
 */
import { printKV } from '../../lib/console.ts';
import { consoleFlush, consoleFlushes, consolePut } from './console-buffer.ts';
import { CONSOLE_BYTES } from './sizes.ts';

const LINE = 64;
const PREFIX = 10; // "line NNNN "

export function main(): number {
  const lines = (CONSOLE_BYTES / LINE) | 0;
  for (let i = 0; i < lines; i++) {
    consolePut(108); // l
    consolePut(105); // i
    consolePut(110); // n
    consolePut(101); // e
    consolePut(32);
    consolePut(48 + (((i / 1000) | 0) % 10));
    consolePut(48 + (((i / 100) | 0) % 10));
    consolePut(48 + (((i / 10) | 0) % 10));
    consolePut(48 + (i % 10));
    consolePut(32);
    for (let j = PREFIX; j < LINE - 1; j++) consolePut(97 + ((i + j) % 26));
    consolePut(10);
  }
  consoleFlush();
  printKV('console: lines ', lines);
  printKV('console: flushes ', consoleFlushes());
  return 0;
}
