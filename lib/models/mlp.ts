/**
 * A fully connected network for the shallow-network question (claim 6 of PROTOCOL.md): the
 * input [N, ...] (e.g. CIFAR-10's [N, 32, 32, 3]) is flattened to [N, inputDim], then each hidden dense layer is followed by the
 * normalisation and a ReLU, and a last dense layer gives the logits.
 *
 * @module
 */
import { createStack, softmaxCrossEntropy, type StackLayer } from "./_stack.ts";
import type { Network, Normalization } from "./types.ts";

/** Options of `createMlp`. */
export interface MlpOptions {
  /** Normalisation after each hidden layer, before its ReLU. */
  normalization: Normalization;
  /** Hidden widths, e.g. [256] or [256, 256]. */
  hidden: readonly number[];
  /** Flattened input size. Default 3072 (CIFAR-10's 32 x 32 x 3). */
  inputDim?: number;
  /** Number of classes. Default 10. */
  classes?: number;
}

/**
 * The MLP. Layers dense1..dense{hidden.length + 1}; loss softmax cross-entropy averaged over
 * the batch against int32 labels.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createMlp } from "./mlp.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const net = createMlp({ normalization: "batchnorm", hidden: [4], inputDim: 6, classes: 3 });
 * const params = net.init(0);
 * const x = tf.ones([2, 6]);
 * const { output } = net.forward(params, x, { training: true });
 * assert.deepEqual(output.shape, [2, 3]);
 * tf.dispose([x, output, ...params.flatMap((p) => Object.values(p))]);
 * ```
 *
 * @param options Normalisation, hidden widths, input size, classes.
 * @returns The network.
 */
export function createMlp(options: MlpOptions): Network {
  const inputDim = options.inputDim ?? 3072;
  const classes = options.classes ?? 10;
  const widths = [...options.hidden, classes];
  for (const w of [inputDim, ...widths]) {
    if (!Number.isInteger(w) || w < 1) {
      throw new RangeError(`Cannot build MLP: widths must be positive integers, got ${w}`);
    }
  }
  const layers: StackLayer[] = widths.map((out, i) => ({
    name: `dense${i + 1}`,
    kernelShape: [i === 0 ? inputDim : widths[i - 1]!, out],
    bias: true,
    normalized: i < widths.length - 1,
    relu: i < widths.length - 1,
    pool: false,
  }));
  return createStack({
    name: "mlp",
    normalization: options.normalization,
    // Any sample shape of inputDim values, e.g. [32, 32, 3] or [3072], is flattened.
    inputShape: [inputDim],
    layers,
    loss: softmaxCrossEntropy,
  });
}
