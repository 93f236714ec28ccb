import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as R from '../../../abi/ring.ts';
import { VirtioBlock } from '../../../hypervisor/devices/virtio/block.ts';
import { PhysicalMemory } from '../../../hypervisor/machine/memory.ts';
import { PhysicalRingMemory } from '../../../hypervisor/devices/virtio/ring-memory.ts';
import { Arena, bringUp, domain, DriverQueue, recorder, type Buf } from './driver.ts';

const SECTOR = R.VIRTIO_BLK_SECTOR_SIZE;

function header(type: number, sector = 0, sectorHi = 0): Uint8Array {
  const h = new Uint8Array(R.VIRTIO_BLK_REQ_HEADER_BYTES);
  const v = new DataView(h.buffer);
  v.setUint32(R.VIRTIO_BLK_REQ_TYPE, type, true);
  v.setUint32(R.VIRTIO_BLK_REQ_SECTOR_LO, sector, true);
  v.setUint32(R.VIRTIO_BLK_REQ_SECTOR_HI, sectorHi, true);
  return h;
}

function rig(sectors = 64, opts: { memBytes?: number; size?: number } = {}) {
  const d = opts.memBytes ? (() => {
    const mem = new PhysicalMemory(opts.memBytes);
    return { mem, ring: new PhysicalRingMemory(mem), arena: new Arena(mem, 0x1000, opts.memBytes) };
  })() : domain();
  const rec = recorder();
  const disk = new Uint8Array(sectors * SECTOR);
  const flushed: number[] = [];
  const blk = new VirtioBlock({ name: 'dom1.blk', mem: d.ring, notify: rec.notify, disk, id: 'tsvisor-test-disk', onFlush: (dk) => flushed.push(dk.length) });
  const q = new DriverQueue(d.mem, d.arena, opts.size ?? 8, true);
  bringUp(blk, [[0, q]]);
  /** A request as Linux lays it out: header, data, status. Returns the status address. */
  const request = (type: number, sector: number, data: Buf | null, opt: { indirect?: boolean; sectorHi?: number } = {}): number => {
    const st = d.arena.alloc(1, 1);
    d.mem.u8[st] = 0xff;
    const bufs: Buf[] = [{ addr: d.arena.put(header(type, sector, opt.sectorHi ?? 0)), len: 16 }];
    if (data) bufs.push(data);
    bufs.push({ addr: st, len: 1, write: true });
    if (opt.indirect) q.addIndirect(bufs, d.arena);
    else q.add(bufs);
    return st;
  };
  return { ...d, rec, disk, blk, q, request, flushed };
}

describe('virtio-blk', () => {
  it('writes sectors into the disk image and reads them back (OUT, IN)', () => {
    const { blk, q, request, arena, mem, disk } = rig();
    const data = new Uint8Array(2 * SECTOR).map((_, i) => (i * 7) & 0xff);
    const st1 = request(R.VIRTIO_BLK_T_OUT, 5, { addr: arena.put(data), len: data.length });
    q.publish();
    expect(blk.kick(0)).toMatchObject({ kind: 'done', used: 1 });
    expect(mem.u8[st1]).toBe(R.VIRTIO_BLK_S_OK);
    expect(disk.subarray(5 * SECTOR, 7 * SECTOR)).toEqual(data);
    expect(disk.subarray(0, 5 * SECTOR).every((b) => b === 0)).toBe(true);
    expect(blk.dirty).toBe(true);

    const into = arena.alloc(2 * SECTOR);
    const st2 = request(R.VIRTIO_BLK_T_IN, 5, { addr: into, len: 2 * SECTOR, write: true }, { indirect: true });
    q.publish();
    blk.kick(0);
    expect(mem.u8[st2]).toBe(R.VIRTIO_BLK_S_OK);
    expect(mem.u8.subarray(into, into + 2 * SECTOR)).toEqual(data);
    expect(q.takeUsed().map((u) => u.len)).toEqual([1, 2 * SECTOR + 1]); // every writable byte
    expect(blk.blockStats).toMatchObject({ reads: 1, writes: 1, sectorsRead: 2, sectorsWritten: 2 });
  });

  it('makes no assumption about framing: header, data and status split anyhow (§2.7.4.1)', () => {
    const { blk, q, arena, mem, disk } = rig();
    disk.fill(0x5a, 3 * SECTOR, 4 * SECTOR);
    // header in two pieces; data and status in one writable buffer of 513 bytes, split 100 + 413.
    const h = header(R.VIRTIO_BLK_T_IN, 3);
    const w = arena.alloc(SECTOR + 1);
    q.add([
      { addr: arena.put(h.subarray(0, 10)), len: 10 },
      { addr: arena.put(h.subarray(10)), len: 6 },
      { addr: w, len: 100, write: true },
      { addr: w + 100, len: SECTOR + 1 - 100, write: true },
    ]);
    q.publish();
    blk.kick(0);
    expect(mem.u8.subarray(w, w + SECTOR).every((b) => b === 0x5a)).toBe(true);
    expect(mem.u8[w + SECTOR]).toBe(R.VIRTIO_BLK_S_OK);
  });

  it('answers a sector past the end, or a hi word, with IOERR, not a reset, and leaves the disk alone', () => {
    const { blk, q, request, arena, mem, disk, rec } = rig(8, { size: 16 });
    const into = arena.alloc(SECTOR);
    mem.u8.fill(0x77, into, into + SECTOR);
    const a = request(R.VIRTIO_BLK_T_IN, 8, { addr: into, len: SECTOR, write: true });
    const b = request(R.VIRTIO_BLK_T_OUT, 7, { addr: arena.alloc(2 * SECTOR), len: 2 * SECTOR });
    const c = request(R.VIRTIO_BLK_T_OUT, 0, { addr: arena.alloc(SECTOR), len: SECTOR }, { sectorHi: 1 });
    const d = request(R.VIRTIO_BLK_T_OUT, 0, { addr: arena.alloc(100), len: 100 }); // not whole sectors
    const ok = request(R.VIRTIO_BLK_T_FLUSH, 0, null);
    q.publish();
    expect(blk.kick(0)).toMatchObject({ kind: 'done', used: 5 });
    expect([a, b, c, d, ok].map((s) => mem.u8[s])).toEqual([1, 1, 1, 1, 0]);
    expect(mem.u8.subarray(into, into + SECTOR).every((x) => x === 0)).toBe(true); // no stale bytes passed as data
    expect(disk.every((x) => x === 0)).toBe(true);
    expect(blk.blockStats.ioErrors).toBe(4);
    expect(blk.live).toBe(true);
    expect(rec.count('config')).toBe(0);
  });

  it('flushes through the callback, and clears dirty; a flush with nothing written since does not save again', () => {
    const { blk, q, request, arena, flushed } = rig();
    request(R.VIRTIO_BLK_T_OUT, 0, { addr: arena.alloc(SECTOR), len: SECTOR });
    request(R.VIRTIO_BLK_T_FLUSH, 0, null);
    request(R.VIRTIO_BLK_T_FLUSH, 0, null);
    q.publish();
    blk.kick(0);
    expect(flushed).toEqual([64 * SECTOR]);
    expect(blk.dirty).toBe(false);
    expect(blk.blockStats.flushes).toBe(2);
  });

  it('answers FLUSH with IOERR when the host cannot save the image, stays dirty, and goes on', () => {
    const d = domain();
    const disk = new Uint8Array(64 * SECTOR);
    const blk = new VirtioBlock({ name: 'dom1.blk', mem: d.ring, notify: recorder().notify, disk, onFlush: () => { throw new Error('ENOSPC'); } });
    const q = new DriverQueue(d.mem, d.arena, 8, true);
    bringUp(blk, [[0, q]]);
    const status = (): number => {
      const st = d.arena.alloc(1, 1);
      d.mem.u8[st] = 0xff;
      return st;
    };
    const s1 = status();
    q.add([{ addr: d.arena.put(header(R.VIRTIO_BLK_T_OUT, 0)), len: 16 }, { addr: d.arena.alloc(SECTOR), len: SECTOR }, { addr: s1, len: 1, write: true }]);
    const s2 = status();
    q.add([{ addr: d.arena.put(header(R.VIRTIO_BLK_T_FLUSH, 0)), len: 16 }, { addr: s2, len: 1, write: true }]);
    q.publish();
    expect(blk.kick(0)).toMatchObject({ kind: 'done', used: 2 });
    expect([d.mem.u8[s1], d.mem.u8[s2]]).toEqual([R.VIRTIO_BLK_S_OK, R.VIRTIO_BLK_S_IOERR]);
    expect(blk.dirty).toBe(true);
    expect(blk.blockStats.ioErrors).toBe(1);
    expect(blk.live).toBe(true);
  });

  it('returns the id string on GET_ID, NUL-padded to 20 bytes, and UNSUPP for an unknown type', () => {
    const { blk, q, request, arena, mem } = rig();
    const idBuf = arena.alloc(R.VIRTIO_BLK_ID_BYTES);
    mem.u8.fill(0xee, idBuf, idBuf + R.VIRTIO_BLK_ID_BYTES);
    const s1 = request(R.VIRTIO_BLK_T_GET_ID, 0, { addr: idBuf, len: R.VIRTIO_BLK_ID_BYTES, write: true });
    const s2 = request(99, 0, null);
    q.publish();
    blk.kick(0);
    expect(new TextDecoder().decode(mem.u8.subarray(idBuf, idBuf + 17))).toBe('tsvisor-test-disk');
    expect(Array.from(mem.u8.subarray(idBuf + 17, idBuf + 20))).toEqual([0, 0, 0]);
    expect([mem.u8[s1], mem.u8[s2]]).toEqual([R.VIRTIO_BLK_S_OK, R.VIRTIO_BLK_S_UNSUPP]);
    expect(blk.blockStats.unsupported).toBe(1);
  });

  it('writes 1 MiB in 4 KiB requests, reads it back, and the checksums agree', () => {
    const MiB = 1 << 20;
    const { blk, q, request, arena, mem, disk } = rig(2 * 1024 + 8, { memBytes: 4 * MiB, size: 128 });
    const src = arena.alloc(MiB, 4096);
    let x = 12345;
    for (let i = 0; i < MiB; i++) mem.u8[src + i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
    const dst = arena.alloc(MiB, 4096);
    const run = (type: number, base: number, write: boolean): void => {
      for (let off = 0; off < MiB; ) {
        for (let k = 0; k < 32 && off < MiB; k++, off += 4096) request(type, 8 + off / SECTOR, { addr: base + off, len: 4096, write }); // 3 descriptors each
        q.publish();
        blk.kick(0);
        for (const u of q.takeUsed()) expect(u.len).toBe(write ? 4097 : 1);
      }
    };
    run(R.VIRTIO_BLK_T_OUT, src, false);
    run(R.VIRTIO_BLK_T_IN, dst, true);
    const sum = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
    expect(sum(mem.u8.subarray(dst, dst + MiB))).toBe(sum(mem.u8.subarray(src, src + MiB)));
    expect(sum(disk.subarray(8 * SECTOR, 8 * SECTOR + MiB))).toBe(sum(mem.u8.subarray(src, src + MiB)));
    expect(blk.blockStats.sectorsWritten).toBe(MiB / SECTOR);
    expect(blk.blockStats.writes).toBe(MiB / 4096);
  });
});
