/**
 * Versioned files for the crash-consistency workload (crashwork, crashcheck): file i (`cw0` ..
 * `cw3`) at version v has a length and bytes that are a function of (i, v) alone, with v in its
 * first word, so a checker can tell which version a file holds and whether it is whole.
 */
export const FILES = 4;
export const name = new Uint8Array(3);

/** The file's name into `name` (3 bytes: c, w, digit). */
export function setName(i: number): void {
  name[0] = 99;
  name[1] = 119;
  name[2] = 48 + i;
}

/** Bytes of file i at version v: 104 to 30,104, at most one store transaction (32 KiB). */
export function versionLength(i: number, v: number): number {
  return 104 + ((Math.imul(i, 7) + Math.imul(v, 13)) % 61) * 492;
}

/** Fill `buf` with file i at version v; its length. */
export function fillVersion(buf: Uint8Array, i: number, v: number): number {
  const n = versionLength(i, v);
  buf[0] = v & 255;
  buf[1] = (v >> 8) & 255;
  buf[2] = i;
  buf[3] = 0x5a;
  for (let k = 4; k < n; k++) buf[k] = (Math.imul(i, 31) + Math.imul(v, 17) + k + (k >> 8)) & 255;
  return n;
}
