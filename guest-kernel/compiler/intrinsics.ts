/**
 * Stage 3, lowering of intrinsic calls: the functions declared in guest-kernel/lib/intrinsics.d.ts
 * become the machine instructions they name, inline. The table below is the compiler's half of
 * that file; test/guest-kernel/intrinsics.test.ts checks that the declarations, this table and the
 * Node shims (node-shim.ts) name the same intrinsics.
 */
import ts from 'typescript';
import { Code } from './diagnostics.ts';
import { skipOuter } from './context.ts';
import { TARGET_FLAGS } from './types.ts';
import type { SysOp, VReg, Width } from './ir.ts';
import { constOperand, lowerArgs, lowerExpr, regOperand, toReg, type Operand } from './lower-expr.ts';
import type { FunctionLowerer } from './lower.ts';

type Lowering = (l: FunctionLowerer, call: ts.CallExpression) => Operand;

const NONE: Operand = { k: 'const', v: 0, range: 'nonneg' };

function load(width: Width, signed: boolean): Lowering {
  return (l, call) => {
    const [addr] = lowerArgs(l, call.arguments);
    const dst = l.vreg();
    l.emit({ k: 'load', width, signed, dst, base: addr!, offset: 0, mem: { kind: 'raw' } });
    return regOperand(dst, signed || width === 4 ? undefined : 'nonneg');
  };
}

function store(width: Width): Lowering {
  return (l, call) => {
    const [addr, value] = lowerArgs(l, call.arguments);
    l.emit({ k: 'store', width, src: value!, base: addr!, offset: 0, mem: { kind: 'raw' } });
    return NONE;
  };
}

function sys(op: SysOp): Lowering {
  return (l) => {
    l.emit({ k: 'sys', op });
    return NONE;
  };
}

function trap(op: 'hypercall' | 'syscall'): Lowering {
  return (l, call) => {
    const args = lowerArgs(l, call.arguments);
    const dst = l.vreg();
    l.emit({ k: 'trap', op, dst, args });
    return regOperand(dst);
  };
}

/** A constant argument (a port or control-register number), or undefined after reporting. */
function constArg(l: FunctionLowerer, call: ts.CallExpression, index: number, what: string, max: number): number | undefined {
  const arg = call.arguments[index];
  const v = arg ? l.ctx.constValue(arg, l) : undefined;
  if (v?.kind === 'num' && v.value >= 0 && v.value <= max) return v.value;
  l.ctx.bag.at(arg ?? call, Code.constArg, `${what} must be a constant between 0 and ${max}`);
  return undefined;
}

/** A port argument: a constant selects `in`/`out`, anything else `inr`/`outr`. */
function portArg(l: FunctionLowerer, call: ts.CallExpression): { port: number } | { reg: VReg } {
  const arg = call.arguments[0]!;
  const c = l.ctx.constValue(arg, l);
  if (c?.kind === 'num' && c.value >= 0 && c.value <= 0xffff) return { port: c.value };
  return { reg: toReg(l, lowerExpr(l, arg)) };
}

const INTRINSIC_LOWERINGS: Readonly<Record<string, Lowering>> = {
  load8: load(1, false),
  load8s: load(1, true),
  load16: load(2, false),
  load16s: load(2, true),
  load32: load(4, true),
  store8: store(1),
  store16: store(2),
  store32: store(4),

  portIn(l, call) {
    const p = portArg(l, call);
    const dst = l.vreg();
    if ('port' in p) l.emit({ k: 'in', dst, port: p.port });
    else l.emit({ k: 'inr', dst, port: p.reg });
    return regOperand(dst);
  },
  portOut(l, call) {
    const p = portArg(l, call);
    const src = toReg(l, lowerExpr(l, call.arguments[1]!));
    if ('port' in p) l.emit({ k: 'out', port: p.port, src });
    else l.emit({ k: 'outr', port: p.reg, src });
    return NONE;
  },
  cli: sys('cli'),
  sti: sys('sti'),
  hlt: sys('hlt'),
  breakpoint: sys('brk'),
  pushf(l) {
    const dst = l.vreg();
    l.emit({ k: 'pushf', dst });
    return regOperand(dst);
  },
  popf(l, call) {
    const [src] = lowerArgs(l, call.arguments);
    l.emit({ k: 'popf', src: src! });
    return NONE;
  },
  readCr(l, call) {
    const cr = constArg(l, call, 0, 'the control register of readCr', 0xffff);
    const dst = l.vreg();
    l.emit({ k: 'mfcr', dst, cr: cr ?? 0 });
    return regOperand(dst);
  },
  writeCr(l, call) {
    const cr = constArg(l, call, 0, 'the control register of writeCr', 0xffff);
    const src = toReg(l, lowerExpr(l, call.arguments[1]!));
    l.emit({ k: 'mtcr', cr: cr ?? 0, src });
    return NONE;
  },
  invlpg(l, call) {
    const [src] = lowerArgs(l, call.arguments);
    l.emit({ k: 'invlpg', src: src! });
    return NONE;
  },
  syscall: trap('syscall'),
  hypercall: trap('hypercall'),

  addressOf(l, call) {
    const arg = skipOuter(call.arguments[0]!);
    const fn = functionArg(l, arg);
    if (fn) {
      const dst = l.vreg();
      l.emit({ k: 'la', dst, sym: fn.label });
      return regOperand(dst, 'nonneg');
    }
    const v = lowerExpr(l, arg);
    return v.k === 'reg' ? regOperand(v.r, 'nonneg') : v;
  },
  interruptEntry(l, call) {
    const arg = skipOuter(call.arguments[0]!);
    if (l.ctx.target === 'user') {
      // The stub returns with iret (privileged); a user program is told of its faults by SYS_TRAP.
      l.ctx.bag.at(call, Code.targetOnly, 'interruptEntry is for kernels: a user program (target user) takes no interrupts; the kernel reports its faults (SYS_TRAP)');
      return NONE;
    }
    const fn = functionArg(l, arg);
    if (!fn) {
      l.ctx.bag.at(arg, Code.constArg, 'interruptEntry takes the name of a function declaration');
      return NONE;
    }
    const ok = fn.ret.kind === 'void' && fn.params.length === 1 && fn.params[0]!.type.kind === 'int';
    if (!ok) {
      l.ctx.bag.at(arg, Code.constArg, `an interrupt handler must be declared as function ${fn.name}(frame: number): void`);
      return NONE;
    }
    fn.stubLabel ??= l.ctx.labels.unique(`${fn.label}.entry`);
    const dst = l.vreg();
    l.emit({ k: 'la', dst, sym: fn.stubLabel });
    return regOperand(dst, 'nonneg');
  },
};

/** Names of every intrinsic the compiler expands, including the constants TARGET_PV and TARGET_USER. */
export const INTRINSIC_NAMES: readonly string[] = [...Object.keys(INTRINSIC_LOWERINGS), ...Object.keys(TARGET_FLAGS)];

function functionArg(l: FunctionLowerer, arg: ts.Expression) {
  if (!ts.isIdentifier(arg) && !ts.isPropertyAccessExpression(arg)) return undefined;
  const ent = l.ctx.resolve(arg, l);
  return ent?.kind === 'function' ? ent.fn : undefined;
}

export function lowerIntrinsic(l: FunctionLowerer, name: string, call: ts.CallExpression): Operand {
  const lowering = INTRINSIC_LOWERINGS[name];
  if (!lowering) {
    l.ctx.bag.at(call, Code.expression, `intrinsic '${name}' cannot be called`);
    return NONE;
  }
  return lowering(l, call);
}

/** `Math.imul(a, b)`: the machine's `mul` (already wrapping). */
export function lowerMathImul(l: FunctionLowerer, call: ts.CallExpression): Operand {
  const [a, b] = call.arguments.map((x) => lowerExpr(l, x));
  if (a?.k === 'const' && b?.k === 'const') return constOperand(Math.imul(a.v, b.v));
  const dst = l.vreg();
  l.emit({ k: 'bin', op: 'mul', dst, a: toReg(l, a ?? NONE), b: toReg(l, b ?? NONE) });
  return regOperand(dst);
}
