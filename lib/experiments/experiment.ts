/**
 * The shape every experiment has: its configuration per scale, the training jobs it needs, how
 * their runs become rows and key numbers, and the words its figure's provenance states. The
 * registry (`lib/registry.ts`) pairs each experiment with the figures drawn from it; the
 * driver (`lib/run_figure.ts`), `deno task jobs`, `deno task figures`, `deno task paper` and
 * the committed-results test read experiments only through this interface.
 *
 * @module
 */
import type { Scale } from "../scale.ts";
import type { TrainingJob } from "../run/job.ts";
import type { RunRecord } from "../run/run_job.ts";

/**
 * One experiment. `C` is its configuration, `S` what its runs summarise to (rows and key
 * numbers).
 */
export interface Experiment<C extends object = object, S = unknown> {
  /** Name of its results file, `figures/<name>.results.json`, shared by all its figures. */
  readonly name: string;
  /** Every hyperparameter at a scale (recorded in provenance and the results file). */
  config(scale: Scale): C;
  /** The training jobs at a scale, in the order `summarize` receives their runs ([] if none). */
  jobs(scale: Scale): TrainingJob[];
  /**
   * The scale whose settings a figure at `scale` uses and whose name it is filed under, where
   * the experiment has no settings of its own there (e.g. the DLN at `schedule` is its `paper`
   * protocol). Absent: every scale is its own.
   */
  settingsScale?(scale: Scale): Scale;
  /** What the scale shrinks relative to PROTOCOL.md, in words. */
  scaleNote(scale: Scale): string;
  /** Which data the runs saw, in words. */
  dataSubset(scale: Scale): string;
  /** Every seed by role. */
  seeds(scale: Scale): Record<string, number>;
  /**
   * Rows and key numbers from the runs of {@link jobs} (same order). Experiments without
   * stored runs compute here.
   */
  summarize(records: readonly RunRecord[], scale: Scale): S | Promise<S>;
  /** What the results file holds besides `config` and `provenance`. */
  results(summary: S, records: readonly RunRecord[]): Record<string, unknown>;
  /** The key numbers as lines of text, for the figure `stem` (one of those drawn from it). */
  keyLines(summary: S, records: readonly RunRecord[], stem: string): string[];
}

/**
 * What an experiment's results file holds, typed from its `results` function (declare the
 * experiment with `satisfies Experiment<C, S>` so that the precise return type is kept).
 */
// deno-lint-ignore no-explicit-any
export type ResultsOf<E extends Experiment<any, any>> = Awaited<ReturnType<E["results"]>> & {
  config: ReturnType<E["config"]>;
};

/** Fields of a run's entry in a results file beyond id, normalization, seed and outcome. */
export type RunEntryField = "arch" | "learningRate" | "finalTestAccuracy";

/**
 * The runs behind a figure, one compact entry each, for its results file.
 *
 * @param records The runs.
 * @param fields Extra fields, in the order they appear after the id.
 * @returns One plain object per run.
 */
export function runEntries(
  records: readonly RunRecord[],
  fields: readonly RunEntryField[],
): Record<string, unknown>[] {
  return records.map((r) => {
    const entry: Record<string, unknown> = { id: r.id.slice(0, 16) };
    if (fields.includes("arch")) entry.arch = r.job.network.arch;
    entry.normalization = r.job.network.normalization;
    if (fields.includes("learningRate")) entry.learningRate = r.job.sgd.learningRate;
    entry.seed = r.job.seeds.init;
    entry.divergedAt = r.divergedAt;
    entry.wallTime = r.wallTime;
    if (fields.includes("finalTestAccuracy")) {
      entry.finalTestAccuracy = r.evals.accuracy.at(-1) ?? null;
    }
    return entry;
  });
}

/**
 * A key number for a line of text: `digits` significant digits, "n/a" when missing.
 *
 * @param value The number, or null.
 * @param digits Significant digits.
 * @returns The text.
 * @example
 * ```ts
 * import { formatKey } from "./experiment.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatKey(0.123456), "0.123");
 * assert.equal(formatKey(null), "n/a");
 * ```
 */
export function formatKey(value: number | null, digits = 3): string {
  return value === null ? "n/a" : value.toPrecision(digits);
}

/**
 * Seeds by role: `role(k)` names the k-th seed.
 *
 * @param seeds The seeds.
 * @param role Name of the k-th role.
 * @returns E.g. `{ run0: 0, run1: 1 }`.
 */
export function seedRoles(
  seeds: readonly number[],
  role: (k: number) => string,
): Record<string, number> {
  return Object.fromEntries(seeds.map((seed, k) => [role(k), seed]));
}
