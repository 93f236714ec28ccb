/**
 * sh: the shell. Prints the prompt `$ `, reads a line, splits it into words and runs the first
 * as a program with the others as its argument text (SYS_SPAWN, then SYS_WAIT for that child):
 *
 *   PROG ARGS...            run PROG
 *   PROG ARGS... > FILE     (or >FILE) with its fd 1 on FILE, opened O_WRONLY|O_CREATE|O_TRUNC
 *   exit [CODE]             end the shell with status CODE (default 0)
 *
 * Errors, on fd 2: `sh: NAME: no such program` (spawn said -ENOENT), `sh: NAME: <error text>`
 * (another spawn error), `sh: FILE: <error text>` (the redirection's open), `sh: syntax error`
 * (a `>` with no file), `sh: arguments too long` (more than ARGS_MAX bytes), `sh: line too long`
 * (more than 256 bytes: the line is not run). After a child that
 * did not exit 0 it prints one line: `[pid N killed]` (KILLED_STATUS), `[pid N fault]`
 * (FAULT_STATUS), `[pid N exit S]` (any other status). At the end of input it exits 0.
 */
import { ARGS_MAX, ENOENT, FAULT_STATUS, KILLED_STATUS, O_CREATE, O_TRUNC, O_WRONLY } from '../syscall-abi.ts';
import { eprint, eprintBytes, eprintln, flush, print, printNum, println } from './lib/io.ts';
import { lineTooLong, readLine } from './lib/io.ts';
import { errorText } from './lib/errors.ts';
import { NOT_A_NUMBER, copy, eqLit, parseDec, splitWords } from './lib/str.ts';
import { close, openb, spawnb, wait } from './lib/sys.ts';

const LINE_MAX = 256;
const line = new Uint8Array(LINE_MAX);
const MAX_WORDS = LINE_MAX / 2; // every word and its separator: none is dropped
const starts = new Int32Array(MAX_WORDS);
const lens = new Int32Array(MAX_WORDS);
/** The child's argument text: its words joined by one space. */
const argText = new Uint8Array(ARGS_MAX);
const status = new Int32Array(1);
/** Set by `exit`: the shell ends with exitCode. */
let exiting = false;
let exitCode = 0;

/** Print word k of the line to fd 2. */
function eprintWord(k: number): void {
  eprintBytes(line, starts[k], lens[k]);
}

/** Run the parsed line (n >= 1 words); `exit` sets exiting. */
function runLine(n: number): void {
  if (eqLit(line, starts[0], lens[0], 'exit')) {
    const code = n < 2 ? 0 : parseDec(line, starts[1], lens[1]);
    if (code === NOT_A_NUMBER) {
      eprintln('sh: exit: not a number');
      return;
    }
    exiting = true;
    exitCode = code;
    return;
  }
  // The redirection: `> FILE` or `>FILE`; the file is line[fileStart .. fileStart+fileLen).
  let fileStart = -1;
  let fileLen = 0;
  let argLen = 0;
  for (let k = 1; k < n; k++) {
    const s = starts[k];
    if (line[s] === 62) {
      if (lens[k] > 1) {
        fileStart = s + 1;
        fileLen = lens[k] - 1;
      } else if (k + 1 < n) {
        k++;
        fileStart = starts[k];
        fileLen = lens[k];
      } else {
        eprintln('sh: syntax error');
        return;
      }
      continue;
    }
    const need = (argLen > 0 ? 1 : 0) + lens[k];
    if (argLen + need > ARGS_MAX) {
      eprintln('sh: arguments too long');
      return;
    }
    if (argLen > 0) argText[argLen++] = 32;
    for (let i = 0; i < lens[k]; i++) argText[argLen++] = line[s + i];
  }
  let out = 1;
  if (fileStart >= 0) {
    out = openb(line, fileStart, fileLen, O_WRONLY | O_CREATE | O_TRUNC);
    if (out < 0) {
      eprint('sh: ');
      eprintBytes(line, fileStart, fileLen);
      eprint(': ');
      eprintln(errorText(out));
      return;
    }
  }
  flush(); // our output before the child's
  const pid = spawnName(starts[0], lens[0], argLen, out);
  if (out !== 1) close(out);
  if (pid < 0) {
    eprint('sh: ');
    eprintWord(0);
    eprint(': ');
    eprintln(pid === -ENOENT ? 'no such program' : errorText(pid));
    return;
  }
  for (;;) {
    const r = wait(status);
    if (r < 0) return;
    if (r === pid) break;
  }
  const s = status[0];
  if (s === 0) return;
  print('[pid ');
  printNum(pid);
  if (s === KILLED_STATUS) println(' killed]');
  else if (s === FAULT_STATUS) println(' fault]');
  else {
    print(' exit ');
    printNum(s);
    println(']');
  }
  return;
}

/** spawnb takes a name from its buffer's start: the name line[off .. off+len) is copied here. */
const nameCopy = new Uint8Array(LINE_MAX);
function spawnName(off: number, len: number, argLen: number, out: number): number {
  copy(nameCopy, 0, line, off, len);
  return spawnb(nameCopy, len, argText, argLen, out);
}

export function main(): number {
  for (;;) {
    print('$ ');
    flush();
    const len = readLine(line);
    if (len < 0) {
      flush();
      return 0;
    }
    if (lineTooLong()) {
      eprintln('sh: line too long');
      continue;
    }
    const n = splitWords(line, len, starts, lens);
    if (n === 0) continue;
    runLine(n);
    if (exiting) {
      flush();
      return exitCode;
    }
  }
}
