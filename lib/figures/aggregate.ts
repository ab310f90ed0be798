/**
 * Seed aggregation for figures: the same quantity from runs that differ only in their seeds,
 * reduced to mean and spread per x value, so figures show the spread instead of one lucky run.
 *
 * @module
 */

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
 * import { aggregateSeeds } from "./aggregate.ts";
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
