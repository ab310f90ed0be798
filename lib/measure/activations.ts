/**
 * The distribution view of internal covariate shift: how the distribution of a layer's
 * activations moves during training (Santurkar et al. 2018, Figures 2, 7 and 8; Ioffe and
 * Szegedy 2015, Figure 1).
 *
 * Statistics are per unit (a dense unit, or a conv channel) over the batch and, for conv layers,
 * every spatial position, as BatchNorm computes them. Units are 0-based channel indices.
 * Variances are population variances (divide by the count, like BatchNorm's batch variance).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Random, STREAMS } from "../rng.ts";

/**
 * Default quantiles: the normal-sigma percentiles 0, +-1, +-2, +-3 sigma and the ends (the bands
 * of TensorBoard's distribution plots, the style of the paper's activation figures); they include
 * Ioffe and Szegedy's 15th, 50th and 85th percentiles (~ +-1 sigma).
 */
export const DEFAULT_QUANTILES: readonly number[] = [
  0,
  0.0668,
  0.1587,
  0.3085,
  0.5,
  0.6915,
  0.8413,
  0.9332,
  1,
];

/** Options of `activationStats`. */
export interface ActivationStatsOptions {
  /** 0-based unit (channel) indices to describe. */
  units: readonly number[];
  /** Probabilities in [0, 1] (default `DEFAULT_QUANTILES`). */
  quantiles?: readonly number[];
}

/** The distribution of one unit's activations over the batch (and spatial positions). */
export interface UnitStats {
  /** 0-based unit (channel) index. */
  unit: number;
  /** Mean. */
  mean: number;
  /** Population variance (divide by the count). */
  variance: number;
  /** Quantiles (linear interpolation, type 7), one per requested probability, same order. */
  quantiles: number[];
}

/** Per-unit mean and population variance of every unit of one layer, at one step. */
export interface LayerMoments {
  /** [units] */
  mean: number[];
  /** [units] */
  variance: number[];
}

/** Step-to-step change of the per-unit moments over a series of steps. */
export interface MomentDrift {
  /** [steps - 1][units]: |mu_{t+1} - mu_t| per unit. */
  meanChange: number[][];
  /** [steps - 1][units]: |var_{t+1} - var_t| per unit. */
  varianceChange: number[][];
  /** [steps - 1]: `meanChange` averaged over units. */
  meanChangeAverage: number[];
  /** [steps - 1]: `varianceChange` averaged over units. */
  varianceChangeAverage: number[];
  /**
   * [steps - 1]: |mu_{t+1} - mu_t| / sqrt(var_t) averaged over units: the mean shift in units
   * of the unit's spread, comparable between normalised and unnormalised layers. Units with
   * var_t = 0 are left out (NaN when all are).
   */
  meanChangeScaledAverage: number[];
  /** [steps - 1]: |var_{t+1} - var_t| / var_t averaged over units (same exclusion). */
  varianceChangeRelativeAverage: number[];
}

/** Options of `pickUnits`. */
export interface PickUnitsOptions {
  /** How many units to pick (1..unitCount). */
  count: number;
  /**
   * Pick at random from `Random(seed, STREAMS.measure)`; omitted: evenly spaced units
   * floor((k + 1/2) * unitCount / count), k = 0..count-1.
   */
  seed?: number;
}

/** Options of `activationSummary`. */
export interface ActivationSummaryOptions {
  /** How many units to describe in full (default 4, at most the layer's units). */
  count?: number;
  /** Seed for a random choice of units (see `pickUnits`); omitted: evenly spaced. */
  seed?: number;
  /** Quantile probabilities (default `DEFAULT_QUANTILES`). */
  quantiles?: readonly number[];
}

/** One step's summary of a layer: a few units in full, moments of all units. */
export interface ActivationSummary {
  /** Distributions of the picked units. */
  units: UnitStats[];
  /** Moments of every unit (for `momentDrift`). */
  moments: LayerMoments;
}

/**
 * Mean, variance and quantiles of chosen units of a layer's activations. Only the chosen
 * units' values are read back to the host, where the statistics are computed in float64.
 *
 * Quantile definition (Hyndman-Fan type 7, the default of R and NumPy): with the n values
 * sorted as x_0 <= ... <= x_{n-1} and h = (n - 1) p, Q(p) = x_{floor h} + (h - floor h) *
 * (x_{floor h + 1} - x_{floor h}); so Q(0) is the minimum and Q(1) the maximum.
 *
 * @param activation Activations [N, (H, W,) C], channels last; left untouched.
 * @param options Units and quantile probabilities.
 * @returns One entry per requested unit, in the order given.
 * @throws {TypeError} When the activation has rank below 2.
 * @throws {RangeError} When a unit or probability is out of range, or the activation is empty.
 */
export async function activationStats(
  activation: tf.Tensor,
  options: ActivationStatsOptions,
): Promise<UnitStats[]> {
  const { units, quantiles = DEFAULT_QUANTILES } = options;
  const unitCount = channelCount(activation, "describe activations");
  for (const unit of units) {
    if (!Number.isInteger(unit) || unit < 0 || unit >= unitCount) {
      throw new RangeError(
        `Cannot describe activations: unit must be an integer in 0..${unitCount - 1}, got ${unit}`,
      );
    }
  }
  for (const p of quantiles) {
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(
        `Cannot describe activations: quantile probability must be in [0, 1], got ${p}`,
      );
    }
  }
  if (units.length === 0) return [];

  const chosen = tf.tidy(() => {
    const rows = tf.reshape(activation, [-1, unitCount]); // [N*H*W, C]
    return tf.gather(rows, tf.tensor1d(units as number[], "int32"), 1); // [N*H*W, units]
  });
  let values: Float32Array | Int32Array | Uint8Array;
  try {
    values = await chosen.data();
  } finally {
    chosen.dispose();
  }
  const k = units.length;
  const n = values.length / k;
  return units.map((unit, j) => {
    const column = new Float64Array(n);
    for (let m = 0; m < n; m++) column[m] = values[m * k + j]!;
    let sum = 0;
    for (const v of column) sum += v;
    const mean = sum / n;
    let squares = 0;
    for (const v of column) squares += (v - mean) ** 2;
    column.sort();
    return {
      unit,
      mean,
      variance: squares / n,
      quantiles: quantiles.map((p) => sortedQuantile(column, p)),
    };
  });
}

/**
 * Mean and population variance of every unit of a layer, computed on the device; only the two
 * [C] vectors are read back.
 *
 * @param activation Activations [N, (H, W,) C], channels last; left untouched.
 * @returns Per-unit moments.
 * @throws {TypeError} When the activation has rank below 2.
 * @throws {RangeError} When the activation is empty.
 */
export async function layerMoments(activation: tf.Tensor): Promise<LayerMoments> {
  channelCount(activation, "compute layer moments");
  const { mean, variance } = tf.tidy(() => {
    const axes = Array.from({ length: activation.rank - 1 }, (_, a) => a); // all but channels
    return tf.moments(activation, axes); // [C], [C]
  });
  try {
    const [m, v] = await Promise.all([mean.data(), variance.data()]);
    return { mean: Array.from(m), variance: Array.from(v) };
  } finally {
    tf.dispose([mean, variance]);
  }
}

/**
 * Step-to-step change of per-unit moments: |mu_{t+1} - mu_t| and |var_{t+1} - var_t| per unit,
 * their averages over units, and scale-free versions (Santurkar et al. Figure 8; the
 * shallow-vs-deep comparison of the protocol's claim 6).
 *
 * @param series Moments of the same layer at successive measured steps.
 * @returns Changes between neighbours (empty arrays for fewer than two steps).
 * @throws {RangeError} When the steps differ in unit count.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { momentDrift } from "./activations.ts";
 *
 * const drift = momentDrift([
 *   { mean: [0, 1], variance: [1, 4] },
 *   { mean: [0.5, 0], variance: [2, 4] },
 * ]);
 * deepStrictEqual(drift.meanChange, [[0.5, 1]]);
 * deepStrictEqual(drift.varianceChangeAverage, [0.5]);
 * ```
 */
export function momentDrift(series: readonly LayerMoments[]): MomentDrift {
  const unitCount = series[0]?.mean.length ?? 0;
  for (const [t, moments] of series.entries()) {
    if (moments.mean.length !== unitCount || moments.variance.length !== unitCount) {
      throw new RangeError(
        `Cannot compute moment drift: every step needs ${unitCount} means and variances, ` +
          `got ${moments.mean.length} and ${moments.variance.length} at step ${t}`,
      );
    }
  }
  const drift: MomentDrift = {
    meanChange: [],
    varianceChange: [],
    meanChangeAverage: [],
    varianceChangeAverage: [],
    meanChangeScaledAverage: [],
    varianceChangeRelativeAverage: [],
  };
  for (let t = 0; t + 1 < series.length; t++) {
    const before = series[t]!;
    const after = series[t + 1]!;
    const meanChange = before.mean.map((mu, j) => Math.abs(after.mean[j]! - mu));
    const varianceChange = before.variance.map((v, j) => Math.abs(after.variance[j]! - v));
    const spread = before.variance.map((v) => v > 0); // units with a defined scale
    drift.meanChange.push(meanChange);
    drift.varianceChange.push(varianceChange);
    drift.meanChangeAverage.push(average(meanChange));
    drift.varianceChangeAverage.push(average(varianceChange));
    drift.meanChangeScaledAverage.push(
      average(meanChange.flatMap((d, j) => spread[j] ? [d / Math.sqrt(before.variance[j]!)] : [])),
    );
    drift.varianceChangeRelativeAverage.push(
      average(varianceChange.flatMap((d, j) => spread[j] ? [d / before.variance[j]!] : [])),
    );
  }
  return drift;
}

/**
 * Picks a few units of a layer deterministically: evenly spaced, or a seeded random choice.
 * The same arguments always give the same units, so successive steps describe the same units.
 *
 * @param unitCount Units (channels) in the layer.
 * @param options How many, and an optional seed.
 * @returns Distinct 0-based unit indices, increasing.
 * @throws {RangeError} When `count` is not in 1..unitCount.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { pickUnits } from "./activations.ts";
 *
 * deepStrictEqual(pickUnits(64, { count: 4 }), [8, 24, 40, 56]);
 * ```
 */
export function pickUnits(unitCount: number, options: PickUnitsOptions): number[] {
  const { count, seed } = options;
  if (!Number.isInteger(unitCount) || unitCount < 1) {
    throw new RangeError(
      `Cannot pick units: unit count must be a positive integer, got ${unitCount}`,
    );
  }
  if (!Number.isInteger(count) || count < 1 || count > unitCount) {
    throw new RangeError(
      `Cannot pick units: count must be an integer in 1..${unitCount}, got ${count}`,
    );
  }
  if (seed === undefined) {
    return Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * unitCount) / count));
  }
  const order = new Random(seed, STREAMS.measure).permutation(unitCount);
  return Array.from(order.subarray(0, count)).sort((a, b) => a - b);
}

/**
 * One step's summary of a layer for the distribution view: the full distribution of a few
 * picked units (`pickUnits`) and the moments of every unit (feed a series to `momentDrift`).
 *
 * @param activation Activations [N, (H, W,) C], channels last; left untouched.
 * @param options Number of units, seed and quantiles.
 * @returns Picked units' statistics and all units' moments.
 */
export async function activationSummary(
  activation: tf.Tensor,
  options: ActivationSummaryOptions = {},
): Promise<ActivationSummary> {
  const unitCount = channelCount(activation, "summarise activations");
  const count = Math.min(options.count ?? 4, unitCount);
  const units = pickUnits(
    unitCount,
    options.seed === undefined ? { count } : { count, seed: options.seed },
  );
  const statsOptions: ActivationStatsOptions = options.quantiles === undefined
    ? { units }
    : { units, quantiles: options.quantiles };
  const [stats, moments] = await Promise.all([
    activationStats(activation, statsOptions),
    layerMoments(activation),
  ]);
  return { units: stats, moments };
}

/** Channel count (last axis) of a channels-last activation of rank >= 2. */
function channelCount(activation: tf.Tensor, action: string): number {
  if (activation.rank < 2) {
    throw new TypeError(
      `Cannot ${action}: expected shape [N, (H, W,) C], got [${activation.shape}]`,
    );
  }
  if (activation.size === 0) {
    throw new RangeError(
      `Cannot ${action}: expected a non-empty activation, got [${activation.shape}]`,
    );
  }
  return activation.shape[activation.rank - 1]!;
}

/** Type-7 quantile of values sorted ascending. */
function sortedQuantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Mean of a list; NaN when empty. */
function average(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}
