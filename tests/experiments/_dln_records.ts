/**
 * Hand-made run records for the row-builder tests of figures `dln` and `lp-norms`.
 *
 * @module
 */
import type { TrainingJob } from "../../lib/run/job.ts";
import type { RunRecord } from "../../lib/run/run_job.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";

/** A hand-made record: a job plus given losses and measurements. */
export function fakeRecord(
  job: TrainingJob,
  losses: number[],
  measurements: MeasurementLine[],
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    id: "0".repeat(64),
    dir: "/nowhere",
    job,
    status: {
      state: "finished",
      step: losses.length,
      divergedAt: null,
      wallTime: 1,
      backend: "cpu",
      updated: "2025-01-01T00:00:00.000Z",
    },
    metrics: { step: losses.map((_, i) => i), loss: losses, accuracy: losses.map(() => 0) },
    evals: { step: [], accuracy: [] },
    measurements,
    divergedAt: null,
    wallTime: 1,
    computedSteps: 0,
    ...extra,
  };
}
