/**
 * The loss landscape along the gradient (Santurkar et al. 2018, Section 3.1, Figures 4 and 10).
 *
 * At a training step with parameters W and gradient g = grad L(W), the loss and its gradient
 * are evaluated at W - eta * g for a range of step sizes eta, on the same batch, without moving
 * W. Three summaries follow: (a) loss variation, the range of L(W - eta g); (b) gradient
 * predictiveness, the range of ||grad L(W) - grad L(W - eta g)||; (c) "effective"
 * beta-smoothness, the largest ||grad L(W) - grad L(W - eta g)|| / ||eta g||.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "../models/types.ts";
import { globalNorm, l2Distance, lossAndGradients } from "./gradients.ts";
import { assertSameStructure, disposeParams, sgdStep } from "../params.ts";
import type { LossFn } from "./types.ts";

/** How step sizes are spaced between the ends of an `etaGrid`. */
export type EtaSpacing = "linear" | "log";

/** A range of step sizes as multiples of the learning rate. */
export interface EtaGridOptions {
  /** Smallest step size, in multiples of the learning rate (> 0). */
  from: number;
  /** Largest step size, in multiples of the learning rate (>= from). */
  to: number;
  /** Number of step sizes, ends included (>= 2 unless from = to). */
  count: number;
  /** Equal differences ("linear") or equal ratios ("log") between neighbours. */
  spacing: EtaSpacing;
}

/**
 * VGG default (PROTOCOL.md): eta in [1/2, 4] x lr, 8 linear points (0.5, 1, ..., 4 x lr, that is
 * 0.05 .. 0.4 at lr 0.1). The range spans under a decade, so linear spacing covers it evenly;
 * 8 points cost 8 extra forward/backward passes per measured step.
 */
export const VGG_ETA_GRID = {
  from: 0.5,
  to: 4,
  count: 8,
  spacing: "linear",
} as const satisfies EtaGridOptions;

/**
 * Deep linear network default (PROTOCOL.md): eta in [1/100, 30] x lr, 8 log-spaced points
 * (ratio 3000^(1/7) ~ 3.1 between neighbours). The range spans 3.5 decades; linear spacing
 * would put 7 of 8 points above 4 x lr and miss the small steps.
 */
export const DLN_ETA_GRID = {
  from: 0.01,
  to: 30,
  count: 8,
  spacing: "log",
} as const satisfies EtaGridOptions;

/**
 * Step sizes eta from `from * lr` to `to * lr`, ends exact.
 *
 * @param lr The training learning rate.
 * @param options Range in multiples of `lr`, count and spacing.
 * @returns `count` increasing step sizes.
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { etaGrid } from "./landscape.ts";
 *
 * deepStrictEqual(etaGrid(1, { from: 1, to: 4, count: 4, spacing: "linear" }), [1, 2, 3, 4]);
 * deepStrictEqual(etaGrid(1, { from: 1, to: 100, count: 3, spacing: "log" }), [1, 10, 100]);
 * ```
 */
export function etaGrid(lr: number, options: EtaGridOptions): number[] {
  const { from, to, count, spacing } = options;
  if (!Number.isFinite(lr) || lr <= 0) {
    throw new RangeError(`Cannot build an eta grid: lr must be a positive number, got ${lr}`);
  }
  if (!Number.isFinite(from) || !Number.isFinite(to) || from <= 0 || to < from) {
    throw new RangeError(
      `Cannot build an eta grid: need 0 < from <= to, got from ${from} and to ${to}`,
    );
  }
  if (!Number.isInteger(count) || count < 1 || (count === 1 && from !== to)) {
    throw new RangeError(
      `Cannot build an eta grid: count must be an integer >= 2 (1 when from = to), got ${count}`,
    );
  }
  if (count === 1) return [from * lr];
  const multiples = Array.from({ length: count }, (_, k) => {
    const t = k / (count - 1);
    switch (spacing) {
      case "linear":
        return from + (to - from) * t;
      case "log":
        return from * (to / from) ** t;
      default:
        throw new TypeError(`Cannot build an eta grid: unknown spacing, got ${spacing}`);
    }
  });
  // Pin the ends: the formulas above can round the last one (e.g. 0.01 * 3000 ** 1).
  multiples[0] = from;
  multiples[count - 1] = to;
  return multiples.map((m) => m * lr);
}

/** Options of `measureLandscape`. */
export interface LandscapeOptions {
  /** Step sizes eta (> 0) along -g, e.g. from `etaGrid`. */
  etas: readonly number[];
  /**
   * g = grad L(W) at `params` when the caller already has it (the training step computed it):
   * replaces one forward and backward pass by a forward pass. Borrowed: not disposed.
   */
  gradients?: Params;
}

/** The landscape at one step size. */
export interface LandscapePoint {
  /** Step size eta. */
  eta: number;
  /** L(W - eta g). */
  loss: number;
  /** ||grad L(W) - grad L(W - eta g)||_2, all parameters together. */
  gradientChange: number;
  /** gradientChange / ||eta g||_2: the local Lipschitz constant of the gradient along -g. */
  smoothness: number;
}

/** The loss landscape along the gradient at one training step. */
export interface LandscapeResult {
  /** L(W), the loss at the current parameters. */
  loss: number;
  /** ||g||_2 = ||grad L(W)||_2, all parameters together. */
  gradientNorm: number;
  /** One entry per eta, in the order given. */
  points: LandscapePoint[];
  /** (a) Loss variation: [min, max] of L(W - eta g) over the etas. */
  lossRange: [number, number];
  /** (b) Gradient predictiveness: [min, max] of ||grad L(W) - grad L(W - eta g)|| over the etas. */
  gradientChange: [number, number];
  /** (c) Effective beta-smoothness: max over the etas of `smoothness`. */
  betaSmoothness: number;
}

/**
 * Evaluates the loss and its gradient along the negative gradient direction, on the same batch.
 *
 * The parameters are not moved: training continues from W. Cost: one gradient at W (a forward
 * pass when `options.gradients` is given) plus one per eta. NaN or infinite losses (a diverging step) propagate into the ranges and the maximum,
 * so a blow-up shows as NaN/Infinity rather than being hidden.
 *
 * @param lossFn Training loss on a fixed batch (and, for noisy BatchNorm, a fixed noise sample).
 * @param params Current parameters W; left untouched.
 * @param options The step sizes.
 * @returns Per-eta values and the three summaries.
 * @throws {RangeError} When `etas` is empty or holds a non-positive value.
 * @throws {TypeError} When `options.gradients` does not match the parameters.
 */
export async function measureLandscape(
  lossFn: LossFn,
  params: Params,
  options: LandscapeOptions,
): Promise<LandscapeResult> {
  const { etas } = options;
  if (etas.length === 0) {
    throw new RangeError("Cannot measure the landscape: expected at least one eta, got 0");
  }
  for (const eta of etas) {
    if (!Number.isFinite(eta) || eta <= 0) {
      throw new RangeError(
        `Cannot measure the landscape: every eta must be a positive number, got ${eta}`,
      );
    }
  }

  const given = options.gradients;
  if (given !== undefined) assertSameStructure(params, given, "measure the landscape");
  const { loss, grads } = given === undefined
    ? lossAndGradients(lossFn, params) // g = grad L(W)
    : { loss: tf.tidy(() => lossFn(params)), grads: given };
  const perEta: tf.Tensor1D[] = [];
  let atW: tf.Tensor1D | undefined;
  try {
    atW = tf.tidy(() => tf.stack([loss, globalNorm(grads)]) as tf.Tensor1D); // [2]
    for (const eta of etas) {
      const moved = sgdStep(params, grads, eta); // W - eta g
      try {
        const there = lossAndGradients(lossFn, moved);
        perEta.push(
          tf.tidy(() => tf.stack([there.loss, l2Distance(grads, there.grads)]) as tf.Tensor1D),
        ); // [2]
        there.loss.dispose();
        disposeParams(there.grads);
      } finally {
        disposeParams(moved);
      }
    }
    // Read back only once every evaluation is queued: the device never waits on the host between.
    const [w, ...values] = await Promise.all([atW, ...perEta].map((t) => t.data()));
    const gradientNorm = w![1]!;
    const points = values.map((v, k): LandscapePoint => {
      const eta = etas[k]!;
      const gradientChange = v[1]!;
      return {
        eta,
        loss: v[0]!,
        gradientChange,
        smoothness: gradientChange / (eta * gradientNorm),
      };
    });
    return {
      loss: w![0]!,
      gradientNorm,
      points,
      lossRange: range(points.map((p) => p.loss)),
      gradientChange: range(points.map((p) => p.gradientChange)),
      betaSmoothness: Math.max(...points.map((p) => p.smoothness)),
    };
  } finally {
    tf.dispose([loss, ...perEta]);
    if (atW !== undefined) atW.dispose();
    if (given === undefined) disposeParams(grads);
  }
}

/** [min, max] of a non-empty list (Math.min/max give NaN when any value is NaN). */
function range(values: number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}
