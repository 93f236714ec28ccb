/**
 * Whether this host boots an image built for ABI major.minor: one rule and one message for every
 * mode (run.ts checks before any platform is built; the pv domain builder checks again, since a
 * host can be driven without run.ts). Xen's rule: a guest built for a newer interface than the
 * host knows is refused; an older minor of the same major is served; another major is a
 * different ABI altogether.
 */
import { ABI_MAJOR, ABI_MINOR } from '../../abi/version.ts';

/** Why this host will not boot an image built for ABI major.minor, or null. */
export function abiRefusal(major: number, minor: number): string | null {
  if (major === ABI_MAJOR && minor <= ABI_MINOR) return null;
  return `image is built for ABI ${major}.${minor}; this host serves ABI ${ABI_MAJOR}.0 to ${ABI_MAJOR}.${ABI_MINOR}`;
}
