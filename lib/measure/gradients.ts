/**
 * Gradients of a loss and small vector-space measures over `Params` (norms, distances, dot
 * products, cosines), used by the measurements (ICS, loss landscape).
 *
 * Every function here is synchronous, reads nothing back to the host, and returns tensors owned
 * by the caller: dispose them, or call inside `tf.tidy`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Params } from "../models/types.ts";
import { assertSameFlat, type FlatParams, flattenParams, unflattenParams } from "../params.ts";
import type { LossFn } from "./types.ts";

/** Gradients of a loss, in the structure of the parameters. */
export interface LossAndGradients {
  /** The loss at the given parameters. */
  loss: tf.Scalar;
  /** d loss / d param for every parameter tensor, same structure and shapes as the params. */
  grads: Params;
}

/**
 * The loss and its gradient with respect to every parameter tensor, by one forward and one
 * backward pass (`tf.valueAndGrads` over the flattened list).
 *
 * @param lossFn Loss on a fixed batch as a function of the parameters.
 * @param params Where to evaluate; left untouched.
 * @returns The loss and the gradients (owned by the caller; dispose both).
 * @throws {TypeError} When the loss is not a scalar.
 * @throws {Error} (from TensorFlow.js) When the loss does not depend on some parameter.
 */
export function lossAndGradients(lossFn: LossFn, params: Params): LossAndGradients {
  const { tensors, slots } = flattenParams(params);
  // tidy keeps the returned loss and grads and frees everything else, also when a check throws.
  // The rank is checked after the backward pass: a throw during the forward pass would leak the
  // tensors TensorFlow.js saves for the backward pass.
  const { value, grads } = tf.tidy(() => {
    const result = tf.valueAndGrads((...xs: tf.Tensor[]) => lossFn(unflattenParams(xs, slots)))(
      tensors,
    );
    if (result.value.rank !== 0) {
      throw new TypeError(
        `Cannot compute gradients: the loss must be a scalar, got shape [${result.value.shape}]`,
      );
    }
    return { value: result.value as tf.Scalar, grads: result.grads };
  });
  return { loss: value, grads: unflattenParams(grads, slots) };
}

/**
 * Global l2 norm of all entries of a tensor or a parameter set, as one vector.
 *
 * Computed as m * sqrt(sum((x / m)^2)) with m = max |x|, because in float32 the squares
 * overflow for entries above ~1e19 (deep linear network gradients on a summed loss can get
 * there) and underflow below ~1e-19 (gradient differences at small learning rates). A non-finite
 * entry gives NaN.
 *
 * @param x A tensor or parameters.
 * @returns Scalar norm (owned by the caller).
 */
export function globalNorm(x: tf.Tensor | Params): tf.Scalar {
  return tf.tidy(() => {
    const scaled = scaleByMaxAbs(asTensorList(x));
    const sumSquares = tf.addN(scaled.tensors.map((t) => tf.sum(tf.square(t)))); // []
    return tf.mul(scaled.scale, tf.sqrt(sumSquares)) as tf.Scalar;
  });
}

/**
 * l2 distance ||a - b||_2 over all entries of two tensors or parameter sets.
 *
 * @param a First operand.
 * @param b Second operand, same structure and shapes.
 * @returns Scalar distance (owned by the caller).
 */
export function l2Distance(a: tf.Tensor | Params, b: tf.Tensor | Params): tf.Scalar {
  return tf.tidy(() => {
    const [listA, listB] = matchedLists(a, b, "compute a distance");
    return globalNorm(listA.map((x, k) => ({ kernel: tf.sub(x, listB[k]!) })));
  });
}

/**
 * Dot product <a, b> over all entries of two tensors or parameter sets. Plain float32 sum of
 * products (it can overflow where `globalNorm` would not; use `cosineSimilarity` for angles).
 *
 * @param a First operand.
 * @param b Second operand, same structure and shapes.
 * @returns Scalar (owned by the caller).
 */
export function dot(a: tf.Tensor | Params, b: tf.Tensor | Params): tf.Scalar {
  return tf.tidy(() => {
    const [listA, listB] = matchedLists(a, b, "compute a dot product");
    return tf.addN(listA.map((x, k) => tf.sum(tf.mul(x, listB[k]!)))) as tf.Scalar;
  });
}

/**
 * Cosine of the angle between two tensors or parameter sets, <a, b> / (||a|| ||b||).
 * Each operand is first divided by its largest |entry|, so the result neither overflows nor
 * underflows; NaN when either operand is zero.
 *
 * @param a First operand.
 * @param b Second operand, same structure and shapes.
 * @returns Scalar in [-1, 1] up to rounding (owned by the caller).
 */
export function cosineSimilarity(a: tf.Tensor | Params, b: tf.Tensor | Params): tf.Scalar {
  return tf.tidy(() => {
    const [listA, listB] = matchedLists(a, b, "compute a cosine");
    const unitA = scaleByMaxAbs(listA).tensors;
    const unitB = scaleByMaxAbs(listB).tensors;
    const products = tf.addN(unitA.map((x, k) => tf.sum(tf.mul(x, unitB[k]!)))); // []
    const normA = tf.sqrt(tf.addN(unitA.map((x) => tf.sum(tf.square(x))))); // []
    const normB = tf.sqrt(tf.addN(unitB.map((x) => tf.sum(tf.square(x))))); // []
    return tf.div(products, tf.mul(normA, normB)) as tf.Scalar;
  });
}

/** The flat tensor list of a tensor or a parameter set. */
function asTensorList(x: tf.Tensor | Params): tf.Tensor[] {
  return x instanceof tf.Tensor ? [x] : flattenParams(x).tensors;
}

/** Flat tensor lists of two operands, checked to have the same structure and shapes. */
function matchedLists(
  a: tf.Tensor | Params,
  b: tf.Tensor | Params,
  action: string,
): [tf.Tensor[], tf.Tensor[]] {
  const flatA: FlatParams = a instanceof tf.Tensor
    ? { tensors: [a], slots: [{ layer: 1, name: "kernel" }] }
    : flattenParams(a);
  const flatB: FlatParams = b instanceof tf.Tensor
    ? { tensors: [b], slots: [{ layer: 1, name: "kernel" }] }
    : flattenParams(b);
  assertSameFlat(flatA, flatB, action);
  return [flatA.tensors, flatB.tensors];
}

/** Divides every tensor by the largest |entry| over all of them (1 when all are zero). */
function scaleByMaxAbs(tensors: tf.Tensor[]): { scale: tf.Scalar; tensors: tf.Tensor[] } {
  if (tensors.length === 0) {
    throw new RangeError("Cannot compute a norm: expected at least one tensor, got 0");
  }
  const maxAbs = tf.max(tf.stack(tensors.map((t) => tf.max(tf.abs(t))))); // []
  // All-zero input: divide by 1 so the norm is 0 instead of 0/0.
  const scale = tf.where(tf.greater(maxAbs, 0), maxAbs, tf.onesLike(maxAbs)) as tf.Scalar;
  return { scale, tensors: tensors.map((t) => tf.div(t, scale)) };
}
