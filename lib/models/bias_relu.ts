/**
 * `relu(x + bias)` as one differentiable op: one kernel forward and one backward (x's and the
 * bias's gradients together) where the backend has the fused kernels (`BiasRelu`,
 * `BiasReluGrad`: lib/kernels/wasm_relu.ts), else the stock `add` and `relu`. Both give the same
 * values (bitwise on wasm); the fused op saves three kernel calls per layer and step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BIAS_RELU, BIAS_RELU_GRAD } from "../kernels/wasm_relu.ts";

/**
 * Whether the current backend has the fused kernels.
 *
 * @returns True where {@link biasRelu} runs one kernel forward and one backward.
 */
export function biasReluFused(): boolean {
  const backend = tf.getBackend();
  return tf.getKernel(BIAS_RELU, backend) !== undefined &&
    tf.getKernel(BIAS_RELU_GRAD, backend) !== undefined;
}

/**
 * relu(x + bias), bias broadcast on the last axis.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { biasRelu } from "./bias_relu.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const y = biasRelu(tf.tensor2d([[-1, 2], [3, -4]]), tf.tensor1d([0.5, 1]));
 * assert.deepEqual(Array.from(await y.data()), [0, 3, 3.5, 0]);
 * ```
 *
 * @param x [N, ..., C] float32.
 * @param bias [C] float32.
 * @returns [N, ..., C].
 */
export function biasRelu(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  if (!biasReluFused()) return tf.relu(tf.add(x, bias));
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const y = tf.engine().runKernel(BIAS_RELU, { x: input, bias: b }) as tf.Tensor;
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dx, dBias] = tf.engine().runKernel(
          BIAS_RELU_GRAD,
          { dy, y: saved[0]! },
        ) as tf.Tensor[]; // [x.shape], [C]
        return [dx!, dBias!];
      },
    };
  });
  return op(x, bias);
}
