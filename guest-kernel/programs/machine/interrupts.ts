/**
 * Interrupt and exception entries on the native machine (not part of the Node differential
 * corpus: it needs the vector table, SYSCALL, the timer and HLT). A breakpoint handler counts
 * and reads CR Cause; a system-call handler adds two saved registers and returns the sum in the
 * saved r0; a divide-error handler skips the faulting instruction; a timer handler counts ticks
 * while main idles in HLT.
 */
import { Cr, Vector } from '../../../abi/isa.ts';
import { IRQ_TIMER, PIC_EOI, PIC_MASK, TIMER_PERIOD } from '../../../abi/platform.ts';
import { printKV } from '../../lib/console.ts';
import { FRAME_PC, savedReg, setSavedReg } from '../../lib/trap-frame.ts';

const vectors = new Int32Array(256);
let breakpoints = 0;
let lastCause = -1;
let ticks = 0;
let divideErrors = 0;

function onBreakpoint(frame: number): void {
  breakpoints++;
  lastCause = readCr(Cr.Cause);
}

function onSyscall(frame: number): void {
  const nr = savedReg(frame, 0);
  setSavedReg(frame, 0, nr === 1 ? savedReg(frame, 1) + savedReg(frame, 2) : -38);
}

function onDivideError(frame: number): void {
  divideErrors++;
  store32(frame + FRAME_PC, load32(frame + FRAME_PC) + 4);
}

function onTimer(frame: number): void {
  ticks++;
  portOut(PIC_EOI, 0);
}

function divide(a: number, b: number): number {
  return (a / b) | 0;
}

export function main(): number {
  vectors[Vector.Breakpoint] = interruptEntry(onBreakpoint);
  vectors[Vector.Syscall] = interruptEntry(onSyscall);
  vectors[Vector.DivideError] = interruptEntry(onDivideError);
  vectors[Vector.IrqBase + IRQ_TIMER] = interruptEntry(onTimer);
  writeCr(Cr.Vbar, addressOf(vectors));

  breakpoint();
  breakpoint();
  printKV('breakpoints: ', breakpoints);
  printKV('cause: ', lastCause);
  printKV('syscall(1, 20, 22) = ', syscall(1, 20, 22));
  printKV('syscall(9) = ', syscall(9));
  divide(7, 0);
  printKV('divide errors: ', divideErrors);
  printKV('IF before sti: ', pushf() & 1);

  portOut(TIMER_PERIOD, 5000);
  portOut(PIC_MASK, 0xff & ~(1 << IRQ_TIMER));
  sti();
  while (ticks < 5) hlt();
  cli();
  portOut(TIMER_PERIOD, 0);
  printKV('ticks: ', ticks);
  return breakpoints * 100 + ticks;
}
