/**
 * Assembly lines as the code generator builds them, before they become the text the assembler
 * (assembler.ts) reads. Keeping them structured lets the peephole pass look at mnemonics and
 * operands, and lets every instruction carry the source line it came from into the listing.
 */
import type { Loc } from './ir.ts';

export type AsmLine =
  | { kind: 'label'; name: string }
  | { kind: 'ins'; op: string; args: string[]; loc?: Loc | undefined }
  | { kind: 'dir'; text: string }
  | { kind: 'comment'; text: string };

export const reg = (r: number): string => (r === 15 ? 'sp' : `r${r}`);

export function ins(op: string, args: string[] = [], loc?: Loc): AsmLine {
  return { kind: 'ins', op, args, loc };
}

export function lineText(l: AsmLine): string {
  switch (l.kind) {
    case 'label':
      return `${l.name}:`;
    case 'ins':
      return `    ${l.op}${l.args.length ? ' ' + l.args.join(', ') : ''}`;
    case 'dir':
      return `    ${l.text}`;
    case 'comment':
      return `; ${l.text}`;
  }
}

/** `[rN+off]`, `[rN-off]` or `[rN]`. */
export function memOperand(base: string, offset: number): string {
  return offset === 0 ? `[${base}]` : offset > 0 ? `[${base}+${offset}]` : `[${base}${offset}]`;
}
