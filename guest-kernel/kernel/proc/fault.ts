/**
 * Exceptions (every vector 0..31, from platform.ts's irqSetFaultHandler).
 *
 * A task at privilege 3 that faults (touches an unmapped page or the kernel's, runs a privileged
 * instruction, divides by zero, fails one of the compiler's checks) is named with the fault on
 * the console, `pid 7 (faultdiv): divide-error at pc 0x40000124`, and then either sent to the
 * run-time error reporter its start-up registered (SYS_TRAP: the compiler's user target prints
 * the source line and exits with 134), or, without one, ended with FAULT_STATUS (134). The
 * registration is dropped as it is used, so a fault in the reporter ends the task. The kernel and
 * the other tasks go on: that is the point of privilege 3.
 *
 * The kernel itself faulting is a bug: one line, `kernel panic: page-fault at pc 0x1234 (address
 * 0x0)`, and the machine powers off with 134.
 */
import { conPrint, conPrintNumber, conWrite, cpuShutdown, irqFrameIsUser, irqSetFaultHandler } from '../platform/platform.ts';
import { FRAME_PC, FRAME_SP, setSavedReg } from '../../lib/trap-frame.ts';
import { currentName, currentTrapStack, exit, getpid, takeCurrentTrap } from './proc.ts';
import { FAULT_STATUS, NAME_MAX } from '../syscall-abi.ts';

const PAGE_FAULT = 14;
const hexDigits = new Uint8Array(10);

function printHex(n: number): void {
  hexDigits[0] = 48;
  hexDigits[1] = 120;
  for (let i = 0; i < 8; i++) {
    const d = (n >>> (28 - 4 * i)) & 15;
    hexDigits[2 + i] = d < 10 ? 48 + d : 87 + d;
  }
  conWrite(addressOf(hexDigits), 10);
}

/** The vector's name, as abi/isa.ts VECTOR_NAMES spells it. */
function printVector(v: number): void {
  if (v === 0) conPrint('divide-error');
  else if (v === 3) conPrint('breakpoint');
  else if (v === 4) conPrint('overflow');
  else if (v === 5) conPrint('bound-range');
  else if (v === 6) conPrint('invalid-opcode');
  else if (v === 8) conPrint('double-fault');
  else if (v === 13) conPrint('general-protection');
  else if (v === PAGE_FAULT) conPrint('page-fault');
  else if (v === 17) conPrint('alignment-check');
  else {
    conPrint('vector');
    conPrintNumber(v);
  }
}

function printWhere(vector: number, pc: number, addr: number): void {
  printVector(vector);
  conPrint(' at pc ');
  printHex(pc);
  if (vector === PAGE_FAULT) {
    conPrint(' (address ');
    printHex(addr);
    conPrint(')');
  }
}

function onFault(frame: number, vector: number, addr: number): void {
  const pc = load32(frame + FRAME_PC);
  if (!irqFrameIsUser(frame)) {
    conPrint('kernel panic: ');
    printWhere(vector, pc, addr);
    conPrint('\n');
    cpuShutdown(FAULT_STATUS);
    return;
  }
  const name = currentName();
  let n = 0;
  while (n < NAME_MAX && name[n] !== 0) n++;
  conPrint('pid ');
  conPrintNumber(getpid());
  conPrint(' (');
  conWrite(addressOf(name), n);
  conPrint('): ');
  printWhere(vector, pc, addr);
  conPrint('\n');
  const entry = takeCurrentTrap();
  if (entry === 0) {
    exit(FAULT_STATUS);
    return;
  }
  setSavedReg(frame, 0, vector);
  setSavedReg(frame, 1, pc);
  setSavedReg(frame, 2, addr);
  store32(frame + FRAME_PC, entry);
  store32(frame + FRAME_SP, currentTrapStack());
}

/** Take the exceptions (once, at boot, after platformInit). */
export function faultInit(): void {
  irqSetFaultHandler(onFault);
}
