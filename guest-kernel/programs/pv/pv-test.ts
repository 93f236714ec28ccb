/**
 * The paravirtual test guest (issue 4): written against abi/ only, compiled for the pv target.
 * It prints through the console hypercall, checks the ABI version, takes timer upcalls through
 * an event channel bound to VIRQ_TIMER, builds a mapping with mmu_update (pin a page table, hook
 * it into the directory, map a frame, use it), balloons a frame out and back, and shuts down with
 * a code that says how far it got (42 = everything worked).
 */
import {
  EVTCHNOP_BIND_VIRQ,
  HC_EVENT_CHANNEL_OP,
  HC_MEMORY_OP,
  HC_MMU_UPDATE,
  HC_MMUEXT_OP,
  HC_SCHED_OP,
  HC_SET_CALLBACKS,
  HC_SET_TIMER_OP,
  HC_XEN_VERSION,
  MMUEXT_PIN_L1_TABLE,
  PV_FRAME_LIST_VA,
  PV_FREE_VA,
  PV_SHARED_INFO_VA,
  PV_START_INFO_VA,
  SCHEDOP_BLOCK,
  SOD_FIRST_FREE,
  SOD_MAGIC,
  SOD_MAGIC_VALUE,
  SOD_PT_BASE_MFN,
  VIRQ_TIMER,
  XENMEM_CURRENT_RESERVATION,
  XENMEM_DECREASE_RESERVATION,
  XENMEM_INCREASE_RESERVATION,
  XENVER_VERSION,
} from '../../../abi/hypercall-numbers.ts';
import { SI_EVTCHN_PENDING, SI_TIME_LO, SI_UPCALL_PENDING } from '../../../abi/shared-info.ts';
import { PTE_P, PTE_U, PTE_W } from '../../../abi/isa.ts';
import { ABI_MAJOR } from '../../../abi/version.ts';
import { print, printKV } from '../../lib/console.ts';

const TICKS = 3;
const PERIOD = 2000;

let ticks = 0;
let timerPort = 0;
/** mmu_update requests: {ptr, val} pairs. */
const reqs = new Int32Array(4);
/** Frame numbers for the balloon. */
const frames = new Int32Array(1);

function onEvent(frame: number): void {
  store32(PV_SHARED_INFO_VA + SI_UPCALL_PENDING, 0);
  const pending = load32(PV_SHARED_INFO_VA + SI_EVTCHN_PENDING);
  const bit = 1 << timerPort;
  if ((pending & bit) !== 0) {
    store32(PV_SHARED_INFO_VA + SI_EVTCHN_PENDING, pending & ~bit);
    ticks++;
    if (ticks < TICKS) hypercall(HC_SET_TIMER_OP, load32(PV_SHARED_INFO_VA + SI_TIME_LO) + PERIOD, 0);
  }
}

/** Machine frame number of entry `pfn` of our frame list. */
function mfn(pfn: number): number {
  return load32(PV_FRAME_LIST_VA + pfn * 4);
}

function timerUpcalls(): boolean {
  hypercall(HC_SET_CALLBACKS, interruptEntry(onEvent), 0);
  timerPort = hypercall(HC_EVENT_CHANNEL_OP, EVTCHNOP_BIND_VIRQ, VIRQ_TIMER);
  if (timerPort <= 0) return false;
  hypercall(HC_SET_TIMER_OP, PERIOD, 0);
  while (ticks < TICKS) hypercall(HC_SCHED_OP, SCHEDOP_BLOCK);
  printKV('timer upcalls: ', ticks);
  return true;
}

function buildMapping(): boolean {
  const first = load32(PV_START_INFO_VA + SOD_FIRST_FREE);
  const table = mfn(first);
  const page = mfn(first + 1);
  if (hypercall(HC_MMUEXT_OP, MMUEXT_PIN_L1_TABLE, table) !== 0) return false;
  const dir = load32(PV_START_INFO_VA + SOD_PT_BASE_MFN);
  const flags = PTE_P | PTE_W | PTE_U;
  reqs[0] = (dir << 12) + (PV_FREE_VA >>> 22) * 4; // the directory entry for PV_FREE_VA
  reqs[1] = (table << 12) | flags;
  reqs[2] = table << 12; //                           entry 0 of the new table
  reqs[3] = (page << 12) | flags;
  if (hypercall(HC_MMU_UPDATE, addressOf(reqs), 2) !== 2) return false;
  store32(PV_FREE_VA + 64, 0x5a5a1234);
  const back = load32(PV_FREE_VA + 64);
  printKV('mapped a page with mmu_update, read back ', back === 0x5a5a1234 ? 1 : 0);
  return back === 0x5a5a1234;
}

function balloon(): boolean {
  const before = hypercall(HC_MEMORY_OP, XENMEM_CURRENT_RESERVATION);
  frames[0] = mfn(load32(PV_START_INFO_VA + SOD_FIRST_FREE) + 2);
  if (hypercall(HC_MEMORY_OP, XENMEM_DECREASE_RESERVATION, 1, addressOf(frames)) !== 1) return false;
  const out = hypercall(HC_MEMORY_OP, XENMEM_CURRENT_RESERVATION);
  if (hypercall(HC_MEMORY_OP, XENMEM_INCREASE_RESERVATION, 1, addressOf(frames)) !== 1) return false;
  const back = hypercall(HC_MEMORY_OP, XENMEM_CURRENT_RESERVATION);
  printKV('balloon: pages before ', before);
  printKV('balloon: pages after giving one back ', out);
  printKV('balloon: pages after taking one again ', back);
  return out === before - 1 && back === before;
}

export function main(): number {
  print('pv test guest: hello from a paravirtual domain\n');
  if (load32(PV_START_INFO_VA + SOD_MAGIC) !== SOD_MAGIC_VALUE) return 1;
  if (hypercall(HC_XEN_VERSION, XENVER_VERSION) >>> 16 !== ABI_MAJOR) return 2;
  if (!timerUpcalls()) return 3;
  if (!buildMapping()) return 4;
  if (!balloon()) return 5;
  print('pv test guest: all done\n');
  return 42;
}
