/**
 * Stage 4, optimisation of the IR, before register allocation: the order the passes run in. Each
 * pass is a module of its own:
 * - simplifyCfg (simplify-cfg.ts): drop unreachable blocks, thread jumps through empty blocks,
 *   merge straight lines, fold branches whose outcome is known;
 * - coalesceTemps (coalesce.ts): compute a value straight into the local it is assigned to (no `mov`);
 * - valueNumbering (value-numbering.ts, folding with fold.ts): per basic block, constant folding
 *   and propagation, algebraic simplification, immediate-form selection (`addi`, `shli`, ...),
 *   common subexpressions, and no redundant loads or stores of the same slot (store-to-load
 *   forwarding, dead-store removal) within the block;
 * - eliminateDeadCode (dead-code.ts): drop pure instructions whose results are never used;
 * - hoistLoopConstants, hoistLoopInvariants (loop-invariants.ts): move `li`/`la`, and arithmetic
 *   on values the loop does not change, out of loops into a preheader (preheader.ts);
 * - eliminateChecks (range.ts): remove the run-time checks the range analysis proves;
 * - then induction variables (induction.ts): array indexing strength-reduced to pointers; and
 *   small one-block pointer loops unrolled (unroll.ts);
 * - splitAtEntryBranch, layoutBlocks (layout.ts): live ranges split at the entry branch, and
 *   blocks ordered to fall through.
 */
import type { IrFunction } from './ir.ts';
import { reduceAffineAddresses } from './affine-sr.ts';
import { coalesceTemps } from './coalesce.ts';
import { eliminateDeadCode } from './dead-code.ts';
import { reduceInductionVariables } from './induction.ts';
import { layoutBlocks, splitAtEntryBranch } from './layout.ts';
import { hoistLoopConstants, hoistLoopInvariants } from './loop-invariants.ts';
import { eliminateChecks } from './range.ts';
import { removeUnreachable, simplifyCfg } from './simplify-cfg.ts';
import { unrollLoops } from './unroll.ts';
import { valueNumbering } from './value-numbering.ts';

export function optimizeFunction(fn: IrFunction): void {
  simplifyCfg(fn);
  coalesceTemps(fn);
  valueNumbering(fn);
  simplifyCfg(fn);
  eliminateDeadCode(fn);
  hoistLoopConstants(fn);
  eliminateDeadCode(fn);
  // Checks the ranges of values prove unnecessary go (and bounds checks leave loops whose bounds
  // prove them, for one check before the loop), before the loop passes look for plain shapes.
  if (eliminateChecks(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  if (reduceInductionVariables(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  if (hoistLoopInvariants(fn)) valueNumbering(fn);
  // After hoisting, so that the invariant parts of an index (`i * N` in the k loop) are outside.
  if (reduceAffineAddresses(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  if (unrollLoops(fn)) {
    valueNumbering(fn);
    eliminateDeadCode(fn);
  }
  simplifyCfg(fn);
  splitAtEntryBranch(fn);
  layoutBlocks(fn);
}

/** The passes a non-optimising build still needs: unreachable code must go before allocation. */
export function minimalCleanup(fn: IrFunction): void {
  removeUnreachable(fn);
}
