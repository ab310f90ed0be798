/**
 * BatchNorm with batch statistics as two fused kernels on the tfjs wasm backend's heap.
 *
 * Stock wasm element-wise kernels run at about 3 ns per element (a 2 M-float `Mul`, `Sub` or
 * `Relu` takes 5-8 ms on this project's 2-core machine), so BatchNorm's forward and backward
 * chains (about 6 and 7 full-size ops per layer) cost more than many convolutions. Each kernel
 * here makes two or three plain-JS passes over the activation viewed as [M, C] (units last),
 * with float64 per-unit accumulators (a pass costs about 2 ns per element, so passes are
 * what is saved):
 * - `BatchNormTrainingForward` (x, gamma?, beta?) -> y, mean, variance:
 *   mean and biased variance per unit (one pass of shifted float64 sums), then
 *   y = (x - mean) * rsqrt(variance + eps) * gamma + beta;
 * - `BatchNormTrainingBackward` (dy, x, mean, variance, gamma?) -> dx, dgamma, dbeta: the
 *   closed form with xhat = (x - mean) * rstd, dbeta = sum(dy), dgamma = sum(dy * xhat),
 *   dx = gamma * rstd * (dy - dbeta / M - xhat * dgamma / M).
 * `lib/models/norm.ts` calls them when the current backend has them (wasm after
 * `registerWasmBatchNormKernels()`); other backends run the same formulas as tfjs ops. Where
 * native kernels are installed (`native.ts`: oneDNN), both passes run there instead.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { nativeKernels } from "./native.ts";
import { type KernelArgs, registerNewKernels } from "./kernel_args.ts";
import type { WasmHeapBackend } from "./wasm_heap.ts";

/** Kernel name of the fused training-mode BatchNorm forward pass. */
export const BATCH_NORM_TRAINING_FORWARD = "BatchNormTrainingForward";

/** Kernel name of the fused training-mode BatchNorm backward pass. */
export const BATCH_NORM_TRAINING_BACKWARD = "BatchNormTrainingBackward";

/** Attributes of both kernels. */
interface BatchNormTrainingAttrs {
  /** Added to the variance before the square root. */
  epsilon: number;
}

/** A float32 input by name; throws a TypeError when it is missing or of another dtype. */
function floatInput(args: KernelArgs, op: string, name: string): tf.TensorInfo {
  const info = args.inputs[name];
  if (info === undefined || info.dtype !== "float32") {
    throw new TypeError(
      `Cannot compute ${op} on wasm: input ${name} must be a float32 tensor, got ${
        info?.dtype ?? "none"
      }`,
    );
  }
  return info;
}

/** An optional per-unit input ([C]) by name, checked against the unit count. */
function unitInput(
  args: KernelArgs,
  op: string,
  name: string,
  units: number,
): tf.TensorInfo | undefined {
  if (args.inputs[name] === undefined) return undefined;
  const info = floatInput(args, op, name);
  if (tf.util.sizeFromShape(info.shape) !== units) {
    throw new TypeError(
      `Cannot compute ${op} on wasm: ${name} must have ${units} elements, got [${info.shape}]`,
    );
  }
  return info;
}

/** The activation's rows M and units C (the last axis); throws for rank < 2. */
function rowsAndUnits(op: string, x: tf.TensorInfo): [number, number] {
  if (x.shape.length < 2) {
    throw new TypeError(`Cannot compute ${op} on wasm: x must be [N, (H, W,) C], got [${x.shape}]`);
  }
  const units = x.shape[x.shape.length - 1]!;
  return [tf.util.sizeFromShape(x.shape) / units, units];
}

/** The per-unit statistics' shape: x's with every axis but the last set to 1. */
function unitShape(x: tf.TensorInfo): number[] {
  return x.shape.map((d, i) => i === x.shape.length - 1 ? d : 1);
}

/** Forward kernel: see the module doc. Outputs y [x.shape], mean and variance [1, ..., C]. */
function batchNormTrainingForward(args: KernelArgs): tf.TensorInfo[] {
  const op = BATCH_NORM_TRAINING_FORWARD;
  const backend = args.backend as WasmHeapBackend;
  const { epsilon } = args.attrs as unknown as BatchNormTrainingAttrs;
  const x = floatInput(args, op, "x");
  const [m, c] = rowsAndUnits(op, x);
  const gammaInfo = unitInput(args, op, "gamma", c);
  const betaInfo = unitInput(args, op, "beta", c);
  const yInfo = backend.makeOutput(x.shape.slice(), "float32");
  const meanInfo = backend.makeOutput(unitShape(x), "float32");
  const varInfo = backend.makeOutput(unitShape(x), "float32");
  // Views only after the last allocation: growing the heap detaches earlier ones.
  const src = backend.typedArrayFromHeap(x); // [M, C]
  const y = backend.typedArrayFromHeap(yInfo);
  const meanOut = backend.typedArrayFromHeap(meanInfo);
  const varOut = backend.typedArrayFromHeap(varInfo);
  const gamma = gammaInfo === undefined ? null : backend.typedArrayFromHeap(gammaInfo);
  const beta = betaInfo === undefined ? null : backend.typedArrayFromHeap(betaInfo);
  const native = nativeKernels();
  if (
    native?.batchNormForward(
      m,
      c,
      epsilon,
      src as Float32Array,
      gamma as Float32Array | null,
      beta as Float32Array | null,
      { y: y as Float32Array, mean: meanOut as Float32Array, variance: varOut as Float32Array },
    )
  ) {
    return [yInfo, meanInfo, varInfo];
  }
  // One pass for both moments: float64 sums of x - k and (x - k)^2 with k = the unit's first
  // value, which keeps the variance's cancellation error near float64 rounding.
  const k = Float64Array.from(src.subarray(0, c));
  const s1 = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let row = 0, o = 0; row < m; row++, o += c) {
    for (let j = 0; j < c; j++) {
      const d = src[o + j]! - k[j]!;
      s1[j]! += d;
      s2[j]! += d * d;
    }
  }
  // float32 statistics, as the tfjs op chain keeps them (the outputs feed running averages).
  const mean = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    const shifted = s1[j]! / m;
    meanOut[j] = k[j]! + shifted;
    mean[j] = meanOut[j]!; // centre with the stored (rounded) mean, as the backward pass does
    varOut[j] = Math.max(s2[j]! / m - shifted * shifted, 0);
  }
  const scale = new Float64Array(c); // gamma * rstd
  const shift = new Float64Array(c); // beta
  for (let j = 0; j < c; j++) {
    scale[j] = (gamma?.[j] ?? 1) / Math.sqrt(varOut[j]! + epsilon);
    shift[j] = beta?.[j] ?? 0;
  }
  for (let row = 0, o = 0; row < m; row++, o += c) {
    for (let j = 0; j < c; j++) y[o + j] = (src[o + j]! - mean[j]!) * scale[j]! + shift[j]!;
  }
  return [yInfo, meanInfo, varInfo];
}

/** Backward kernel: see the module doc. Outputs dx [x.shape], dgamma and dbeta [C]. */
function batchNormTrainingBackward(args: KernelArgs): tf.TensorInfo[] {
  const op = BATCH_NORM_TRAINING_BACKWARD;
  const backend = args.backend as WasmHeapBackend;
  const { epsilon } = args.attrs as unknown as BatchNormTrainingAttrs;
  const dyInfo = floatInput(args, op, "dy");
  const x = floatInput(args, op, "x");
  const [m, c] = rowsAndUnits(op, x);
  if (tf.util.sizeFromShape(dyInfo.shape) !== m * c) {
    throw new TypeError(
      `Cannot compute ${op} on wasm: dy must have x's shape [${x.shape}], got [${dyInfo.shape}]`,
    );
  }
  const meanInfo = unitInput(args, op, "mean", c);
  const varInfo = unitInput(args, op, "variance", c);
  if (meanInfo === undefined || varInfo === undefined) {
    throw new TypeError(`Cannot compute ${op} on wasm: mean and variance are required, got none`);
  }
  const gammaInfo = unitInput(args, op, "gamma", c);
  const dxInfo = backend.makeOutput(x.shape.slice(), "float32");
  const dGammaInfo = backend.makeOutput([c], "float32");
  const dBetaInfo = backend.makeOutput([c], "float32");
  const src = backend.typedArrayFromHeap(x); // [M, C]
  const dy = backend.typedArrayFromHeap(dyInfo); // [M, C]
  const dx = backend.typedArrayFromHeap(dxInfo);
  const meanIn = backend.typedArrayFromHeap(meanInfo);
  const varIn = backend.typedArrayFromHeap(varInfo);
  const gamma = gammaInfo === undefined ? null : backend.typedArrayFromHeap(gammaInfo);
  const native = nativeKernels();
  if (
    native?.batchNormBackward(m, c, epsilon, {
      dy: dy as Float32Array,
      x: src as Float32Array,
      mean: meanIn as Float32Array,
      variance: varIn as Float32Array,
      gamma: gamma as Float32Array | null,
    }, {
      dx: dx as Float32Array,
      dGamma: backend.typedArrayFromHeap(dGammaInfo) as Float32Array,
      dBeta: backend.typedArrayFromHeap(dBetaInfo) as Float32Array,
    })
  ) {
    return [dxInfo, dGammaInfo, dBetaInfo];
  }
  const mean = Float64Array.from(meanIn);
  const rstd = Float64Array.from(varIn, (v) => 1 / Math.sqrt(v + epsilon));
  const dBeta = new Float64Array(c); // sum(dy)
  const dGamma = new Float64Array(c); // sum(dy * xhat)
  for (let row = 0, o = 0; row < m; row++, o += c) {
    for (let j = 0; j < c; j++) {
      const g = dy[o + j]!;
      dBeta[j]! += g;
      dGamma[j]! += g * (src[o + j]! - mean[j]!) * rstd[j]!;
    }
  }
  // dx = a * dy + b * (x - mean) + d per unit, with a = gamma * rstd.
  const a = new Float64Array(c);
  const b = new Float64Array(c);
  const d = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    a[j] = (gamma?.[j] ?? 1) * rstd[j]!;
    b[j] = -a[j]! * rstd[j]! * dGamma[j]! / m;
    d[j] = -a[j]! * dBeta[j]! / m;
  }
  for (let row = 0, o = 0; row < m; row++, o += c) {
    for (let j = 0; j < c; j++) {
      dx[o + j] = a[j]! * dy[o + j]! + b[j]! * (src[o + j]! - mean[j]!) + d[j]!;
    }
  }
  backend.typedArrayFromHeap(dGammaInfo).set(dGamma);
  backend.typedArrayFromHeap(dBetaInfo).set(dBeta);
  return [dxInfo, dGammaInfo, dBetaInfo];
}

/**
 * Registers the two fused BatchNorm kernels on the wasm backend. Idempotent. The kernels carry
 * no gradient of their own: `lib/models/norm.ts` wraps them in one `tf.customGrad`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import {
 *   BATCH_NORM_TRAINING_FORWARD,
 *   registerWasmBatchNormKernels,
 * } from "./wasm_batchnorm.ts";
 * import assert from "node:assert/strict";
 *
 * registerWasmBatchNormKernels();
 * assert.ok(tf.getKernel(BATCH_NORM_TRAINING_FORWARD, "wasm") !== undefined);
 * ```
 */
export function registerWasmBatchNormKernels(): void {
  registerNewKernels("wasm", [
    [BATCH_NORM_TRAINING_FORWARD, batchNormTrainingForward],
    [BATCH_NORM_TRAINING_BACKWARD, batchNormTrainingBackward],
  ]);
}
