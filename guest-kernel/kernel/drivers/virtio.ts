/**
 * Virtio device discovery and set-up through the virtio_op hypercall (abi/hypercall-numbers.ts
 * VIRTIO_*), following virtio 1.2 §3.1.1 "Driver Requirements: Device Initialization":
 *
 *   1. reset (status 0);
 *   2. ACKNOWLEDGE; 3. DRIVER;
 *   4. read the offered features, write the subset we understand;
 *   5. FEATURES_OK, and 6. read the status back: a device that refused our features leaves the
 *      bit clear (then we set FAILED and give up);
 *   7. set up the queues (virtqueue.ts vqSetup, through VIRTIO_SET_QUEUE records), bind the
 *      event port;
 *   8. DRIVER_OK.
 *
 * Devices are found by type in the list VIRTIO_LIST writes, not by a fixed number.
 */
import {
  VIRTIO_DEV_BYTES,
  VIRTIO_DEV_FEATURES,
  VIRTIO_DEV_MAX_QUEUE_SIZE,
  VIRTIO_DEV_TYPE,
  VIRTIO_MAX_DEVICES,
} from '../../../abi/hypercall-numbers.ts';
import {
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
  VIRTQ_CFG_AVAIL,
  VIRTQ_CFG_DESC,
  VIRTQ_CFG_INDEX,
  VIRTQ_CFG_SIZE,
  VIRTQ_CFG_USED,
} from '../../../abi/ring.ts';
import {
  hcVirtioBindEvent,
  hcVirtioGetConfig,
  hcVirtioGetFeatures,
  hcVirtioGetStatus,
  hcVirtioList,
  hcVirtioSetFeatures,
  hcVirtioSetQueue,
  hcVirtioSetStatus,
} from '../platform/hypercalls.ts';

/** Errors of the set-up routines (negative, apart from the hypercalls' -errno values). */
export const VIRTIO_ERR_NO_DEVICE = -1000;
export const VIRTIO_ERR_FEATURES = -1001;
export const VIRTIO_ERR_QUEUE = -1002;
export const VIRTIO_ERR_NEEDS_RESET = -1003;

const DEV_WORDS = VIRTIO_DEV_BYTES / 4;
/** The device records of VIRTIO_LIST. */
const records = new Int32Array(VIRTIO_MAX_DEVICES * DEV_WORDS);
let listed = -1;
/** One VIRTQ_CFG_* record for VIRTIO_SET_QUEUE. */
const queueRecord = new Int32Array(5);

const STATUS_SETUP = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;

/** The number of the first device of `type` (VIRTIO_ID_*), or VIRTIO_ERR_NO_DEVICE. */
export function virtioFind(type: number): number {
  if (listed < 0) listed = hcVirtioList(addressOf(records), VIRTIO_MAX_DEVICES);
  for (let i = 0; i < listed; i++) {
    if (records[i * DEV_WORDS + VIRTIO_DEV_TYPE / 4] === type) return i;
  }
  return VIRTIO_ERR_NO_DEVICE;
}

/** The largest queue size device `dev` takes (from the list). */
export function virtioMaxQueueSize(dev: number): number {
  return records[dev * DEV_WORDS + VIRTIO_DEV_MAX_QUEUE_SIZE / 4];
}

/** The features device `dev` offered when listed. */
export function virtioListedFeatures(dev: number): number {
  return records[dev * DEV_WORDS + VIRTIO_DEV_FEATURES / 4];
}

export function virtioStatus(dev: number): number {
  return hcVirtioGetStatus(dev);
}

/** True when the device stopped on an error of ours (a malformed ring) and waits for a reset. */
export function virtioNeedsReset(dev: number): boolean {
  const s = virtioStatus(dev);
  return s >= 0 && (s & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0;
}

/** One 32-bit word of the device's configuration space. */
export function virtioConfig(dev: number, offset: number): number {
  return hcVirtioGetConfig(dev, offset);
}

/**
 * Steps 1 to 6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, read back. `wanted` is what
 * the driver understands; the result is what was negotiated (offer ∩ wanted), or an error.
 */
export function virtioBegin(dev: number, wanted: number): number {
  let r = hcVirtioSetStatus(dev, 0);
  if (r < 0) return r;
  r = hcVirtioSetStatus(dev, VIRTIO_STATUS_ACKNOWLEDGE);
  if (r < 0) return r;
  r = hcVirtioSetStatus(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  if (r < 0) return r;
  const features = hcVirtioGetFeatures(dev) & wanted;
  r = hcVirtioSetFeatures(dev, features);
  if (r < 0) return r;
  hcVirtioSetStatus(dev, STATUS_SETUP);
  const status = virtioStatus(dev);
  if (status < 0 || (status & VIRTIO_STATUS_FEATURES_OK) === 0) {
    hcVirtioSetStatus(dev, (status < 0 ? 0 : status) | VIRTIO_STATUS_FAILED);
    return VIRTIO_ERR_FEATURES;
  }
  return features;
}

/** Step 7: queue `index` of `dev` at machine addresses desc, avail, used. 0 or -errno. */
export function virtioSetQueue(dev: number, index: number, size: number, desc: number, avail: number, used: number): number {
  queueRecord[VIRTQ_CFG_INDEX / 4] = index;
  queueRecord[VIRTQ_CFG_SIZE / 4] = size;
  queueRecord[VIRTQ_CFG_DESC / 4] = desc;
  queueRecord[VIRTQ_CFG_AVAIL / 4] = avail;
  queueRecord[VIRTQ_CFG_USED / 4] = used;
  return hcVirtioSetQueue(dev, addressOf(queueRecord));
}

/** Step 7: the event port of `dev` (used buffers, configuration changes), or -errno. */
export function virtioBindEvent(dev: number): number {
  return hcVirtioBindEvent(dev);
}

/** Step 8: DRIVER_OK; the queues work from here. 0 or -errno. */
export function virtioDriverOk(dev: number): number {
  return hcVirtioSetStatus(dev, STATUS_SETUP | VIRTIO_STATUS_DRIVER_OK);
}

/** Give up on a device (FAILED). */
export function virtioFail(dev: number): void {
  const s = virtioStatus(dev);
  hcVirtioSetStatus(dev, (s < 0 ? 0 : s) | VIRTIO_STATUS_FAILED);
}
