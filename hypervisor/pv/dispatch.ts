/**
 * The hypercall dispatcher: read the number and arguments from the vcpu's registers, find the
 * call in the ABI table (abi/hypercalls.ts), validate the arguments with the call's schema, and
 * only then run the handler. Every failure is a negative error code in r0, counted by code; no
 * guest input throws into the host. The table is built once, at module load, with a check that
 * every call of the ABI has a handler (a missing one is a host bug, found at start-up).
 */
import { errorName, EINVAL, ENOSYS, EPERM } from '../../abi/errors.ts';
import { HC_IRET } from '../../abi/hypercall-numbers.ts';
import { HYPERCALLS, type CallSpec } from '../../abi/hypercalls.ts';
import { REG_COUNT } from '../../abi/isa.ts';
import type { Domain } from './domain.ts';
import { HANDLERS, type Args, type Handler } from './handlers.ts';
import type { PvHost } from './pv-host.ts';

interface Entry {
  readonly spec: CallSpec;
  readonly handler: Handler;
  /** First register of the arguments: r1 for a plain call, r2 after a family's command. */
  readonly firstArg: number;
}

type Slot = { kind: 'call'; entry: Entry } | { kind: 'family'; name: string; commands: Map<number, Entry> };

function entryFor(spec: CallSpec, firstArg: number): Entry {
  const handler = HANDLERS[spec.name];
  if (!handler && spec.name !== 'iret') throw new Error(`pv: hypercall ${spec.name} has no handler`);
  if (spec.args.length + firstArg > REG_COUNT) throw new Error(`pv: hypercall ${spec.name} reads past the registers`);
  return { spec, handler: handler ?? (() => -ENOSYS), firstArg };
}

const SLOTS: ReadonlyMap<number, Slot> = new Map(
  Object.entries(HYPERCALLS).map(([nr, h]): [number, Slot] => [
    Number(nr),
    h.kind === 'call'
      ? { kind: 'call', entry: entryFor(h.spec, 1) }
      : { kind: 'family', name: h.family.name, commands: new Map(Object.entries(h.family.commands).map(([c, s]) => [Number(c), entryFor(s, 2)])) },
  ]),
);

export interface DispatchTrace {
  (d: Domain, name: string, args: Args | string, result: number): void;
}

/**
 * Handle the hypercall the vcpu of `d` just made. Returns the call's name (for counters); r0
 * holds the result, except for iret, which restores r0 from the guest's frame.
 */
export function dispatch(h: PvHost, d: Domain, trace?: DispatchTrace): void {
  const regs = d.cpu.regs;
  const nr = regs[0]! >>> 0;
  const slot = SLOTS.get(nr);
  let entry: Entry | undefined;
  let name: string;
  if (!slot) {
    name = `hypercall${nr}`;
  } else if (slot.kind === 'call') {
    entry = slot.entry;
    name = entry.spec.name;
  } else {
    const cmd = regs[1]! >>> 0;
    entry = slot.commands.get(cmd);
    name = entry ? entry.spec.name : `${slot.name}.${cmd}`;
  }
  d.count(d.hypercalls, name);
  if (!entry) return fail(d, name, -ENOSYS, 'no such hypercall', trace);
  // Hypercalls are for the guest kernel; its user tasks must go through the kernel (Xen: ring 1/0 only).
  if (!d.kernelMode) return fail(d, name, -EPERM, 'from guest user mode', trace);

  const args: Record<string, number> = {};
  const names = entry.spec.args;
  for (let i = 0; i < names.length; i++) args[names[i]!] = regs[entry.firstArg + i]! >>> 0;
  const parsed = entry.spec.schema.safeParse(args);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(d, name, -EINVAL, `${issue.path.join('.')}: ${issue.message}`, trace);
  }
  if (nr === HC_IRET) {
    const r = h.iret(d);
    if (r < 0) return fail(d, name, r, 'bad iret frame', trace);
    trace?.(d, name, args, 0);
    return;
  }
  const result = entry.handler(h, d, parsed.data as Args);
  regs[0] = result;
  if (result < 0) d.count(d.hypercallErrors, errorName(result));
  trace?.(d, name, args, result);
}

function fail(d: Domain, name: string, code: number, why: string, trace?: DispatchTrace): void {
  d.cpu.regs[0] = code;
  d.count(d.hypercallErrors, errorName(code));
  trace?.(d, name, why, code);
}
