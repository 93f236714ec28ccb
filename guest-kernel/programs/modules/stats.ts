/** Running statistics (module 3 of the three-module program). */
let n = 0;
let sum = 0;
let largest = -2147483648;
let smallest = 2147483647;

export function square(x: number): number {
  return x * x;
}

export function record(v: number): void {
  n++;
  sum += v;
  if (v > largest) largest = v;
  if (v < smallest) smallest = v;
}

export function count(): number {
  return n;
}

export function mean(): number {
  return n === 0 ? 0 : (sum / n) | 0;
}

export function max(): number {
  return largest;
}

export function spread(): number {
  return largest - smallest;
}
