/** Sorting an Int32Array: insertion sort and quicksort of pseudo-random numbers (an LCG). */
import { printKV, printNumber, putc, print } from '../lib/console.ts';

const SIZE = 2000;
const data = new Int32Array(SIZE);
const copy = new Int32Array(SIZE);
let seed = 12345;

function random(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) | 0;
  return (seed >>> 8) % 100000;
}

function insertionSort(a: Int32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > x) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
}

function quicksort(a: Int32Array, lo: number, hi: number): void {
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // Recurse into the smaller part, loop on the larger.
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

function isSorted(a: Int32Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (a[i - 1] > a[i]) return false;
  return true;
}

function checksum(a: Int32Array, n: number): number {
  let h = 0;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + a[i]) | 0;
  return h;
}

export function main(): number {
  for (let i = 0; i < SIZE; i++) {
    data[i] = random() - 50000;
    copy[i] = data[i];
  }
  insertionSort(data, SIZE);
  quicksort(copy, 0, SIZE - 1);
  printKV('insertion sorted: ', isSorted(data, SIZE) ? 1 : 0);
  printKV('quicksorted: ', isSorted(copy, SIZE) ? 1 : 0);
  printKV('checksum: ', checksum(data, SIZE));
  printKV('same: ', checksum(data, SIZE) === checksum(copy, SIZE) ? 1 : 0);
  print('first five:');
  for (let i = 0; i < 5; i++) {
    putc(32);
    printNumber(data[i]);
  }
  putc(10);
  printKV('median: ', data[SIZE >> 1]);
  return 0;
}
