/**
 * The order in which `deno task jobs` computes the runs of a selection.
 *
 * @module
 */
import { hasNoise } from "../models/norm.ts";
import type { TrainingJob } from "./job.ts";

/**
 * Relative cost of a run's steps, as measured on the 2-core CPU at the schedule scale: the DLN is
 * cheap; among VGG runs, those with Algorithm 1's noise take 3-4x the time of a standard or
 * BatchNorm run (a random field per normalised activation and step).
 */
function stepCost(job: TrainingJob): number {
  if (job.network.arch !== "vgg") return 0;
  return hasNoise(job.network.normalization) ? 2 : 1;
}

/**
 * Runs to compute first: the quick non-VGG runs, then seed by seed (so that a session stopped
 * early leaves every figure with its first seed rather than some figures with none), and within a
 * seed the cheaper networks first (so that a stopped session has finished as many runs as it
 * could; the slow ones resume from their checkpoints). Stable: equal runs keep their order.
 *
 * @param jobs The selection, each with its job.
 * @returns A new array in work order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lpNormsJobs } from "../experiments/lp_norms.ts";
 * import { workOrder } from "./work_order.ts";
 *
 * const { vgg, dln } = lpNormsJobs("smoke");
 * const ordered = workOrder([...vgg, ...dln].map((job) => ({ job })));
 * assert.equal(ordered[0]!.job.network.arch, "dln");
 * ```
 */
export function workOrder<T extends { job: TrainingJob }>(jobs: readonly T[]): T[] {
  const arch = (job: TrainingJob) => job.network.arch === "vgg" ? 1 : 0;
  return [...jobs].sort((a, b) =>
    arch(a.job) - arch(b.job) || a.job.seeds.init - b.job.seeds.init ||
    stepCost(a.job) - stepCost(b.job)
  );
}
