/**
 * Issue 5 acceptance guest: two domains exchange 1,000 frames over virtio net, in order, with no
 * loss. The same image plays both parts, chosen by the command line:
 *
 * - `send`: sends frames 0..999 (64 bytes each: broadcast destination, our MAC, EtherType 0x88b5,
 *   kind DATA, a little-endian sequence number, and a payload that is a function of it), at most
 *   WINDOW unacknowledged; shuts down with 0 once the last is acknowledged.
 * - `recv`: takes the frames, checks each one's sequence number (the next expected) and payload,
 *   acknowledges every ACK_EVERY frames (kind ACK, with the next expected number), and shuts down
 *   with the number of frames that arrived in order and intact: 1000 when nothing was lost.
 *
 * The window (32) is below the receiver's ring (64 buffers), and the receiver gives buffers back
 * before it acknowledges, so a frame never has to wait in the device's backlog: flow control, not
 * luck, is why nothing is lost.
 */
import { PV_START_INFO_VA, SOD_CMDLINE } from '../../../abi/hypercall-numbers.ts';
import { printKV } from '../../lib/console.ts';
import { upcalls } from '../../kernel/drivers/events.ts';
import { netFlush, netInit, netMacByte, netRecv, netRxFlush, netSend, netWait } from '../../kernel/drivers/net.ts';
import { VQ_FULL, vqKicks, vqKicksSkipped } from '../../kernel/drivers/virtqueue.ts';

const FRAMES = 1000;
const WINDOW = 32;
const ACK_EVERY = 16;
const FRAME = 64;
const RXQ = 0;
const TXQ = 1;

const KIND_DATA = 1;
const KIND_ACK = 2;
/** Offsets in a frame. */
const ETHERTYPE = 12;
const KIND = 14;
const SEQ = 16;
const PAYLOAD = 20;

const out = new Uint8Array(FRAME);
const inb = new Uint8Array(1600);

function payloadByte(seq: number, i: number): number {
  return (Math.imul(seq, 31) + i * 7) & 0xff;
}

function build(kind: number, seq: number): void {
  for (let i = 0; i < 6; i++) out[i] = 0xff;
  for (let i = 0; i < 6; i++) out[6 + i] = netMacByte(i);
  out[ETHERTYPE] = 0x88;
  out[ETHERTYPE + 1] = 0xb5;
  out[KIND] = kind;
  out[KIND + 1] = 0;
  out[SEQ] = seq & 0xff;
  out[SEQ + 1] = (seq >>> 8) & 0xff;
  out[SEQ + 2] = (seq >>> 16) & 0xff;
  out[SEQ + 3] = (seq >>> 24) & 0xff;
  for (let i = PAYLOAD; i < FRAME; i++) out[i] = payloadByte(seq, i);
}

function seqOf(): number {
  return inb[SEQ] | (inb[SEQ + 1] << 8) | (inb[SEQ + 2] << 16) | (inb[SEQ + 3] << 24);
}

function ours(len: number): boolean {
  return len >= PAYLOAD && inb[ETHERTYPE] === 0x88 && inb[ETHERTYPE + 1] === 0xb5;
}

function sender(): number {
  let next = 0;
  let acked = 0;
  while (acked < FRAMES) {
    while (next < FRAMES && next - acked < WINDOW) {
      build(KIND_DATA, next);
      const r = netSend(addressOf(out), FRAME);
      if (r === VQ_FULL) break;
      if (r < 0) return 20;
      next++;
    }
    if (netFlush() < 0) return 21;
    let got = false;
    for (;;) {
      const len = netRecv(addressOf(inb), inb.length);
      if (len === -1) break;
      if (len < 0) return 22;
      got = true;
      if (ours(len) && inb[KIND] === KIND_ACK) {
        const a = seqOf();
        if (a > acked && a <= next) acked = a;
      }
    }
    if (netRxFlush() < 0) return 23;
    if (!got && acked < FRAMES && (next - acked >= WINDOW || next >= FRAMES)) {
      if (netWait() < 0) return 24;
    }
  }
  printKV('net send: frames acknowledged ', acked);
  printKV('net send: tx kicks ', vqKicks(TXQ));
  printKV('net send: tx kicks not needed ', vqKicksSkipped(TXQ));
  printKV('net send: upcalls ', upcalls());
  return 0;
}

function receiver(): number {
  let expected = 0;
  let unacked = 0;
  let broken = false;
  while (expected < FRAMES && !broken) {
    let got = false;
    for (;;) {
      const len = netRecv(addressOf(inb), inb.length);
      if (len === -1) break;
      if (len < 0) return 100000 + expected;
      got = true;
      if (!ours(len) || inb[KIND] !== KIND_DATA) continue;
      let intact = len === FRAME && seqOf() === expected;
      for (let i = PAYLOAD; i < FRAME && intact; i++) if (inb[i] !== payloadByte(expected, i)) intact = false;
      if (!intact) {
        broken = true;
        break;
      }
      expected++;
      unacked++;
    }
    // Buffers back to the device first, then the acknowledgement that lets more frames come.
    if (netRxFlush() < 0) return 200000 + expected;
    if (unacked >= ACK_EVERY || (unacked > 0 && (expected >= FRAMES || broken))) {
      build(KIND_ACK, expected);
      if (netSend(addressOf(out), FRAME) < 0 || netFlush() < 0) return 300000 + expected;
      unacked = 0;
    }
    if (!got && !broken && netWait() < 0) return 400000 + expected;
  }
  printKV('net recv: frames in order ', expected);
  printKV('net recv: rx kicks ', vqKicks(RXQ));
  printKV('net recv: rx kicks not needed ', vqKicksSkipped(RXQ));
  printKV('net recv: upcalls ', upcalls());
  return expected;
}

/** True when the command line contains `word`. */
function cmdline(word: string): boolean {
  const line = PV_START_INFO_VA + SOD_CMDLINE;
  for (let i = 0; load8(line + i) !== 0; i++) {
    let j = 0;
    while (j < word.length && load8(line + i + j) === word.charCodeAt(j)) j++;
    if (j === word.length) return true;
  }
  return false;
}

export function main(): number {
  if (netInit(RXQ, TXQ) < 0) return 10;
  if (cmdline('send')) return sender();
  if (cmdline('recv')) return receiver();
  return 11;
}
