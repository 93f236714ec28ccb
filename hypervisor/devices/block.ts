/**
 * Block device programmed through ports, after the ATA task file in PIO mode: set the first
 * sector and the count, write a command, then move the data one 32-bit word per IN or OUT on the
 * data port while the status reports DRQ. Completion raises IRQ_BLOCK (a polling kernel keeps it
 * masked). Bad requests (past the end, count 0 or too large, data-port access with no transfer
 * open) set the error bit and are counted; they never touch the disk image.
 *
 * A read-only disk (`--disk-readonly`) takes a WRITE's data and then fails the command: the
 * error bit, one error counted, the disk untouched. Failing at completion rather than at the
 * command keeps a guest that pushes its words without looking at the status from adding one
 * error per word on a data port with no transfer open.
 */
import {
  BLK_CAPACITY,
  BLK_CMD_FLUSH,
  BLK_CMD_READ,
  BLK_CMD_WRITE,
  BLK_COMMAND,
  BLK_COUNT,
  BLK_DATA,
  BLK_MAX_SECTORS,
  BLK_SECTOR,
  BLK_SECTOR_BYTES,
  BLK_STATUS_DRQ,
  BLK_STATUS_ERROR,
  BLK_STATUS_READY,
  IRQ_BLOCK,
} from '../../abi/platform.ts';
import type { IrqSink, PortDevice } from './device.ts';

const WORDS_PER_SECTOR = BLK_SECTOR_BYTES / 4;

export interface BlockDeviceOptions {
  /** Called with each byte range the guest wrote into the disk. */
  onWrite?: (byteOffset: number, length: number) => void;
  /** Fail every WRITE (error bit), leaving the disk as it is. */
  readOnly?: boolean;
}

export class BlockDevice implements PortDevice {
  readonly name = 'block';
  readonly ports = [BLK_DATA, BLK_COUNT, BLK_SECTOR, BLK_CAPACITY, BLK_COMMAND];
  readonly capacity: number;
  private sector = 0;
  private count = 0;
  private status = BLK_STATUS_READY;
  /** The transfer in progress: words of the sector buffer, and how far the guest has got. */
  private readonly buf: Int32Array;
  private transfer: 'none' | 'read' | 'write' = 'none';
  private pos = 0;
  private words = 0;
  /** Set by a write that reached the disk; cleared by a FLUSH that saved it. */
  dirty = false;
  readonly stats = { sectorsRead: 0, sectorsWritten: 0, errors: 0 };

  /**
   * `disk` is used in place (not copied): its length is rounded down to whole sectors. `onFlush`
   * makes it durable on FLUSH (the CLI writes the --disk file); if it throws, the command fails
   * with the error bit and the guest may retry, as a disk that could not flush its cache.
   * `opts.onWrite` hears every byte range a write put into `disk` (the CLI's DiskFile writes back
   * only those); `opts.readOnly` fails every write.
   */
  constructor(
    readonly disk: Uint8Array,
    private readonly irq: IrqSink,
    private readonly onFlush?: (disk: Uint8Array) => void,
    private readonly opts: BlockDeviceOptions = {},
  ) {
    this.capacity = Math.floor(disk.length / BLK_SECTOR_BYTES);
    this.buf = new Int32Array(BLK_MAX_SECTORS * WORDS_PER_SECTOR);
  }

  portIn(port: number): number {
    switch (port) {
      case BLK_DATA:
        if (this.transfer !== 'read') {
          this.error();
          return -1;
        }
        return this.nextWord();
      case BLK_CAPACITY:
        return this.capacity;
      case BLK_COMMAND:
        return this.status;
      default:
        return 0;
    }
  }

  portOut(port: number, value: number): void {
    switch (port) {
      case BLK_SECTOR:
        this.sector = value >>> 0;
        return;
      case BLK_COUNT:
        this.count = value >>> 0;
        return;
      case BLK_COMMAND:
        this.command(value >>> 0);
        return;
      case BLK_DATA:
        if (this.transfer !== 'write') return this.error();
        this.buf[this.pos++] = value;
        if (this.pos === this.words) this.commitWrite();
        return;
    }
  }

  private command(cmd: number): void {
    this.transfer = 'none';
    if (cmd === BLK_CMD_FLUSH) {
      // The image lives in host memory; FLUSH is where the guest asks for it to be durable.
      try {
        // Nothing written since the last flush: the host already has it.
        if (this.dirty) this.onFlush?.(this.disk);
      } catch {
        return this.error();
      }
      this.dirty = false;
      this.complete();
      return;
    }
    if (cmd !== BLK_CMD_READ && cmd !== BLK_CMD_WRITE) return this.error();
    if (this.count < 1 || this.count > BLK_MAX_SECTORS || this.sector + this.count > this.capacity) return this.error();
    this.pos = 0;
    this.words = this.count * WORDS_PER_SECTOR;
    this.status = BLK_STATUS_READY | BLK_STATUS_DRQ;
    if (cmd === BLK_CMD_READ) {
      const start = this.sector * BLK_SECTOR_BYTES;
      const bytes = this.disk.subarray(start, start + this.words * 4);
      new Uint8Array(this.buf.buffer, 0, bytes.length).set(bytes);
      this.stats.sectorsRead += this.count;
      this.transfer = 'read';
      this.irq.raise(IRQ_BLOCK);
    } else {
      this.transfer = 'write';
    }
  }

  private nextWord(): number {
    const v = this.buf[this.pos++]!;
    if (this.pos === this.words) this.complete();
    return v;
  }

  private commitWrite(): void {
    if (this.opts.readOnly) {
      this.error();
      this.irq.raise(IRQ_BLOCK);
      return;
    }
    const at = this.sector * BLK_SECTOR_BYTES;
    this.disk.set(new Uint8Array(this.buf.buffer, 0, this.words * 4), at);
    this.opts.onWrite?.(at, this.words * 4);
    this.stats.sectorsWritten += this.count;
    this.dirty = true;
    this.complete();
    this.irq.raise(IRQ_BLOCK);
  }

  private complete(): void {
    this.transfer = 'none';
    this.status = BLK_STATUS_READY;
  }

  private error(): void {
    this.transfer = 'none';
    this.status = BLK_STATUS_READY | BLK_STATUS_ERROR;
    this.stats.errors++;
  }
}
