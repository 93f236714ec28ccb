/** Matrix multiply of 24x24 Int32Array matrices, with a trace and a checksum. */
import { printKV } from '../lib/console.ts';

const N = 24;
const A = new Int32Array(N * N);
const B = new Int32Array(N * N);
const C = new Int32Array(N * N);

function init(): void {
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      A[i * N + j] = ((i * 7 + j * 3) % 11) - 5;
      B[i * N + j] = ((i * 5 + j * 13) % 17) - 8;
    }
  }
}

function multiply(): void {
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < N; k++) s += A[i * N + k] * B[k * N + j];
      C[i * N + j] = s;
    }
  }
}

export function main(): number {
  init();
  multiply();
  let trace = 0;
  let check = 0;
  for (let i = 0; i < N; i++) trace += C[i * N + i];
  for (let i = 0; i < N * N; i++) check = (Math.imul(check, 131) + C[i]) | 0;
  printKV('trace: ', trace);
  printKV('C[5][7]: ', C[5 * N + 7]);
  printKV('checksum: ', check);
  return trace & 0xff;
}
