/**
 * The example experiment: gradient descent on the quadratic f(w) = a w^2 / 2, whose distance to
 * the minimum after t steps has the closed form |w_t| = |1 - eta a|^t |w_0|. Computed in tfjs
 * on the selected backend, it shows the whole pipeline (backend, provenance, figure files) on
 * a result anyone can check by hand: step sizes above 2/a diverge.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Scale } from "../scale.ts";
import type { Experiment } from "./experiment.ts";

/** Settings of the example. */
export interface ExampleConfig {
  /** a: the second derivative of f. */
  curvature: number;
  /** Initial weight w_0. */
  w0: number;
  /** t runs over 0..steps. */
  steps: number;
  /** eta values; 2/a separates convergence from divergence. */
  learningRates: readonly number[];
}

/** One point of the example's figure. */
export interface ExampleRow {
  [field: string]: number;
  learningRate: number;
  step: number;
  distance: number;
}

/**
 * The example's settings at a scale.
 *
 * @param scale The run scale.
 * @returns 20 steps at smoke scale, else 60.
 */
export function exampleConfig(scale: Scale): ExampleConfig {
  return {
    curvature: 1,
    w0: 1,
    steps: scale === "smoke" ? 20 : 60,
    // |1 - eta a|^60 stays above 1e-38, so no float32 underflow (WebGPU flushes subnormals).
    learningRates: [0.3, 0.7, 1.5, 1.95, 2.05],
  };
}

/**
 * |w_t| for every learning rate and step, by the closed form, in tfjs.
 *
 * @param config The settings.
 * @returns One row per (learning rate, step).
 */
export async function exampleRows(config: ExampleConfig): Promise<ExampleRow[]> {
  const distance = tf.tidy(() => {
    const eta = tf.tensor2d([...config.learningRates], [config.learningRates.length, 1]); // [R, 1]
    const t = tf.reshape(tf.range(0, config.steps + 1), [1, config.steps + 1]); // [1, T]
    const factor = tf.abs(tf.sub(1, tf.mul(eta, config.curvature))); // [R, 1]: |1 - eta a|
    return tf.mul(Math.abs(config.w0), tf.pow(factor, t)); // [R, T]
  });
  const values = (await distance.array()) as number[][];
  distance.dispose();
  return config.learningRates.flatMap((learningRate, r) =>
    (values[r] ?? []).map((value, step) => ({ learningRate, step, distance: value }))
  );
}

/** The example as an experiment: no stored runs, computed in `summarize`. */
export const EXAMPLE = {
  name: "example",
  config: exampleConfig,
  jobs: () => [],
  // The same 60 steps at every scale but smoke: filed as quick, never relabelled long or paper.
  settingsScale: (scale) => scale === "smoke" ? "smoke" : "quick",
  scaleNote: (scale) => scale === "smoke" ? "20 steps instead of 60" : "all 60 steps",
  dataSubset: () => "none: closed-form computation, no data",
  seeds: () => ({}), // no randomness
  summarize: (_records, scale) => exampleRows(exampleConfig(scale)),
  results: (rows) => ({ rows }),
  // The distance after the last step, per learning rate: below 1 converges, above diverges.
  keyLines: (rows) =>
    rows.filter((r, i) => rows[i + 1]?.learningRate !== r.learningRate).map((end) =>
      `eta ${end.learningRate}: |w_${end.step}| = ${end.distance.toPrecision(3)}`
    ),
} satisfies Experiment<ExampleConfig, ExampleRow[]>;
