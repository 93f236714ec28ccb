/**
 * The UART's receive interrupt (UART_IER, IRQ_UART) and live console input: the device raises and
 * lowers its line through the PIC; a guest that sleeps in HLT and echoes from its interrupt handler
 * gets exactly its input in native, trap and hw, with the same counts; bytes fed between slices of
 * runImageLive reach it (and a pv guest through console_io read and VIRQ_CONSOLE).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IRQ_UART, PIC_EOI, PIC_MASK, UART_DATA, UART_IER, UART_IER_RX, UART_STATUS, UART_STATUS_RX_READY } from '../../abi/platform.ts';
import { assemble } from '../../guest-kernel/compiler/assembler.ts';
import { Pic } from '../../hypervisor/devices/pic.ts';
import { Uart } from '../../hypervisor/devices/uart.ts';
import type { LiveInput } from '../../hypervisor/live-input.ts';
import { runImage, runImageLive, type Mode } from '../../hypervisor/run.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const fixture = (name: string) => {
  const path = new URL(`fixtures/${name}.s`, import.meta.url).pathname;
  const r = assemble(readFileSync(path, 'utf8'), { fileName: `${name}.s` });
  if (!r.ok) throw new Error(`${name}.s does not assemble`);
  return r.image;
};

function device(input = ''): { uart: Uart; pic: Pic } {
  const pic = new Pic();
  pic.portOut(PIC_MASK, 0xff & ~(1 << IRQ_UART));
  return { uart: new Uart(enc(input), undefined, pic), pic };
}

describe('UART receive interrupt (device)', () => {
  it('a byte waiting with IER set raises IRQ_UART through the PIC; reading it lowers the line', () => {
    const { uart, pic } = device('a');
    expect(pic.deliverable()).toBe(-1);
    uart.portOut(UART_IER, UART_IER_RX);
    expect(uart.portIn(UART_IER)).toBe(UART_IER_RX);
    expect(pic.pending).toBe(1 << IRQ_UART);
    expect(pic.deliverable()).toBe(IRQ_UART);
    expect(uart.portIn(UART_DATA)).toBe(0x61);
    expect(pic.pending).toBe(0);
    expect(pic.deliverable()).toBe(-1);
    expect(uart.portIn(UART_STATUS) & UART_STATUS_RX_READY).toBe(0);
  });

  it('with IER clear, waiting bytes raise nothing (a polling guest sees the old UART)', () => {
    const { uart, pic } = device('ab');
    expect(uart.portIn(UART_STATUS) & UART_STATUS_RX_READY).toBe(UART_STATUS_RX_READY);
    uart.feed(enc('c'));
    expect(pic.pending).toBe(0);
    expect(pic.raised[IRQ_UART]).toBe(0);
    expect([uart.portIn(UART_DATA), uart.portIn(UART_DATA), uart.portIn(UART_DATA), uart.portIn(UART_DATA)]).toEqual([0x61, 0x62, 0x63, -1]);
  });

  it('live bytes raise the line on arrival; while bytes remain the PIC raises it again at EOI', () => {
    const { uart, pic } = device();
    uart.portOut(UART_IER, UART_IER_RX);
    expect(pic.pending).toBe(0);
    uart.feed(enc('xy'));
    expect(pic.deliverable()).toBe(IRQ_UART);
    pic.acknowledge(IRQ_UART);
    expect(uart.portIn(UART_DATA)).toBe(0x78);
    pic.portOut(PIC_EOI, 0);
    expect(pic.deliverable()).toBe(IRQ_UART); // 'y' still waits
    pic.acknowledge(IRQ_UART);
    expect(uart.portIn(UART_DATA)).toBe(0x79);
    pic.portOut(PIC_EOI, 0);
    expect(pic.deliverable()).toBe(-1);
    uart.portOut(UART_IER, 0);
    uart.feed(enc('z'));
    expect(pic.deliverable()).toBe(-1);
  });
});

const FULL: Mode[] = ['native', 'trap', 'hw'];

describe('an interrupt-driven echo guest (uart-echo.s)', () => {
  const image = fixture('uart-echo');

  it('echoes exactly its input from the interrupt handler, with the same counts in native, trap and hw', () => {
    const rs = FULL.map((mode) => runImage(image, { mode, input: enc('hello, world!q') }));
    for (const r of rs) {
      expect(r.stop, r.mode).toBe('shutdown');
      expect(r.exitCode).toBe(13);
      expect(r.console).toBe('hello, world!');
      expect(r.events).toEqual({ irq1: 14 });
    }
    expect(new Set(rs.map((r) => r.instructions)).size).toBe(1);
    expect(new Set(rs.map((r) => r.idleInstructions)).size).toBe(1);
  });

  it('without input it stops halted, as before (nothing can wake it)', () => {
    for (const mode of FULL) expect(runImage(image, { mode }).stop).toBe('halted');
  });

  it('takes live bytes fed between slices, waiting in HLT until they come', async () => {
    for (const mode of FULL) {
      const r = await runImageLive(image, { mode, sliceInstructions: 50, liveInput: scripted(['ab', '', 'c\n', 'dq']) });
      expect(r.stop, mode).toBe('shutdown');
      expect(r.console).toBe('abc\nd');
      expect(r.exitCode).toBe(5);
    }
  });

  it('stops halted once live input ends with the guest still waiting', async () => {
    const r = await runImageLive(image, { mode: 'native', liveInput: scripted(['xy']) });
    expect(r.stop).toBe('halted');
    expect(r.console).toBe('xy');
  });
});

describe('pv console input, live (pv-echo.s)', () => {
  const image = fixture('pv-echo');

  it('input up front, and live bytes raising VIRQ_CONSOLE between slices', async () => {
    const up = runImage(image, { mode: 'pv', input: enc('abcq') });
    expect([up.stop, up.console, up.exitCode]).toEqual(['shutdown', 'abc', 3]);
    const r = await runImageLive(image, { mode: 'pv', sliceInstructions: 50, liveInput: scripted(['hel', 'lo', '', 'q']) });
    expect([r.stop, r.console, r.exitCode]).toEqual(['shutdown', 'hello', 5]);
  });
});

/** Live input that hands out one chunk per take, then ends. */
function scripted(chunks: string[]): LiveInput {
  const left = chunks.map(enc);
  return {
    take: () => left.shift() ?? new Uint8Array(0),
    get ended() {
      return left.length === 0;
    },
    wait: () => Promise.resolve(),
  };
}
