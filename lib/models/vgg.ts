/**
 * The VGG-style CIFAR-10 network of the paper (as the seed notebook fixes it, PROTOCOL.md):
 * eight 3x3 SAME conv layers of widths 64-128-256-256-512-512-512-512, each conv + bias ->
 * norm -> ReLU, a 2x2 max-pool (stride 2) after conv 1, 2, 4, 6 and 8 (32 -> 1 spatially), then
 * dense 512 -> 512, ReLU, 512 -> 512, ReLU, 512 -> classes. The normalisation sits in the conv
 * blocks only. Weight layers: conv1..conv8 (1-8), dense9, dense10, dense11 (9-11).
 *
 * @module
 */
import { createStack, softmaxCrossEntropy, type StackLayer } from "./_stack.ts";
import { hasAffine } from "./norm.ts";
import type { Network, Normalization } from "./types.ts";

/** Conv widths of the full-size VGG, conv1..conv8. */
export const VGG_CONV_WIDTHS: readonly number[] = [64, 128, 256, 256, 512, 512, 512, 512];

/** Width of the hidden dense layers of the full-size VGG. */
export const VGG_DENSE_WIDTH = 512;

/** Conv layers (1-based) followed by a 2x2 max-pool. */
export const VGG_POOL_AFTER: readonly number[] = [1, 2, 4, 6, 8];

/** Side of the square input images (CIFAR-10: 32). Five pools take it to 1. */
export const VGG_INPUT_SIZE = 32;

/** Options of `createVgg`. */
export interface VggOptions {
  /** Normalisation of the conv blocks. */
  normalization: Normalization;
  /** Multiplier on every channel width (e.g. 0.25); widths are rounded, at least 1. Default 1. */
  width?: number;
  /** Number of classes. Default 10. */
  classes?: number;
}

/**
 * Channel width after the width multiplier: `max(1, round(base * width))`.
 *
 * @param base Full-size width.
 * @param width Multiplier.
 * @returns The scaled width.
 */
export function scaledWidth(base: number, width: number): number {
  return Math.max(1, Math.round(base * width));
}

/**
 * Number of trainable parameters of `createVgg(options)`: per conv layer 9 cin cout + cout,
 * plus 2 cout (gamma, beta) with an affine normalisation; per dense layer in out + out.
 *
 * @param options As for `createVgg`.
 * @returns The parameter count.
 */
export function vggParameterCount(options: VggOptions): number {
  return vggLayers(options).reduce((total, layer) => {
    const units = layer.kernelShape[layer.kernelShape.length - 1]!;
    const kernel = layer.kernelShape.reduce((a, b) => a * b, 1);
    const affine = layer.normalized && hasAffine(options.normalization) ? 2 * units : 0;
    return total + kernel + units + affine;
  }, 0);
}

function vggLayers(options: VggOptions): StackLayer[] {
  const width = options.width ?? 1;
  const classes = options.classes ?? 10;
  if (!(width > 0) || !Number.isFinite(width)) {
    throw new RangeError(`Cannot build VGG: width must be a positive number, got ${width}`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`Cannot build VGG: classes must be a positive integer, got ${classes}`);
  }
  const layers: StackLayer[] = [];
  let channels = 3;
  VGG_CONV_WIDTHS.forEach((base, i) => {
    const out = scaledWidth(base, width);
    layers.push({
      name: `conv${i + 1}`,
      kernelShape: [3, 3, channels, out],
      bias: true,
      normalized: true,
      relu: true,
      pool: VGG_POOL_AFTER.includes(i + 1),
    });
    channels = out;
  });
  const dense = scaledWidth(VGG_DENSE_WIDTH, width);
  // After five pools the map is 1x1, so the flattened input has `channels` entries.
  const denseIn = [channels, dense, dense];
  const denseOut = [dense, dense, classes];
  for (let k = 0; k < 3; k++) {
    layers.push({
      name: `dense${9 + k}`,
      kernelShape: [denseIn[k]!, denseOut[k]!],
      bias: true,
      normalized: false,
      relu: k < 2,
      pool: false,
    });
  }
  return layers;
}

/**
 * The paper's VGG with one normalisation. Input float32 [N, 32, 32, 3] (already normalised),
 * output logits [N, classes], loss softmax cross-entropy averaged over the batch against int32
 * labels [N]. Captured dense layers report the pre-activation as both preNorm and postNorm.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createVgg } from "./vgg.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const net = createVgg({ normalization: "batchnorm", width: 1 / 32 });
 * const params = net.init(0);
 * const x = tf.zeros([2, 32, 32, 3]);
 * const { output } = net.forward(params, x, { training: false });
 * assert.deepEqual(output.shape, [2, 10]);
 * assert.equal(net.layerNames.length, 11);
 * tf.dispose([x, output, ...params.flatMap((p) => Object.values(p))]);
 * ```
 *
 * @param options Normalisation, width multiplier, classes.
 * @returns The network.
 */
export function createVgg(options: VggOptions): Network {
  return createStack({
    name: "vgg",
    normalization: options.normalization,
    inputShape: [VGG_INPUT_SIZE, VGG_INPUT_SIZE, 3],
    layers: vggLayers(options),
    loss: softmaxCrossEntropy,
  });
}
