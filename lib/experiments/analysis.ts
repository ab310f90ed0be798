/**
 * The analysis helpers every experiment's row builder shares: grouping runs that differ only in
 * their seeds, reducing them to mean and spread per x value (so figures show the spread instead
 * of one lucky run), medians and means that skip or propagate non-finite values, and the labels
 * of learning rates and diverged seeds.
 *
 * @module
 */
import type { Normalization } from "../models/types.ts";
import type { RunRecord } from "../run/run_job.ts";

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

/** One run's series: x values (e.g. steps) and the quantity at each. */
export interface Series {
  x: readonly number[];
  y: readonly number[];
}

/** Mean and spread over seeds at one x. */
export interface AggregateRow {
  x: number;
  /** Mean over the runs that have a finite value at x (null when none has). */
  mean: number | null;
  /** Smallest and largest value over those runs (null when none). */
  min: number | null;
  max: number | null;
  /** Runs with a finite value at x. */
  n: number;
  /** Runs that reached x with a non-finite value (diverged there). */
  nonFinite: number;
}

/**
 * Mean, min and max over runs at each x that any run has, in increasing x. Non-finite values
 * (a diverged run) are counted in `nonFinite`, never averaged, so a figure can mark them.
 *
 * @param runs One series per seed.
 * @returns One row per distinct x.
 * @example
 * ```ts
 * import { aggregateSeeds } from "./analysis.ts";
 * import assert from "node:assert/strict";
 *
 * const rows = aggregateSeeds([{ x: [0, 1], y: [1, 3] }, { x: [0, 1], y: [3, NaN] }]);
 * assert.deepEqual(rows[0], { x: 0, mean: 2, min: 1, max: 3, n: 2, nonFinite: 0 });
 * assert.deepEqual(rows[1], { x: 1, mean: 3, min: 3, max: 3, n: 1, nonFinite: 1 });
 * ```
 */
export function aggregateSeeds(runs: readonly Series[]): AggregateRow[] {
  const byX = new Map<number, { values: number[]; nonFinite: number }>();
  for (const [r, run] of runs.entries()) {
    if (run.x.length !== run.y.length) {
      throw new RangeError(
        `Cannot aggregate seeds: run ${r} has ${run.x.length} x values and ${run.y.length} y values`,
      );
    }
    run.x.forEach((x, i) => {
      const entry = byX.get(x) ?? { values: [], nonFinite: 0 };
      const y = run.y[i]!;
      if (Number.isFinite(y)) entry.values.push(y);
      else entry.nonFinite++;
      byX.set(x, entry);
    });
  }
  return [...byX.entries()].sort((a, b) => a[0] - b[0]).map(([x, { values, nonFinite }]) => {
    const n = values.length;
    return {
      x,
      mean: n === 0 ? null : values.reduce((s, v) => s + v, 0) / n,
      min: n === 0 ? null : Math.min(...values),
      max: n === 0 ? null : Math.max(...values),
      n,
      nonFinite,
    };
  });
}

/**
 * Moving average over a window of `window` consecutive points (ending at each point), for
 * per-step curves that are noisy step to step (the first points average what exists).
 *
 * @param values The series.
 * @param window Points per average (>= 1).
 * @returns The smoothed series (non-finite inputs propagate).
 */
export function movingAverage(values: readonly number[], window: number): number[] {
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`Cannot smooth: window must be a positive integer, got ${window}`);
  }
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

/**
 * The median of the finite values, or null when there are none.
 *
 * @param values Any numbers (null and non-finite ones are skipped).
 * @returns The median.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finiteMedian } from "./analysis.ts";
 *
 * assert.equal(finiteMedian([3, NaN, 1, null, 2, 10]), 2.5);
 * assert.equal(finiteMedian([null]), null);
 * ```
 */
export function finiteMedian(values: readonly (number | null)[]): number | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v))
    .sort((a, b) => a - b);
  const n = finite.length;
  if (n === 0) return null;
  return n % 2 === 1 ? finite[(n - 1) / 2]! : (finite[n / 2 - 1]! + finite[n / 2]!) / 2;
}

/**
 * The mean of the finite values, or null when there are none.
 *
 * @param values Any numbers (null and non-finite ones are skipped).
 * @returns The mean.
 */
export function finiteMean(values: readonly (number | null)[]): number | null {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return finite.length === 0 ? null : finite.reduce((s, v) => s + v, 0) / finite.length;
}

/**
 * The plain mean: NaN for no values, and a non-finite value propagates (a diverged run must
 * show as NaN, not vanish from the average).
 *
 * @param values Numbers.
 * @returns Their mean.
 */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/** A stored number: JSON turned NaN and infinities into null; they come back as NaN. */
export function storedNumber(value: unknown): number {
  return typeof value === "number" ? value : NaN;
}

/**
 * The learning rate as a label.
 *
 * @param learningRate eta.
 * @returns E.g. "lr 0.1".
 */
export function learningRateLabel(learningRate: number): string {
  return `lr ${learningRate}`;
}

/**
 * The learning rate as a short exponent, for the tiny rates of the DLN.
 *
 * @param learningRate eta.
 * @returns E.g. "1e-6".
 */
export function learningRateExponent(learningRate: number): string {
  return learningRate.toExponential().replace(/\.?0*e/, "e").replace("e+", "e");
}

/**
 * Which runs of a group diverged, as a count, or null when none did: e.g. "2 of 3 seeds
 * diverged (at steps 37, 52)".
 *
 * @param records The runs of one configuration (one per seed).
 * @returns The label or null.
 */
export function divergedLabel(records: readonly RunRecord[]): string | null {
  const at = records.map((r) => r.divergedAt).filter((s): s is number => s !== null);
  if (at.length === 0) return null;
  const steps = at.sort((a, b) => a - b).join(", ");
  return `${at.length} of ${records.length} seeds diverged (at step${
    at.length === 1 ? "" : "s"
  } ${steps})`;
}

/**
 * "diverged at step k (seed s)" for each diverged run of a group, or null when none diverged.
 *
 * @param records Runs of one group.
 * @returns The note, or null.
 */
export function divergedSeedsNote(records: readonly RunRecord[]): string | null {
  const notes = records.filter((r) => r.divergedAt !== null).map((r) =>
    `diverged at step ${r.divergedAt} (seed ${r.job.seeds.init})`
  );
  return notes.length === 0 ? null : notes.join("; ");
}

/**
 * Which runs diverged, one line each, or "no run diverged".
 *
 * @param records The runs.
 * @returns One line.
 */
export function divergedRunsLine(records: readonly RunRecord[]): string {
  const diverged = records.filter((r) => r.divergedAt !== null);
  return diverged.length === 0
    ? "no run diverged"
    : diverged.map((r) =>
      `${r.job.network.normalization} seed ${r.job.seeds.init} diverged at step ${r.divergedAt}`
    ).join("\n");
}
