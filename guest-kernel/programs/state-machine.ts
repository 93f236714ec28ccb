/**
 * A switch-heavy state machine: a tokenizer for a tiny expression language, run over a static
 * source text, counting tokens by kind and evaluating the sums of numbers.
 */
import { printKV, print, putc } from '../lib/console.ts';

const enum State {
  Start,
  Number,
  Ident,
  Operator,
  Comment,
  Str,
}

const enum Kind {
  Num = 0,
  Id = 1,
  Op = 2,
  Str = 3,
}

const counts = new Int32Array(4);
const SOURCE = 'let x = 42 + y1 * (17 - 3); # a comment\nlet s = "str ing"; z = x / 2 + 100 % 7 # end\nq = 9';

function classify(c: number): number {
  switch (c) {
    case 32:
    case 9:
    case 10:
    case 13:
      return 0; // space
    case 48: case 49: case 50: case 51: case 52:
    case 53: case 54: case 55: case 56: case 57:
      return 1; // digit
    case 43: case 45: case 42: case 47: case 37: case 61: case 40: case 41: case 59:
      return 3; // operator
    case 35:
      return 4; // '#'
    case 34:
      return 5; // '"'
    default:
      return 2; // letter
  }
}

function run(text: string): number {
  let state = State.Start;
  let value = 0;
  let total = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 10;
    const cls = classify(c);
    switch (state) {
      case State.Number:
        if (cls === 1) {
          value = value * 10 + (c - 48);
          continue;
        }
        total += value;
        counts[Kind.Num]++;
        state = State.Start;
        break;
      case State.Ident:
        if (cls === 1 || cls === 2) continue;
        counts[Kind.Id]++;
        state = State.Start;
        break;
      case State.Comment:
        if (c === 10) state = State.Start;
        continue;
      case State.Str:
        if (c === 34) {
          counts[Kind.Str]++;
          state = State.Start;
        }
        continue;
      default:
        break;
    }
    // Start state: decide what the character begins.
    switch (cls) {
      case 1:
        state = State.Number;
        value = c - 48;
        break;
      case 2:
        state = State.Ident;
        break;
      case 3:
        counts[Kind.Op]++;
        break;
      case 4:
        state = State.Comment;
        break;
      case 5:
        state = State.Str;
        break;
    }
  }
  return total;
}

export function main(): number {
  const total = run(SOURCE);
  printKV('numbers: ', counts[Kind.Num]);
  printKV('identifiers: ', counts[Kind.Id]);
  printKV('operators: ', counts[Kind.Op]);
  printKV('strings: ', counts[Kind.Str]);
  printKV('sum of numbers: ', total);
  let again = 0;
  for (let k = 0; k < 200; k++) again = (again + run(SOURCE)) | 0;
  print('after 200 more runs: ');
  printKV('', again);
  putc(10);
  return counts[Kind.Op];
}
