/**
 * Constant folding: the ALU's operations and the branch conditions evaluated on constants, with
 * exactly the machine's semantics (abi/isa.ts), so that a folded program computes what the
 * unfolded one would. Value numbering (value-numbering.ts) folds with these.
 */
import type { BinOp, Cond } from './ir.ts';

/** ALU semantics, exactly as abi/isa.ts documents them, for folding. */
export function evalBin(op: BinOp, a: number, b: number): number | undefined {
  switch (op) {
    case 'add':
      return (a + b) | 0;
    case 'sub':
      return (a - b) | 0;
    case 'mul':
      return Math.imul(a, b);
    case 'div':
      if (b === 0) return undefined;
      return a === -0x80000000 && b === -1 ? a : (a / b) | 0;
    case 'divu':
      if (b === 0) return undefined;
      return Math.floor((a >>> 0) / (b >>> 0)) | 0;
    case 'rem':
      if (b === 0) return undefined;
      return b === -1 ? 0 : (a % b) | 0;
    case 'remu':
      if (b === 0) return undefined;
      return (a >>> 0) % (b >>> 0) | 0;
    case 'and':
      return a & b;
    case 'or':
      return a | b;
    case 'xor':
      return a ^ b;
    case 'shl':
      return a << (b & 31);
    case 'shr':
      return (a >>> (b & 31)) | 0;
    case 'sar':
      return a >> (b & 31);
    case 'slt':
      return a < b ? 1 : 0;
    case 'sltu':
      return a >>> 0 < b >>> 0 ? 1 : 0;
    case 'seq':
      return a === b ? 1 : 0;
    case 'sne':
      return a !== b ? 1 : 0;
    case 'addo':
    case 'subo':
    case 'mulo': {
      // The exact result, or nothing when it leaves int32 (the instruction traps: keep it). A
      // double holds products of int32s only approximately, but never across these bounds.
      const x = op === 'addo' ? a + b : op === 'subo' ? a - b : a * b;
      return x >= -0x80000000 && x <= 0x7fffffff ? x | 0 : undefined;
    }
    case 'mulh':
      return Number(BigInt.asIntN(32, (BigInt(a) * BigInt(b)) >> 32n));
  }
}

export function evalCond(c: Cond, a: number, b: number): boolean {
  switch (c) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'lt':
      return a < b;
    case 'ge':
      return a >= b;
    case 'ltu':
      return a >>> 0 < b >>> 0;
    case 'geu':
      return a >>> 0 >= b >>> 0;
  }
}
