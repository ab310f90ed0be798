/**
 * The deep linear network (DLN) of the paper: `depth` dense dim x dim layers, no bias, no
 * nonlinearity, trained full-batch on the squared error of W_depth ... W_1 x against A x.
 *
 * Choices the paper leaves open (PROTOCOL.md, state them in paper.md):
 * - the normalisation follows every layer but the last (the output layer is plain linear);
 * - the loss is the squared error SUMMED over samples and output dimensions;
 * - the affine variants keep their gamma/beta here too, as in the VGG.
 *
 * Rows are samples: a layer maps x [N, in] to x W [N, out], so our W_i is the paper's W_i
 * transposed and the targets are x A^T.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Random, STREAMS } from "../rng.ts";
import { createStack, type StackLayer, summedSquaredError } from "./_stack.ts";
import type { Network, Normalization } from "./types.ts";

/** Options of `createDln`. */
export interface DlnOptions {
  /** Normalisation after each layer but the last. */
  normalization: Normalization;
  /** Number of layers. Default 25. */
  depth?: number;
  /** Width of every layer (input and output too). Default 10. */
  dim?: number;
}

/** Options of `dlnProblem`. */
export interface DlnProblemOptions {
  /** Number of samples x. Default 1000. */
  samples?: number;
  /** Dimension of x and A x. Default 10. */
  dim?: number;
}

/** The regression problem of the DLN. */
export interface DlnProblem {
  /** x ~ N(0, I), [samples, dim]. */
  inputs: tf.Tensor2D;
  /** A x for every sample, i.e. x A^T, [samples, dim]. */
  targets: tf.Tensor2D;
  /** A, i.i.d. N(0, 1), [dim, dim]. */
  matrix: tf.Tensor2D;
}

function checkPositiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Cannot build DLN: ${what} must be a positive integer, got ${value}`);
  }
}

/**
 * The deep linear network. Input float32 [N, dim], output [N, dim], loss summed squared error
 * against targets [N, dim]. Layers are named dense1..dense{depth}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createDln, dlnProblem } from "./dln.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const net = createDln({ normalization: "none", depth: 3, dim: 2 });
 * const params = net.init(0);
 * const { inputs, targets, matrix } = dlnProblem(0, { samples: 5, dim: 2 });
 * const { output } = net.forward(params, inputs, { training: true });
 * const loss = net.loss(output, targets);
 * assert.ok((await loss.data())[0]! > 0);
 * tf.dispose([output, loss, inputs, targets, matrix, ...params.map((p) => p.kernel)]);
 * ```
 *
 * @param options Normalisation, depth, width.
 * @returns The network.
 */
export function createDln(options: DlnOptions): Network {
  const depth = options.depth ?? 25;
  const dim = options.dim ?? 10;
  checkPositiveInt(depth, "depth");
  checkPositiveInt(dim, "dim");
  const layers: StackLayer[] = [];
  for (let i = 1; i <= depth; i++) {
    layers.push({
      name: `dense${i}`,
      kernelShape: [dim, dim],
      bias: false,
      normalized: i < depth,
      relu: false,
      pool: false,
    });
  }
  return createStack({
    name: "dln",
    normalization: options.normalization,
    inputShape: [dim],
    layers,
    loss: summedSquaredError,
  });
}

/**
 * The DLN's data: A (dim x dim, i.i.d. N(0, 1)) then x ~ N(0, I) (samples x dim), drawn in that
 * order, row-major, from `Random(seed, STREAMS.data)` (so A does not depend on `samples`), and
 * targets x A^T.
 *
 * @param seed The run's seed (uint32).
 * @param options Samples, dimension.
 * @returns Inputs, targets and A (the caller disposes them).
 */
export function dlnProblem(seed: number, options: DlnProblemOptions = {}): DlnProblem {
  const samples = options.samples ?? 1000;
  const dim = options.dim ?? 10;
  checkPositiveInt(samples, "samples");
  checkPositiveInt(dim, "dim");
  const random = new Random(seed, STREAMS.data);
  const a = random.fillNormal(new Float32Array(dim * dim));
  const x = random.fillNormal(new Float32Array(samples * dim));
  const matrix = tf.tensor2d(a, [dim, dim]);
  const inputs = tf.tensor2d(x, [samples, dim]);
  const targets: tf.Tensor2D = tf.matMul(inputs, matrix, false, true); // [samples, dim]
  return { inputs, targets, matrix };
}
