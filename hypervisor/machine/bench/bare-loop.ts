/**
 * The reference for bench:cpu: the barest switch-dispatch interpreter over Int32Array registers
 * and memory, with four instructions of our encoding and nothing else — no paging, no privilege,
 * no fetch-page check, no faults, no interrupt polling. What our CPU runs per second on the same
 * loop, as a fraction of this, is the cost of being a real machine, independent of how fast the
 * host happens to be today (the shared 2-core machines vary by 2x between hours).
 */
const MEM_WORDS = 1 << 16;

/** Run `iterations` of: add r4,r4,r2; xor r6,r4,r2; addi r2,r2,1; bne r2,r3,loop. Returns instr/s. */
export function bareLoopRate(iterations: number): number {
  const mem = new Int32Array(MEM_WORDS);
  const regs = new Int32Array(16);
  const code = [0x10 | (4 << 8) | (4 << 12) | (2 << 16), 0x19 | (6 << 8) | (4 << 12) | (2 << 16), 0x28 | (2 << 8) | (2 << 12) | (1 << 16), 0x51 | (2 << 8) | (3 << 12) | ((-4 & 0xffff) << 16)];
  code.forEach((w, i) => (mem[1024 + i] = w));
  regs[3] = iterations;
  const n = iterations * 4;
  const t0 = process.hrtime.bigint();
  let pc = 4096;
  let count = 0;
  while (count < n) {
    const insn = mem[pc >>> 2]!;
    pc = (pc + 4) | 0;
    count++;
    switch (insn & 0xff) {
      case 0x10:
        regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! + regs[(insn >>> 16) & 15]!;
        break;
      case 0x19:
        regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! ^ regs[(insn >>> 16) & 15]!;
        break;
      case 0x28:
        regs[(insn >>> 8) & 15] = regs[(insn >>> 12) & 15]! + (insn >> 16);
        break;
      case 0x51:
        if (regs[(insn >>> 8) & 15] !== regs[(insn >>> 12) & 15]) pc = (pc + ((insn >> 16) << 2)) | 0;
        break;
      default:
        throw new Error('bare loop: unexpected opcode');
    }
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The same loop as assembly, for our CPU. */
export const ALU_LOOP_SOURCE = (iterations: number): string => `
start:  li32 r3, ${iterations}
        li   r2, 0
loop:   add  r4, r4, r2
        xor  r6, r4, r2
        addi r2, r2, 1
        bne  r2, r3, loop
        out  0xf4, r2
`;
