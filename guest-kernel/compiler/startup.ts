/**
 * Start-up code per target, the default exception handler's entry, and the interrupt-entry stubs.
 * The program's `main` is called with the machine's reset state (native: privilege 0, paging off,
 * sp at the top of memory; pv: as the hypervisor starts a domain) once the start-up code has
 * installed the default exception handler (guest-kernel/lib/runtime.ts, which reports the first
 * fault with its source line and shuts down with RUNTIME_ERROR_EXIT_CODE); its return value
 * becomes the shutdown code:
 * - native: OUT to POWER_SHUTDOWN (QEMU's isa-debug-exit, the whole 32-bit value);
 * - pv: HYPERCALL sched_op(SCHEDOP_SHUTDOWN, code);
 * - user: SYSCALL exit(code) (guest-kernel/kernel/syscall-abi.ts SYS_EXIT).
 * Should the machine carry on after the shutdown request, the start-up code spins.
 *
 * Native start-up, before main:
 * - VBAR = a static vector table whose exceptions (0..31) enter the handler; CR Dfsp = a small
 *   static fault stack, where the CPU delivers a double fault (an exception whose trap frame
 *   could not be written: the stack ran into the guard page);
 * - paging on, with an identity map of all memory (its size is the reset sp) except one guard
 *   page: the page directory starts at the first page after the static data, the page tables
 *   follow it, then the guard page, unmapped; the stack stays at the top of memory, growing down
 *   to the guard, so a runaway recursion faults there instead of overwriting the page tables and
 *   the static data. Filling the tables costs 2.25 instructions a page (an 8-way unrolled
 *   loop): 9,260 instructions for 16 MiB.
 * pv start-up, before main:
 * - switch to the boot stack in the image (256 KiB), below which the layout leaves a page that
 *   update_va_mapping unmaps: the guard page;
 * - set_trap_table: the named exception vectors (abi/isa.ts) enter the handler; stack_switch:
 *   the fault stack, where the hypervisor bounces a double fault (a bounce frame that could not
 *   be written on the kernel stack).
 * user start-up (a program of the guest kernel, at privilege 3: no vector table, no paging, no
 * privileged instruction; the kernel has set sp to the user stack and pc to the entry):
 * - syscall(SYS_TRAP, __rt.entry, __rt.stack_top): r0 = SYS_TRAP, r1 = the handler's entry, r2 =
 *   the fault stack's top; the kernel delivers a fault there with r0 = vector, r1 = pc, r2 = fault
 *   address, sp = the fault stack;
 * - call main; syscall(SYS_EXIT, its result): r1 = result, r0 = SYS_EXIT.
 */
import {
  BF_FAULTADDR,
  BF_PC,
  BF_VECTOR,
  HC_IRET,
  HC_SCHED_OP,
  HC_SET_TRAP_TABLE,
  HC_STACK_SWITCH,
  HC_UPDATE_VA_MAPPING,
  SCHEDOP_SHUTDOWN,
  UVMF_INVLPG,
} from '../../abi/hypercall-numbers.ts';
import { CTRL_PG, PAGE_SIZE, PTE_A, PTE_D, PTE_P, PTE_W } from '../../abi/isa.ts';
import { POWER_SHUTDOWN } from '../../abi/platform.ts';
import { RT_GUARD } from '../../abi/runtime-tables.ts';
import { type AsmLine, ins, reg } from './asm.ts';
import type { Loc } from './ir.ts';
import { PV_TRAP_VECTORS, RT_ENTRY_LABEL, RT_STACK_TOP_LABEL, RT_TABLES_LABEL, RT_TRAP_TABLE_LABEL, RT_VECTOR_TABLE_LABEL } from './runtime-tables.ts';
import type { Target } from './types.ts';
import { SYS_EXIT, SYS_TRAP } from '../kernel/syscall-abi.ts';

export const ENTRY_LABEL = '_start';

/**
 * pv only: the kernel's initial stack, in the image's zero-filled data. The hypervisor starts a
 * pv domain on a small stack (PV_STACK_PAGES pages); like Linux's init stack, ours is static
 * and the start-up code switches to it first. (Native starts with sp at the top of memory.)
 */
export const PV_BOOT_STACK_BYTES = 256 * 1024;
export const STACK_TOP_LABEL = '__boot_stack_top';
/** pv: the page below the boot stack, unmapped at start-up. */
export const PV_GUARD_LABEL = '__boot.guard';
/** native: the page directory, the first page after the static data (an `.equ`). */
export const PAGE_DIRECTORY_LABEL = '__rt.pd';
/** The stack the default handler runs on (and native's double faults are delivered on). */
export const FAULT_STACK_BYTES = 2048;

/** How many page-table entries one turn of native start-up's loop fills. */
const MAP_UNROLL = 8;

export function startupCode(target: Target, mainLabel: string): AsmLine[] {
  const loc: Loc | undefined = undefined;
  const out: AsmLine[] = [{ kind: 'comment', text: `start-up code (${target}): install the default exception handler, call main, shut down with its result` }, { kind: 'label', name: ENTRY_LABEL }];
  out.push(...(target === 'native' ? nativeSetup() : target === 'pv' ? pvSetup() : userSetup()));
  out.push(ins('call', [mainLabel], loc));
  if (target === 'native') {
    out.push(ins('out', [`0x${POWER_SHUTDOWN.toString(16)}`, 'r0']));
  } else if (target === 'pv') {
    out.push(ins('mov', ['r2', 'r0']), ins('li', ['r1', String(SCHEDOP_SHUTDOWN)]), ins('li', ['r0', String(HC_SCHED_OP)]), ins('hypercall'));
  } else {
    out.push(comment('exit(main\'s result)'), ins('mov', ['r1', 'r0']), ins('li', ['r0', String(SYS_EXIT)]), ins('syscall'));
  }
  out.push({ kind: 'label', name: `${ENTRY_LABEL}.spin` }, ins('jmp', [`${ENTRY_LABEL}.spin`]));
  return out;
}

const comment = (text: string): AsmLine => ({ kind: 'comment', text });
const label = (name: string): AsmLine => ({ kind: 'label', name });

/** Native: vectors, the double-fault stack, and paging with a guard page below the stack. */
function nativeSetup(): AsmLine[] {
  const map: AsmLine[] = [];
  for (let k = 0; k < MAP_UNROLL; k++) map.push(ins('stw', ['r4', k === 0 ? '[r2]' : `[r2+${4 * k}]`]), ins('addi', ['r4', 'r4', String(PAGE_SIZE)]));
  return [
    comment('exceptions enter the default handler; a double fault arrives on the fault stack'),
    ins('la', ['r1', RT_VECTOR_TABLE_LABEL]),
    ins('mtcr', ['vbar', 'r1']),
    ins('la', ['r1', RT_STACK_TOP_LABEL]),
    ins('mtcr', ['dfsp', 'r1']),
    comment('identity-map memory (sp = its size): r1 = the directory, the page tables after it'),
    ins('la', ['r1', PAGE_DIRECTORY_LABEL]),
    ins('addi', ['r2', 'r1', String(PAGE_SIZE)]),
    ins('shri', ['r3', 'sp', '10']),
    ins('add', ['r3', 'r3', 'r2']),
    ins('li', ['r4', String(PTE_P | PTE_W | PTE_A | PTE_D)]),
    comment(`r2 = next entry, r3 = end of the entries, r4 = next entry's value; ${MAP_UNROLL} a turn (the extra few stay in the last table's page)`),
    label('__rt.map'),
    ...map,
    ins('addi', ['r2', 'r2', String(4 * MAP_UNROLL)]),
    ins('bltu', ['r2', 'r3', '__rt.map']),
    comment('a directory entry for each page table: r5 = entry, r6 = table'),
    ins('mov', ['r5', 'r1']),
    ins('addi', ['r6', 'r1', String(PAGE_SIZE)]),
    label('__rt.dir'),
    ins('ori', ['r7', 'r6', String(PTE_P | PTE_W | PTE_A)]),
    ins('stw', ['r7', '[r5]']),
    ins('addi', ['r5', 'r5', '4']),
    ins('addi', ['r6', 'r6', String(PAGE_SIZE)]),
    ins('bltu', ['r6', 'r3', '__rt.dir']),
    comment('r6 = the page after the tables: the guard page; unmap it and tell the handler'),
    ins('shri', ['r7', 'r6', '10']),
    ins('add', ['r7', 'r7', 'r1']),
    ins('li', ['r5', '0']),
    ins('stw', ['r5', `[r7+${PAGE_SIZE}]`]),
    ins('la', ['r7', RT_TABLES_LABEL]),
    ins('stw', ['r6', RT_GUARD === 0 ? '[r7]' : `[r7+${RT_GUARD}]`]),
    ins('mtcr', ['ptbr', 'r1']),
    ins('li', ['r7', String(CTRL_PG)]),
    ins('mtcr', ['ctrl', 'r7']),
  ];
}

/** pv: the boot stack and its guard page, the trap table, the double-fault stack. */
function pvSetup(): AsmLine[] {
  return [
    ins('la', ['sp', STACK_TOP_LABEL]),
    comment('exceptions enter the default handler (set_trap_table); a double fault arrives on the fault stack (stack_switch)'),
    ins('la', ['r1', RT_TRAP_TABLE_LABEL]),
    ins('li', ['r2', String(PV_TRAP_VECTORS.length)]),
    ins('li', ['r0', String(HC_SET_TRAP_TABLE)]),
    ins('hypercall'),
    ins('la', ['r1', RT_STACK_TOP_LABEL]),
    ins('li', ['r0', String(HC_STACK_SWITCH)]),
    ins('hypercall'),
    comment('unmap the guard page below the boot stack (update_va_mapping to an empty entry)'),
    ins('la', ['r1', PV_GUARD_LABEL]),
    ins('li', ['r2', '0']),
    ins('li', ['r3', String(UVMF_INVLPG)]),
    ins('li', ['r0', String(HC_UPDATE_VA_MAPPING)]),
    ins('hypercall'),
  ];
}

/**
 * user: the kernel has set sp (the user stack) and pc; register the run-time error reporter with
 * SYS_TRAP(entry, fault stack top). Its result is not checked: should the kernel refuse, a fault
 * simply ends the task with FAULT_STATUS and no line, as it would without the registration.
 */
function userSetup(): AsmLine[] {
  return [
    comment('faults enter the default handler on the fault stack: syscall(SYS_TRAP, entry, stack top)'),
    ins('la', ['r1', RT_ENTRY_LABEL]),
    ins('la', ['r2', RT_STACK_TOP_LABEL]),
    ins('li', ['r0', String(SYS_TRAP)]),
    ins('syscall'),
  ];
}

/**
 * The default handler's entry, for every exception vector: gather the vector, the faulting pc and
 * the fault address (native: CR Cause, the CPU's trap frame, CR FaultAddr; pv: the bounce frame;
 * user: already in r0..r2, where the kernel put them on delivering the fault to the SYS_TRAP
 * entry), move to the fault stack (the faulting one may be exhausted; user: the kernel did, set
 * again all the same) and call runtimeError, which shuts down and never returns.
 */
export function runtimeEntry(target: Target, handlerLabel: string): AsmLine[] {
  const out: AsmLine[] = [comment(`default exception handler entry (${target}): runtimeError(vector, pc, fault address, tables) on the fault stack`), label(RT_ENTRY_LABEL)];
  if (target === 'native') {
    out.push(ins('ldw', ['r1', '[sp]']), ins('mfcr', ['r0', 'cause']), ins('mfcr', ['r2', 'faultaddr']));
  } else if (target === 'pv') {
    out.push(ins('ldw', ['r0', BF_VECTOR === 0 ? '[sp]' : `[sp+${BF_VECTOR}]`]), ins('ldw', ['r1', `[sp+${BF_PC}]`]), ins('ldw', ['r2', `[sp+${BF_FAULTADDR}]`]));
  }
  out.push(ins('la', ['sp', RT_STACK_TOP_LABEL]), ins('la', ['r3', RT_TABLES_LABEL]), ins('call', [handlerLabel]));
  out.push(label(`${RT_ENTRY_LABEL}.spin`), ins('jmp', [`${RT_ENTRY_LABEL}.spin`]));
  return out;
}

/**
 * The end of the static data: the fault stack (zero-filled, so it takes no room in the file), then
 * pv's guard page and boot stack, or native's page-directory address (user: nothing more; the
 * kernel maps the user stack and its guard page).
 */
export function stackLayout(target: Target): string[] {
  const out = ['.align 16', `    .space ${FAULT_STACK_BYTES} ; the fault stack (see startup.ts)`, `${RT_STACK_TOP_LABEL}:`, '.align 4', '__data_end:'];
  if (target === 'pv') {
    out.push(`.align ${PAGE_SIZE}`, `${PV_GUARD_LABEL}:`, `    .space ${PAGE_SIZE} ; the guard page, unmapped at start-up`, `    .space ${PV_BOOT_STACK_BYTES} ; the boot stack`, `${STACK_TOP_LABEL}:`);
  } else if (target === 'native') {
    out.push(`.equ ${PAGE_DIRECTORY_LABEL}, (__data_end + ${PAGE_SIZE - 1}) & ~${PAGE_SIZE - 1}`);
  }
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
  // intrinsics.ts refuses interruptEntry in a user program, so no stub is ever asked for one.
  if (target === 'user') throw new Error('compiler bug: an interrupt entry stub for the user target');
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
