/** Conway's Game of Life on a 32x32 torus: a glider and an R-pentomino, 60 generations. */
import { print, printKV, putc } from '../lib/console.ts';

const W = 32;
const H = 32;
const grid = new Uint8Array(W * H);
const next = new Uint8Array(W * H);

function set(x: number, y: number): void {
  grid[((y + H) % H) * W + ((x + W) % W)] = 1;
}

function neighbours(x: number, y: number): number {
  let n = 0;
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      if (dx === 0 && dy === 0) continue;
      n += grid[((y + dy + H) % H) * W + ((x + dx + W) % W)];
    }
  }
  return n;
}

function step(): number {
  let alive = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const n = neighbours(x, y);
      const live = grid[y * W + x] !== 0;
      const v = live ? (n === 2 || n === 3 ? 1 : 0) : n === 3 ? 1 : 0;
      next[y * W + x] = v;
      alive += v;
    }
  }
  for (let i = 0; i < W * H; i++) grid[i] = next[i];
  return alive;
}

function draw(rows: number): void {
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < W; x++) putc(grid[y * W + x] ? 35 : 46);
    putc(10);
  }
}

export function main(): number {
  set(1, 0);
  set(2, 1);
  set(0, 2);
  set(1, 2);
  set(2, 2);
  set(16, 15);
  set(17, 15);
  set(15, 16);
  set(16, 16);
  set(16, 17);
  let alive = 0;
  for (let g = 0; g < 60; g++) alive = step();
  printKV('alive after 60 generations: ', alive);
  print('top rows:\n');
  draw(6);
  return alive;
}
