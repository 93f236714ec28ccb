/**
 * A program split across three guest modules: this entry, modules/geometry.ts (shapes over a
 * shared point store) and modules/stats.ts (running statistics), each with its own state.
 */
import * as stats from './stats.ts';
import { addPoint, perimeter2, pointCount, area2 } from './geometry.ts';
import { printKV } from '../../lib/console.ts';

export function main(): number {
  // A 10x6 rectangle and a right triangle, vertices in order.
  addPoint(0, 0);
  addPoint(10, 0);
  addPoint(10, 6);
  addPoint(0, 6);
  printKV('points: ', pointCount());
  printKV('twice the area: ', area2(0, 4));
  printKV('squared perimeter pieces: ', perimeter2(0, 4));
  for (let i = 1; i <= 20; i++) stats.record(i * i);
  printKV('count: ', stats.count());
  printKV('mean: ', stats.mean());
  printKV('max: ', stats.max());
  printKV('spread: ', stats.spread());
  return area2(0, 4) / 2;
}
