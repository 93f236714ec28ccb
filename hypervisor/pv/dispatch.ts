/**
 * The hypercall dispatcher: read the number and arguments from the vcpu's registers, find the
 * call in the ABI table (abi/hypercalls.ts), validate the arguments with the call's schema, and
 * only then run the handler. Every failure is a negative error code in r0, counted by code; no
 * guest input throws into the host. The table is built once, at module load, with a check that
 * every call of the ABI has a handler (a missing one is a host bug, found at start-up).
 */
import { EINVAL, ENOSYS, EPERM } from '../../abi/errors.ts';
import { HC_IRET } from '../../abi/hypercall-numbers.ts';
import { HYPERCALLS, type CallSpec } from '../../abi/hypercalls.ts';
import { REG_COUNT } from '../../abi/isa.ts';
import { MAX_CALLS, type Domain } from './domain.ts';
import { compileFields, type FieldsCheck } from './fast-schema.ts';
import { HANDLERS, type Args, type Handler } from './handlers.ts';
import type { PvHost } from './pv-host.ts';

interface Entry {
  readonly spec: CallSpec;
  readonly handler: Handler;
  /** First register of the arguments: r1 for a plain call, r2 after a family's command. */
  readonly firstArg: number;
  /** The call's schema compiled to check the argument registers where they lie (fast-schema.ts); same answers as safeParse. */
  readonly valid: FieldsCheck;
  /**
   * The handler's named arguments: one object per call, refilled each time, so a call allocates
   * nothing and every handler sees one object shape. Handlers read it and never keep it.
   */
  readonly args: Record<string, number>;
  /** Index of the call's counter in Domain.hcCounts. */
  readonly index: number;
}

type Slot = { kind: 'call'; entry: Entry } | { kind: 'family'; name: string; commands: (Entry | undefined)[] };

/** Names of the calls, by counter index (for reports). */
export const CALL_NAMES: string[] = [];

function entryFor(spec: CallSpec, firstArg: number): Entry {
  const handler = HANDLERS[spec.name];
  if (!handler && spec.name !== 'iret') throw new Error(`pv: hypercall ${spec.name} has no handler`);
  if (spec.args.length + firstArg > REG_COUNT) throw new Error(`pv: hypercall ${spec.name} reads past the registers`);
  CALL_NAMES.push(spec.name);
  const args: Record<string, number> = {};
  for (const name of spec.args) args[name] = 0;
  const valid = compileFields(spec.schema) ?? ((w: ArrayLike<number>, at: number) => spec.schema.safeParse(argsObject(spec, w, at)).success);
  return { spec, handler: handler ?? (() => -ENOSYS), firstArg, valid, args, index: CALL_NAMES.length - 1 };
}

/** The named arguments as a fresh object (for zod's own error message, and schemas compileFields cannot take). */
function argsObject(spec: CallSpec, w: ArrayLike<number>, at: number): Record<string, number> {
  const o: Record<string, number> = {};
  spec.args.forEach((name, i) => (o[name] = w[at + i]!));
  return o;
}

/** Dispatch table indexed by hypercall number; a family's commands indexed by command. */
const SLOTS: (Slot | undefined)[] = [];
for (const [nr, h] of Object.entries(HYPERCALLS)) {
  if (h.kind === 'call') {
    SLOTS[Number(nr)] = { kind: 'call', entry: entryFor(h.spec, 1) };
  } else {
    const commands: (Entry | undefined)[] = [];
    for (const [c, spec] of Object.entries(h.family.commands)) commands[Number(c)] = entryFor(spec, 2);
    SLOTS[Number(nr)] = { kind: 'family', name: h.family.name, commands };
  }
}
if (CALL_NAMES.length > MAX_CALLS) throw new Error('pv: more hypercalls than Domain.hcCounts holds');

export interface DispatchTrace {
  (d: Domain, name: string, args: Args | string, result: number): void;
}

/**
 * Handle the hypercall the vcpu of `d` just made: r0 gets the result, except for iret, which
 * restores r0 from the guest's frame.
 */
export function dispatch(h: PvHost, d: Domain, trace?: DispatchTrace): void {
  const nr = d.cpu.regs[0]! >>> 0;
  const slot = nr < SLOTS.length ? SLOTS[nr] : undefined;
  const entry = slot === undefined ? undefined : slot.kind === 'call' ? slot.entry : slot.commands[d.cpu.regs[1]! >>> 0];
  if (entry === undefined) {
    const name = slot === undefined ? `hypercall${nr}` : `${slot.kind === 'family' ? slot.name : ''}.${d.cpu.regs[1]! >>> 0}`;
    d.unknownCalls.add(name);
    return fail(d, name, -ENOSYS, 'no such hypercall', trace);
  }
  d.hcCounts[entry.index]! += 1;
  // Hypercalls are for the guest kernel; its user tasks must go through the kernel (Xen: ring 1/0 only).
  if (!d.kernelMode) return fail(d, entry.spec.name, -EPERM, 'from guest user mode', trace);

  const args = entry.args;
  const names = entry.spec.args;
  // A call without arguments has nothing its schema could refuse (an object schema ignores the
  // registers it does not name), so the null hypercall goes straight to its handler.
  if (names.length !== 0) {
    const regs = d.uregs;
    const first = entry.firstArg;
    if (!entry.valid(regs, first)) {
      const issue = entry.spec.schema.safeParse(argsObject(entry.spec, regs, first)).error?.issues[0];
      return fail(d, entry.spec.name, -EINVAL, issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid', trace);
    }
    for (let i = 0; i < names.length; i++) args[names[i]!] = regs[first + i]!;
  }
  if (nr === HC_IRET) {
    const r = h.iret(d);
    if (r < 0) return fail(d, entry.spec.name, r, 'bad iret frame', trace);
    if (trace) trace(d, entry.spec.name, args, 0);
    return;
  }
  const result = entry.handler(h, d, args);
  d.cpu.regs[0] = result;
  if (result < 0) d.errCounts[-result]! += 1;
  if (trace) trace(d, entry.spec.name, args, result);
}

function fail(d: Domain, name: string, code: number, why: string, trace?: DispatchTrace): void {
  d.cpu.regs[0] = code;
  d.errCounts[-code]! += 1;
  trace?.(d, name, why, code);
}
