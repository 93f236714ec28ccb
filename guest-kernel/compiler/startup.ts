/**
 * Start-up code per target, and the interrupt-entry stubs. The program's `main` is called with
 * the machine's reset state (native: privilege 0, paging off, sp at the top of memory; pv: as the
 * hypervisor starts a domain); its return value becomes the shutdown code:
 * - native: OUT to POWER_SHUTDOWN (QEMU's isa-debug-exit, the whole 32-bit value);
 * - pv: HYPERCALL sched_op(SCHEDOP_SHUTDOWN, code).
 * Should the machine carry on after the shutdown request, the start-up code spins.
 */
import { BF_FAULTADDR, HC_IRET, HC_SCHED_OP, SCHEDOP_SHUTDOWN } from '../../abi/hypercall-numbers.ts';
import { POWER_SHUTDOWN } from '../../abi/platform.ts';
import { type AsmLine, ins, reg } from './asm.ts';
import type { Loc } from './ir.ts';
import type { Target } from './types.ts';

export const ENTRY_LABEL = '_start';

/**
 * pv only: the kernel's initial stack, in the image's zero-filled data. The hypervisor starts a
 * pv domain on a small stack (PV_STACK_PAGES pages); like Linux's init stack, ours is static
 * and the start-up code switches to it first. (Native starts with sp at the top of memory.)
 */
export const PV_BOOT_STACK_BYTES = 256 * 1024;
export const STACK_TOP_LABEL = '__boot_stack_top';

export function startupCode(target: Target, mainLabel: string): AsmLine[] {
  const loc: Loc | undefined = undefined;
  const out: AsmLine[] = [{ kind: 'comment', text: `start-up code (${target}): call main, shut down with its result` }, { kind: 'label', name: ENTRY_LABEL }];
  if (target === 'pv') out.push(ins('la', ['sp', STACK_TOP_LABEL], loc));
  out.push(ins('call', [mainLabel], loc));
  if (target === 'native') {
    out.push(ins('out', [`0x${POWER_SHUTDOWN.toString(16)}`, 'r0']));
  } else {
    out.push(ins('mov', ['r2', 'r0']), ins('li', ['r1', String(SCHEDOP_SHUTDOWN)]), ins('li', ['r0', String(HC_SCHED_OP)]), ins('hypercall'));
  }
  out.push({ kind: 'label', name: `${ENTRY_LABEL}.spin` }, ins('jmp', [`${ENTRY_LABEL}.spin`]));
  return out;
}

/**
 * The entry stub of an interrupt handler: save r0..r14 below the frame the CPU (native) or the
 * hypervisor (pv) pushed, r0 lowest so that frame + 4n holds rn; call the handler with the
 * frame's address; restore the registers (a handler may have changed them, e.g. r0 to return a
 * system call's result); return.
 * - native: the CPU's trap frame {pc, flags, sp} sits at frame+60; IRET pops it.
 * - pv: the hypervisor's bounce frame {vector, errcode, faultaddr, pc, flags, sp} sits at
 *   frame+60; the kernel runs at privilege 3, so it cannot IRET: it stores the r0 to restore in
 *   the frame's faultaddr slot, points sp there and makes HC_IRET (abi/hypercall-numbers.ts), as
 *   a Xen PV kernel returns with HYPERVISOR_iret.
 */
export function interruptStub(target: Target, stubLabel: string, handlerLabel: string, loc: Loc): AsmLine[] {
  const out: AsmLine[] = [{ kind: 'comment', text: `interrupt entry for ${handlerLabel} (${target}): saves r0..r14, frame = sp` }, { kind: 'label', name: stubLabel }];
  for (let r = 14; r >= 0; r--) out.push(ins('push', [reg(r)], loc));
  out.push(ins('mov', ['r0', 'sp'], loc), ins('call', [handlerLabel], loc));
  if (target === 'native') {
    for (let r = 0; r <= 14; r++) out.push(ins('pop', [reg(r)], loc));
    out.push(ins('iret', [], loc));
    return out;
  }
  for (let r = 0; r <= 14; r++) out.push(ins('pop', [reg(r)], loc));
  // sp is back at the bounce frame; r0 holds the value to restore.
  out.push(
    ins('stw', ['r0', `[sp+${BF_FAULTADDR}]`], loc),
    ins('addi', ['sp', 'sp', String(BF_FAULTADDR)], loc),
    ins('li', ['r0', String(HC_IRET)], loc),
    ins('hypercall', [], loc),
  );
  return out;
}
