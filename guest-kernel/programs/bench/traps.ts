/**
 * Where the kernel's system-call entry is registered, by target (TARGET_PV is a compile-time
 * constant): native points the machine's vector table at it (Vector.Syscall, then vbar); pv,
 * whose kernel owns no vector table, registers it with the set_callbacks hypercall, as a Xen PV
 * kernel does (its event entry stays 0: this guest binds no events).
 */
import { Cr, Vector } from '../../../abi/isa.ts';
import { HC_SET_CALLBACKS } from '../../../abi/hypercall-numbers.ts';

const vectors = new Int32Array(256);

/** Install `entry` (an interruptEntry address) for SYSCALL: 0, or the hypercall's -errno. */
export function setSyscallEntry(entry: number): number {
  if (TARGET_PV) return hypercall(HC_SET_CALLBACKS, 0, entry);
  vectors[Vector.Syscall] = entry;
  writeCr(Cr.Vbar, addressOf(vectors));
  return 0;
}
