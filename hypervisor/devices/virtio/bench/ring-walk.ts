/**
 * `npx tsx hypervisor/devices/virtio/bench/ring-walk.ts`: host-side ring walks, chains per
 * second, this tree against a baseline revision, A/B in one process.
 *
 * The baseline's files of this folder are taken from git (`BASELINE=<rev>`; default: the last
 * revision before the walk became allocation-free) into a temporary sibling folder, imported
 * next to the current ones, and removed at the end. Each round times every workload once per
 * implementation, alternating which goes first, and the table gives the median of the rounds
 * (`RING_BENCH_ROUNDS`, default 9) and heap growth per chain (V8's used heap around a batch,
 * batches with a collection left out): this machine is shared and noisy, so the numbers are
 * printed, never asserted (test/hypervisor/virtio/allocation.test.ts asserts the allocation).
 *
 * Workloads, each one batch of 64 chains published and taken per iteration:
 * - walk 3 direct:  Virtqueue.pop + push of header/data/status chains (the walk alone)
 * - walk indirect:  the same through one descriptor pointing to an 8-entry indirect table
 * - blk GET_ID:     VirtioBlock.kick: walk, 16-byte header read, 20-byte id and status written
 * - blk IN 4 KiB:   VirtioBlock.kick: walk, header read, 4 KiB copied from the disk, status
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import * as R from '../../../../abi/ring.ts';
import { maddr } from '../../../machine/addr.ts';
import { PhysicalMemory } from '../../../machine/memory.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const folder = path.dirname(here); // hypervisor/devices/virtio
const root = path.resolve(folder, '../../..');
/** The virtio folder before the allocation-free walk. */
const DEFAULT_BASELINE = '9250f4f';
const ROUNDS = Number(process.env.RING_BENCH_ROUNDS ?? 9);
const CHAINS = 64;
const Q = 256;

// The parts of either implementation the workloads touch (the device API did not change).
interface Chainish {
  readonly head: number;
}
interface QueueLike {
  configure(cfg: { size: number; desc: number; avail: number; used: number }, features: number): unknown;
  activate(): unknown;
  beginBatch(): void;
  pop(): unknown;
  push(c: never, len: number): unknown;
}
interface BlockLike {
  readonly offeredFeatures: number;
  setStatus(v: number): unknown;
  setDriverFeatures(v: number): unknown;
  configureQueue(i: number, cfg: { size: number; desc: number; avail: number; used: number }): unknown;
  kick(i: number): { kind: string; used?: number };
}
interface Impl {
  readonly name: string;
  readonly Virtqueue: new (name: string, mem: unknown, max: number) => QueueLike;
  readonly DescriptorChain: abstract new (...a: never[]) => Chainish;
  readonly PhysicalRingMemory: new (mem: PhysicalMemory) => unknown;
  readonly VirtioBlock: new (opts: { name: string; mem: unknown; notify: () => void; disk: Uint8Array }) => BlockLike;
}

async function load(dir: string, name: string): Promise<Impl> {
  const vq = await import(path.join(dir, 'virtqueue.ts'));
  const rm = await import(path.join(dir, 'ring-memory.ts'));
  const blk = await import(path.join(dir, 'block.ts'));
  return { name, Virtqueue: vq.Virtqueue, DescriptorChain: vq.DescriptorChain, PhysicalRingMemory: rm.PhysicalRingMemory, VirtioBlock: blk.VirtioBlock };
}

/** The baseline's copy of this folder, one level deeper: each relative '../' import gains one. */
function checkoutBaseline(rev: string): string {
  const dir = path.join(folder, `.baseline-${rev.replace(/[^0-9A-Za-z]/g, '_')}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'bench'), { recursive: true });
  const rel = path.relative(root, folder);
  const files = execFileSync('git', ['ls-tree', '--name-only', rev, `${rel}/`], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const text = execFileSync('git', ['show', `${rev}:${f}`], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
    fs.writeFileSync(path.join(dir, path.basename(f)), text.replace(/(from\s+')\.\.\//g, '$1../../'));
  }
  return dir;
}

// --- a driver, written straight into memory (no allocation in the timed part)

const DESC = 0x1000;
const AVAIL = 0x10000;
const USED = 0x11000;
const HDR = 0x20000; // request header
const DATA = 0x30000; // 4 KiB data buffers, one per chain
const TABLE = 0x80000; // the indirect table
const STATUS = 0x90000;

function w16(m: Uint8Array, a: number, v: number): void {
  m[a] = v;
  m[a + 1] = v >>> 8;
}
function w32(m: Uint8Array, a: number, v: number): void {
  w16(m, a, v & 0xffff);
  w16(m, a + 2, v >>> 16);
}
function desc(m: Uint8Array, table: number, i: number, addr: number, len: number, flags: number, next: number): void {
  const a = table + 16 * i;
  w32(m, a + R.VRING_DESC_ADDR_LO, addr);
  w32(m, a + R.VRING_DESC_ADDR_HI, 0);
  w32(m, a + R.VRING_DESC_LEN, len);
  w16(m, a + R.VRING_DESC_FLAGS, flags);
  w16(m, a + R.VRING_DESC_NEXT, next);
}

type Shape = 'direct' | 'indirect' | 'getid' | 'read4k';

/** Descriptors for CHAINS chains of the shape; returns their heads. */
function layout(m: Uint8Array, shape: Shape): number[] {
  const N = R.VRING_DESC_F_NEXT;
  const W = R.VRING_DESC_F_WRITE;
  const hdr = new Uint8Array(16);
  new DataView(hdr.buffer).setUint32(R.VIRTIO_BLK_REQ_TYPE, shape === 'getid' ? R.VIRTIO_BLK_T_GET_ID : R.VIRTIO_BLK_T_IN, true);
  m.set(hdr, HDR);
  const heads: number[] = [];
  if (shape === 'indirect') {
    for (let j = 0; j < 8; j++) desc(m, TABLE, j, j < 6 ? HDR : DATA, j < 6 ? 16 : 512, (j < 6 ? 0 : W) | (j < 7 ? N : 0), j + 1);
    for (let k = 0; k < CHAINS; k++) {
      desc(m, DESC, k, TABLE, 128, R.VRING_DESC_F_INDIRECT, 0);
      heads.push(k);
    }
    return heads;
  }
  const dataLen = shape === 'getid' ? R.VIRTIO_BLK_ID_BYTES : 4096;
  for (let k = 0; k < CHAINS; k++) {
    const i = 3 * k;
    desc(m, DESC, i, HDR, 16, N, i + 1);
    desc(m, DESC, i + 1, DATA + 4096 * (k % 16), dataLen, N | W, i + 2);
    desc(m, DESC, i + 2, STATUS + k, 1, W, 0);
    heads.push(i);
  }
  return heads;
}

interface Rig {
  /** Publish CHAINS chains and serve them; returns the chains served. */
  batch(): number;
}

function rig(impl: Impl, shape: Shape): Rig {
  const mem = new PhysicalMemory(1 << 20);
  const m = mem.u8;
  const ring = new impl.PhysicalRingMemory(mem);
  const heads = layout(m, shape);
  let idx = 0;
  const publish = (): void => {
    for (let k = 0; k < CHAINS; k++) w16(m, AVAIL + R.VRING_AVAIL_RING + 2 * ((idx + k) % Q), heads[k]!);
    idx = (idx + CHAINS) & 0xffff;
    w16(m, AVAIL + R.VRING_AVAIL_IDX, idx);
  };
  const cfg = { size: Q, desc: maddr(DESC), avail: maddr(AVAIL), used: maddr(USED) };
  if (shape === 'direct' || shape === 'indirect') {
    const q = new impl.Virtqueue('bench.q', ring, Q);
    q.configure(cfg, R.VIRTIO_F_INDIRECT_DESC_MASK);
    q.activate();
    return {
      batch: () => {
        publish();
        q.beginBatch();
        let n = 0;
        for (;;) {
          const c = q.pop();
          if (!(c instanceof impl.DescriptorChain)) break;
          q.push(c as never, 0);
          n++;
        }
        return n;
      },
    };
  }
  const blk = new impl.VirtioBlock({ name: 'bench.blk', mem: ring, notify: () => {}, disk: new Uint8Array(1 << 20) });
  const S = R.VIRTIO_STATUS_ACKNOWLEDGE | R.VIRTIO_STATUS_DRIVER;
  blk.setStatus(R.VIRTIO_STATUS_ACKNOWLEDGE);
  blk.setStatus(S);
  blk.setDriverFeatures(blk.offeredFeatures);
  blk.setStatus(S | R.VIRTIO_STATUS_FEATURES_OK);
  blk.configureQueue(0, cfg);
  blk.setStatus(S | R.VIRTIO_STATUS_FEATURES_OK | R.VIRTIO_STATUS_DRIVER_OK);
  return {
    batch: () => {
      publish();
      const r = blk.kick(0);
      return r.kind === 'done' ? r.used! : 0;
    },
  };
}

/** Chains per second over ~`ms` of batches. */
function time(r: Rig, ms: number): number {
  let chains = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ms * 1e6);
  let now = t0;
  while (now < end) {
    for (let i = 0; i < 20; i++) chains += r.batch();
    now = process.hrtime.bigint();
  }
  return chains / (Number(now - t0) / 1e9);
}

/** Median heap growth per chain over batches without a collection, or NaN. */
function heapPerChain(r: Rig): number {
  const xs: number[] = [];
  for (let i = 0; i < 15; i++) {
    const p = new GCProfiler();
    p.start();
    const before = getHeapStatistics().used_heap_size;
    const n = r.batch();
    const after = getHeapStatistics().used_heap_size;
    if (p.stop().statistics.length === 0) xs.push((after - before) / n);
  }
  return xs.length ? median(xs) : NaN;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const rev = process.env.BASELINE ?? DEFAULT_BASELINE;
  let baseDir: string | null = null;
  const impls: Impl[] = [];
  try {
    try {
      baseDir = checkoutBaseline(rev);
      impls.push(await load(baseDir, `baseline ${rev}`));
    } catch (e) {
      console.log(`(no baseline: ${(e as Error).message.split('\n')[0]}; the current tree alone)`);
    }
    impls.push(await load(folder, 'current'));
    const shapes: Shape[] = ['direct', 'indirect', 'getid', 'read4k'];
    const label: Record<Shape, string> = { direct: 'walk 3 direct', indirect: 'walk indirect (8)', getid: 'blk GET_ID', read4k: 'blk IN 4 KiB' };
    const rigs = impls.map((impl) => shapes.map((s) => rig(impl, s)));
    for (const rs of rigs) for (const r of rs) for (let i = 0; i < 200; i++) r.batch(); // warm-up
    const rates = impls.map(() => shapes.map((): number[] => []));
    for (let round = 0; round < ROUNDS; round++) {
      for (let s = 0; s < shapes.length; s++) {
        const order = round % 2 ? [...impls.keys()].reverse() : [...impls.keys()];
        for (const k of order) rates[k]![s]!.push(time(rigs[k]![s]!, 150));
      }
    }
    console.log(`ring walks, chains/s (median of ${ROUNDS} rounds, A/B alternating), heap bytes per chain`);
    const cols = impls.map((im) => im.name.padStart(22)).join('') + (impls.length > 1 ? '   speed-up' : '');
    console.log(`${'workload'.padEnd(20)}${cols}`);
    for (let s = 0; s < shapes.length; s++) {
      const med = impls.map((_, k) => median(rates[k]![s]!));
      const heap = impls.map((_, k) => heapPerChain(rigs[k]![s]!));
      const cells = med.map((v, k) => `${(v / 1e6).toFixed(2)}M/s ${heap[k]!.toFixed(0).padStart(5)} B`.padStart(22)).join('');
      const up = med.length > 1 ? `   ×${(med[1]! / med[0]!).toFixed(2)}` : '';
      console.log(`${label[shapes[s]!].padEnd(20)}${cells}${up}`);
    }
  } finally {
    if (baseDir) fs.rmSync(baseDir, { recursive: true, force: true });
  }
}

await main();
