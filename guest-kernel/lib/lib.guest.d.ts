/**
 * The guest's standard library, as types: everything the TypeScript subset may use and nothing
 * else, so that editor completion shows what compiles. The compiler passes `noLib` and this file
 * (with intrinsics.d.ts) instead of lib.es*.d.ts: a program then loads in tens of milliseconds
 * instead of parsing the 1 MB default lib (see guest-kernel/README.md).
 *
 * The first block is what the TypeScript checker itself requires to exist (global Array, Boolean,
 * Function, IArguments, Number, Object, RegExp, String); the subset supports none of their
 * methods beyond those declared here.
 */

interface Array<T> {
  readonly length: number;
  [n: number]: T;
}
interface ReadonlyArray<T> {
  readonly length: number;
  readonly [n: number]: T;
}
interface Boolean {}
interface Function {}
interface CallableFunction extends Function {}
interface NewableFunction extends Function {}
interface IArguments {}
interface Number {}
interface Object {}
interface RegExp {}
interface TemplateStringsArray extends ReadonlyArray<string> {}

/** A string literal: static bytes with a length. Only these two members are supported. */
interface String {
  /** Number of bytes; literals are ASCII (the compiler refuses others), so JavaScript's length too. */
  readonly length: number;
  /** The byte at `index` (zero-extended); no bounds check. */
  charCodeAt(index: number): number;
}

/** Utility types (type-level only). */
type Readonly<T> = { readonly [P in keyof T]: T[P] };
type Record<K extends keyof any, T> = { [P in K]: T };

/** The Math functions of the subset: all of them integer functions, inline on the machine. */
interface Math {
  /** Wrapping 32-bit multiply (`mul`). */
  imul(a: number, b: number): number;
  /** The smallest argument (at least one). */
  min(...values: number[]): number;
  /** The largest argument (at least one). */
  max(...values: number[]): number;
  /** The absolute value; Math.abs(-2147483648) is 2147483648, an integer overflow on the machine. */
  abs(x: number): number;
  /** Leading zero bits of the 32-bit value (32 for 0). */
  clz32(x: number): number;
  /** -1, 0 or 1. */
  sign(x: number): number;
}
declare var Math: Math;

/**
 * `console.log(...)` of numbers, booleans and strings: the arguments separated by one space and a
 * newline, as Node prints them, on the guest console of either target (lib/console.ts prints).
 */
interface Console {
  log(...values: (number | boolean | string)[]): void;
}
declare var console: Console;

// Fixed-size typed arrays: declared at module level (`const t = new Int32Array(256)` or with a
// constant element list), stored statically, or in a function (`const buf = new Uint8Array(64)`,
// in its stack frame); indexed with `t[i]`. The length word sits just below element 0, so an
// array passed as a parameter knows its `length`. A Uint32Array's elements read back unsigned.
// Each type carries a brand (a unique symbol no guest can name) so that the checker keeps them
// apart: an Int8Array is not an Int32Array, though both have only `length` and an index.

declare const __int8Array: unique symbol;
declare const __uint8Array: unique symbol;
declare const __int16Array: unique symbol;
declare const __uint16Array: unique symbol;
declare const __int32Array: unique symbol;
declare const __uint32Array: unique symbol;

interface Int8Array {
  [index: number]: number;
  readonly length: number;
  readonly [__int8Array]: true;
}
declare var Int8Array: { new (lengthOrElements: number | readonly number[]): Int8Array };

interface Uint8Array {
  [index: number]: number;
  readonly length: number;
  readonly [__uint8Array]: true;
}
declare var Uint8Array: { new (lengthOrElements: number | readonly number[]): Uint8Array };

interface Int16Array {
  [index: number]: number;
  readonly length: number;
  readonly [__int16Array]: true;
}
declare var Int16Array: { new (lengthOrElements: number | readonly number[]): Int16Array };

interface Uint16Array {
  [index: number]: number;
  readonly length: number;
  readonly [__uint16Array]: true;
}
declare var Uint16Array: { new (lengthOrElements: number | readonly number[]): Uint16Array };

interface Int32Array {
  [index: number]: number;
  readonly length: number;
  readonly [__int32Array]: true;
}
declare var Int32Array: { new (lengthOrElements: number | readonly number[]): Int32Array };

interface Uint32Array {
  [index: number]: number;
  readonly length: number;
  readonly [__uint32Array]: true;
}
declare var Uint32Array: { new (lengthOrElements: number | readonly number[]): Uint32Array };

// Records (guest-kernel/README.md, "Records and function values"): a class with constant field
// initialisers is a record; `const t = new Task()` at module level is a static instance, and
// `recordArray(Task, 64)` a static, fixed-size array of 64 of them (Node builds the same array
// with `new Task()` 64 times: compiler/node-shim.ts). Element i of a RecordArray is a Task; the
// length word sits just below element 0, as for a typed array.

interface RecordArray<T> {
  readonly [index: number]: T;
  readonly length: number;
}
/** `length` records of class `record`, each built with `new record()`: a module-level const initialiser or a readonly field's. */
declare function recordArray<T>(record: new () => T, length: number): RecordArray<T>;
