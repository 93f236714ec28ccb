/**
 * Event channels for the drivers: the upcall entry, and waiting without losing a wake-up.
 *
 * A device signals used buffers (and a configuration change, such as DEVICE_NEEDS_RESET) on the
 * port bound with VIRTIO_BIND_EVENT. The hypervisor sets the port's bit in the shared-info page
 * and, on a 0→1 edge of an unmasked port, UPCALL_PENDING; with events enabled (UPCALL_MASK 0) it
 * then enters our upcall entry. Drivers never trust a bit: an event only wakes them up, and they
 * look at their used rings to see what happened. So the handler simply clears what is pending
 * (keeping a copy for anyone who wants it), and waiting follows Xen's order:
 *
 *   1. mask events (UPCALL_MASK = 1: the paravirtual `cli`) and clear UPCALL_PENDING and the bits;
 *   2. ask the device for a notification (virtqueue.ts vqArm) and look at the used ring again;
 *   3. if something came back, unmask and go on; otherwise sched_op block, which enables events
 *      and sleeps unless UPCALL_PENDING is set — an event after step 1 is never lost.
 *
 * The machine has no atomic exchange, so the handler's read-and-clear of a pending word can lose
 * a bit set by a preemption in between; the UPCALL_PENDING flag set with it still wakes the next
 * wait, and the ring is the truth.
 */
import { PV_SHARED_INFO_VA } from '../../../abi/hypercall-numbers.ts';
import { EVTCHN_WORDS, SI_EVTCHN_PENDING, SI_UPCALL_MASK, SI_UPCALL_PENDING } from '../../../abi/shared-info.ts';
import { hcSchedBlock, hcSetCallbacks } from '../platform/hypercalls.ts';

/** Bits the upcall handler took from the pending words, until someone takes them. */
const seen = new Int32Array(EVTCHN_WORDS);
let upcallCount = 0;
let installed = false;

function takePending(): void {
  store32(PV_SHARED_INFO_VA + SI_UPCALL_PENDING, 0);
  for (let w = 0; w < EVTCHN_WORDS; w++) {
    const at = PV_SHARED_INFO_VA + SI_EVTCHN_PENDING + w * 4;
    const bits = load32(at);
    if (bits !== 0) {
      store32(at, 0);
      seen[w] = seen[w] | bits;
    }
  }
}

function onUpcall(frame: number): void {
  upcallCount++;
  takePending();
}

/** Register the upcall entry (once). Events stay masked until the first wait blocks. */
export function eventsInit(): void {
  if (installed) return;
  hcSetCallbacks(interruptEntry(onUpcall), 0);
  installed = true;
}

/** Upcalls taken so far. */
export function upcalls(): number {
  return upcallCount;
}

/** True (once) if an event arrived on `port` since the last call. */
export function eventTake(port: number): boolean {
  const w = port >>> 5;
  const bit = 1 << (port & 31);
  if ((seen[w] & bit) === 0) return false;
  seen[w] = seen[w] & ~bit;
  return true;
}

/** Step 1 of a wait: mask events and clear what is pending. */
export function waitPrepare(): void {
  store32(PV_SHARED_INFO_VA + SI_UPCALL_MASK, 1);
  takePending();
}

/** Step 3, something came back: unmask events and go on. */
export function waitCancel(): void {
  store32(PV_SHARED_INFO_VA + SI_UPCALL_MASK, 0);
}

/** Step 3, nothing came back: sleep until an event (returns at once if one arrived since step 1). */
export function waitBlock(): void {
  hcSchedBlock();
}
