/**
 * Issue 5 acceptance guest: a driver that corrupts its own ring. It sets up the console and the
 * block device, writes a sector, then queues a request and, before publishing it, turns every
 * descriptor of the block queue into a loop onto itself. The kick must come back with -EIO and
 * the block device's status must say DEVICE_NEEDS_RESET, while the console goes on working;
 * then a reset and a fresh set-up bring the block device back.
 *
 * Shuts down with 42 when all of that held, otherwise with the number of the check that failed:
 * 1 set-up, 2 the first write, 3 the kick did not fail with EIO, 4 no NEEDS_RESET, 5 the console
 * stopped, 6 the reset block device did not work, 7 the data read back differs.
 */
import { EIO } from '../../../abi/errors.ts';
import { VIRTIO_BLK_S_OK, VIRTIO_BLK_T_OUT, VIRTIO_STATUS_DEVICE_NEEDS_RESET, VRING_DESC_F_NEXT, VRING_DESC_FLAGS, VRING_DESC_NEXT } from '../../../abi/ring.ts';
import { blkDevice, blkInit, blkKick, blkRead, blkSubmit, blkWrite } from '../../kernel/drivers/block.ts';
import { consoleInit, consolePrint } from '../../kernel/drivers/console.ts';
import { virtioStatus } from '../../kernel/drivers/virtio.ts';
import { vqDescAddr, vqSize } from '../../kernel/drivers/virtqueue.ts';

const CONQ = 0;
const BLKQ = 1;
const sector = new Int32Array(128);
const back = new Int32Array(128);

function fill(seed: number): void {
  for (let i = 0; i < 128; i++) sector[i] = Math.imul(i + seed, 0x9e3779b1);
}

function same(): boolean {
  for (let i = 0; i < 128; i++) if (back[i] !== sector[i]) return false;
  return true;
}

export function main(): number {
  if (consoleInit(CONQ) < 0 || blkInit(BLKQ, 8, 0) < 0) return 1;
  consolePrint('corrupt: console and block device up\n');
  fill(1);
  if (blkWrite(0, addressOf(sector), 512) !== VIRTIO_BLK_S_OK) return 2;

  // Queue a request, then make every descriptor of the queue a loop onto itself.
  if (blkSubmit(VIRTIO_BLK_T_OUT, 1, addressOf(sector), 512, 0) < 0) return 2;
  for (let d = 0; d < vqSize(BLKQ); d++) {
    store16(vqDescAddr(BLKQ, d) + VRING_DESC_FLAGS, VRING_DESC_F_NEXT);
    store16(vqDescAddr(BLKQ, d) + VRING_DESC_NEXT, d);
  }
  if (blkKick() !== -EIO) return 3;
  if ((virtioStatus(blkDevice()) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) === 0) return 4;
  if (consolePrint('corrupt: the block device needs a reset; the console still works\n') < 0) return 5;

  // Reset and set up again: the device forgets the broken ring.
  if (blkInit(BLKQ, 8, 0) < 0) return 6;
  fill(2);
  if (blkWrite(2, addressOf(sector), 512) !== VIRTIO_BLK_S_OK) return 6;
  if (blkRead(2, addressOf(back), 512) !== VIRTIO_BLK_S_OK) return 6;
  if (!same()) return 7;
  consolePrint('corrupt: the block device works again after a reset\n');
  return 42;
}
