/**
 * Stage 7, peephole: small rewrites on the final assembly lines that the IR cannot see.
 * - `jmp L` straight before `L:` goes;
 * - `mov rX, rX` goes;
 * - a reload of a stack slot just stored (`stw rA, [sp+8]` then `ldw rB, [sp+8]`) becomes a
 *   register move, or nothing when A = B;
 * - `bCC a, b, L1; jmp L2; L1:` becomes `b!CC a, b, L2; L1:`.
 */
import type { AsmLine } from './asm.ts';

const INVERSE: Readonly<Record<string, string>> = { beq: 'bne', bne: 'beq', blt: 'bge', bge: 'blt', bltu: 'bgeu', bgeu: 'bltu' };

/** Labels that start at the line after index i (skipping other labels and comments). */
function labelsAfter(lines: readonly AsmLine[], i: number): Set<string> {
  const names = new Set<string>();
  for (let k = i + 1; k < lines.length; k++) {
    const l = lines[k]!;
    if (l.kind === 'label') names.add(l.name);
    else if (l.kind !== 'comment') break;
  }
  return names;
}

export function peephole(input: readonly AsmLine[]): AsmLine[] {
  let lines = [...input];
  for (let changed = true; changed; ) {
    changed = false;
    const out: AsmLine[] = [];
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.kind !== 'ins') {
        out.push(l);
        continue;
      }
      if (l.op === 'mov' && l.args[0] === l.args[1]) {
        changed = true;
        continue;
      }
      if (l.op === 'jmp' && labelsAfter(lines, i).has(l.args[0]!)) {
        changed = true;
        continue;
      }
      const next = lines[i + 1];
      if (INVERSE[l.op] && next?.kind === 'ins' && next.op === 'jmp' && labelsAfter(lines, i + 1).has(l.args[2]!)) {
        out.push({ ...l, op: INVERSE[l.op]!, args: [l.args[0]!, l.args[1]!, next.args[0]!] });
        i++;
        changed = true;
        continue;
      }
      const prev = out[out.length - 1];
      if (l.op === 'ldw' && prev?.kind === 'ins' && prev.op === 'stw' && prev.args[1] === l.args[1] && l.args[1]!.startsWith('[sp')) {
        if (prev.args[0] !== l.args[0]) out.push({ ...l, op: 'mov', args: [l.args[0]!, prev.args[0]!] });
        changed = true;
        continue;
      }
      out.push(l);
    }
    lines = out;
  }
  return lines;
}
