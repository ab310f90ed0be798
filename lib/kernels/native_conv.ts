/**
 * A slot for a native convolution library that the wasm backend's convolution kernels hand their
 * work to when one is installed.
 *
 * The wasm backend's convolutions run through XNNPACK under wasm SIMD128 at 15-33 GFLOP/s; a
 * native library on the same CPU (oneDNN with AVX-512 JIT kernels, the library PyTorch's CPU
 * convolutions use) reaches ~190 GFLOP/s on the VGG's layers with 2 threads. The kernels in
 * `wasm_conv_grads.ts` call the installed implementation with views of the wasm heap, so no data
 * is copied. Nothing here touches a platform API: `onednn.ts` provides the implementation in Deno,
 * and without one the wasm kernels run as before (a browser tab, or a machine without oneDNN).
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

/**
 * Convolutions computed outside tfjs on float32 NHWC buffers. Each method returns false when it
 * cannot handle the geometry (the caller then computes the result itself) and throws only on a
 * failure after it has started writing.
 */
export interface NativeConvolution {
  /** What runs the convolutions, for logs and provenance, e.g. "oneDNN 2.6.3 (libdnnl.so.2)". */
  readonly description: string;
  /** y[N, OH, OW, Co] = conv(x[N, H, W, Ci], w[KH, KW, Ci, Co]). */
  forward(g: ConvGeometry, x: Float32Array, w: Float32Array, y: Float32Array): boolean;
  /** dx[N, H, W, Ci] from dy[N, OH, OW, Co] and w. */
  backwardInput(g: ConvGeometry, dy: Float32Array, w: Float32Array, dx: Float32Array): boolean;
  /** dw[KH, KW, Ci, Co] from x and dy. */
  backwardFilter(g: ConvGeometry, x: Float32Array, dy: Float32Array, dw: Float32Array): boolean;
}

let installed: NativeConvolution | null = null;

/**
 * Installs (or, with null, removes) the native convolution the wasm kernels use.
 *
 * @param native The implementation, or null to go back to the wasm kernels.
 *
 * @example
 * ```ts
 * import { nativeConvolution, setNativeConvolution } from "./native_conv.ts";
 * import assert from "node:assert/strict";
 *
 * setNativeConvolution(null);
 * assert.equal(nativeConvolution(), null);
 * ```
 */
export function setNativeConvolution(native: NativeConvolution | null): void {
  installed = native;
}

/**
 * The native convolution in use, or null.
 *
 * @returns The installed implementation.
 */
export function nativeConvolution(): NativeConvolution | null {
  return installed;
}

/**
 * The geometry of a tfjs `Conv2DInfo` (NHWC, dilation 1), as the native library wants it.
 *
 * @param info tfjs's convolution info.
 * @returns The geometry, with bottom/right padding derived from the output size.
 */
export function geometryOf(info: {
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
}): ConvGeometry {
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
