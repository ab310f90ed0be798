/**
 * The mean softmax cross-entropy and the batch accuracy as one kernel each where the backend
 * has the fused kernels (webgpu: lib/kernels/webgpu_loss.ts), else the stock ops. The two agree
 * to float32 rounding; wasm and cpu keep the stock ops, so their runs stay bitwise as before.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  BATCH_ACCURACY,
  SOFTMAX_CROSS_ENTROPY,
  SOFTMAX_CROSS_ENTROPY_GRAD,
} from "../kernels/loss_names.ts";

const has = (kernel: string) => tf.getKernel(kernel, tf.getBackend()) !== undefined;

/**
 * Mean softmax cross-entropy of `logits` against `labels` as one differentiable kernel, or null
 * where the backend lacks the fused kernels (the caller then uses the stock ops).
 *
 * @param logits [N, K] float32.
 * @param labels [N] int32, values in 0..K-1.
 * @returns The scalar loss, or null.
 */
export function fusedSoftmaxCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor,
): tf.Scalar | null {
  if (!has(SOFTMAX_CROSS_ENTROPY) || !has(SOFTMAX_CROSS_ENTROPY_GRAD)) return null;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [l, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([l]);
    return {
      value: tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY, { logits: l, labels }) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY_GRAD, {
          logits: saved[0]!,
          labels,
          dy,
        }) as tf.Tensor,
    };
  });
  return op(logits) as tf.Scalar;
}

/**
 * Fraction of rows whose first maximum is at the label (`mean(argMax(logits, 1) == labels)`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { batchAccuracy } from "./fused_loss.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const logits = tf.tensor2d([[1, 3], [2, 0], [5, 5]]);
 * const acc = batchAccuracy(logits, tf.tensor1d([1, 1, 0], "int32"));
 * assert.ok(Math.abs((await acc.data())[0]! - 2 / 3) < 1e-7);
 * ```
 *
 * @param logits [N, K].
 * @param labels [N] int32.
 * @returns A scalar in [0, 1].
 */
export function batchAccuracy(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
  if (has(BATCH_ACCURACY)) {
    return tf.engine().runKernel(BATCH_ACCURACY, { logits, labels }) as tf.Scalar;
  }
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32")));
}
