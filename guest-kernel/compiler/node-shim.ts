/**
 * Running guest source directly in Node, for differential tests and the benchmark: the intrinsics
 * of guest-kernel/lib/intrinsics.d.ts are installed on globalThis as shims, the program module is
 * imported, and its `main()` is called. Console output (UART bytes) is captured; a shutdown port
 * write or hypercall ends the run like the machine's shutdown does.
 *
 * The shims model a native machine with nothing attached but the console: `TARGET_PV` and
 * `TARGET_USER` are false, raw memory is a private 16 MiB buffer, and intrinsics that only make
 * sense on the machine (control registers, HLT, addresses of guest objects) throw a
 * GuestShimError naming themselves.
 */
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { HC_SCHED_OP, SCHEDOP_SHUTDOWN } from '../../abi/hypercall-numbers.ts';
import { POWER_SHUTDOWN, UART_DATA, UART_STATUS, UART_STATUS_TX_EMPTY } from '../../abi/platform.ts';

/** An intrinsic the Node shims cannot provide was called. */
export class GuestShimError extends Error {}

/** Thrown by the shims to unwind a guest that asked to shut down. */
class GuestShutdown {
  constructor(readonly code: number) {}
}

export interface NodeRunResult {
  console: string;
  /** As the machine reports it: the 32-bit code, unsigned. */
  exitCode: number;
  /** What main returned, before conversion (for spotting a non-integer result). */
  returned: unknown;
  hostNs: number;
}

const MEMORY_BYTES = 16 * 1024 * 1024;

class ShimState {
  bytes: number[] = [];
  memory = new DataView(new ArrayBuffer(MEMORY_BYTES));

  reset(): void {
    this.bytes = [];
  }

  checkAddr(addr: number, size: number): number {
    const a = addr >>> 0;
    if (a % size !== 0) throw new GuestShimError(`misaligned ${size}-byte access at 0x${a.toString(16)} (alignment check)`);
    if (a + size > MEMORY_BYTES) throw new GuestShimError(`access at 0x${a.toString(16)} outside the shim's ${MEMORY_BYTES} bytes`);
    return a;
  }
}

const state = new ShimState();

const unavailable = (name: string) => (): never => {
  throw new GuestShimError(`intrinsic ${name}() is not available when guest code runs under Node`);
};

/** The shims, by intrinsic name (test/guest-kernel checks these match intrinsics.d.ts). */
export const NODE_SHIMS: Readonly<Record<string, unknown>> = {
  TARGET_PV: false,
  TARGET_USER: false,
  load8: (a: number) => state.memory.getUint8(state.checkAddr(a, 1)),
  load8s: (a: number) => state.memory.getInt8(state.checkAddr(a, 1)),
  load16: (a: number) => state.memory.getUint16(state.checkAddr(a, 2), true),
  load16s: (a: number) => state.memory.getInt16(state.checkAddr(a, 2), true),
  load32: (a: number) => state.memory.getInt32(state.checkAddr(a, 4), true),
  store8: (a: number, v: number) => state.memory.setUint8(state.checkAddr(a, 1), v & 0xff),
  store16: (a: number, v: number) => state.memory.setUint16(state.checkAddr(a, 2), v & 0xffff, true),
  store32: (a: number, v: number) => state.memory.setInt32(state.checkAddr(a, 4), v | 0, true),
  portIn: (port: number): number => {
    if (port === UART_STATUS) return UART_STATUS_TX_EMPTY;
    if (port === UART_DATA) return -1;
    throw new GuestShimError(`portIn(0x${port.toString(16)}): no such device under Node`);
  },
  portOut: (port: number, value: number): void => {
    if (port === UART_DATA) state.bytes.push(value & 0xff);
    else if (port === POWER_SHUTDOWN) throw new GuestShutdown(value);
    else throw new GuestShimError(`portOut(0x${port.toString(16)}): no such device under Node`);
  },
  cli: () => undefined,
  sti: () => undefined,
  hlt: unavailable('hlt'),
  pushf: unavailable('pushf'),
  popf: unavailable('popf'),
  readCr: unavailable('readCr'),
  writeCr: unavailable('writeCr'),
  invlpg: unavailable('invlpg'),
  syscall: unavailable('syscall'),
  breakpoint: unavailable('breakpoint'),
  hypercall: (nr: number, a1 = 0, a2 = 0): number => {
    if (nr === HC_SCHED_OP && a1 === SCHEDOP_SHUTDOWN) throw new GuestShutdown(a2);
    throw new GuestShimError(`hypercall(${nr}) is not available when guest code runs under Node`);
  },
  addressOf: unavailable('addressOf'),
  interruptEntry: unavailable('interruptEntry'),
};

/**
 * The functions lib/lib.guest.d.ts declares that JavaScript does not have, by name:
 * `recordArray(Task, 64)` is 64 records, each built by `new Task()`, as the compiler lays them
 * out statically (records.ts). Frozen, as its type (a readonly index) says.
 */
export const GUEST_LIB_SHIMS: Readonly<Record<string, unknown>> = {
  recordArray: <T>(record: new () => T, length: number): readonly T[] => Object.freeze(Array.from({ length }, () => new record())),
};

/** Install the shims on globalThis (idempotent). */
export function installShims(): void {
  Object.assign(globalThis as Record<string, unknown>, NODE_SHIMS, GUEST_LIB_SHIMS);
}

/** Load a guest module under Node (shims installed first) and return its main. */
export async function loadGuestMain(programPath: string): Promise<() => unknown> {
  installShims();
  const mod = (await import(pathToFileURL(programPath).href)) as { main?: unknown };
  if (typeof mod.main !== 'function') throw new GuestShimError(`${programPath} does not export main()`);
  return mod.main as () => unknown;
}

/**
 * Call a guest main under the shims, capturing the console: the UART bytes, and `console.log`
 * lines formatted exactly as Node's console.log formats them (util.format), in program order.
 */
export function callGuestMain(main: () => unknown): NodeRunResult {
  state.reset();
  const log = console.log;
  console.log = (...args: unknown[]): void => {
    state.bytes.push(...Buffer.from(`${format(...args)}\n`, 'utf8'));
  };
  const t0 = process.hrtime.bigint();
  let returned: unknown;
  let exitCode: number;
  try {
    returned = main();
    exitCode = typeof returned === 'number' ? (returned | 0) >>> 0 : 0;
  } catch (e) {
    if (!(e instanceof GuestShutdown)) throw e;
    returned = e.code;
    exitCode = e.code >>> 0;
  } finally {
    console.log = log;
  }
  const hostNs = Number(process.hrtime.bigint() - t0);
  return { console: Buffer.from(state.bytes).toString('utf8'), exitCode, returned, hostNs };
}

/** Import `programPath` and run its main once. */
export async function runInNode(programPath: string): Promise<NodeRunResult> {
  return callGuestMain(await loadGuestMain(programPath));
}
