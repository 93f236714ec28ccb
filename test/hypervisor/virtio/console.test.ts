import { describe, expect, it } from 'vitest';
import * as R from '../../../abi/ring.ts';
import { VirtioConsole } from '../../../hypervisor/devices/virtio/console.ts';
import { bringUp, domain, DriverQueue, recorder, text } from './driver.ts';

const RX = R.VIRTIO_CONSOLE_QUEUE_RX;
const TX = R.VIRTIO_CONSOLE_QUEUE_TX;
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function rig(size = 8, opts: { inputLimit?: number; up?: boolean } = {}) {
  const d = domain();
  const rec = recorder();
  const streamed: string[] = [];
  const con = new VirtioConsole({ name: 'dom1.con', mem: d.ring, notify: rec.notify, onOutput: (b) => streamed.push(dec(b)), inputLimit: opts.inputLimit });
  const rx = new DriverQueue(d.mem, d.arena, size, true);
  const tx = new DriverQueue(d.mem, d.arena, size, true);
  if (opts.up !== false) bringUp(con, [[RX, rx], [TX, tx]]);
  return { ...d, rec, con, rx, tx, streamed };
}

describe('virtio-console: transmit', () => {
  it('writes every readable byte of each chain, in order, however the chain is split', () => {
    const { con, tx, arena, streamed } = rig();
    tx.add([{ addr: arena.put('hel'), len: 3 }, { addr: arena.put('lo, '), len: 4 }]);
    tx.addIndirect([{ addr: arena.put('wor'), len: 3 }, { addr: arena.put('ld\n'), len: 3 }], arena);
    tx.publish();
    expect(con.kick(TX)).toEqual({ kind: 'done', used: 2, notified: true, more: false });
    expect(con.outputText()).toBe('hello, world\n');
    expect(streamed).toEqual(['hello, ', 'world\n']);
    expect(tx.takeUsed().map((u) => u.len)).toEqual([0, 0]);
    expect(con.stats.bytesRead).toBe(13);
    expect(con.consoleStats).toMatchObject({ txChains: 2, txBytes: 13 });
  });

  it('moves 64 KiB in one batch with one kick and one interrupt', () => {
    const { con, tx, arena, rec } = rig(16);
    const chunk = new Uint8Array(4096);
    const sent: number[] = [];
    for (let i = 0; i < 16; i++) {
      chunk.fill(0x41 + i);
      tx.add([{ addr: arena.put(chunk), len: 4096 }]);
      sent.push(...chunk);
    }
    tx.setUsedEvent(15);
    expect(tx.publish()).toBe(true);
    con.kick(TX);
    expect(Array.from(con.output())).toEqual(sent);
    expect([tx.kicksNeeded, rec.count('used')]).toEqual([1, 1]);
  });

  it('drops (and counts) a chain longer than VIRTIO_CONSOLE_MAX_TX without breaking the ring', () => {
    const { con, tx, arena } = rig();
    const big = arena.alloc(R.VIRTIO_CONSOLE_MAX_TX + 1);
    tx.add([{ addr: big, len: R.VIRTIO_CONSOLE_MAX_TX + 1 }]);
    tx.add([{ addr: arena.put('after'), len: 5 }]);
    tx.publish();
    con.kick(TX);
    expect(con.outputText()).toBe('after');
    expect(con.consoleStats.txDropped).toBe(1);
    expect(con.live).toBe(true);
  });
});

describe('virtio-console: receive', () => {
  it('fills the driver’s buffers with input, in order, across buffers and chains', () => {
    const { con, rx, arena, rec, mem } = rig();
    const a = arena.alloc(4);
    const b = arena.alloc(8);
    rx.add([{ addr: a, len: 4, write: true }]);
    rx.add([{ addr: b, len: 8, write: true }]);
    rx.publish();
    con.kick(RX); // nothing to deliver yet
    expect(rx.takeUsed()).toEqual([]);
    con.input(text('0123456789'));
    expect(rx.takeUsed().map((u) => u.len)).toEqual([4, 6]);
    expect(dec(mem.u8.subarray(a, a + 4)) + dec(mem.u8.subarray(b, b + 6))).toBe('0123456789');
    expect(rec.events).toEqual([['used', RX]]);
    expect(con.consoleStats.rxBytes).toBe(10);
  });

  it('keeps input until the driver offers buffers, including input that arrived before DRIVER_OK', () => {
    const { con, rx, tx, arena, mem } = rig(8, { up: false });
    con.input(text('early '));
    bringUp(con, [[RX, rx], [TX, tx]]);
    con.input(text('late'));
    expect(con.pendingInput).toBe(10);
    const buf = arena.alloc(16);
    rx.add([{ addr: buf, len: 16, write: true }]);
    expect(rx.publish()).toBe(true);
    con.kick(RX);
    expect(rx.takeUsed()).toEqual([{ id: 0, len: 10 }]);
    expect(dec(mem.u8.subarray(buf, buf + 10))).toBe('early late');
    expect(con.pendingInput).toBe(0);
  });

  it('bounds input waiting for buffers, and counts what it drops', () => {
    const { con } = rig(8, { inputLimit: 8 });
    con.input(text('0123456789ab'));
    expect([con.pendingInput, con.consoleStats.inputDropped]).toEqual([8, 4]);
  });
});
