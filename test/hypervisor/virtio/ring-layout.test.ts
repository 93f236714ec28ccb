/**
 * abi/ring.ts against the virtio 1.2 split virtqueue (§2.7), written out here from the spec's
 * own structures, so a change to the ABI file that breaks the layout fails a test:
 *
 *   struct virtq_desc  { le64 addr; le32 len; le16 flags; le16 next; };            align 16
 *   struct virtq_avail { le16 flags; le16 idx; le16 ring[Q]; le16 used_event; };   align 2
 *   struct virtq_used  { le16 flags; le16 idx; struct virtq_used_elem ring[Q];
 *                        le16 avail_event; };                                      align 4
 *   struct virtq_used_elem { le32 id; le32 len; };
 */
import { describe, expect, it } from 'vitest';
import * as R from '../../../abi/ring.ts';
import { availRingBytes, descTableBytes, usedRingBytes } from '../../../hypervisor/devices/virtio/virtqueue.ts';

describe('abi/ring.ts: the split-ring layout of virtio 1.2 §2.7', () => {
  it('descriptor: addr le64 (lo, hi), len le32, flags le16, next le16; 16 bytes, table aligned 16', () => {
    expect([R.VRING_DESC_ADDR_LO, R.VRING_DESC_ADDR_HI, R.VRING_DESC_LEN, R.VRING_DESC_FLAGS, R.VRING_DESC_NEXT]).toEqual([0, 4, 8, 12, 14]);
    expect([R.VRING_DESC_BYTES, R.VRING_DESC_ALIGN]).toEqual([16, 16]);
    expect([R.VRING_DESC_F_NEXT, R.VRING_DESC_F_WRITE, R.VRING_DESC_F_INDIRECT]).toEqual([1, 2, 4]);
    expect(descTableBytes(256)).toBe(4096);
  });

  it('available ring: flags, idx, ring[Q] of le16, used_event last; 6 + 2·Q bytes, aligned 2', () => {
    expect([R.VRING_AVAIL_FLAGS, R.VRING_AVAIL_IDX, R.VRING_AVAIL_RING, R.VRING_AVAIL_ELEM_BYTES]).toEqual([0, 2, 4, 2]);
    expect(R.VRING_AVAIL_ALIGN).toBe(2);
    expect(R.VRING_AVAIL_F_NO_INTERRUPT).toBe(1);
    for (const q of [1, 8, 256, 32768]) {
      expect(R.vringUsedEventOffset(q)).toBe(4 + 2 * q);
      expect(availRingBytes(q)).toBe(6 + 2 * q);
      expect(R.vringUsedEventOffset(q) + 2).toBe(availRingBytes(q)); // used_event is the last field
    }
  });

  it('used ring: flags, idx, ring[Q] of {id le32, len le32}, avail_event last; 6 + 8·Q bytes, aligned 4', () => {
    expect([R.VRING_USED_FLAGS, R.VRING_USED_IDX, R.VRING_USED_RING]).toEqual([0, 2, 4]);
    expect([R.VRING_USED_ELEM_ID, R.VRING_USED_ELEM_LEN, R.VRING_USED_ELEM_BYTES]).toEqual([0, 4, 8]);
    expect(R.VRING_USED_ALIGN).toBe(4);
    expect(R.VRING_USED_F_NO_NOTIFY).toBe(1);
    for (const q of [1, 8, 256, 32768]) {
      expect(R.vringAvailEventOffset(q)).toBe(4 + 8 * q);
      expect(usedRingBytes(q)).toBe(6 + 8 * q);
      expect(R.vringAvailEventOffset(q) + 2).toBe(usedRingBytes(q));
    }
  });

  it('queue size: a power of two, at most 32768 (the largest that fits a 16-bit index)', () => {
    expect(R.VIRTQ_MAX_QUEUE_SIZE).toBe(32768);
    expect(R.VIRTQ_MAX_QUEUE_SIZE & (R.VIRTQ_MAX_QUEUE_SIZE - 1)).toBe(0);
    expect(R.VIRTQ_DEFAULT_SIZE & (R.VIRTQ_DEFAULT_SIZE - 1)).toBe(0);
    expect(R.VIRTQ_DEFAULT_SIZE).toBeLessThanOrEqual(R.VIRTQ_MAX_QUEUE_SIZE);
  });

  it('feature bits: INDIRECT_DESC 28, EVENT_IDX 29, masks to match (§6)', () => {
    expect([R.VIRTIO_F_INDIRECT_DESC, R.VIRTIO_RING_F_EVENT_IDX]).toEqual([28, 29]);
    expect(R.VIRTIO_F_INDIRECT_DESC_MASK).toBe(2 ** 28);
    expect(R.VIRTIO_RING_F_EVENT_IDX_MASK).toBe(2 ** 29);
  });

  it('device status: ACKNOWLEDGE 1, DRIVER 2, DRIVER_OK 4, FEATURES_OK 8, DEVICE_NEEDS_RESET 64, FAILED 128 (§2.1)', () => {
    expect([
      R.VIRTIO_STATUS_ACKNOWLEDGE,
      R.VIRTIO_STATUS_DRIVER,
      R.VIRTIO_STATUS_DRIVER_OK,
      R.VIRTIO_STATUS_FEATURES_OK,
      R.VIRTIO_STATUS_DEVICE_NEEDS_RESET,
      R.VIRTIO_STATUS_FAILED,
    ]).toEqual([1, 2, 4, 8, 64, 128]);
  });

  it('request formats: virtio_blk_req header 16 bytes, status values; virtio_net_hdr 12 bytes', () => {
    expect([R.VIRTIO_BLK_REQ_TYPE, R.VIRTIO_BLK_REQ_RESERVED, R.VIRTIO_BLK_REQ_SECTOR_LO, R.VIRTIO_BLK_REQ_HEADER_BYTES]).toEqual([0, 4, 8, 16]);
    expect([R.VIRTIO_BLK_T_IN, R.VIRTIO_BLK_T_OUT, R.VIRTIO_BLK_T_FLUSH, R.VIRTIO_BLK_T_GET_ID]).toEqual([0, 1, 4, 8]);
    expect([R.VIRTIO_BLK_S_OK, R.VIRTIO_BLK_S_IOERR, R.VIRTIO_BLK_S_UNSUPP]).toEqual([0, 1, 2]);
    expect([R.VIRTIO_ID_NET, R.VIRTIO_ID_BLOCK, R.VIRTIO_ID_CONSOLE]).toEqual([1, 2, 3]);
    expect([R.VIRTIO_NET_HDR_NUM_BUFFERS, R.VIRTIO_NET_HDR_BYTES]).toEqual([10, 12]);
  });
});
