/**
 * A console output buffer, like stdio's: text is collected in memory and written out when the
 * buffer fills or on an explicit flush. Only the write-out differs by target (TARGET_PV is a
 * compile-time constant, so each build holds one arm): native writes the UART one byte per OUT,
 * as a 16550 takes it, so a monitor sees one exit per byte; pv hands the whole buffer to the
 * console_io hypercall, one transition per flush (Xen's console_io; CONSOLEIO_MAX bounds it).
 */
import { CONSOLEIO_MAX, CONSOLEIO_WRITE, HC_CONSOLE_IO } from '../../../abi/hypercall-numbers.ts';
import { UART_DATA } from '../../../abi/platform.ts';

/** 1 KiB: glibc's unbuffered stderr and its 8 KiB BUFSIZ bracket it; well under CONSOLEIO_MAX. */
export const CONSOLE_BUFFER_BYTES = 1024;

const buffer = new Uint8Array(CONSOLE_BUFFER_BYTES);
let used = 0;
let flushes = 0;

/** Write out what the buffer holds. */
export function consoleFlush(): void {
  if (used === 0) return;
  const at = addressOf(buffer);
  if (TARGET_PV) {
    for (let done = 0; done < used; done += CONSOLEIO_MAX) {
      const n = used - done < CONSOLEIO_MAX ? used - done : CONSOLEIO_MAX;
      hypercall(HC_CONSOLE_IO, CONSOLEIO_WRITE, at + done, n);
    }
  } else {
    for (let i = 0; i < used; i++) portOut(UART_DATA, buffer[i]);
  }
  used = 0;
  flushes++;
}

/** Add one byte, writing the buffer out first when it is full. */
export function consolePut(c: number): void {
  if (used === CONSOLE_BUFFER_BYTES) consoleFlush();
  buffer[used++] = c;
}

/** Times the buffer was written out. */
export function consoleFlushes(): number {
  return flushes;
}
