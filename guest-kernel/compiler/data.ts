/**
 * Static data and labels: the module variables, typed arrays, string literals and jump tables a
 * program needs, laid out as assembler directives; and the allocator that gives every function,
 * variable and block a unique assembly label.
 *
 * Layout of an array or a string: a length word, then the elements, with the label on element 0,
 * so that the value of the array or string (its address) points at the data and `length` is one
 * load at offset -4.
 */
import { OPCODES, REG_NAMES, CR_NAMES } from '../../abi/isa.ts';
import { ELEM_BYTES, type ElemKind } from './types.ts';

const RESERVED = new Set<string>([
  ...OPCODES.map((o) => o.mnemonic),
  ...REG_NAMES,
  ...CR_NAMES,
  'la',
  'li32',
  'start',
  '_start',
]);

/** Unique assembly labels. Guest names keep their spelling where they can (readable listings). */
export class LabelAllocator {
  private readonly used = new Set<string>();

  /** A label for `name`: the name itself if free, else `name_2`, `name_3`... */
  unique(name: string): string {
    const base = name.replace(/[^A-Za-z0-9_.$]/g, '_').replace(/^([0-9])/, '_$1') || '_';
    let label = RESERVED.has(base.toLowerCase()) ? `${base}_` : base;
    for (let n = 2; this.used.has(label); n++) label = `${base}_${n}`;
    this.used.add(label);
    return label;
  }
}

export interface StaticWord {
  kind: 'word';
  label: string;
  /** A number, or the label of a string whose address is the initial value. */
  init: number | string;
  comment: string;
}

export interface StaticArray {
  kind: 'array';
  label: string;
  elem: ElemKind;
  length: number;
  /** Initial elements (the rest are zero); null for an all-zero array. */
  init: number[] | null;
  /** The word just below element 0: `length` unless given here; null for none (a record, records.ts). */
  lengthWord?: number | null;
  comment: string;
}

/** A function table (records.ts): read-only words holding function addresses, its length word below. */
export interface StaticTable {
  label: string;
  /** Function labels, in order. */
  entries: string[];
  comment: string;
}

export interface StaticString {
  kind: 'string';
  label: string;
  bytes: Uint8Array;
}

/** Everything placed in the data segments, in first-use order. */
export class DataSection {
  readonly words: StaticWord[] = [];
  readonly arrays: StaticArray[] = [];
  readonly strings = new Map<string, StaticString>();
  /** Function tables; compile.ts counts the functions in placed tables reachable. */
  readonly tables: StaticTable[] = [];
  private stringCount = 0;

  constructor(private readonly labels: LabelAllocator) {}

  /** The label of string literal `text`; equal literals share one copy (so `===` compares content). */
  string(text: string): string {
    const found = this.strings.get(text);
    if (found) return found.label;
    const label = this.labels.unique(`str.${this.stringCount++}`);
    this.strings.set(text, { kind: 'string', label, bytes: new TextEncoder().encode(text) });
    return label;
  }

  /** Read-only data: string literals (and their length words). */
  rodataLines(): string[] {
    const out: string[] = [];
    for (const s of this.strings.values()) {
      out.push('.align 4', `.word ${s.bytes.length}`, `${s.label}:`);
      out.push(...bytesLines(s.bytes));
    }
    for (const t of this.tables) {
      out.push('.align 4', `.word ${t.entries.length} ; ${t.comment}`, `${t.label}:`);
      for (let i = 0; i < t.entries.length; i += 8) out.push(`.word ${t.entries.slice(i, i + 8).join(', ')}`);
    }
    return out;
  }

  /** Writable data: module variables and typed arrays. Zero-filled arrays come last (bss-like). */
  dataLines(): string[] {
    const out: string[] = [];
    for (const w of this.words) {
      out.push(`${w.label}: .word ${w.init} ; ${w.comment}`);
    }
    const initialised = this.arrays.filter((a) => a.init !== null);
    const zeroed = this.arrays.filter((a) => a.init === null);
    for (const a of [...initialised, ...zeroed]) {
      const size = ELEM_BYTES[a.elem];
      const lengthWord = a.lengthWord === undefined ? a.length : a.lengthWord;
      if (lengthWord === null) out.push('.align 4', `; ${a.comment}`, `${a.label}:`);
      else out.push('.align 4', `.word ${lengthWord} ; ${a.comment}`, `${a.label}:`);
      const init = a.init ?? [];
      const dir = size === 4 ? '.word' : size === 2 ? '.half' : '.byte';
      for (let i = 0; i < init.length; i += 16) {
        out.push(`${dir} ${init.slice(i, i + 16).join(', ')}`);
      }
      const rest = (a.length - init.length) * size;
      if (rest > 0) out.push(`.space ${rest}`);
    }
    return out;
  }
}

/** `.ascii` for printable runs, `.byte` for the rest, 16 bytes a line. */
function bytesLines(bytes: Uint8Array): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < bytes.length) {
    const printable = (b: number): boolean => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c;
    let j = i;
    if (printable(bytes[i]!)) {
      while (j < bytes.length && j - i < 48 && printable(bytes[j]!)) j++;
      out.push(`.ascii "${String.fromCharCode(...bytes.subarray(i, j))}"`);
    } else {
      while (j < bytes.length && j - i < 16 && !printable(bytes[j]!)) j++;
      out.push(`.byte ${Array.from(bytes.subarray(i, j)).join(', ')}`);
    }
    i = j;
  }
  return out;
}
