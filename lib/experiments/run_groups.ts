/**
 * Grouping of runs that differ only in their seeds, shared by the figures' row builders.
 *
 * @module
 */
import type { RunRecord } from "./run_job.ts";
import type { Normalization } from "../models/types.ts";

/** Runs that differ only in their seeds. */
export interface RunGroup {
  normalization: Normalization;
  learningRate: number;
  records: RunRecord[];
}

/**
 * Groups runs by (normalization, learning rate, architecture), in the order first met, so
 * the seeds of one configuration end up together.
 *
 * @param records Runs of any jobs.
 * @returns One group per network and learning rate.
 */
export function groupRuns(records: readonly RunRecord[]): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const record of records) {
    const normalization = record.job.network.normalization;
    const learningRate = record.job.sgd.learningRate;
    const key = `${normalization}|${learningRate}|${record.job.network.arch}`;
    const group = groups.get(key) ?? { normalization, learningRate, records: [] };
    group.records.push(record);
    groups.set(key, group);
  }
  return [...groups.values()];
}
