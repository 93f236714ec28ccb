/**
 * `--trace`: one line per exception, interrupt and port access, with virtual time, the
 * instruction's address and its disassembly (and its source line when the image has a listing),
 * and under trap and hw one line per virtualization exit with its reason and qualification.
 * Memory is read through Mmu.probe, which has no side effects, so a traced run retires the same
 * instructions and sets the same accessed/dirty bits as an untraced one; a monitor hands the
 * tracer its own side-effect-free reader of guest-virtual memory instead (shadow or nested).
 */
import chalk from 'chalk';
import { disassemble, Vector, vectorName } from '../../abi/isa.ts';
import type { GuestImage } from '../../abi/image.ts';
import type { Cpu, CpuTracer } from './cpu.ts';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export interface TraceContext {
  /** Names a port's device, e.g. 'uart'. */
  portName(port: number): string | undefined;
  image?: GuestImage;
}

export function makeTracer(write: (line: string) => void, ctx: TraceContext): CpuTracer {
  const symbolByAddr = new Map<number, string>();
  for (const [name, addr] of Object.entries(ctx.image?.symbols ?? {})) symbolByAddr.set(addr >>> 0, name);
  const lineByAddr = new Map<number, string>();
  for (const l of ctx.image?.lines ?? []) lineByAddr.set(l.addr >>> 0, `${l.file}:${l.line}`);

  let guestWord: ((va: number) => number | undefined) | null = null;
  const wordAt = (cpu: Cpu, pc: number): number | undefined => {
    if (guestWord) return guestWord(pc);
    const pa = cpu.mmu.probe(pc & ~3);
    return pa < 0 || pa + 4 > cpu.mem.size ? undefined : cpu.mem.i32[pa >>> 2];
  };
  const insnAt = (cpu: Cpu, pc: number, word: number | null = null): string => {
    const w = word ?? wordAt(cpu, pc);
    const text = w === undefined ? '(unmapped)' : disassemble(w, pc, (a) => symbolByAddr.get(a));
    const src = lineByAddr.get(pc >>> 0);
    return `${chalk.dim('@' + hex(pc))} ${text}${src ? chalk.dim(`  ; ${src}`) : ''}`;
  };
  const time = (cpu: Cpu): string => chalk.dim(String(cpu.icount).padStart(10));
  const port = (p: number): string => `${hex(p)}${ctx.portName(p) ? ` (${ctx.portName(p)})` : ''}`;

  return {
    exception(cpu, vector, err, pc) {
      const isIrq = vector >= Vector.IrqBase && vector < Vector.IrqBase + 16;
      const kind = isIrq ? chalk.yellow('irq ') : vector === Vector.Syscall ? chalk.magenta('sys ') : chalk.red('exc ');
      const detail = vector === Vector.PageFault ? ` err=${hex(err)} addr=${hex(cpu.cr[3]!)}` : err ? ` err=${hex(err)}` : '';
      // A trap (syscall, breakpoint) or interrupt resumes after the instruction that caused it.
      const at = isIrq || vector === Vector.Syscall || vector === Vector.Breakpoint ? `resume ${hex(pc)}` : insnAt(cpu, pc);
      write(`${time(cpu)} ${kind} ${vectorName(vector)}${detail}  ${at}`);
    },
    portIn(cpu, p, value, pc) {
      write(`${time(cpu)} ${chalk.cyan('in  ')} ${port(p)} -> ${hex(value)}  ${insnAt(cpu, pc)}`);
    },
    portOut(cpu, p, value, pc) {
      write(`${time(cpu)} ${chalk.cyan('out ')} ${port(p)} <- ${hex(value)}  ${insnAt(cpu, pc)}`);
    },
    vmexit(cpu, e) {
      const qual = Object.entries(e.qual)
        .map(([k, v]) => `${k}=${typeof v === 'number' && k !== 'width' && k !== 'cpl' && k !== 'if' && k !== 'nr' ? hex(v) : v}`)
        .join(' ');
      write(`${time(cpu)} ${chalk.blue('exit')} ${e.reason}${qual ? ' ' + qual : ''}  ${insnAt(cpu, e.pc, e.insn)}`);
    },
    attachGuestReader(read) {
      guestWord = read;
    },
  };
}

