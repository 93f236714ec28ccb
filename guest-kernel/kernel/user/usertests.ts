/**
 * usertests [NAME...]: xv6's usertests for this kernel: every test (or those named), each printing
 * `test NAME: ok` or `test NAME: FAILED (reason: got N ECODE)`, then `ALL TESTS PASSED` or
 * `N FAILED`; the exit status is the number that failed. Tests that fault on purpose do it in a
 * child, whose run-time error line (on fd 2) appears before the test's own line.
 */
import { argBuf, argCount, argLen, argStart } from './lib/args.ts';
import { eprint, eprintBytes, eprintln, flush, print, printNum, println } from './lib/io.ts';
import { eqLit } from './lib/str.ts';
import { unlink } from './lib/sys.ts';
import { printReason, reapZombies } from './tests/check.ts';
import * as files from './tests/files.ts';
import * as mem from './tests/memory.ts';
import * as sc from './tests/syscalls.ts';
import * as tasks from './tests/tasks.ts';

type Test = () => boolean;

/** The tests, in the order they run; testName(i) is test i's name. */
const TESTS: Test[] = [
  sc.testSyscallNumbers,
  sc.testKernelPointers,
  sc.testUnmappedPointers,
  sc.testReadOnlyPointer,
  sc.testHugeLengths,
  sc.testBadDescriptors,
  sc.testAccessModes,
  sc.testLongNames,
  sc.testTrapArgs,
  files.testFileReadWrite,
  files.testFileBig,
  files.testFileAppend,
  files.testFileTrunc,
  files.testOpenMissing,
  files.testManyFiles,
  files.testUnlinkOpen,
  files.testDescriptorLimit,
  files.testSpawnStdout,
  tasks.testExitStatus,
  tasks.testWaitNoChild,
  tasks.testSpawnMissing,
  tasks.testManyTasks,
  tasks.testSleep,
  tasks.testKillSpinner,
  tasks.testKillSleeper,
  tasks.testGetpid,
  tasks.testPsSelf,
  tasks.testPsZombie,
  tasks.testStats,
  mem.testMapBasic,
  mem.testMapBadArgs,
  mem.testUnmapPartial,
  mem.testMapMany,
  mem.testFaultUnmapped,
  mem.testFaultAfterUnmap,
  mem.testFaultPrivileged,
  mem.testFaultDivide,
  mem.testFaultKernel,
  mem.testFaultOverflow,
  mem.testFaultStack,
];

function testName(i: number): string {
  switch (i) {
    case 0: return 'syscall-numbers';
    case 1: return 'kernel-pointers';
    case 2: return 'unmapped-pointers';
    case 3: return 'readonly-pointer';
    case 4: return 'huge-lengths';
    case 5: return 'bad-descriptors';
    case 6: return 'access-modes';
    case 7: return 'long-names';
    case 8: return 'trap-args';
    case 9: return 'file-rw';
    case 10: return 'file-big';
    case 11: return 'file-append';
    case 12: return 'file-trunc';
    case 13: return 'open-missing';
    case 14: return 'many-files';
    case 15: return 'unlink-open';
    case 16: return 'fd-limit';
    case 17: return 'spawn-stdout';
    case 18: return 'exit-status';
    case 19: return 'wait-nochild';
    case 20: return 'spawn-missing';
    case 21: return 'many-tasks';
    case 22: return 'sleep';
    case 23: return 'kill-spinner';
    case 24: return 'kill-sleeper';
    case 25: return 'getpid';
    case 26: return 'ps-self';
    case 27: return 'ps-zombie';
    case 28: return 'stats';
    case 29: return 'map-basic';
    case 30: return 'map-bad-args';
    case 31: return 'unmap-partial';
    case 32: return 'map-many';
    case 33: return 'fault-unmapped';
    case 34: return 'fault-after-unmap';
    case 35: return 'fault-priv';
    case 36: return 'fault-div';
    case 37: return 'fault-kernel';
    case 38: return 'fault-overflow';
    case 39: return 'fault-stack';
    default: return '?';
  }
}

/** Whether test i was named on the command line (every test when none was). */
function selected(i: number): boolean {
  const n = argCount();
  if (n === 0) return true;
  const name = testName(i);
  for (let k = 0; k < n; k++) if (eqLit(argBuf, argStart(k), argLen(k), name)) return true;
  return false;
}

/** Files a failed earlier run may have left. */
function cleanUp(): void {
  unlink('ut-args');
  unlink('ut-rw');
  unlink('ut-big');
  unlink('ut-app');
  unlink('ut-trunc');
  unlink('ut-busy');
  unlink('ut-fds');
  unlink('ut-out');
}

export function main(): number {
  // Every word must name a test.
  for (let k = 0; k < argCount(); k++) {
    let known = false;
    for (let i = 0; i < TESTS.length; i++) if (eqLit(argBuf, argStart(k), argLen(k), testName(i))) known = true;
    if (!known) {
      eprint('usertests: no test ');
      eprintBytes(argBuf, argStart(k), argLen(k));
      eprintln('');
      return 255;
    }
  }
  cleanUp();
  let failed = 0;
  for (let i = 0; i < TESTS.length; i++) {
    if (!selected(i)) continue;
    flush(); // a child's output after ours
    const ok = TESTS[i]();
    reapZombies(); // children a failed test left behind
    print('test ');
    print(testName(i));
    if (ok) println(': ok');
    else {
      failed++;
      print(': FAILED (');
      printReason();
      println(')');
    }
  }
  if (failed === 0) {
    println('ALL TESTS PASSED');
  } else {
    printNum(failed);
    println(' FAILED');
  }
  flush();
  return failed;
}
