/**
 * The user programs embedded in the kernel image (xv6 puts them on the disk with mkfs; we link
 * them into the kernel, as the issue asks, so a blank disk boots to a shell).
 *
 * This committed file is the empty default that type-checks; the kernel build
 * (hypervisor/kernel-build.ts) compiles every program of ../user/ for the `user` target and
 * compiles the kernel with a generated version of this file in its place (same exports):
 * - PROGRAM_NAMES: the names, each followed by one space ('hello sh ls ');
 * - programOffsets: n + 1 offsets into programImages, program i at [offsets[i], offsets[i+1]);
 * - programImages: the encoded images (abi/image.ts format, target `user`), back to back.
 */
export const PROGRAM_NAMES = '';
export const programOffsets = new Int32Array([0]);
export const programImages = new Uint8Array(4);
