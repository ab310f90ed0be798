/**
 * Glorot-uniform initialisation (Glorot & Bengio 2010), as the paper uses for both models.
 *
 * Layer i (1-based) draws its kernel from its own stream, `initStream(i)`, of the run's seed, so
 * its weights depend only on (seed, i, its own shape): changing one layer's width leaves every
 * other layer's weights unchanged. Biases start at 0, gamma at 1, beta at 0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Random, STREAMS } from "../rng.ts";
import type { LayerParams, Params } from "./types.ts";

/** Shape and parameter set of one weight layer. */
export interface LayerInitSpec {
  /** Conv [kh, kw, cin, cout] or dense [in, out]. */
  kernelShape: readonly number[];
  /** Whether the layer has a bias [out]. */
  bias: boolean;
  /** Whether the layer is followed by a normalisation with learnable gamma, beta [out]. */
  affine: boolean;
}

/**
 * The Philox stream of layer `layer`'s initial weights: `STREAMS.init + 1000 * layer`, which
 * never meets another named stream (those are below 1000).
 *
 * @param layer 1-based layer number.
 * @returns A uint32 stream id.
 */
export function initStream(layer: number): number {
  if (!Number.isInteger(layer) || layer < 1 || layer > 4_000_000) {
    throw new RangeError(`Cannot derive an init stream: layer must be in 1..4e6, got ${layer}`);
  }
  return STREAMS.init + 1000 * layer;
}

/**
 * Fan-in and fan-out of a kernel: conv [kh, kw, cin, cout] counts kh * kw * cin inputs and
 * kh * kw * cout outputs per unit (the Keras convention); dense [in, out] counts in and out.
 *
 * @param kernelShape Conv or dense kernel shape.
 * @returns [fanIn, fanOut].
 */
export function fans(kernelShape: readonly number[]): [number, number] {
  if (kernelShape.length === 2) return [kernelShape[0]!, kernelShape[1]!];
  if (kernelShape.length === 4) {
    const receptive = kernelShape[0]! * kernelShape[1]!;
    return [receptive * kernelShape[2]!, receptive * kernelShape[3]!];
  }
  throw new TypeError(
    `Cannot compute fans: kernel must be [in, out] or [kh, kw, cin, cout], got [${kernelShape}]`,
  );
}

/**
 * Host values of a Glorot-uniform kernel: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)), drawn
 * row-major from `Random(seed, initStream(layer))`.
 *
 * @param kernelShape Conv or dense kernel shape.
 * @param seed The run's seed (uint32).
 * @param layer 1-based layer number.
 * @returns The kernel's values, row-major.
 */
export function glorotUniformValues(
  kernelShape: readonly number[],
  seed: number,
  layer: number,
): Float32Array {
  const [fanIn, fanOut] = fans(kernelShape);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const size = kernelShape.reduce((a, b) => a * b, 1);
  return new Random(seed, initStream(layer)).fillUniform(new Float32Array(size), -limit, limit);
}

/**
 * Fresh parameters of a network: Glorot-uniform kernels, zero biases, unit gamma, zero beta.
 *
 * @example
 * ```ts
 * import { initParams } from "./init.ts";
 * import assert from "node:assert/strict";
 *
 * const params = initParams([{ kernelShape: [3, 2], bias: true, affine: false }], 1);
 * assert.deepEqual(params[0]!.kernel.shape, [3, 2]);
 * assert.deepEqual(Array.from(await params[0]!.bias!.data()), [0, 0]);
 * ```
 *
 * @param layers One spec per weight layer, in order.
 * @param seed The run's seed (uint32).
 * @returns Parameters, layer i at index i - 1 (the caller disposes them).
 */
export function initParams(layers: readonly LayerInitSpec[], seed: number): Params {
  return layers.map((layer, index): LayerParams => {
    const shape = [...layer.kernelShape];
    const units = shape[shape.length - 1]!;
    const params: LayerParams = {
      kernel: tf.tensor(glorotUniformValues(shape, seed, index + 1), shape, "float32"),
    };
    if (layer.bias) params.bias = tf.zeros([units]);
    if (layer.affine) {
      params.gamma = tf.ones([units]);
      params.beta = tf.zeros([units]);
    }
    return params;
  });
}
