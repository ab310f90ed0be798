/**
 * The normalisation layers compared in the paper: BatchNorm, noisy BatchNorm (Algorithm 1),
 * the same noise without BatchNorm, and l_p normalisation (p = 1, 2, inf).
 *
 * Statistics are per unit: over the batch for dense activations [N, C], over batch, height and
 * width for conv activations [N, H, W, C] (the last axis is always the unit axis).
 *
 * Choices (state them in paper.md):
 * - `batchnorm`, `noisy-batchnorm`, `l1`, `l2` and `linf` have a learnable per-unit scale
 *   gamma and shift beta applied after normalising; `none` and `noise-only` have none.
 * - Noise (Algorithm 1) is applied after normalisation and after gamma/beta, in training mode
 *   only.
 * - BatchNorm: (x - mean) / sqrt(var + eps), biased batch variance, eps = 1e-5.
 * - l_p: (x - mean) / (norm + eps) with norm = (mean |x|^p)^(1/p) (max |x| for p = inf) of the
 *   activations *before* the mean shift, eps = 1e-5 (only guards division by zero).
 * - The moments returned for running averages are (mean, biased variance) for the BatchNorm
 *   variants and (mean, l_p norm) for the l_p variants: the `variance` slot holds the divisor's
 *   statistic, so evaluation mode with running state divides by the running l_p norm.
 *
 * BatchNorm in training mode is one differentiable op with a closed-form backward pass
 * (`batchNormTraining`); its batch statistics carry no gradient. The l_p variants reduce through
 * `unitMean`, whose gradient broadcasts on the device instead of building an activation-sized
 * tensor of ones on the host as the stock gradients of `tf.mean` and `tf.sum` do (a per-step
 * upload of the whole activation on webgpu).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { sharedView } from "../kernels/saved_tensors.ts";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
} from "../kernels/wasm_batchnorm.ts";
import { algorithm1Noise } from "./noise.ts";
import type { NoiseKey, Normalization, RunningMoments } from "./types.ts";

/** `x` itself where it has `shape` already, else reshaped (a kernel call saved per tensor). */
function inShape(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  return tf.util.arraysEqual(x.shape, [...shape]) ? x : tf.reshape(x, [...shape]);
}

/** A new tensor on x's data in `shape`, without a kernel call where the backend allows it. */
function viewAs(x: tf.Tensor, shape: readonly number[]): tf.Tensor {
  return sharedView(x, shape) ?? tf.reshape(x, [...shape]);
}

/** BatchNorm's epsilon, added to the variance (and to the l_p norm). */
export const NORM_EPSILON = 1e-5;

/** Options of `normalize`. */
export interface NormalizeOptions {
  /** Training mode: batch statistics and noise. Evaluation: running moments, no noise. */
  training: boolean;
  /** 1-based layer number (keys the noise so each layer gets its own). */
  layer: number;
  /** Learnable scale [C], applied when given (the affine variants). */
  gamma?: tf.Tensor;
  /** Learnable shift [C], applied when given. */
  beta?: tf.Tensor;
  /** Required in training mode for `noisy-batchnorm` and `noise-only`. */
  noiseKey?: NoiseKey;
  /** Running statistics for evaluation mode; batch statistics are used without them. */
  running?: RunningMoments;
  /** Epsilon (default `NORM_EPSILON`). */
  epsilon?: number;
}

/** What `normalize` returns. */
export interface NormalizeResult {
  /** Normalised (and, in training mode, noisy) activation, same shape as the input. */
  output: tf.Tensor;
  /**
   * Training mode, variants with statistics only: the batch's per-unit statistics [C]
   * (mean and biased variance, or mean and l_p norm for the l_p variants).
   */
  batchMoments?: RunningMoments;
}

/**
 * Whether a normalisation has a learnable scale and shift (gamma, beta).
 *
 * @param normalization The variant.
 * @returns True for BatchNorm, noisy BatchNorm and the l_p variants.
 */
export function hasAffine(normalization: Normalization): boolean {
  return hasStatistics(normalization);
}

/**
 * Whether a normalisation uses per-unit batch statistics (and keeps running ones).
 *
 * @param normalization The variant.
 * @returns True for BatchNorm, noisy BatchNorm and the l_p variants.
 */
export function hasStatistics(normalization: Normalization): boolean {
  switch (normalization) {
    case "none":
    case "noise-only":
      return false;
    case "batchnorm":
    case "noisy-batchnorm":
    case "l1":
    case "l2":
    case "linf":
      return true;
    default:
      throw new TypeError(`Cannot classify normalization: unknown variant, got ${normalization}`);
  }
}

/**
 * Whether a normalisation adds the training noise of Algorithm 1.
 *
 * @param normalization The variant.
 * @returns True for `noisy-batchnorm` and `noise-only`.
 */
export function hasNoise(normalization: Normalization): boolean {
  return normalization === "noisy-batchnorm" || normalization === "noise-only";
}

/**
 * Per-unit mean over every axis but the last, keeping dims: [N, (H, W,) C] -> [1, (1, 1,) C].
 * The gradient broadcasts dy / n to x's shape with one device-side `broadcastTo` (measured 6x
 * faster on wasm than multiplying by `onesLike(x)`, which fills and then reads a full tensor).
 *
 * @param x Activation [N, (H, W,) C].
 * @returns The per-unit mean with kept dims.
 */
export function unitMean(x: tf.Tensor): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.shape.length - 1]!;
  const shape = x.shape;
  const mean = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => {
    const t = input as tf.Tensor;
    return {
      value: tf.mean(t, axes, true),
      // [1, (1, 1,) C] -> [N, (H, W,) C]
      gradFunc: (dy: tf.Tensor) => tf.broadcastTo(tf.div(dy, count), shape),
    };
  });
  return mean(x);
}

/**
 * The body of `batchNormTraining`'s custom op on a backend with the fused kernels
 * (lib/kernels/wasm_batchnorm.ts): one kernel forward, one backward. `keepStats` receives the
 * kept batch statistics.
 */
function fusedBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor | undefined,
  beta: tf.Tensor | undefined,
  epsilon: number,
  save: tf.GradSaveFunc,
  keepStats: (mean: tf.Tensor, variance: tf.Tensor) => void,
): { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] } {
  const attrs = { epsilon } as unknown as tf.NamedAttrMap;
  const affine: tf.NamedTensorMap = {};
  if (gamma !== undefined) affine.gamma = gamma;
  if (beta !== undefined) affine.beta = beta;
  const [y, mean, variance] = tf.engine().runKernel(
    BATCH_NORM_TRAINING_FORWARD,
    { x, ...affine },
    attrs,
  ) as tf.Tensor[]; // [N, (H, W,) C], [1, (1, 1,) C], same
  keepStats(tf.keep(mean!), tf.keep(variance!));
  save(gamma === undefined ? [x, mean!, variance!] : [x, mean!, variance!, gamma]);
  return {
    value: y!,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, m, v, g] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const [dx, dGamma, dBeta] = tf.engine().runKernel(
        BATCH_NORM_TRAINING_BACKWARD,
        { dy, x: xs, mean: m, variance: v, ...(g === undefined ? {} : { gamma: g }) },
        attrs,
      ) as tf.Tensor[]; // [N, (H, W,) C], [C], [C]
      const grads = [dx!];
      // The kernel's [C] already is gamma's and beta's shape: reshape only if they differ.
      if (g !== undefined) grads.push(inShape(dGamma!, g.shape));
      if (beta !== undefined) grads.push(inShape(dBeta!, beta.shape));
      return grads;
    },
  };
}

/** What `batchNormTraining` returns: the output and kept per-unit statistics. */
interface BatchNormTrainingResult {
  /** gamma * (x - mean) / sqrt(variance + eps) + beta, [N, (H, W,) C]. */
  output: tf.Tensor;
  /** [1, (1, 1,) C], kept (the caller disposes it); carries no gradient. */
  mean: tf.Tensor;
  /** Biased variance [1, (1, 1,) C], kept (the caller disposes it); carries no gradient. */
  variance: tf.Tensor;
}

/**
 * BatchNorm with batch statistics as one differentiable op whose backward pass is the closed
 * form (Ioffe & Szegedy 2015, Sec. 3) in a handful of full-size ops instead of autodiff's chain
 * through mean, variance, rsqrt and both affine ops (about 25 kernels per layer, and the
 * biggest non-convolution cost of a wasm training step). With xhat = (x - mean) * rstd and
 * M = N (H W) elements per unit:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat),
 *   dx = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M).
 * The forward pass runs the same ops as before, so outputs are bitwise unchanged. The batch
 * statistics are computed inside the op and returned outside the tape: no gradient flows
 * through them (they only feed running averages, after the backward pass).
 */
function batchNormTraining(
  x: tf.Tensor,
  eps: number,
  gamma: tf.Tensor | undefined,
  beta: tf.Tensor | undefined,
): BatchNormTrainingResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.shape.length - 1]!;
  let mean: tf.Tensor | undefined;
  let variance: tf.Tensor | undefined;
  const inputs = [
    x,
    ...(gamma === undefined ? [] : [gamma]),
    ...(beta === undefined ? [] : [beta]),
  ];
  const fused = tf.getKernel(BATCH_NORM_TRAINING_FORWARD, tf.getBackend()) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_BACKWARD, tf.getBackend()) !== undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor; // [N, (H, W,) C]
    const g = gamma === undefined ? undefined : args[1] as tf.Tensor; // [C]
    const b = beta === undefined ? undefined : args[gamma === undefined ? 1 : 2] as tf.Tensor;
    if (fused) return fusedBatchNorm(input, g, b, eps, save, (m, v) => [mean, variance] = [m, v]);
    // Kept: this forward runs inside the engine's tidy, and the caller returns them.
    mean = tf.keep(tf.mean(input, axes, true)); // [1, (1, 1,) C]
    const centered = tf.sub(input, mean);
    variance = tf.keep(tf.mean(tf.square(centered), axes, true)); // biased
    const rstd = tf.rsqrt(tf.add(variance, eps)); // [1, (1, 1,) C]
    const xhat = tf.mul(centered, rstd); // [N, (H, W,) C]
    let y = xhat;
    if (g !== undefined) y = tf.mul(y, g); // [C] broadcasts on the last axis
    if (b !== undefined) y = tf.add(y, b);
    save(g === undefined ? [xhat, rstd] : [xhat, rstd, g]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, r, gm] = saved as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const dBeta = tf.sum(dy, axes, true); // [1, (1, 1,) C]
        const dGamma = tf.sum(tf.mul(dy, xh), axes, true); // [1, (1, 1,) C]
        const scale = gm === undefined ? r : tf.mul(r, gm); // gamma * rstd, [1, (1, 1,) C]
        // dx = scale * dy - xhat * (scale * dGamma / M) - scale * dBeta / M
        const xhatCoef = tf.mul(scale, tf.div(dGamma, count));
        const shift = tf.mul(scale, tf.div(dBeta, count));
        const dx = tf.sub(tf.sub(tf.mul(dy, scale), tf.mul(xh, xhatCoef)), shift);
        const grads = [dx];
        if (gm !== undefined) grads.push(tf.reshape(dGamma, gm.shape));
        if (b !== undefined) grads.push(tf.reshape(dBeta, b.shape));
        return grads;
      },
    };
  });
  const output = op(...inputs);
  return { output, mean: mean!, variance: variance! };
}

/** Per-unit divisor statistic of an l_p variant: [N, (H, W,) C] -> [1, (1, 1,) C]. */
function lpNorm(x: tf.Tensor, normalization: "l1" | "l2" | "linf"): tf.Tensor {
  switch (normalization) {
    case "l1":
      return unitMean(tf.abs(x));
    case "l2":
      return tf.sqrt(unitMean(tf.square(x)));
    case "linf": {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      // Max's gradient is an equality mask computed on the device.
      return tf.max(tf.abs(x), axes, true);
    }
  }
}

function toUnitShape(x: tf.Tensor, stat: tf.Tensor): tf.Tensor {
  const shape = x.shape.map((_, i) => i === x.rank - 1 ? x.shape[i]! : 1);
  return tf.reshape(stat, shape);
}

/**
 * Normalise one layer's pre-activation per unit, then apply gamma/beta when given, then (in
 * training mode, noisy variants) the noise of Algorithm 1. See the module doc for the choices.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { normalize } from "./norm.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const x = tf.tensor2d([[1, 10], [3, 30]]);
 * const { output } = normalize(x, "batchnorm", { training: true, layer: 1 });
 * const [a, b] = await output.data();
 * assert.ok(Math.abs(a! + 1) < 1e-4 && Math.abs(b! + 1) < 1e-4);
 * tf.dispose([x, output]);
 * ```
 *
 * @param x Pre-activation [N, C] or [N, H, W, C].
 * @param normalization The variant.
 * @param options Mode, layer number, affine parameters, noise key, running statistics.
 * @returns The output and, in training mode, this batch's statistics.
 */
export function normalize(
  x: tf.Tensor,
  normalization: Normalization,
  options: NormalizeOptions,
): NormalizeResult {
  if (x.rank < 2) {
    throw new TypeError(`Cannot normalize: input must be [N, (H, W,) C], got [${x.shape}]`);
  }
  const { training, layer, gamma, beta, noiseKey, running } = options;
  const eps = options.epsilon ?? NORM_EPSILON;
  const units = x.shape[x.rank - 1]!;
  if (running !== undefined && running.mean.size !== units) {
    throw new TypeError(
      `Cannot normalize: running statistics must have ${units} units, got ${running.mean.size}`,
    );
  }
  if (training && hasNoise(normalization) && noiseKey === undefined) {
    throw new TypeError(
      `Cannot normalize: ${normalization} needs options.noiseKey in training mode, got none`,
    );
  }
  const [output, mean, variance] = tf.tidy(() => {
    let y: tf.Tensor; // [N, (H, W,) C]
    let stats: [tf.Tensor, tf.Tensor] | undefined; // ([1, (1, 1,) C], same)
    let affineDone = false; // whether gamma and beta are already applied
    const useBatch = training || running === undefined;
    switch (normalization) {
      case "none":
      case "noise-only":
        y = x;
        break;
      case "batchnorm":
      case "noisy-batchnorm": {
        if (useBatch) {
          // Applies gamma and beta itself (its backward pass covers them).
          const bn = batchNormTraining(x, eps, gamma, beta);
          y = bn.output;
          affineDone = true;
          // The kept statistics are outside every tidy: copy them in and free the originals.
          stats = [viewAs(bn.mean, bn.mean.shape), viewAs(bn.variance, bn.variance.shape)];
          tf.dispose([bn.mean, bn.variance]);
        } else {
          const mean = toUnitShape(x, running!.mean);
          const variance = toUnitShape(x, running!.variance);
          y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
        }
        break;
      }
      case "l1":
      case "l2":
      case "linf": {
        if (useBatch) {
          const mean = unitMean(x); // [1, (1, 1,) C]
          // The norm of the activations before the mean shift, as the paper defines it.
          const norm = lpNorm(x, normalization); // [1, (1, 1,) C]
          y = tf.div(tf.sub(x, mean), tf.add(norm, eps));
          stats = [mean, norm];
        } else {
          const mean = toUnitShape(x, running!.mean);
          const norm = toUnitShape(x, running!.variance);
          y = tf.div(tf.sub(x, mean), tf.add(norm, eps));
        }
        break;
      }
      default:
        throw new TypeError(`Cannot normalize: unknown variant, got ${normalization}`);
    }
    if (!affineDone && gamma !== undefined) y = tf.mul(y, gamma); // [C] broadcasts on the last axis
    if (!affineDone && beta !== undefined) y = tf.add(y, beta);
    if (training && hasNoise(normalization)) {
      const { scale, shift } = algorithm1Noise(x.shape, noiseKey!, layer);
      y = tf.add(tf.mul(scale, y), shift);
    }
    if (training && stats !== undefined) {
      return [y, viewAs(stats[0], [units]), viewAs(stats[1], [units])];
    }
    return [y];
  });
  if (mean !== undefined && variance !== undefined) {
    return {
      output: output!,
      batchMoments: { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D },
    };
  }
  return { output: output! };
}
