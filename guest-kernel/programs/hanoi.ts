/** Towers of Hanoi: count moves recursively and replay the first few on three stacks. */
import { print, printNumber, printKV, putc } from '../lib/console.ts';

const pegs = new Int32Array(3 * 16);
const heights = new Int32Array(3);
let moves = 0;
let shown = 0;

function move(from: number, to: number): void {
  const disk = pegs[from * 16 + heights[from] - 1];
  heights[from]--;
  pegs[to * 16 + heights[to]] = disk;
  heights[to]++;
  moves++;
  if (shown < 7) {
    shown++;
    print('disk ');
    printNumber(disk);
    print(': ');
    putc(65 + from);
    print(' -> ');
    putc(65 + to);
    putc(10);
  }
}

function hanoi(n: number, from: number, to: number, via: number): void {
  if (n === 0) return;
  hanoi(n - 1, from, via, to);
  move(from, to);
  hanoi(n - 1, via, to, from);
}

export function main(): number {
  const n = 12;
  for (let i = 0; i < n; i++) pegs[i] = n - i;
  heights[0] = n;
  hanoi(n, 0, 2, 1);
  printKV('moves: ', moves);
  printKV('top of C: ', pegs[2 * 16 + heights[2] - 1]);
  printKV('height of C: ', heights[2]);
  return moves === 4095 ? 0 : 1;
}
