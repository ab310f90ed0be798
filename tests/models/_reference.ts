/**
 * Private test helpers: plain-TypeScript float64 references for the networks' arithmetic, and
 * small utilities shared by the model tests.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerParams, Normalization, Params } from "../../lib/models/types.ts";

/** A row-major float64 matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Product a [n, k] x b [k, m]. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new TypeError(`Cannot multiply: ${a.cols} != ${b.rows}`);
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k]!;
      for (let j = 0; j < b.cols; j++) out[i * b.cols + j]! += aik * b.data[k * b.cols + j]!;
    }
  }
  return { rows: a.rows, cols: b.cols, data: out };
}

/**
 * Per-column normalisation of a float64 [rows, cols] matrix in place, as PROTOCOL.md defines
 * each variant (no noise), followed by gamma and beta.
 */
export function normalizeColumns(
  m: Matrix,
  normalization: Normalization,
  gamma: ArrayLike<number> | undefined,
  beta: ArrayLike<number> | undefined,
  eps = 1e-5,
): Matrix {
  const { rows, cols, data } = m;
  const out = new Float64Array(data.length);
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += data[i * cols + j]!;
    mean /= rows;
    let scale = 1;
    let shift = 0;
    switch (normalization) {
      case "none":
      case "noise-only":
        break;
      case "batchnorm":
      case "noisy-batchnorm": {
        let v = 0;
        for (let i = 0; i < rows; i++) v += (data[i * cols + j]! - mean) ** 2;
        v /= rows;
        scale = 1 / Math.sqrt(v + eps);
        shift = mean;
        break;
      }
      case "l1":
      case "l2":
      case "linf": {
        let norm = 0;
        for (let i = 0; i < rows; i++) {
          const a = Math.abs(data[i * cols + j]!);
          if (normalization === "l1") norm += a;
          else if (normalization === "l2") norm += a * a;
          else norm = Math.max(norm, a);
        }
        if (normalization === "l1") norm /= rows;
        if (normalization === "l2") norm = Math.sqrt(norm / rows);
        scale = 1 / (norm + eps);
        shift = mean;
        break;
      }
    }
    const g = gamma?.[j] ?? 1;
    const b = beta?.[j] ?? 0;
    for (let i = 0; i < rows; i++) {
      out[i * cols + j] = (data[i * cols + j]! - shift) * scale * g + b;
    }
  }
  return { rows, cols, data: out };
}

/** Flat host copy of the parameters, in the order of `flattenParams`. */
export function flattenParams(params: Params): tf.Tensor[] {
  return params.flatMap((p) =>
    [p.kernel, p.bias, p.gamma, p.beta].filter((t): t is tf.Tensor => t !== undefined)
  );
}

/** Inverse of `flattenParams` for parameters shaped like `like`. */
export function unflattenParams(like: Params, flat: readonly tf.Tensor[]): Params {
  let k = 0;
  return like.map((p): LayerParams => {
    const q: LayerParams = { kernel: flat[k++]! };
    if (p.bias !== undefined) q.bias = flat[k++]!;
    if (p.gamma !== undefined) q.gamma = flat[k++]!;
    if (p.beta !== undefined) q.beta = flat[k++]!;
    return q;
  });
}

/** Dispose every tensor of a parameter list. */
export function disposeParams(params: Params): void {
  tf.dispose(flattenParams(params));
}

/** Max |a - b| / max(|b|, floor) over two arrays. */
export function maxRelativeError(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  floor: number,
): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  }
  return worst;
}
