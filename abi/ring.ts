/**
 * Virtio split virtqueues as tsvisor's paravirtual guests and the hypervisor share them: the ring
 * layout, feature bits, the device status handshake, device type ids, and the request formats of
 * the console, block and net devices. Numbers (and two one-line offset functions) only, no
 * imports: guest code compiled by our compiler imports this file directly, so the guest front
 * ends and the host backends cannot drift.
 *
 * The source is the OASIS virtio specification, version 1.2 (cited as "§" with the section title,
 * so a reader can find it in any later version too). All multi-byte fields are little-endian, as
 * the machine is. Where we differ from the spec on purpose, the comment says so:
 * - tsvisor is a 32-bit machine: a descriptor's le64 address is two u32 words, lo then hi, and hi
 *   must be 0 (a non-zero hi word names memory outside the domain: the ring is malformed);
 * - the feature word is 32 bits: VIRTIO_F_VERSION_1 (bit 32) is implied, never negotiated, and
 *   no legacy interface exists;
 * - each chain may carry at most VIRTQ_MAX_CHAIN_BYTES (§2.7.4.1 lets a device have "a reasonable
 *   limit"); the spec's own limit is 2^32 bytes (§2.7.5.2).
 *
 * Where ring addresses live: in pv mode, every address in a ring (the three ring parts, each
 * descriptor's buffer, an indirect table) is a MACHINE address of a frame the domain owns. A
 * buffer outside the domain's frames makes the ring malformed.
 */

// ---------------------------------------------------------------------------------------------
// Queue size (§2.7 "Split Virtqueues")

/** Queue Size is a power of two, at most 32768, the largest power of two that fits in 16 bits. */
export const VIRTQ_MAX_QUEUE_SIZE = 32768;
/** The queue size a tsvisor device offers unless told otherwise (the guest may choose less). */
export const VIRTQ_DEFAULT_SIZE = 256;
/** Most bytes (readable plus writable) one chain may describe on a tsvisor device: 4 MiB. */
export const VIRTQ_MAX_CHAIN_BYTES = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Descriptor table (§2.7.5 "The Virtqueue Descriptor Table"): 16·Q bytes, aligned 16.

/** Guest address of the buffer, low word (virtio's le64 addr, bits 0..31). */
export const VRING_DESC_ADDR_LO = 0;
/** High word of addr (bits 32..63): always 0 on tsvisor, anything else is malformed. */
export const VRING_DESC_ADDR_HI = 4;
/** le32 len: length of the buffer in bytes; for an INDIRECT descriptor, of the table (16·n). */
export const VRING_DESC_LEN = 8;
/** le16 flags: VRING_DESC_F_*. */
export const VRING_DESC_FLAGS = 12;
/** le16 next: index of the next descriptor of the chain, meaningful only with F_NEXT. */
export const VRING_DESC_NEXT = 14;
/** One descriptor. The table holds Q of them: 16·Q bytes. */
export const VRING_DESC_BYTES = 16;
/** The table's alignment (§2.7's table of alignments). */
export const VRING_DESC_ALIGN = 16;

/** The chain continues at `next`. */
export const VRING_DESC_F_NEXT = 1;
/** The buffer is device-writable (otherwise device-readable). All writable buffers of a chain
 *  come after all readable ones (§2.7.4.2); the device never writes a readable one (§2.7.5.1). */
export const VRING_DESC_F_WRITE = 2;
/**
 * The buffer is a table of len/16 descriptors (§2.7.5.3 "Indirect Descriptors"), walked from its
 * entry 0 by `next`. Only with VIRTIO_F_INDIRECT_DESC; never inside an indirect table; never
 * together with F_NEXT; len a non-zero multiple of 16 (§2.7.5.3.1). The device ignores F_WRITE
 * on the descriptor that refers to the table (§2.7.5.3.2). Zero or more direct descriptors may
 * precede it in a chain. tsvisor bounds the table at Q descriptors, and the whole chain too:
 * "a driver MUST NOT create a descriptor chain longer than the Queue Size" (§2.7.5.3.1), where
 * the table's descriptors count instead of the one that points to it.
 */
export const VRING_DESC_F_INDIRECT = 4;

// ---------------------------------------------------------------------------------------------
// Available ring (§2.7.6 "The Virtqueue Available Ring"): written by the driver only.
// Size 6 + 2·Q bytes, aligned 2: flags, idx, ring[Q], used_event.

/** le16 flags: VRING_AVAIL_F_NO_INTERRUPT, or 0 (must be 0 with EVENT_IDX, §2.7.7.1). */
export const VRING_AVAIL_FLAGS = 0;
/** le16 idx: where the driver puts the next head, free-running, wraps at 65536. */
export const VRING_AVAIL_IDX = 2;
/** le16 ring[Q]: heads of descriptor chains; entry i is at VRING_AVAIL_RING + 2·(i mod Q). */
export const VRING_AVAIL_RING = 4;
export const VRING_AVAIL_ELEM_BYTES = 2;
/** Bytes before and after ring[]: the part's size is VRING_AVAIL_OVERHEAD + 2·Q = 6 + 2·Q. */
export const VRING_AVAIL_OVERHEAD = 6;
/** The part's alignment (§2.7's table of alignments). */
export const VRING_AVAIL_ALIGN = 2;
/**
 * Offset of le16 used_event (EVENT_IDX only), after ring[Q]: "interrupt me once used idx has
 * passed this value" (§2.7.7; the spec's struct virtq_avail ends with it).
 */
export function vringUsedEventOffset(q: number): number {
  return VRING_AVAIL_RING + VRING_AVAIL_ELEM_BYTES * q;
}
/** The driver does not want used-buffer notifications (§2.7.7, without EVENT_IDX). */
export const VRING_AVAIL_F_NO_INTERRUPT = 1;

// ---------------------------------------------------------------------------------------------
// Used ring (§2.7.8 "The Virtqueue Used Ring"): written by the device only.
// Size 6 + 8·Q bytes, aligned 4: flags, idx, ring[Q] of {id, len}, avail_event.

/** le16 flags: VRING_USED_F_NO_NOTIFY, or 0 (must be 0 with EVENT_IDX, §2.7.10). */
export const VRING_USED_FLAGS = 0;
/** le16 idx: where the device puts the next element, free-running, wraps at 65536. */
export const VRING_USED_IDX = 2;
/** ring[Q] of virtq_used_elem; element i is at VRING_USED_RING + 8·(i mod Q). */
export const VRING_USED_RING = 4;
export const VRING_USED_ELEM_BYTES = 8;
/** le32 id: head of the chain returned (le32 "for padding reasons"). */
export const VRING_USED_ELEM_ID = 0;
/** le32 len: bytes the device wrote into the chain's writable buffers, from the first one;
 *  written before idx is updated (§2.7.8.2). */
export const VRING_USED_ELEM_LEN = 4;
/** Bytes before and after ring[]: the part's size is VRING_USED_OVERHEAD + 8·Q = 6 + 8·Q. */
export const VRING_USED_OVERHEAD = 6;
/** The part's alignment (§2.7's table of alignments). */
export const VRING_USED_ALIGN = 4;
/**
 * Offset of le16 avail_event (EVENT_IDX only), after ring[Q]: "kick me once avail idx has passed
 * this value" (§2.7.10; the spec's struct virtq_used ends with it).
 */
export function vringAvailEventOffset(q: number): number {
  return VRING_USED_RING + VRING_USED_ELEM_BYTES * q;
}
/** The device does not want available-buffer notifications (kicks): it is polling (§2.7.10). */
export const VRING_USED_F_NO_NOTIFY = 1;

// ---------------------------------------------------------------------------------------------
// Feature bits (§6 "Reserved Feature Bits"; §2.2 "Feature Bits"). Bit numbers, and masks.

/** VIRTIO_F_INDIRECT_DESC (28): the driver may use VRING_DESC_F_INDIRECT. */
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_INDIRECT_DESC_MASK = 1 << 28;
/**
 * The spec's VIRTIO_F_EVENT_IDX (29): used_event and avail_event replace the flags. Either side
 * notifies when (u16)(new − event − 1) < (u16)(new − old), where old..new are the indices it
 * moved past since it last decided (Linux's vring_need_event).
 */
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_RING_F_EVENT_IDX_MASK = 1 << 29;
// VIRTIO_F_VERSION_1 (32) is outside our 32-bit feature word: every tsvisor device is a
// version-1 device, and the driver never negotiates it.

// ---------------------------------------------------------------------------------------------
// Device status (§2.1 "Device Status Field"; the sequence is §3.1.1 "Driver Requirements:
// Device Initialization"). The driver only ever adds bits; writing 0 resets the device.

/** The driver has noticed the device. */
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
/** The driver knows how to drive the device. Requires ACKNOWLEDGE. */
export const VIRTIO_STATUS_DRIVER = 2;
/** The driver is set up and ready: queues now work. Requires FEATURES_OK. */
export const VIRTIO_STATUS_DRIVER_OK = 4;
/** The driver has written its features. Requires DRIVER. The device refuses to set it when the
 *  driver asked for bits it did not offer (§2.2.2); the driver must re-read status to check. */
export const VIRTIO_STATUS_FEATURES_OK = 8;
/** Set by the device only: it met an error (a malformed ring) and needs a reset (status 0). */
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
/** The driver gave up on the device. */
export const VIRTIO_STATUS_FAILED = 128;

// ---------------------------------------------------------------------------------------------
// Device types (§5 "Device Types")

export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;

// ---------------------------------------------------------------------------------------------
// Queue set-up: the structure the guest passes to the set-up hypercall, u32 fields.

/** Which of the device's queues (the device type fixes their order, see *_QUEUE_* below). */
export const VIRTQ_CFG_INDEX = 0;
/** Queue Size: a power of two, at most the device's maximum for that queue. */
export const VIRTQ_CFG_SIZE = 4;
/** Address of the descriptor table: 16·size bytes, aligned 16. */
export const VIRTQ_CFG_DESC = 8;
/** Address of the available ring: 6 + 2·size bytes, aligned 2. */
export const VIRTQ_CFG_AVAIL = 12;
/** Address of the used ring: 6 + 8·size bytes, aligned 4; must be writable. */
export const VIRTQ_CFG_USED = 16;
export const VIRTQ_CFG_BYTES = 20;

// ---------------------------------------------------------------------------------------------
// Console (§5.3 "Console Device"): no features; port 0 only.

/** receiveq(port0): the driver offers writable buffers, the device fills them with input. */
export const VIRTIO_CONSOLE_QUEUE_RX = 0;
/** transmitq(port0): the driver offers readable buffers holding output bytes. */
export const VIRTIO_CONSOLE_QUEUE_TX = 1;
/** Longest transmit chain, in bytes; a longer one is dropped (counted), not written. */
export const VIRTIO_CONSOLE_MAX_TX = 65536;

// ---------------------------------------------------------------------------------------------
// Block (§5.2 "Block Device")

/** requestq: the only queue. */
export const VIRTIO_BLK_QUEUE_REQUEST = 0;
/** VIRTIO_BLK_F_FLUSH (9): the FLUSH request is supported (offered by tsvisor). */
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_FLUSH_MASK = 1 << 9;
/** Sectors are 512 bytes whatever the disk: `sector` and capacity count these (§5.2.4). */
export const VIRTIO_BLK_SECTOR_SIZE = 512;
/** Device configuration (§5.2.4 virtio_blk_config): le64 capacity, in sectors, as lo/hi words. */
export const VIRTIO_BLK_CFG_CAPACITY_LO = 0;
export const VIRTIO_BLK_CFG_CAPACITY_HI = 4;
export const VIRTIO_BLK_CFG_BYTES = 8;

/**
 * A request (§5.2.6 "Device Operation", struct virtio_blk_req): a device-readable header, then
 * the data (device-readable for OUT, device-writable for IN and GET_ID; none for FLUSH), then
 * one device-writable status byte, the last writable byte of the chain. The device makes no
 * assumption about how these are split into descriptors (§2.7.4.1).
 */
/** le32 type: VIRTIO_BLK_T_*. */
export const VIRTIO_BLK_REQ_TYPE = 0;
/** le32 reserved: ignored. */
export const VIRTIO_BLK_REQ_RESERVED = 4;
/** le64 sector: first 512-byte sector of IN and OUT, as lo/hi words (ignored by the others). */
export const VIRTIO_BLK_REQ_SECTOR_LO = 8;
export const VIRTIO_BLK_REQ_SECTOR_HI = 12;
export const VIRTIO_BLK_REQ_HEADER_BYTES = 16;

/** Read sectors into the data buffers; the data length is a multiple of 512. */
export const VIRTIO_BLK_T_IN = 0;
/** Write the data buffers to the disk; the data length is a multiple of 512. */
export const VIRTIO_BLK_T_OUT = 1;
/** Make every completed write durable (the host saves its image or file). */
export const VIRTIO_BLK_T_FLUSH = 4;
/** Write the device id string into the data buffer: VIRTIO_BLK_ID_BYTES, NUL-padded. */
export const VIRTIO_BLK_T_GET_ID = 8;
/** Length of the id string of GET_ID: 20 bytes, no terminator when it is that long. */
export const VIRTIO_BLK_ID_BYTES = 20;

/** Status byte values. A bad request (sector out of range, odd length) is IOERR, never a reset. */
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
/** An unknown request type. */
export const VIRTIO_BLK_S_UNSUPP = 2;

// ---------------------------------------------------------------------------------------------
// Network (§5.1 "Network Device")

/** receiveq1: writable buffers, each receives one header plus one whole frame. */
export const VIRTIO_NET_QUEUE_RX = 0;
/** transmitq1: readable buffers, each one header plus one whole frame. */
export const VIRTIO_NET_QUEUE_TX = 1;
/** VIRTIO_NET_F_MAC (5): the device has a MAC address in its configuration (offered by tsvisor). */
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MAC_MASK = 1 << 5;
/** Device configuration (§5.1.4 virtio_net_config): u8 mac[6], then le16 status. */
export const VIRTIO_NET_CFG_MAC = 0;
export const VIRTIO_NET_CFG_STATUS = 6;
export const VIRTIO_NET_CFG_BYTES = 8;
/** status bit: the link is up (always, on tsvisor's bridge). */
export const VIRTIO_NET_S_LINK_UP = 1;

/**
 * The header before every frame, both directions (§5.1.6 "Device Operation", struct
 * virtio_net_hdr as used with VIRTIO_F_VERSION_1: 12 bytes). tsvisor negotiates no offload, so
 * on transmit the device ignores every field, and on receive it writes flags 0, gso_type
 * GSO_NONE, the rest 0, and num_buffers 1 (no VIRTIO_NET_F_MRG_RXBUF, §5.1.6.4.1).
 */
/** u8 flags: NEEDS_CSUM 1, DATA_VALID 2 (offloads; ignored). */
export const VIRTIO_NET_HDR_FLAGS = 0;
/** u8 gso_type: VIRTIO_NET_HDR_GSO_NONE (0) without offloads. */
export const VIRTIO_NET_HDR_GSO_TYPE = 1;
/** le16 hdr_len: length of the frame's headers (offloads; ignored). */
export const VIRTIO_NET_HDR_HDR_LEN = 2;
/** le16 gso_size: segment size (offloads; ignored). */
export const VIRTIO_NET_HDR_GSO_SIZE = 4;
/** le16 csum_start: where checksumming starts (NEEDS_CSUM; ignored). */
export const VIRTIO_NET_HDR_CSUM_START = 6;
/** le16 csum_offset: where the checksum goes after csum_start (NEEDS_CSUM; ignored). */
export const VIRTIO_NET_HDR_CSUM_OFFSET = 8;
/** le16 num_buffers: buffers this frame used on receive: always 1 here. */
export const VIRTIO_NET_HDR_NUM_BUFFERS = 10;
export const VIRTIO_NET_HDR_BYTES = 12;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
/** Longest frame after the header: an Ethernet frame without FCS, VLAN tag allowed (1518), plus
 *  headroom; longer transmitted frames are dropped (counted). */
export const VIRTIO_NET_MAX_FRAME = 1536;
/** Shortest frame the bridge forwards: destination and source MAC and the EtherType (14). */
export const VIRTIO_NET_MIN_FRAME = 14;
