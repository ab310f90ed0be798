/**
 * Shared types of the networks the experiments train and measure.
 *
 * Networks are functional: parameters are plain tensors grouped per weight layer, and
 * `forward` is a pure function of (parameters, batch, options). Training replaces the tensors
 * each step; measurements (ICS, loss landscape) evaluate the same function at perturbed
 * parameters without touching the trajectory.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Normalisation placed after each normalised layer's linear map, before its nonlinearity. */
export type Normalization =
  | "none"
  | "batchnorm"
  | "noisy-batchnorm"
  | "noise-only"
  | "l1"
  | "l2"
  | "linf";

/** Every normalisation, in the order figures list them. */
export const NORMALIZATIONS: readonly Normalization[] = [
  "none",
  "batchnorm",
  "noisy-batchnorm",
  "noise-only",
  "l1",
  "l2",
  "linf",
];

/**
 * Trainable parameters of one weight layer. `kernel` is always present; `bias` is absent in the
 * deep linear network; `gamma`/`beta` (scale, shift) exist only where the layer is followed by a
 * normalisation with learnable affine parameters.
 */
export interface LayerParams {
  /** Conv: [kh, kw, cin, cout]; dense: [in, out]. */
  kernel: tf.Tensor;
  /** [cout] or [out]. */
  bias?: tf.Tensor;
  /** Normalisation scale, [units]. */
  gamma?: tf.Tensor;
  /** Normalisation shift, [units]. */
  beta?: tf.Tensor;
}

/** Parameters of a whole network, one entry per weight layer in order: layer i is `params[i - 1]`. */
export type Params = LayerParams[];

/**
 * Running statistics of one normalised layer (evaluation mode). For BatchNorm they are the mean
 * and (biased) variance; for the l_p variants the `variance` slot holds the average l_p norm
 * that the layer divides by.
 */
export interface RunningMoments {
  /** [units] */
  mean: tf.Tensor1D;
  /** [units]: variance (BatchNorm) or l_p norm (l1, l2, linf). */
  variance: tf.Tensor1D;
}

/**
 * Non-trainable state: running moments per normalised layer, indexed like `Params`
 * (`undefined` where layer i has no normalisation).
 */
export type NormState = (RunningMoments | undefined)[];

/** Identifies one draw of the training noise: the same key gives bitwise the same noise. */
export interface NoiseKey {
  /** The run's seed. */
  seed: number;
  /** The training step (each step gets fresh noise, Algorithm 1). */
  step: number;
}

/** Options of one forward pass. */
export interface ForwardOptions {
  /**
   * Training mode: batch statistics and noise on. Evaluation mode: running moments (when
   * `state` is given) and no noise.
   */
  training: boolean;
  /** Required in training mode for the noisy variants; ignored otherwise. */
  noiseKey?: NoiseKey;
  /** Running moments for evaluation mode. */
  state?: NormState;
  /** 1-based layer numbers whose activations to return (see `ForwardResult.activations`). */
  capture?: readonly number[];
}

/** Activations of one captured layer, each [batch, (h, w,) units]. */
export interface LayerActivations {
  /** Output of the linear map (conv/dense + bias): the input of the normalisation. */
  preNorm: tf.Tensor;
  /** Output of the normalisation (and noise), before the nonlinearity. */
  postNorm: tf.Tensor;
}

/** What one forward pass returns. */
export interface ForwardResult {
  /** Network output: logits [batch, classes] (VGG, MLP) or [batch, out] (DLN). */
  output: tf.Tensor2D;
  /**
   * Training mode only: this batch's per-unit mean and (biased) variance (l_p norm for the
   * l_p variants) of each normalised layer's input, indexed like `Params`, for updating running
   * statistics.
   */
  batchMoments: (RunningMoments | undefined)[];
  /** Captured layers, keyed by 1-based layer number. */
  activations: Map<number, LayerActivations>;
}

/** A network architecture with one normalisation. */
export interface Network {
  /** Short name, e.g. "vgg", "dln", "mlp". */
  readonly name: string;
  readonly normalization: Normalization;
  /** One name per weight layer, in order ("conv1" .. "dense11"). */
  readonly layerNames: readonly string[];
  /** Glorot-initialised parameters from an explicit seed. */
  init(seed: number): Params;
  /** Fresh running moments (mean 0, variance 1). */
  initState(): NormState;
  /** A pure forward pass. Call inside `tf.tidy` or dispose the result. */
  forward(params: Params, x: tf.Tensor, options: ForwardOptions): ForwardResult;
  /**
   * The training loss of an output against targets: softmax cross-entropy averaged over the
   * batch for classifiers (labels int32 [batch]); summed squared error for the DLN
   * (targets float32 [batch, out]).
   */
  loss(output: tf.Tensor2D, targets: tf.Tensor): tf.Scalar;
}
