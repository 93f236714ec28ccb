/**
 * The kernel's entry: boot, then run the shell (or the one program the command line names) as the
 * first user task, and power off with its exit status.
 *
 * Boot, in order (each step's module says more):
 * 1. platformInit: native takes the vector table, the PIC, the timer and the UART's receive
 *    interrupt; pv registers its upcall with the hypervisor and binds the timer and console
 *    event channels, and finds its virtio-blk device (the start-of-day page). The rest of the
 *    kernel is the same code in both builds.
 * 2. faultInit: every exception to proc/fault.ts (a task's fault ends the task, the kernel's is a
 *    panic).
 * 3. pageInit over the frame arena, a static array of this image: the hypervisor (pv) or
 *    start-up's identity map (native) has mapped it already, so both builds take frames from the
 *    same place without probing memory (Mini-OS takes the pages after its image the same way).
 * 4. procInit: this code becomes task 1 (init), the idle task is made, the timer ticks.
 * 5. syscallInit; device events to the console's line discipline (dev/console.ts) and, from
 *    idle, to the task they wake; diskInit (the file store on the block device: mounted,
 *    formatted when blank, refused when corrupt).
 * 6. The command line (boot/cmdline.ts, written by the host): empty starts `sh`; otherwise its
 *    first word is the program and the rest its argument text.
 */
import { cmdlineLength, kernelCmdline } from './boot/cmdline.ts';
import { PROGRAM_NAMES } from './exec/programs.ts';
import { findProgram, loadProgram, programCount, programEntry } from './exec/exec.ts';
import { conPrint, conPrintNumber, conWrite, irqSetDeviceHandler, platformInit } from './platform/platform.ts';
import { faultInit } from './proc/fault.ts';
import { pageInit } from './mm/page-alloc.ts';
import { procDeviceEvent, procInit, taskRelease, taskStartUser, wait } from './proc/proc.ts';
import { syscallInit } from './syscall/syscall.ts';
import { consoleFiles } from './syscall/sys-file.ts';
import { consoleEvent } from './dev/console.ts';
import { diskInit, E_NODISK } from './fs/disk.ts';
import { USER_STACK_TOP } from './syscall-abi.ts';

/** The frames the page allocator hands out: page tables, user pages, stacks. */
const ARENA_BYTES = 2 * 1024 * 1024;
const arena = new Int32Array(ARENA_BYTES / 4);
/** The timer tick, in instructions of virtual time (a round-robin slice). */
const TICK_INSTRUCTIONS = 100000;
/** Exit status when the command line names no program (a shell's "command not found"). */
const NOT_FOUND = 127;
/** Exit status when the kernel will not boot (a corrupt store). */
const BOOT_REFUSED = 1;
const status = new Int32Array(1);

/** Device events: console input to the line discipline, then wake a task out of idle at once. */
function deviceEvent(source: number): void {
  consoleEvent(source);
  procDeviceEvent();
}

/** Start program `name` (bytes at name, len) with `args` as the first task; its pid, or a negative error. */
function startFirst(name: number, nameLen: number, args: number, argsLen: number): number {
  const index = findProgram(name, nameLen);
  if (index < 0) return -1;
  const slot = loadProgram(index, args, argsLen);
  if (slot < 0) return slot;
  if (consoleFiles(slot) < 0) {
    taskRelease(slot);
    return -1;
  }
  return taskStartUser(slot, programEntry(index), USER_STACK_TOP);
}

export function main(): number {
  platformInit();
  faultInit();
  pageInit(addressOf(arena), addressOf(arena) + ARENA_BYTES);
  procInit(TICK_INSTRUCTIONS);
  syscallInit();
  irqSetDeviceHandler(deviceEvent);
  const disk = diskInit();
  if (disk === E_NODISK) conPrint('kernel: no disk, no files\n');
  else if (disk < 0) {
    conPrint('kernel: the file store cannot be used; refusing to boot\n');
    return BOOT_REFUSED;
  }

  const line = addressOf(kernelCmdline);
  const len = cmdlineLength();
  let pid = 0;
  if (len === 0) {
    conPrint('tsvisor kernel: ');
    conPrintNumber(programCount());
    conPrint(' programs: ');
    conPrint(PROGRAM_NAMES);
    conPrint('\n');
    pid = startFirst(addressOf('sh'), 2, line, 0);
  } else {
    let word = 0;
    while (word < len && kernelCmdline[word] !== 32) word++;
    const rest = word < len ? word + 1 : len;
    pid = startFirst(line, word, line + rest, len - rest);
    if (pid < 0) {
      conPrint('kernel: no program \'');
      conWrite(line, word);
      conPrint('\'\n');
      return NOT_FOUND;
    }
  }
  if (pid < 0) return NOT_FOUND;
  // init's job (xv6's init.c): reap every task that exits, until the first one does.
  for (;;) {
    const r = wait(status);
    if (r === pid || r < 0) break;
  }
  return status[0];
}
