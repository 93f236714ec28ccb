/**
 * Exception entries in a paravirtual kernel (pv target, pv mode; not part of the Node corpus).
 * The kernel runs at privilege 3 and owns no vector table: it registers its handlers with the
 * set_trap_table hypercall, as a Xen PV kernel does, and each entry returns with the iret
 * hypercall (the compiler's pv entry stub). A breakpoint handler counts and reads the vector
 * from the bounce frame; a divide-error handler skips the faulting instruction.
 */
import { Vector } from '../../../abi/isa.ts';
import { HC_SET_TRAP_TABLE } from '../../../abi/hypercall-numbers.ts';
import { printKV } from '../../lib/console.ts';
import { FRAME_PC, FRAME_VECTOR } from '../../lib/trap-frame.ts';

const traps = new Int32Array(4);
let breakpoints = 0;
let lastVector = -1;
let divideErrors = 0;

function onBreakpoint(frame: number): void {
  breakpoints++;
  lastVector = load32(frame + FRAME_VECTOR);
}

function onDivideError(frame: number): void {
  divideErrors++;
  store32(frame + FRAME_PC, load32(frame + FRAME_PC) + 4);
}

function divide(a: number, b: number): number {
  return (a / b) | 0;
}

export function main(): number {
  traps[0] = Vector.Breakpoint;
  traps[1] = interruptEntry(onBreakpoint);
  traps[2] = Vector.DivideError;
  traps[3] = interruptEntry(onDivideError);
  printKV('set_trap_table: ', hypercall(HC_SET_TRAP_TABLE, addressOf(traps), 2));
  breakpoint();
  breakpoint();
  breakpoint();
  printKV('breakpoints: ', breakpoints);
  printKV('vector: ', lastVector);
  printKV('7 / 0 skipped, result register: ', divide(7, 0));
  printKV('divide errors: ', divideErrors);
  return breakpoints;
}
