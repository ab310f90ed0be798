/**
 * Private: a plain stack of weight layers (conv 3x3 SAME or dense), each optionally followed by
 * a normalisation, a ReLU and a 2x2 max-pool. VGG, the deep linear network and the MLP are
 * all such stacks; this module holds their one forward pass.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { biasRelu, biasReluFused } from "./bias_relu.ts";
import { fusedSoftmaxCrossEntropy } from "./fused_loss.ts";
import { initParams } from "./init.ts";
import { hasAffine, hasStatistics, normalize } from "./norm.ts";
import type {
  ForwardOptions,
  ForwardResult,
  LayerActivations,
  Network,
  Normalization,
  NormState,
  Params,
  RunningMoments,
} from "./types.ts";

/** One weight layer of a stack. */
export interface StackLayer {
  /** e.g. "conv1", "dense9". */
  name: string;
  /** Conv [3, 3, cin, cout] (stride 1, SAME) or dense [in, out]. */
  kernelShape: readonly number[];
  /** Whether the linear map adds a bias. */
  bias: boolean;
  /** Whether the network's normalisation follows this layer. */
  normalized: boolean;
  /** Whether a ReLU follows (after the normalisation). */
  relu: boolean;
  /** Whether a 2x2 max-pool, stride 2, follows the ReLU. */
  pool: boolean;
}

/** Everything that defines a stack network. */
export interface StackSpec {
  name: string;
  normalization: Normalization;
  /**
   * Shape of one input sample, e.g. [32, 32, 3] or [10]. Stacks that start with a dense layer
   * accept any sample shape of that size and flatten it.
   */
  inputShape: readonly number[];
  layers: readonly StackLayer[];
  loss: (output: tf.Tensor2D, targets: tf.Tensor) => tf.Scalar;
}

function checkInput(spec: StackSpec, params: Params, x: tf.Tensor): void {
  if (params.length !== spec.layers.length) {
    throw new TypeError(
      `Cannot run ${spec.name}: params must have ${spec.layers.length} layers, got ${params.length}`,
    );
  }
  const sample = x.shape.slice(1);
  const first = spec.layers[0]!.kernelShape;
  // A dense first layer flattens its input, so any sample shape of the right size will do.
  const ok = first.length === 2
    ? x.rank >= 2 && sample.reduce((a, b) => a * b, 1) === first[0]
    : x.rank === spec.inputShape.length + 1 && sample.every((d, i) => d === spec.inputShape[i]);
  if (!ok) {
    throw new TypeError(
      `Cannot run ${spec.name}: input must be [N, ${spec.inputShape}], got [${x.shape}]`,
    );
  }
}

function checkCapture(spec: StackSpec, capture: readonly number[]): void {
  for (const layer of capture) {
    if (!Number.isInteger(layer) || layer < 1 || layer > spec.layers.length) {
      throw new RangeError(
        `Cannot capture ${spec.name} layer: number must be in 1..${spec.layers.length}, got ${layer}`,
      );
    }
  }
}

/**
 * Build a `Network` from a stack spec.
 *
 * @param spec Layers, input shape, loss.
 * @returns The network.
 */
export function createStack(spec: StackSpec): Network {
  const { normalization, layers } = spec;
  const affine = hasAffine(normalization);
  const statistics = hasStatistics(normalization);
  const layerNames = Object.freeze(layers.map((l) => l.name));

  function init(seed: number): Params {
    return initParams(
      layers.map((l) => ({
        kernelShape: l.kernelShape,
        bias: l.bias,
        affine: l.normalized && affine,
      })),
      seed,
    );
  }

  function initState(): NormState {
    return layers.map((l): RunningMoments | undefined => {
      if (!l.normalized || !statistics) return undefined;
      const units = l.kernelShape[l.kernelShape.length - 1]!;
      return { mean: tf.zeros([units]), variance: tf.ones([units]) };
    });
  }

  function forward(params: Params, x: tf.Tensor, options: ForwardOptions): ForwardResult {
    checkInput(spec, params, x);
    const capture = options.capture ?? [];
    checkCapture(spec, capture);
    // Flat list of returned tensors, so one tidy frees every intermediate.
    const momentLayers: number[] = [];
    const captured = [...new Set(capture)];
    const flat = tf.tidy(() => {
      const moments: tf.Tensor[] = [];
      const activations: tf.Tensor[] = [];
      let h = x; // [N, ...inputShape]
      layers.forEach((layer, index) => {
        const p = params[index]!;
        let z: tf.Tensor; // [N, H, W, cout] or [N, out]
        if (layer.kernelShape.length === 4) {
          z = tf.conv2d(h as tf.Tensor4D, p.kernel as tf.Tensor4D, 1, "same");
        } else {
          // Flatten [N, H, W, C] -> [N, H * W * C] before the first dense layer.
          const flatIn = h.rank === 2 ? h : tf.reshape(h, [h.shape[0]!, -1]);
          z = tf.matMul(flatIn as tf.Tensor2D, p.kernel as tf.Tensor2D);
        }
        // relu(z + bias) as one fused op where nothing sits between the bias and the ReLU and
        // the pre-activation is not captured (same values, fewer kernel calls).
        const passThrough = !layer.normalized || normalization === "none";
        if (
          layer.relu && p.bias !== undefined && passThrough && !captured.includes(index + 1) &&
          biasReluFused()
        ) {
          h = biasRelu(z, p.bias);
          if (layer.pool) h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
          return;
        }
        if (p.bias !== undefined) z = tf.add(z, p.bias); // [out] broadcasts on the last axis
        let a = z;
        if (layer.normalized) {
          const result = normalize(z, normalization, {
            training: options.training,
            layer: index + 1,
            ...(p.gamma !== undefined ? { gamma: p.gamma } : {}),
            ...(p.beta !== undefined ? { beta: p.beta } : {}),
            ...(options.noiseKey !== undefined ? { noiseKey: options.noiseKey } : {}),
            ...(options.state?.[index] !== undefined ? { running: options.state[index] } : {}),
          });
          a = result.output;
          if (result.batchMoments !== undefined) {
            momentLayers.push(index);
            moments.push(result.batchMoments.mean, result.batchMoments.variance);
          }
        }
        if (captured.includes(index + 1)) activations.push(z, a);
        h = layer.relu ? tf.relu(a) : a;
        if (layer.pool) h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
      });
      return [h, ...moments, ...activations];
    });
    const output = flat[0] as tf.Tensor2D;
    const batchMoments: (RunningMoments | undefined)[] = layers.map(() => undefined);
    momentLayers.forEach((index, k) => {
      batchMoments[index] = {
        mean: flat[1 + 2 * k] as tf.Tensor1D,
        variance: flat[2 + 2 * k] as tf.Tensor1D,
      };
    });
    const activations = new Map<number, LayerActivations>();
    const offset = 1 + 2 * momentLayers.length;
    // Captures were pushed in layer order.
    [...captured].sort((a, b) => a - b).forEach((layer, k) => {
      activations.set(layer, {
        preNorm: flat[offset + 2 * k]!,
        postNorm: flat[offset + 2 * k + 1]!,
      });
    });
    return { output, batchMoments, activations };
  }

  return {
    name: spec.name,
    normalization,
    layerNames,
    init,
    initState,
    forward,
    loss: spec.loss,
  };
}

/**
 * Softmax cross-entropy averaged over the batch.
 *
 * @param logits [N, K]
 * @param labels int32 [N], values in 0..K-1.
 * @returns Scalar loss.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
  if (labels.dtype !== "int32" || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new TypeError(
      `Cannot compute cross-entropy: labels must be int32 [${
        logits.shape[0]
      }], got ${labels.dtype} [${labels.shape}]`,
    );
  }
  const fused = fusedSoftmaxCrossEntropy(logits, labels); // one kernel each way on webgpu
  if (fused !== null) return fused;
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits); // [N, K]
    const oneHot = tf.oneHot(labels as tf.Tensor1D, logits.shape[1]); // [N, K]
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logProbs), 1))) as tf.Scalar;
  });
}

/**
 * Squared error summed over samples and output dimensions.
 *
 * @param output [N, D]
 * @param targets float32 [N, D]
 * @returns Scalar loss.
 */
export function summedSquaredError(output: tf.Tensor2D, targets: tf.Tensor): tf.Scalar {
  if (targets.rank !== 2 || targets.shape.some((d, i) => d !== output.shape[i])) {
    throw new TypeError(
      `Cannot compute squared error: targets must be [${output.shape}], got [${targets.shape}]`,
    );
  }
  return tf.tidy(() => tf.sum(tf.squaredDifference(output, targets)) as tf.Scalar);
}
