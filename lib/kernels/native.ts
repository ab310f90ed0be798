/**
 * A slot for a native kernel library that the wasm backend's training kernels hand their work to
 * when one is installed.
 *
 * The wasm backend's convolutions run through XNNPACK under wasm SIMD128 at 15-33 GFLOP/s, and
 * its element-wise passes at 2-3 ns per element; a native library on the same CPU (oneDNN with
 * AVX-512 JIT kernels, the library PyTorch's CPU convolutions use) reaches ~190 GFLOP/s on the
 * VGG's convolutions with 2 threads. The kernels in `wasm_conv_grads.ts` and `wasm_batchnorm.ts`
 * call the installed implementation with views of the wasm heap, so no data is copied. Nothing
 * here touches a platform API: `onednn.ts` provides the implementation in Deno, and without one
 * the wasm kernels run as before (a browser tab, or a machine without oneDNN).
 *
 * @module
 */

/** Geometry of one NHWC convolution with an [KH, KW, Ci, Co] filter, dilation 1. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  /** Zero rows above the input and columns left of it. */
  padTop: number;
  padLeft: number;
  /** Rows below and columns right; negative when the last input rows/columns are never read. */
  padBottom: number;
  padRight: number;
}

/** Geometry of one NHWC max-pool (channels = in = out channels). */
export type PoolGeometry = Omit<ConvGeometry, "outChannels">;

/**
 * Kernels computed outside tfjs on float32 buffers (NHWC activations, [KH, KW, Ci, Co] filters,
 * BatchNorm activations viewed as [rows, units]). Each method returns false when it cannot handle
 * the geometry (the caller then computes the result itself) and throws only on a failure after
 * it has started writing.
 */
export interface NativeKernels {
  /**
   * What runs the kernels, for logs and provenance, e.g.
   * "oneDNN 2.6.3 (libdnnl.so.2; OMP_NUM_THREADS=1)".
   */
  readonly description: string;
  /** y[N, OH, OW, Co] = conv(x[N, H, W, Ci], w[KH, KW, Ci, Co]). */
  convForward(g: ConvGeometry, x: Float32Array, w: Float32Array, y: Float32Array): boolean;
  /** dx[N, H, W, Ci] from dy[N, OH, OW, Co] and w. */
  convBackwardInput(
    g: ConvGeometry,
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
  ): boolean;
  /** dw[KH, KW, Ci, Co] from x and dy. */
  convBackwardFilter(
    g: ConvGeometry,
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
  ): boolean;
  /**
   * Training-mode BatchNorm over the rows of x [rows, units]: mean and biased variance per
   * unit, y = (x - mean) / sqrt(variance + epsilon) * gamma + beta (gamma 1 and beta 0 where
   * null).
   */
  batchNormForward(
    rows: number,
    units: number,
    epsilon: number,
    x: Float32Array,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    out: { y: Float32Array; mean: Float32Array; variance: Float32Array },
  ): boolean;
  /** The gradients of {@link NativeKernels.batchNormForward} given dy and its statistics. */
  batchNormBackward(
    rows: number,
    units: number,
    epsilon: number,
    inputs: {
      dy: Float32Array;
      x: Float32Array;
      mean: Float32Array;
      variance: Float32Array;
      gamma: Float32Array | null;
    },
    out: { dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array },
  ): boolean;
  /**
   * dx[N, H, W, C] of a max-pool: each dy goes to the maximum of its window of x (padding
   * never wins).
   */
  maxPoolBackward(g: PoolGeometry, x: Float32Array, dy: Float32Array, dx: Float32Array): boolean;
}

let installed: NativeKernels | null = null;

/**
 * Installs (or, with null, removes) the native kernels the wasm kernels use.
 *
 * @param native The implementation, or null to go back to the wasm kernels.
 *
 * @example
 * ```ts
 * import { nativeKernels, setNativeKernels } from "./native.ts";
 * import assert from "node:assert/strict";
 *
 * setNativeKernels(null);
 * assert.equal(nativeKernels(), null);
 * ```
 */
export function setNativeKernels(native: NativeKernels | null): void {
  installed = native;
}

/**
 * The native kernels in use, or null.
 *
 * @returns The installed implementation.
 */
export function nativeKernels(): NativeKernels | null {
  return installed;
}

/** The fields of tfjs's `Conv2DInfo` the geometry needs (pooling infos have them too). */
interface WindowInfo {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padInfo: { top: number; left: number };
}

/**
 * The geometry of a tfjs `Conv2DInfo` (NHWC, dilation 1), as the native library wants it.
 *
 * @param info tfjs's convolution (or pooling) info.
 * @returns The geometry, with bottom/right padding derived from the output size.
 */
export function geometryOf(info: WindowInfo): ConvGeometry {
  const { padInfo } = info;
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: padInfo.top,
    padLeft: padInfo.left,
    // The rows the last output reads past the input (SAME) or leaves unread (VALID remainder).
    padBottom: (info.outHeight - 1) * info.strideHeight + info.filterHeight - info.inHeight -
      padInfo.top,
    padRight: (info.outWidth - 1) * info.strideWidth + info.filterWidth - info.inWidth -
      padInfo.left,
  };
}

/**
 * The geometry of a tfjs pooling info (NHWC, dilation 1).
 *
 * @param info tfjs's `Conv2DInfo` from `computePool2DInfo`.
 * @returns The geometry without the output channel count (equal to the input's).
 */
export function poolGeometryOf(info: WindowInfo): PoolGeometry {
  const { outChannels: _, ...geometry } = geometryOf(info);
  return geometry;
}
