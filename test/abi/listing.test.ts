import { describe, expect, it } from 'vitest';
import { SEG_R, SEG_X, type GuestImage } from '../../abi/image.ts';
import { disassembleImage } from '../../abi/listing.ts';
import { assemble } from '../../guest-kernel/compiler/assembler.ts';

function image(src: string): GuestImage {
  const r = assemble(src, { fileName: 'k.s' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.image;
}

describe('disassembleImage', () => {
  const listing = disassembleImage(
    image(`
start:
  li r1, 3
loop:
  addi r1, r1, -1
  bne r1, r0, loop
  jmp done
done:
  hlt
  .space 8
.org 0x8000, rw
table: .word 0x12345678
`),
  );
  const lines = listing.trimEnd().split('\n');

  it('lists one line per word of each executable segment, with address, word and disassembly', () => {
    expect(lines).toContain(`${'  00001000  00030139  li r1, 3'.padEnd(44)} ; k.s:3`);
    expect(lines.filter((l) => /^ {2}[0-9a-f]{8} {2}[0-9a-f]{8} {2}/.test(l))).toHaveLength(5);
  });

  it('names branch targets by symbol and prints labels before their address', () => {
    expect(lines.indexOf('loop:')).toBe(lines.findIndex((l) => l.includes('addi r1, r1, -1')) - 1);
    expect(listing).toMatch(/bne r1, r0, loop +; k\.s:6/);
    expect(listing).toMatch(/jmp done +; k\.s:7/);
  });

  it('summarises the zero-filled tail and leaves out non-executable segments', () => {
    expect(listing).toContain('00001014..0000101c  zero-filled (8 bytes)');
    expect(listing).not.toContain('table');
    expect(listing).not.toContain('12345678');
  });

  it('works without symbols or lines, and shows unaligned tail bytes as .byte', () => {
    const bare: GuestImage = {
      target: 'native',
      abi: { major: 1, minor: 0 },
      entry: 0x1000,
      segments: [{ addr: 0x1000, data: Uint8Array.from([0x78, 0, 0, 0, 0xaa, 0xbb]), memSize: 6, flags: SEG_R | SEG_X }],
    };
    expect(disassembleImage(bare).split('\n').slice(1, 3)).toEqual(['  00001000  00000078  hlt', '  00001004            .byte 0xaa, 0xbb']);
  });
});
