/**
 * Hand-made run records for the row-builder tests of the VGG measurement figures (`ics` and the
 * landscape figures).
 *
 * @module
 */
import type { TrainingJob } from "../../lib/run/job.ts";
import type { RunRecord } from "../../lib/run/run_job.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";

/** A finished (or diverged) run with the given measurements, as runJob would read it back. */
export function fakeRecord(
  job: TrainingJob,
  measurements: MeasurementLine[],
  divergedAt: number | null = null,
): RunRecord {
  return {
    id: "0".repeat(64),
    dir: "/nowhere",
    job,
    status: {
      state: divergedAt === null ? "finished" : "diverged",
      step: divergedAt ?? job.sgd.steps,
      divergedAt,
      wallTime: 1,
      backend: "cpu",
      updated: "2026-01-01T00:00:00.000Z",
    },
    metrics: { step: [], loss: [], accuracy: [] },
    evals: { step: [], accuracy: [] },
    measurements,
    divergedAt,
    wallTime: 1,
    computedSteps: 0,
  };
}
