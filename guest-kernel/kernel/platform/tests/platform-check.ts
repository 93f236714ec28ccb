/**
 * A guest that exercises every group of the platform layer through platform.ts alone, so that
 * the same source gives the same transcript in every mode (test/guest-kernel/platform.test.ts):
 * console, the interrupt flag, the timer (periodic, then one-shot) with halts until ticks come,
 * a sector written and read back, two pages remapped in one mmu batch and read through the new
 * mappings, an address-space switch, and the counters. Needs the machine (not run under Node).
 * Exit code 0 when every check passed, else the number of the first that failed.
 */
import {
  conPrintNumber,
  blkReadSector,
  blkWriteSector,
  clockRead,
  conPrint,
  conWrite,
  COUNTER_COUNT,
  counterName,
  cpuHalt,
  irqDisable,
  irqEnable,
  irqRestore,
  irqSave,
  irqSetTickHandler,
  mmuBegin,
  mmuCurrentBase,
  mmuEnd,
  mmuFlushPage,
  mmuFrameOf,
  mmuMakePte,
  mmuSetPte,
  mmuSwitch,
  platformCounters,
  platformInit,
  timerArm,
  timerStop,
} from '../platform.ts';

const PAGE = 4096;
const name = new Uint8Array(32);
const out = new Uint8Array(512);
const back = new Uint8Array(512);
/** Four pages and one to align them: sources 0 and 1, windows 2 and 3. */
const area = new Uint8Array(5 * PAGE);
let ticks = 0;
let failed = 0;

function onTick(): void {
  ticks++;
}


function show(label: string, n: number): void {
  conPrint(label);
  conPrintNumber(n);
  conPrint('\n');
}

function check(ok: boolean, step: number): void {
  if (!ok && failed === 0) failed = step;
}

/** Halt until the tick count reaches `n`, interrupts off in between (the kernel's idle loop). */
function waitTicks(n: number): void {
  irqDisable();
  while (ticks < n) {
    cpuHalt();
    irqDisable();
  }
}

export function main(): number {
  platformInit();
  conPrint('platform check\n');

  // cpu: the interrupt flag
  irqEnable();
  const on = irqSave();
  irqRestore(on);
  irqDisable();
  const off = irqSave();
  irqRestore(off);
  show('irq flag after enable: ', on);
  show('irq flag after disable: ', off);
  check(on === 1 && off === 0, 1);

  // time: periodic ticks while halted, then a one-shot
  irqSetTickHandler(onTick);
  const t0 = clockRead();
  timerArm(20000, true);
  waitTicks(3);
  timerStop();
  show('periodic ticks: ', ticks);
  timerArm(5000, false);
  waitTicks(4);
  show('one-shot ticks: ', ticks);
  irqEnable();
  const t1 = clockRead();
  check(ticks === 4, 2);
  check(t1 - t0 > 0, 3);
  conPrint(t1 - t0 > 0 ? 'clock advanced\n' : 'clock stuck\n');

  // block: write a sector, read it back into another buffer
  for (let i = 0; i < 512; i++) out[i] = (i * 7 + 3) & 0xff;
  const w = blkWriteSector(5, addressOf(out));
  const r = blkReadSector(5, addressOf(back));
  let same = 0;
  for (let i = 0; i < 512; i++) if (back[i] === out[i]) same++;
  show('sector write: ', w);
  show('sector read: ', r);
  show('bytes equal: ', same);
  check(w === 0 && r === 0 && same === 512, 4);

  // mmu: map windows 2 and 3 onto the frames of pages 0 and 1, in one batch
  const pages = (addressOf(area) + PAGE - 1) & ~(PAGE - 1);
  for (let p = 0; p < 4; p++) store32(pages + p * PAGE, 0x1000 + p);
  const src0 = mmuFrameOf(pages);
  const src1 = mmuFrameOf(pages + PAGE);
  const win0 = mmuFrameOf(pages + 2 * PAGE);
  const win1 = mmuFrameOf(pages + 3 * PAGE);
  show('before: window reads ', load32(pages + 2 * PAGE));
  mmuBegin();
  const s0 = mmuSetPte(pages + 2 * PAGE, mmuMakePte(src0, true));
  const s1 = mmuSetPte(pages + 3 * PAGE, mmuMakePte(src1, true));
  const applied = mmuEnd();
  check(s0 === 0 && s1 === 0 && applied >= 0, 5);
  show('after: window 0 reads ', load32(pages + 2 * PAGE));
  show('after: window 1 reads ', load32(pages + 3 * PAGE));
  check(load32(pages + 2 * PAGE) === 0x1000 && load32(pages + 3 * PAGE) === 0x1001, 6);
  store32(pages + 2 * PAGE + 8, 77);
  show('written through the window, read at the source: ', load32(pages + 8));
  check(load32(pages + 8) === 77, 7);
  // put the windows back, outside a batch this time
  mmuSetPte(pages + 2 * PAGE, mmuMakePte(win0, true));
  mmuSetPte(pages + 3 * PAGE, mmuMakePte(win1, true));
  mmuFlushPage(pages + 2 * PAGE);
  check(mmuSwitch(mmuCurrentBase()) >= 0, 8);
  show('restored: window 0 reads ', load32(pages + 2 * PAGE));
  check(load32(pages + 2 * PAGE) === 0x1002, 9);

  // the counters, as `stats` will print them
  const c = platformCounters();
  for (let i = 0; i < COUNTER_COUNT; i++) {
    const n = counterName(i, name);
    conWrite(addressOf(name), n);
    show(' ', c[i]);
  }
  show('failed step: ', failed);
  return failed;
}
