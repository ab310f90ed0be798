/**
 * Internal covariate shift, gradient view (Santurkar et al. 2018, Definition 2.1).
 *
 * At one training step with batch (x, y), let G_i be the gradient of the loss with respect to
 * layer i's weights at the current parameters, the gradient of the simultaneous SGD update. Let
 * G'_i be the same gradient on the same batch after the layers before i (only those) took this
 * step's update. ICS of layer i is the difference between G_i and G'_i: how much the change of
 * the earlier layers changes what layer i "should" do. The paper reports ||G_i - G'_i||_2 and
 * cos(G_i, G'_i).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "../models/types.ts";
import { cosineSimilarity, globalNorm, l2Distance, lossAndGradients } from "./gradients.ts";
import { assertSameStructure, disposeParams, sgdStep } from "../params.ts";
import type { LossFn } from "./types.ts";

/** Options of `measureIcs`. */
export interface IcsOptions {
  /** The SGD step size of the update the earlier layers take (the training learning rate). */
  learningRate: number;
  /** 1-based numbers of the layers to measure (layer i is `params[i - 1]`). */
  layers: readonly number[];
  /**
   * grad L(W) at `params` when the caller already has it (the training step computed it):
   * saves one backward pass. Borrowed: not disposed. Omitted: computed here.
   */
  gradients?: Params;
}

/** Internal covariate shift of one layer at one step (Def. 2.1). */
export interface IcsResult {
  /** 1-based layer number i. */
  layer: number;
  /** ||G_i - G'_i||_2. */
  l2: number;
  /** cos(G_i, G'_i) (NaN when either gradient is zero). */
  cosine: number;
  /** ||G_i||_2. */
  normG: number;
  /** ||G'_i||_2. */
  normGPrime: number;
}

/**
 * Measures the gradient-view internal covariate shift of chosen layers at the current step.
 *
 * G_i is the gradient of `lossFn` with respect to layer i's kernel at `params`. G'_i is the
 * same gradient after every parameter of layers 1..i-1 (kernel, bias, gamma, beta) took the
 * SGD step W - learningRate * grad L(W), with the full gradient taken at `params`; layers
 * i..L keep their current values. Cost: one full gradient, then one gradient (of layer i's
 * kernel only) per measured layer (pass `options.gradients` to skip the first). Layer 1 has no earlier layers, so G'_1 = G_1; it is still
 * evaluated, which makes a nonzero l2 there a sign that `lossFn` is not deterministic.
 *
 * For noisy BatchNorm pass a `lossFn` with the noise sample held fixed (one `NoiseKey` for all
 * evaluations) so that the difference measures the parameter update, not the noise. BatchNorm
 * stays in training mode (batch statistics), as in the update the gradient belongs to.
 *
 * @param lossFn Training loss on this step's batch, as a function of the parameters.
 * @param params Current parameters W; left untouched (no tensor is changed or disposed).
 * @param options Learning rate and layers.
 * @returns One result per entry of `options.layers`, in the same order.
 * @throws {RangeError} When a layer number is out of range or the learning rate is not positive.
 * @throws {TypeError} When `options.gradients` does not match the parameters.
 */
export async function measureIcs(
  lossFn: LossFn,
  params: Params,
  options: IcsOptions,
): Promise<IcsResult[]> {
  const { learningRate, layers } = options;
  if (!Number.isFinite(learningRate) || learningRate <= 0) {
    throw new RangeError(
      `Cannot measure ICS: learning rate must be a positive number, got ${learningRate}`,
    );
  }
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 1 || layer > params.length) {
      throw new RangeError(
        `Cannot measure ICS: layer must be an integer in 1..${params.length}, got ${layer}`,
      );
    }
  }
  if (options.gradients !== undefined) {
    assertSameStructure(params, options.gradients, "measure ICS");
  }
  if (layers.length === 0) return [];

  const grads = options.gradients ?? gradientsOnly(lossFn, params); // grad L(W)
  const stats: tf.Tensor1D[] = [];
  let stepped: Params = [];
  try {
    // Layers 1..max-1 updated once; layer i's G' mixes updated layers 1..i-1 with current i..L.
    const below = Math.max(...layers) - 1;
    stepped = sgdStep(params.slice(0, below), grads.slice(0, below), learningRate);
    for (const layer of layers) {
      stats.push(tf.tidy(() => {
        const g = grads[layer - 1]!.kernel; // G_i, shape of layer i's kernel
        const partlyUpdated = [...stepped.slice(0, layer - 1), ...params.slice(layer - 1)];
        const kernel = params[layer - 1]!.kernel;
        // Differentiate only with respect to layer i's kernel: the backward pass then stops at
        // layer i instead of reaching the (unneeded) weights of earlier layers.
        const gPrime = tf.grad((k: tf.Tensor) => {
          const withKernel = partlyUpdated.slice();
          withKernel[layer - 1] = { ...partlyUpdated[layer - 1]!, kernel: k };
          return lossFn(withKernel);
        })(kernel); // G'_i
        return tf.stack([
          l2Distance(g, gPrime),
          cosineSimilarity(g, gPrime),
          globalNorm(g),
          globalNorm(gPrime),
        ]) as tf.Tensor1D; // [4]
      }));
    }
    // Read back only once every layer is queued: the device never waits on the host between.
    const values = await Promise.all(stats.map((t) => t.data()));
    return values.map((v, k) => ({
      layer: layers[k]!,
      l2: v[0]!,
      cosine: v[1]!,
      normG: v[2]!,
      normGPrime: v[3]!,
    }));
  } finally {
    tf.dispose(stats);
    disposeParams(stepped);
    if (options.gradients === undefined) disposeParams(grads);
  }
}

/** grad L(W) without the loss value. */
function gradientsOnly(lossFn: LossFn, params: Params): Params {
  const { loss, grads } = lossAndGradients(lossFn, params);
  loss.dispose();
  return grads;
}
