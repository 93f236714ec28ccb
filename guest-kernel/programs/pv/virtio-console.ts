/**
 * Issue 5 acceptance guest: 64 KiB to the virtio console in one batch. The text is 1,024 lines
 * of 64 bytes, `line NNNN ` then letters and a newline, so a test can rebuild it exactly; the
 * guest shuts down with 0 when the console driver reported every byte written, with the set-up
 * step's code otherwise.
 *
 * For the benchmark, `writes=N` on the command line (a divisor of 1,024) writes the same text in
 * N calls of consoleWrite instead of one, as a program printing as it goes would.
 */
import { PV_START_INFO_VA, SOD_CMDLINE } from '../../../abi/hypercall-numbers.ts';
import { consoleInit, consoleWrite } from '../../kernel/drivers/console.ts';

const LINES = 1024;
const LINE = 64;
const text = new Uint8Array(LINES * LINE);

/** Line i: "line 0042 " then letters from (i + j) mod 26, then "\n". */
function fill(): void {
  for (let i = 0; i < LINES; i++) {
    const at = i * LINE;
    text[at] = 108; // l
    text[at + 1] = 105; // i
    text[at + 2] = 110; // n
    text[at + 3] = 101; // e
    text[at + 4] = 32;
    text[at + 5] = 48 + (((i / 1000) | 0) % 10);
    text[at + 6] = 48 + (((i / 100) | 0) % 10);
    text[at + 7] = 48 + (((i / 10) | 0) % 10);
    text[at + 8] = 48 + (i % 10);
    text[at + 9] = 32;
    for (let j = 10; j < LINE - 1; j++) text[at + j] = 97 + ((i + j) % 26);
    text[at + LINE - 1] = 10;
  }
}

/** The number after `writes=` on the command line, or 1. */
function writes(): number {
  const line = PV_START_INFO_VA + SOD_CMDLINE;
  const key = 'writes=';
  for (let i = 0; load8(line + i) !== 0; i++) {
    let j = 0;
    while (j < key.length && load8(line + i + j) === key.charCodeAt(j)) j++;
    if (j === key.length) {
      let v = 0;
      for (let k = i + j; load8(line + k) >= 48 && load8(line + k) <= 57; k++) v = v * 10 + load8(line + k) - 48;
      return v;
    }
  }
  return 1;
}

export function main(): number {
  fill();
  const r = consoleInit(0);
  if (r < 0) return 10;
  const n = writes();
  if (n < 1 || LINES % n !== 0) return 12;
  const each = (LINES / n) * LINE;
  for (let w = 0; w < n; w++) {
    if (consoleWrite(addressOf(text) + w * each, each) !== each) return 11;
  }
  return 0;
}
