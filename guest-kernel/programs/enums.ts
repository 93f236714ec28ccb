/** Enums and constants shared with the host: abi/ numbers, const enums and plain enums. */
import { Cr, Vector } from '../../abi/isa.ts';
import { UART_DATA, POWER_SHUTDOWN, IRQ_TIMER } from '../../abi/platform.ts';
import { HC_CONSOLE_IO, HC_SCHED_OP } from '../../abi/hypercall-numbers.ts';
import { printKV } from '../lib/console.ts';

const enum Color {
  Red,
  Green = 5,
  Blue,
}

enum Direction {
  North = 1,
  East = North << 1,
  South = East << 1,
  West = South << 1,
}

const ALL_DIRECTIONS = Direction.North | Direction.East | Direction.South | Direction.West;

function turn(d: Direction): Direction {
  switch (d) {
    case Direction.North:
      return Direction.East;
    case Direction.East:
      return Direction.South;
    case Direction.South:
      return Direction.West;
    default:
      return Direction.North;
  }
}

function colorValue(c: Color): number {
  return c * 10;
}

export function main(): number {
  printKV('UART_DATA = ', UART_DATA);
  printKV('POWER_SHUTDOWN = ', POWER_SHUTDOWN);
  printKV('Cr.Ptbr = ', Cr.Ptbr);
  printKV('Vector.PageFault = ', Vector.PageFault);
  printKV('timer vector = ', Vector.IrqBase + IRQ_TIMER);
  printKV('HC_CONSOLE_IO = ', HC_CONSOLE_IO);
  printKV('HC_SCHED_OP = ', HC_SCHED_OP);
  printKV('Blue = ', Color.Blue);
  printKV('colorValue(Green) = ', colorValue(Color.Green));
  printKV('all directions = ', ALL_DIRECTIONS);
  let d = Direction.North;
  let path = 0;
  for (let i = 0; i < 6; i++) {
    path = path * 16 + d;
    d = turn(d);
  }
  printKV('path = ', path);
  return Color.Blue;
}
