import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode, Op, OPCODES, type Instruction } from '../../abi/isa.ts';
import { checkImage, decodeImage, encodeImage, SEG_R, SEG_W, SEG_X, type GuestImage } from '../../abi/image.ts';
import { LOAD_BASE } from '../../abi/platform.ts';
import { ABI_MAJOR, ABI_MINOR } from '../../abi/version.ts';
import { assemble, formatAsmError, formatListing, type AssembleOptions } from '../../guest-kernel/compiler/assembler.ts';

/** Assemble, failing the test with the assembler's own messages if it refuses. */
function ok(src: string, opts: AssembleOptions = {}) {
  const r = assemble(src, { fileName: 't.s', ...opts });
  if (!r.ok) throw new Error(r.errors.map(formatAsmError).join('\n'));
  return r;
}

/** The formatted errors for a source that must not assemble. */
function errors(src: string, opts: AssembleOptions = {}): string[] {
  const r = assemble(src, { fileName: 't.s', ...opts });
  if (r.ok) throw new Error('expected errors, but it assembled');
  return r.errors.map(formatAsmError);
}

/** The one error a source gives. */
function error(src: string): string {
  const all = errors(src);
  expect(all).toHaveLength(1);
  return all[0]!;
}

/** Little-endian words of segment `i`. */
function words(image: GuestImage, i = 0): number[] {
  const d = image.segments[i]!.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return Array.from({ length: d.length >> 2 }, (_, k) => view.getUint32(k * 4, true));
}

/** The expected encoding, computed by abi/isa.ts rather than by the assembler. */
function ins(mnemonic: string, fields: Partial<Omit<Instruction, 'opcode'>> = {}): number {
  const w = encode({ opcode: Op[mnemonic]!, rd: 0, ra: 0, rb: 0, imm: 0, ...fields });
  if (typeof w !== 'number') throw new Error(`bad test encoding ${mnemonic}: ${JSON.stringify(w)}`);
  return w;
}

describe('instructions by operand form', () => {
  it('assembles each operand form', () => {
    const { image } = ok(`
      nop
      add r1, r2, r3
      addi r1, r2, -5
      ori r4, r5, 0xffff
      mov r6, sp
      lui r7, 0x1234
      push r8
      ldw r1, [r2]
      stw r3, [sp+8]
      ldb r4, [r5-4]
      in r1, 0x3f8
      out 0x3f8, r2
      inr r1, r2
      outr r3, r4
      mfcr r1, ptbr
      mtcr vbar, r2
      mfcr r3, cr8
    `);
    expect(words(image)).toEqual([
      ins('nop'),
      ins('add', { rd: 1, ra: 2, rb: 3 }),
      ins('addi', { rd: 1, ra: 2, imm: -5 }),
      ins('ori', { rd: 4, ra: 5, imm: 0xffff }),
      ins('mov', { rd: 6, ra: 15 }),
      ins('lui', { rd: 7, imm: 0x1234 }),
      ins('push', { rd: 8 }),
      ins('ldw', { rd: 1, ra: 2 }),
      ins('stw', { rd: 3, ra: 15, imm: 8 }),
      ins('ldb', { rd: 4, ra: 5, imm: -4 }),
      ins('in', { rd: 1, imm: 0x3f8 }),
      ins('out', { rd: 2, imm: 0x3f8 }),
      ins('inr', { rd: 1, ra: 2 }),
      ins('outr', { ra: 3, rd: 4 }),
      ins('mfcr', { rd: 1, imm: 1 }),
      ins('mtcr', { rd: 2, imm: 2 }),
      ins('mfcr', { rd: 3, imm: 8 }),
    ]);
  });

  it('accepts mnemonics and registers in any case, and r15 as sp', () => {
    const { image } = ok('ADD R1, r2, SP\nadd r1, r2, r15');
    expect(words(image)).toEqual([ins('add', { rd: 1, ra: 2, rb: 15 }), ins('add', { rd: 1, ra: 2, rb: 15 })]);
  });
});

describe('labels and branches', () => {
  it('resolves a backward branch to a negative word offset from the next instruction', () => {
    const { image } = ok('loop: nop\n  nop\n  bne r1, r2, loop');
    expect(words(image)[2]).toBe(ins('bne', { rd: 1, ra: 2, imm: -3 }));
  });

  it('resolves forward branches, jumps and calls', () => {
    const { image } = ok('beq r1, r2, done\n jmp done\n call done\n nop\ndone: hlt');
    expect(words(image).slice(0, 3)).toEqual([ins('beq', { rd: 1, ra: 2, imm: 3 }), ins('jmp', { imm: 2 }), ins('call', { imm: 1 })]);
  });

  it('accepts an absolute address as a branch target', () => {
    const { image } = ok(`jmp ${LOAD_BASE + 0x100}`);
    expect(words(image)).toEqual([ins('jmp', { imm: 0x100 / 4 - 1 })]);
  });

  it('puts every label in the symbol table, several per address allowed', () => {
    const { image } = ok('start:\nmain: nop\n  nop\nend:');
    expect(image.symbols).toEqual({ start: LOAD_BASE, main: LOAD_BASE, end: LOAD_BASE + 8 });
  });

  it('maps every emitted instruction word to its source line and text', () => {
    const { image } = ok('start:\n  nop ; first\n  la r1, start', { fileName: 'boot.s' });
    expect(image.lines).toEqual([
      { addr: LOAD_BASE, file: 'boot.s', line: 2, text: 'nop ; first' },
      { addr: LOAD_BASE + 4, file: 'boot.s', line: 3, text: 'la r1, start' },
      { addr: LOAD_BASE + 8, file: 'boot.s', line: 3, text: 'la r1, start' },
    ]);
  });
});

describe('directives', () => {
  it('places code at LOAD_BASE by default, with the ABI version and native target', () => {
    const { image } = ok('nop');
    expect(image).toMatchObject({ target: 'native', abi: { major: ABI_MAJOR, minor: ABI_MINOR }, entry: LOAD_BASE });
    expect(image.segments).toHaveLength(1);
    expect(image.segments[0]).toMatchObject({ addr: LOAD_BASE, memSize: 4, flags: SEG_R | SEG_W | SEG_X });
  });

  it('.org starts a new segment, and an unused default segment is dropped', () => {
    const { image } = ok('.org 0x2000\nstart: nop\n.org 0x9000, rw\nvalue: .word 7');
    expect(image.segments.map((s) => [s.addr, s.memSize, s.flags])).toEqual([
      [0x2000, 4, SEG_R | SEG_W | SEG_X],
      [0x9000, 4, SEG_R | SEG_W],
    ]);
    expect(image.symbols).toEqual({ start: 0x2000, value: 0x9000 });
  });

  it('.entry names the entry point; else start, else _start, else the first instruction', () => {
    expect(ok('nop\nmain: nop\n.entry main').image.entry).toBe(LOAD_BASE + 4);
    expect(ok('nop\nstart: nop').image.entry).toBe(LOAD_BASE + 4);
    expect(ok('nop\n_start: nop').image.entry).toBe(LOAD_BASE + 4);
    expect(ok('.byte 1\n.align 4\nnop').image.entry).toBe(LOAD_BASE + 4);
  });

  it('.word, .half and .byte store little-endian values, labels and negatives', () => {
    const { image } = ok('start: nop\n.word start, -1, 0x12345678\n.half 0xbeef, -2\n.byte 1, 255, -1');
    expect(Array.from(image.segments[0]!.data.subarray(4))).toEqual([
      ...[0x00, 0x10, 0x00, 0x00],
      ...[0xff, 0xff, 0xff, 0xff],
      ...[0x78, 0x56, 0x34, 0x12],
      ...[0xef, 0xbe, 0xfe, 0xff],
      ...[1, 255, 255],
    ]);
  });

  it('.ascii and .asciz store UTF-8 with escapes; .asciz adds the terminator', () => {
    const { image } = ok('nop\n.ascii "a\\n\\t\\\\\\"\\x7f", "é"\n.asciz "z\\0"');
    expect(Array.from(image.segments[0]!.data.subarray(4))).toEqual([0x61, 10, 9, 0x5c, 0x22, 0x7f, 0xc3, 0xa9, 0x7a, 0, 0]);
  });

  it('.space reserves zeros without storing them and stores a non-zero fill', () => {
    const { image } = ok('nop\n.space 3, 0xaa\n.space 0x1000\nstack_top:');
    const seg = image.segments[0]!;
    expect(Array.from(seg.data)).toEqual([...new Uint8Array(Uint32Array.of(ins('nop')).buffer), 0xaa, 0xaa, 0xaa]);
    expect(seg.memSize).toBe(4 + 3 + 0x1000);
    expect(image.symbols!.stack_top).toBe(LOAD_BASE + 4 + 3 + 0x1000);
  });

  it('.align pads to the next multiple of a power of two', () => {
    const { image } = ok('nop\n.byte 1\n.align 8\nhere: .align 8\nthere:');
    expect(image.symbols).toMatchObject({ here: LOAD_BASE + 8, there: LOAD_BASE + 8 });
  });

  it('.equ defines constants usable before their definition', () => {
    const { image } = ok('li r1, SIZE * 2\n.equ SIZE, 0x20\n.equ END, start + SIZE\nstart: la r2, END');
    expect(words(image)).toEqual([ins('li', { rd: 1, imm: 0x40 }), ins('lui', { rd: 2 }), ins('ori', { rd: 2, ra: 2, imm: LOAD_BASE + 4 + 0x20 })]);
  });

  it('.target sets the image target; the caller may ask for the same one', () => {
    expect(ok('.target pv\nnop').image.target).toBe('pv');
    expect(ok('.target pv\nnop', { target: 'pv' }).image.target).toBe('pv');
    expect(ok('nop', { target: 'pv' }).image.target).toBe('pv');
  });

  it('.global is accepted and changes nothing', () => {
    expect(words(ok('.global start, main\nstart: nop').image)).toEqual([ins('nop')]);
  });
});

describe('pseudo-instructions', () => {
  it('la is always lui + ori, even for a forward label', () => {
    const { image } = ok('.org 0x12340000\nla r3, target\ntarget: nop');
    expect(words(image).slice(0, 2)).toEqual([ins('lui', { rd: 3, imm: 0x1234 }), ins('ori', { rd: 3, ra: 3, imm: 8 })]);
  });

  it('li32 is always two words, even for a small value', () => {
    expect(words(ok('li32 r1, 5').image)).toEqual([ins('lui', { rd: 1 }), ins('ori', { rd: 1, ra: 1, imm: 5 })]);
  });

  it('li picks the shortest expansion for a 32-bit constant', () => {
    const cases: [string, number[]][] = [
      ['-5', [ins('li', { rd: 1, imm: -5 })]],
      ['0xffffffff', [ins('li', { rd: 1, imm: -1 })]],
      ['0x8000', [ins('lui', { rd: 1 }), ins('ori', { rd: 1, ra: 1, imm: 0x8000 })]],
      ['0x30000', [ins('lui', { rd: 1, imm: 3 })]],
      ['0x12345678', [ins('lui', { rd: 1, imm: 0x1234 }), ins('ori', { rd: 1, ra: 1, imm: 0x5678 })]],
      ['-0x80000000', [ins('lui', { rd: 1, imm: 0x8000 })]],
    ];
    for (const [value, expected] of cases) expect(words(ok(`li r1, ${value}`).image), value).toEqual(expected);
  });

  it('li with a backward label knows its size in pass 1', () => {
    const { image } = ok('.org 0x20000\nstart: li r1, start\n  jmp start');
    expect(words(image)).toEqual([ins('lui', { rd: 1, imm: 2 }), ins('jmp', { imm: -2 })]);
  });
});

describe('expressions', () => {
  it('evaluates numbers in every base, chars, symbols, . and operators', () => {
    const { image } = ok(`
      start: nop
      a: .word 0b1010, 'A', '\\n', -3
      .word a+4, a-start, . - start, (1 + 2) * 3, 1 << 4 | 1, 0xff & ~0xf, 7 / 2, 7 % 4, 16 >> 2, -(2)
    `);
    expect(words(image).slice(1).map((w) => w | 0)).toEqual([10, 65, 10, -3, LOAD_BASE + 8, 4, 0x14, 9, 17, 0xf0, 3, 3, 4, -2]);
  });

  it('accepts symbols and expressions in memory operands', () => {
    const { image } = ok('.equ OFF, 12\nldw r1, [r2+OFF]\nldw r1, [r2-OFF+4]\nldw r1, [r2 + OFF*2]');
    expect(words(image)).toEqual([ins('ldw', { rd: 1, ra: 2, imm: 12 }), ins('ldw', { rd: 1, ra: 2, imm: -8 }), ins('ldw', { rd: 1, ra: 2, imm: 24 })]);
  });

  it('takes # and ; as comments, outside string and char literals', () => {
    const { image } = ok('nop # one\nnop ; two\n.ascii "#;"\n.byte \';\', \'#\'');
    expect(Array.from(image.segments[0]!.data.subarray(8))).toEqual([0x23, 0x3b, 0x3b, 0x23]);
  });
});

describe('errors name file:line:col', () => {
  it('unknown mnemonic', () => {
    expect(error('nop\n  mvo r1, r2')).toBe("t.s:2:3: unknown mnemonic 'mvo'");
  });

  it('wrong operand count, with the syntax', () => {
    expect(error('  add r1, r2')).toBe('t.s:1:3: add takes 3 operands (add rd, ra, rb), got 2');
    expect(error('nop r1')).toBe('t.s:1:1: nop takes no operands (nop), got 1');
  });

  it('wrong operand kind', () => {
    expect(error('add r1, 5, r2')).toBe('t.s:1:9: add operand 2: expected a register, got 5');
    expect(error('ldw r1, r2')).toBe('t.s:1:9: ldw operand 2: expected a memory operand like [r1+8], got register r2');
    expect(error('addi r1, r2, r3')).toBe('t.s:1:14: addi operand 3: expected an immediate, got register r3');
  });

  it('unknown register, in any position', () => {
    expect(error('add r1, r16, r2')).toBe("t.s:1:9: unknown register 'r16'");
    expect(error('ldw r1, [r99+4]')).toBe("t.s:1:10: unknown register 'r99'");
  });

  it('a missing comma after a register names the comma, not an expression', () => {
    expect(error('li r1 5')).toBe("t.s:1:7: expected ',' between operands, got '5'");
    expect(error('add r1 r2, r3')).toBe("t.s:1:8: expected ',' between operands, got 'r2'");
  });

  it('a register inside an expression or as a label', () => {
    expect(error('addi r1, r2, r3+1')).toBe("t.s:1:14: register 'r3' cannot be used in an expression");
    expect(error('sp: nop')).toBe("t.s:1:1: 'sp' is a register name and cannot be a label");
  });

  it('immediate out of range, giving the range', () => {
    expect(error('addi r1, r2, 40000')).toBe('t.s:1:14: immediate 40000 out of range for addi (-32768..32767)');
    expect(error('andi r1, r2, -1')).toBe('t.s:1:14: immediate -1 out of range for andi (0..65535)');
    expect(error('ldw r1, [r2+0x8000]')).toBe('t.s:1:9: offset 32768 out of range for ldw (-32768..32767)');
    expect(error('out 0x10000, r1')).toBe('t.s:1:5: port 65536 out of range for out (0..65535)');
    expect(error('li r1, 0x100000000')).toBe('t.s:1:8: immediate 4294967296 out of range for li (-2147483648..4294967295)');
    expect(error('nop\n.byte 256')).toBe('t.s:2:7: value 256 out of range for .byte (-128..255)');
  });

  it('undefined symbol', () => {
    expect(error('beq r1, r2, nowhere')).toBe("t.s:1:13: undefined symbol 'nowhere'");
    expect(error('nop\n.word 1, missing + 4')).toBe("t.s:2:10: undefined symbol 'missing'");
  });

  it('duplicate label, pointing at the first', () => {
    expect(error('start: nop\nstart: nop')).toBe("t.s:2:1: duplicate label 'start' (first defined at line 1)");
    expect(error('.equ X, 1\nX: nop')).toBe("t.s:2:1: duplicate symbol 'X' (first defined at line 1)");
  });

  it('branch out of range', () => {
    expect(error('beq r1, r2, far\n.space 0x20000\nfar: nop')).toBe(
      't.s:1:13: branch out of range: target 0x21004 is 32768 words away, beq reaches -32768..32767',
    );
  });

  it('misaligned branch target', () => {
    expect(error('jmp 0x1002')).toBe('t.s:1:5: branch target 0x1002 is not 4-byte aligned');
  });

  it('misaligned .word and .half', () => {
    expect(error('nop\n.byte 1\n.word 2')).toBe('t.s:3:1: misaligned .word at 0x1005 (use .align 4)');
    expect(error('nop\n.byte 1\n.half 2')).toBe('t.s:3:1: misaligned .half at 0x1005 (use .align 2)');
  });

  it('a misaligned instruction, reported once for the run it starts', () => {
    expect(error('nop\n.byte 1\nnop\nnop')).toBe('t.s:3:1: instruction at misaligned address 0x1005 (use .align 4)');
  });

  it('bad directive, and bad directive operands', () => {
    expect(error('nop\n.wrod 1')).toBe("t.s:2:1: unknown directive '.wrod'");
    expect(error('nop\n.align 3')).toBe('t.s:2:8: alignment must be a power of two, got 3');
    expect(error('nop\n.space')).toBe('t.s:2:1: .space takes 1 to 2 operands (.space N [, fill]), got 0');
    expect(error('nop\n.ascii 5')).toBe('t.s:2:8: .ascii operand 1: expected a string, got 5');
    expect(error('.target arm\nnop')).toBe("t.s:1:9: unknown target 'arm' (expected native, pv or user)");
    expect(error('.org 0x2000, rwq\nnop')).toBe("t.s:1:14: bad segment flags 'rwq' (use each of the letters r, w, x at most once)");
  });

  it('unterminated string and char literal, and bad escapes', () => {
    expect(error('nop\n.ascii "abc')).toBe('t.s:2:8: unterminated string');
    expect(error("li r1, 'a")).toBe('t.s:1:8: unterminated character literal');
    expect(error('nop\n.ascii "a\\q"')).toBe("t.s:2:10: unknown escape '\\q'");
  });

  it('syntax errors: bad numbers, stray characters, missing brackets', () => {
    expect(error('li r1, 12ab')).toBe("t.s:1:8: bad number '12ab'");
    expect(error('li r1, 5 @')).toBe("t.s:1:10: unexpected character '@'");
    expect(error('ldw r1, [r2+4')).toBe("t.s:1:14: expected ']' to close the memory operand, got end of line");
  });

  it('li of a symbol defined further down asks for la', () => {
    expect(error('li r1, later\nlater: nop')).toBe(
      "t.s:1:8: the value of li must be known when it is reached, but 'later' is only defined further down; use la or li32 for a forward reference",
    );
  });

  it('sizes that depend on a later label', () => {
    expect(error('nop\n.space end - start\nstart: nop\nend:')).toBe(
      "t.s:2:8: the size of .space must be known when it is reached, but 'end' is only defined further down",
    );
  });

  it('division by zero and self-referential constants', () => {
    expect(error('nop\n.word 1 / 0')).toBe('t.s:2:9: division by zero');
    expect(error('.equ A, B\n.equ B, A + 1\n nop\n.word A')).toBe("t.s:2:9: symbol 'A' is defined in terms of itself");
  });

  it('overlapping segments', () => {
    expect(error('.org 0x2000\nnop\nnop\n.org 0x2004\nnop')).toBe(
      't.s:4:1: segment 0x2004..0x2007 (from line 4) overlaps segment 0x2000..0x2007 (from line 1)',
    );
  });

  it('a .target that contradicts the requested target', () => {
    expect(errors('.target pv\nnop', { target: 'native' })).toEqual(['t.s:1:1: .target pv conflicts with the requested target native']);
  });

  it('an entry in a segment that is not executable', () => {
    expect(error('.org 0x2000, rw\ndata: .word 0\n.entry data')).toBe(
      't.s:3:8: invalid image: header.entry: 0x2000 is not inside an executable segment',
    );
  });

  it('nothing to run', () => {
    expect(error('; empty')).toBe('t.s:1:1: nothing to run: no instructions and no .entry');
  });

  it('collects every error in the file, in line order', () => {
    expect(errors('mvo r1\nadd r1\nli r1, r99\nbeq r1, r2, x')).toEqual([
      "t.s:1:1: unknown mnemonic 'mvo'",
      't.s:2:1: add takes 3 operands (add rd, ra, rb), got 1',
      "t.s:3:8: unknown register 'r99'",
      "t.s:4:13: undefined symbol 'x'",
    ]);
  });
});

describe('listing', () => {
  it('gives each source line its address and bytes', () => {
    const { listing } = ok('start: nop\n.byte 1, 2\n; done', { fileName: 'l.s' });
    expect(listing.map((l) => [l.line, l.addr, Array.from(l.bytes), l.text])).toEqual([
      [1, LOAD_BASE, [0x01, 0, 0, 0], 'start: nop'],
      [2, LOAD_BASE + 4, [1, 2], '.byte 1, 2'],
      [3, LOAD_BASE + 6, [], '; done'],
    ]);
    expect(formatListing(listing).split('\n')[0]).toBe(`00001000  ${'01 00 00 00'.padEnd(24)}  start: nop`);
  });
});

describe('hostile source', () => {
  const piece = fc.oneof(
    fc.constantFrom(...OPCODES.map((o) => o.mnemonic), 'la', 'li32', '.org', '.word', '.byte', '.half', '.ascii', '.asciz', '.space', '.align', '.equ', '.entry', '.target', '.global'),
    fc.constantFrom('r0', 'r15', 'sp', 'r16', 'ptbr', 'cr99', 'start', 'x', '.', 'pv'),
    fc.constantFrom(',', '[', ']', '+', '-', '*', '/', '%', '<<', '>>', '(', ')', ':', ';', '#', '"', "'", '\\', 'start:', 'x:'),
    fc.integer({ min: -0x100000000, max: 0x1ffffffff }).map(String),
    fc.string({ maxLength: 4 }),
  );
  const line = fc.array(piece, { maxLength: 6 }).map((parts) => parts.join(' '));

  it('never throws; whatever it accepts is a valid image that survives encode and decode', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const r = assemble(lines.join('\n'));
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) expect(formatAsmError(e)).not.toMatch(/\n/);
          return;
        }
        expect(checkImage(r.image)).toBeUndefined();
        expect(decodeImage(encodeImage(r.image)).ok).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  // Well-formed statements with operands of random kind and value: this reaches the range,
  // alignment, layout and image checks that random text rarely gets past the parser to.
  const operand = fc.oneof(
    fc.constantFrom('r1', 'sp', 'a', 'b', 'a+4', 'b-a', '.', 'ptbr', '[r2]', '[r3+a]', '[sp-8]'),
    fc.integer({ min: -0x100000000, max: 0x1ffffffff }).map(String),
  );
  const statement = fc.oneof(
    fc.tuple(fc.constantFrom(...OPCODES.map((o) => o.mnemonic), 'la', 'li32'), fc.array(operand, { maxLength: 3 })).map(([m, ops]) => `${m} ${ops.join(', ')}`),
    fc.tuple(fc.constantFrom('.word', '.half', '.byte', '.space', '.align', '.org'), fc.array(fc.integer({ min: -300, max: 0x20000 }), { minLength: 1, maxLength: 2 })).map(
      ([d, vs]) => `${d} ${vs.join(', ')}`,
    ),
    fc.constantFrom('a:', 'b:', 'start:', '.entry a', '.equ c, b - a', '.org 0x2000, rx', '.align 4', '.asciz "x"'),
  );

  it('never throws on well-formed statements with random operands', () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 16 }), (lines) => {
        const r = assemble(lines.join('\n'));
        if (r.ok) expect(decodeImage(encodeImage(r.image)).ok).toBe(true);
        else for (const e of r.errors) expect(formatAsmError(e)).toMatch(/^input\.s:\d+:\d+: [^\n]+$/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('bytes written after a huge reservation', () => {
  // Found by the hostile-source property test: 2 GiB of reserved zeros, then an instruction,
  // asked the segment buffer for 2 GiB and threw a RangeError out of assemble().
  it.each([
    ['an instruction after .space 2147483645', '.space 2147483645\nnop', 2],
    ['a filled .space of 2 GiB', '.space 2147483645, 1\nnop', 1],
    ['a word just past 64 MiB of file', '.space 67108860\nnop\nnop', 3],
  ])('%s is one clear error, not an exception', (_name, src, line) => {
    const r = assemble(src, { fileName: 'x.s', target: 'native' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatAsmError)).toContainEqual(expect.stringMatching(new RegExp(`^x\\.s:${line}:\\d+: segment at 0x1000 would hold \\d+ bytes in the image file, more than its limit of 67108864`)));
  });

  it('64 MiB of file is still allowed, and reserved zeros of any size cost no file', () => {
    expect(assemble('.space 67108860\nnop', { fileName: 'x.s', target: 'native' }).ok).toBe(true);
    const r = assemble('nop\n.space 1000000000', { fileName: 'x.s', target: 'native' });
    expect(r.ok).toBe(true);
  });
});
