/**
 * Register pressure: more live values than registers, across calls and loops, so that the
 * allocator must spill (and reload, and pass spilled values as arguments) correctly.
 */
import { printKV } from '../lib/console.ts';

function mix(a: number, b: number, c: number, d: number, e: number, f: number): number {
  return (Math.imul(a, 3) ^ (b << 1) ^ (c >> 1) ^ Math.imul(d, 7) ^ e ^ ~f) | 0;
}

function pressure(seed: number): number {
  let v0 = seed;
  let v1 = seed + 1;
  let v2 = seed * 3;
  let v3 = seed ^ 0x55;
  let v4 = seed - 7;
  let v5 = seed << 2;
  let v6 = seed >> 1;
  let v7 = seed | 0x100;
  let v8 = seed & 0xff;
  let v9 = seed + 99;
  let v10 = seed * 5;
  let v11 = seed - 1000;
  let v12 = seed ^ 0x1234;
  let v13 = seed + 13;
  let v14 = seed * 14;
  let v15 = seed + 15;
  let v16 = seed ^ 16;
  let v17 = seed - 17;
  for (let i = 0; i < 20; i++) {
    v0 = (v0 + v17) | 0;
    v1 = mix(v1, v2, v3, v4, v5, v6);
    v2 = (v2 ^ v1) + i;
    v3 = (v3 + v16 - v15) | 0;
    v4 = mix(v7, v8, v9, v10, v11, v12) ^ v4;
    v5 = (v5 + v13 * 3) | 0;
    v6 = v6 ^ v14;
    v7 = (v7 + v0) | 0;
    v8 = (v8 + v1) & 0xffff;
    v9 = (v9 ^ v2) | 0;
    v10 = (v10 + v3) | 0;
    v11 = (v11 - v4) | 0;
    v12 = v12 ^ v5;
    v13 = (v13 + v6) & 0xfff;
    v14 = (v14 + v7) & 0xfff;
    v15 = (v15 ^ v8) | 0;
    v16 = (v16 + v9) | 0;
    v17 = (v17 ^ v10) & 0xfffff;
  }
  return (v0 ^ v1 ^ v2 ^ v3 ^ v4 ^ v5 ^ v6 ^ v7 ^ v8 ^ v9 ^ v10 ^ v11 ^ v12 ^ v13 ^ v14 ^ v15 ^ v16 ^ v17) | 0;
}

export function main(): number {
  let h = 0;
  for (let s = 0; s < 30; s++) h = (Math.imul(h, 31) + pressure(s * 7919)) | 0;
  printKV('pressure hash: ', h);
  printKV('pressure(1): ', pressure(1));
  return h & 0xff;
}
