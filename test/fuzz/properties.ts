/**
 * The fuzz targets, one table for both runs: the short, seeded run inside `npm test` (the
 * *.test.ts files of this folder call `shortRun`) and the long one of `npm run soak` (soak.ts
 * loops over TARGETS with fc.check and random seeds). A property takes an optional Tally, into
 * which it records outcomes for the soak's report.
 */
import type fc from 'fast-check';
import { cliProperty } from './cli-props.ts';
import { runParams, type RunParams, type Tally } from './common.ts';
import { imageProperty } from './image-props.ts';
import { instructionProperty } from './isa-props.ts';
import { directProperty, guestProperty } from './pv-props.ts';
import { ringProperty } from './virtio-props.ts';

export interface Target {
  /** Its name: the seed's salt, the soak's report line, the key of FUZZ_ONLY. */
  name: string;
  /** The test file that runs it in `npm test`, and words of its test's name (to replay a soak failure with -t). */
  file: string;
  title: string;
  /** Cases in the short run (sized so the whole folder adds about 30 s on a 2-core machine). */
  shortRuns: number;
  async: boolean;
  property: (t?: Tally) => fc.IRawProperty<unknown, boolean>;
}

export const TARGETS: readonly Target[] = [
  { name: 'pv-direct', file: 'hypercalls.test.ts', title: 'random hypercalls', shortRuns: 60, async: false, property: directProperty },
  { name: 'pv-guest', file: 'hypercalls.test.ts', title: 'made by guest code', shortRuns: 25, async: false, property: guestProperty },
  { name: 'instructions', file: 'instructions.test.ts', title: 'native, trap and hw agree', shortRuns: 90, async: false, property: instructionProperty },
  { name: 'virtqueues', file: 'virtqueues.test.ts', title: 'random rings and calls', shortRuns: 200, async: false, property: ringProperty },
  { name: 'images', file: 'images.test.ts', title: 'bit flips', shortRuns: 150, async: true, property: imageProperty },
  { name: 'cli', file: 'cli.test.ts', title: 'main never throws', shortRuns: 120, async: true, property: cliProperty },
];

export function target(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}'`);
  return t;
}

/** The property and fast-check parameters of a target's short run (seed fixed unless FUZZ_SEED). */
export function shortRun(name: string): [fc.IRawProperty<unknown, boolean>, RunParams] {
  const t = target(name);
  return [t.property(), runParams(t.name, t.shortRuns)];
}
