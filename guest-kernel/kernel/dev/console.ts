/**
 * The console's line discipline (xv6's console.c, Unix's canonical mode): input is collected a
 * line at a time, echoed, with erase (backspace or DEL), end of input (Ctrl-D) and CR taken as LF;
 * a reader sleeps until a whole line (or end of input) is there.
 *
 * Two buffers, as a tty's flip buffer in front of its line buffer:
 *   - `rawq` (RAW_BYTES, 16 KiB): bytes as the device gave them, filled by the device handler
 *     (`consoleEvent`, the platform's device event SRC_CONSOLE), which drains the device (the
 *     native UART's line is level-triggered: it stays high while a byte waits), dropping what
 *     does not fit; and by the reader, which also polls conRead() whenever it looks for input
 *     (for a platform whose input raises no event), taking only what fits.
 *   - `ring` (INPUT_BUF = 256 bytes, xv6's cons.buf with its indexes r <= w <= e): [r, w) lines
 *     ready for readers, [w, e) the line being edited.
 * The line discipline (echo, erase, Ctrl-D, CR) runs when a reader needs a line, one line at a
 * time, in the reader's context — not in the interrupt handler as xv6 does. Why: scripted input
 * (`tsvisor run --input`) arrives all at once at boot, so echoing at intake would print every
 * command before the first prompt, and at a moment that differs between modes (pv takes its event
 * when events are first enabled; native polls). Echoing when a reader takes the line puts each
 * command right after the prompt that asked for it, the same in every mode: the transcript of a
 * scripted session reads like a typed one. (A live typist sees the echo when the line is read,
 * like readline, rather than during a long-running command.)
 *
 * Waiting: with interrupts saved and disabled (irqSave) around check-and-sleep, as proc's README
 * says; the reader sleeps on the console channel, which the device handler wakes (the native
 * UART's receive interrupt, pv's VIRQ_CONSOLE: both raised for input that came before the handler
 * was installed, the UART's line being level-triggered and the pv port pending). Never polling on
 * the tick is what lets an idle kernel stop its timer and wait for a typist.
 */
import { conRead, conWrite, irqRestore, irqSave, irqSetDeviceHandler, SRC_CONSOLE } from '../platform/platform.ts';
import { sleep, wakeup } from '../proc/proc.ts';

/** The line buffer: committed lines and the line being typed. */
export const INPUT_BUF = 256;
/** The raw input queue in front of it. */
export const RAW_BYTES = 16384;
/** What readers sleep on (a channel of its own: proc's are -1 and -2 - task). */
export const CONSOLE_CHAN = 0x636f6e; // 'con'

const CTRL_D = 4;
const BS = 8;
const DEL = 0x7f;
const LF = 10;
const CR = 13;
const TAB = 9;

const ring = new Uint8Array(INPUT_BUF);
const rawq = new Uint8Array(RAW_BYTES);
/** Echo of one cooking pass, written with one conWrite. */
const echo = new Uint8Array(512);

class ConsoleState {
  /** ring indexes, counting up (position = index & (INPUT_BUF - 1)). */
  r = 0;
  w = 0;
  e = 0;
  /** rawq indexes, counting up. */
  rawHead = 0;
  rawTail = 0;
  echoLen = 0;
  /** Bytes taken from the device, and console events handled. */
  bytesIn = 0;
  events = 0;
  dropped = 0;
}
const cs = new ConsoleState();

/**
 * Take what the device has into rawq (interrupts off). From the device handler (`drain`), all of
 * it: the native UART's receive line is level-triggered and stays high until the last byte is
 * read, so bytes past a full rawq are read and dropped (counted: consoleDropped), as a tty drops
 * what overflows its buffer. From a reader, only while rawq has room.
 */
function intake(drain: boolean): void {
  for (;;) {
    const full = cs.rawTail - cs.rawHead >= RAW_BYTES;
    if (full && !drain) return;
    const c = conRead();
    if (c < 0) return;
    if (full) {
      cs.dropped++;
      continue;
    }
    rawq[cs.rawTail & (RAW_BYTES - 1)] = c;
    cs.rawTail++;
    cs.bytesIn++;
  }
}

function echoByte(c: number): void {
  if (cs.echoLen >= echo.length) echoFlush();
  echo[cs.echoLen++] = c;
}

function echoFlush(): void {
  if (cs.echoLen > 0) conWrite(addressOf(echo), cs.echoLen);
  cs.echoLen = 0;
}

/**
 * The line discipline: move raw bytes into the ring until a line is committed (newline, Ctrl-D,
 * or a full buffer) or rawq is empty. Called with nothing committed (r === w). Interrupts off.
 */
function cook(): void {
  while (cs.w === cs.r && cs.rawHead !== cs.rawTail) {
    let c = rawq[cs.rawHead & (RAW_BYTES - 1)];
    if (c === CR) c = LF;
    if (cs.e - cs.r >= INPUT_BUF && c !== BS && c !== DEL && c !== CTRL_D) {
      // A line as long as the buffer is handed over as it is (xv6); this byte starts the next.
      cs.w = cs.e;
      break;
    }
    cs.rawHead++;
    if (c === BS || c === DEL) {
      if (cs.e > cs.w) {
        cs.e--;
        echoByte(BS);
        echoByte(32);
        echoByte(BS);
      }
    } else if (c === CTRL_D) {
      // End of input: a partial line is handed over as it is; on an empty line, a marker that
      // makes the next read return 0 (Unix: Ctrl-D at the start of a line is end of file).
      if (cs.e === cs.w) {
        ring[cs.e & (INPUT_BUF - 1)] = CTRL_D;
        cs.e++;
      }
      cs.w = cs.e;
    } else if (c === LF || c === TAB || (c >= 32 && c < 127)) {
      ring[cs.e & (INPUT_BUF - 1)] = c;
      cs.e++;
      echoByte(c);
      if (c === LF) cs.w = cs.e;
    }
    // Any other control byte is dropped.
  }
  echoFlush();
}

/** The device handler (irqSetDeviceHandler): take the input, wake readers. Interrupts off. */
export function consoleEvent(source: number): void {
  if (source !== SRC_CONSOLE) return;
  cs.events++;
  intake(true);
  wakeup(CONSOLE_CHAN);
}

/** Once, at boot (after platformInit): take the console's device events. */
export function consoleInit(): void {
  irqSetDeviceHandler(consoleEvent);
}

/**
 * Read up to `len` bytes of console input into `addr` (a valid, writable address for len bytes):
 * sleeps until a whole line or end of input is there; returns the line's bytes (its newline
 * included) up to len — the rest stays for the next read — or 0 at end of input (Ctrl-D on an
 * empty line; a later read waits for more input, as a terminal does). Must run in a task (it
 * sleeps). len <= 0 returns 0 at once.
 */
export function consoleRead(addr: number, len: number): number {
  if (len <= 0) return 0;
  const f = irqSave();
  for (;;) {
    intake(false);
    if (cs.r === cs.w) cook();
    if (cs.r !== cs.w) break;
    sleep(CONSOLE_CHAN);
  }
  let n = 0;
  while (n < len && cs.r !== cs.w) {
    const c = ring[cs.r & (INPUT_BUF - 1)];
    if (c === CTRL_D) {
      // End of input: consumed when it comes first; after some bytes it waits for the next read.
      if (n === 0) cs.r++;
      break;
    }
    store8(addr + n, c);
    n++;
    cs.r++;
    if (c === LF) break;
  }
  irqRestore(f);
  return n;
}

/** Write len bytes at addr to the console; len (the console takes everything). */
export function consoleWrite(addr: number, len: number): number {
  if (len <= 0) return 0;
  conWrite(addr, len);
  return len;
}

/** Counters: bytes taken from the device, console events handled. */
export function consoleBytesIn(): number {
  return cs.bytesIn;
}
export function consoleEvents(): number {
  return cs.events;
}
/** Bytes dropped because rawq was full when the device handler drained the device. */
export function consoleDropped(): number {
  return cs.dropped;
}
