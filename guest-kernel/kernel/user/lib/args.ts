/**
 * The task's arguments: SYS_ARGS's text (what followed the program's name), read once and split
 * into words. `argCount()` words, word i at argBuf[argStart(i) .. argStart(i) + argLen(i)).
 */
import { ARGS_MAX, SYS_ARGS } from '../../syscall-abi.ts';
import { NOT_A_NUMBER, copy, eqLit, parseDec, splitWords } from './str.ts';

/** The argument text (ARGS_MAX bytes at most; a little room for a kernel that sends more). */
export const argBuf = new Uint8Array(ARGS_MAX + 4);
const MAX_WORDS = 64;
const starts = new Int32Array(MAX_WORDS);
const lens = new Int32Array(MAX_WORDS);
let loaded = false;
let textLen = 0;
let words = 0;

function load(): void {
  if (loaded) return;
  loaded = true;
  const r = syscall(SYS_ARGS, addressOf(argBuf), argBuf.length);
  textLen = r < 0 ? 0 : Math.min(r, argBuf.length);
  words = splitWords(argBuf, textLen, starts, lens);
}

/** The argument text's length (its bytes are argBuf[0 .. argTextLen())). */
export function argTextLen(): number {
  load();
  return textLen;
}

/** The number of words in the argument text. */
export function argCount(): number {
  load();
  return words;
}

/** Where word i starts in argBuf (0 when there is no word i). */
export function argStart(i: number): number {
  load();
  return i >= 0 && i < words ? starts[i] : 0;
}

/** Word i's length (0 when there is no word i). */
export function argLen(i: number): number {
  load();
  return i >= 0 && i < words ? lens[i] : 0;
}

/** Copy word i into out: its length (-1 when there is no word i; clamped to out). */
export function argAt(i: number, out: Uint8Array): number {
  load();
  if (i < 0 || i >= words) return -1;
  return copy(out, 0, argBuf, starts[i], lens[i]);
}

/** Whether word i is the literal s. */
export function argIs(i: number, s: string): boolean {
  load();
  return i >= 0 && i < words && eqLit(argBuf, starts[i], lens[i], s);
}

/** Word i as a decimal number; `dflt` when there is no word i; NOT_A_NUMBER when it is not one. */
export function argInt(i: number, dflt: number): number {
  load();
  if (i < 0 || i >= words) return dflt;
  return parseDec(argBuf, starts[i], lens[i]);
}

/** argInt, and NOT_A_NUMBER also for a number outside 0..max (for counts like N). */
export function argIntIn(i: number, dflt: number, max: number): number {
  const v = argInt(i, dflt);
  if (v === NOT_A_NUMBER || v < 0 || v > max) return NOT_A_NUMBER;
  return v;
}
