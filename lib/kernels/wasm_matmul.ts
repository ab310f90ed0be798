/**
 * `BatchMatMul` for training on wasm: transposed operands (both gradients of a dense layer ask
 * for one) are transposed first so that XNNPACK's fast untransposed path runs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelArgs } from "./kernel_args.ts";
import { free, inputOf, run, type WasmHeapBackend } from "./wasm_kernel_base.ts";

/** Swaps the last two axes of a rank >= 2 tensor with the (fast) Transpose kernel. */
function transposeLast2(backend: WasmHeapBackend, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return run("Transpose", backend, { x }, { perm });
}

/** The [K, N] shape each data buffer was last used with as XNNPACK fully-connected weights. */
const weightShapes = new WeakMap<tf.DataId, string>();

/**
 * Stock wasm BatchMatMul caches XNNPACK's packed weights by the right operand's data id only, so
 * the same buffer seen under another [K, N] view (a reshape, or our leading-axes Sum) would
 * silently reuse stale weights. Returns `b` itself, or a fresh copy when its buffer was packed
 * with another shape; the caller frees a returned copy.
 */
function asWeights(backend: WasmHeapBackend, b: tf.TensorInfo): tf.TensorInfo {
  const rank = b.shape.length;
  const key = `${b.shape[rank - 2]}x${b.shape[rank - 1]}`;
  const previous = weightShapes.get(b.dataId);
  if (previous === undefined || previous === key) {
    weightShapes.set(b.dataId, key);
    return b;
  }
  const copy = run("Identity", backend, { x: b }, {}); // the stock Identity copies the buffer
  weightShapes.set(copy.dataId, key);
  return copy;
}

/** BatchMatMul without transposes, guarded against XNNPACK's weight cache (see `asWeights`). */
function matMulPlain(backend: WasmHeapBackend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const weights = asWeights(backend, b);
  const out = run("BatchMatMul", backend, { a, b: weights }, {
    transposeA: false,
    transposeB: false,
  });
  if (weights !== b) free(backend, weights);
  return out;
}

/**
 * BatchMatMul with transposed operands materialised first, so that the product runs on
 * XNNPACK's fully-connected path instead of the stock scalar loop.
 */
export function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
  const a = inputOf(args, "BatchMatMul", "a");
  const b = inputOf(args, "BatchMatMul", "b");
  const aN = attrs.transposeA ? transposeLast2(backend, a) : a;
  const bN = attrs.transposeB ? transposeLast2(backend, b) : b;
  const out = matMulPlain(backend, aN, bN);
  if (aN !== a) free(backend, aN);
  if (bN !== b) free(backend, bN);
  return out;
}
