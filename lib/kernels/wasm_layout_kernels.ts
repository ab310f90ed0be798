/**
 * Single-pass and memcpy-speed wasm kernels that training needs besides convolutions and
 * matrix products: `Tile`, `UnsortedSegmentSum`, `MaxPoolGrad`, leading-axis `Sum`/`Mean`,
 * and copy-free `Identity` and same-dtype `Cast`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { nativeKernels, poolGeometryOf } from "./native.ts";
import type { KernelArgs } from "./kernel_args.ts";
import { inputOf, type KernelFn, run, type WasmHeapBackend } from "./wasm_kernel_base.ts";

/**
 * Tiles `src` of shape `shape` by `reps` into `dst` (row-major), copying whole blocks: each
 * axis's first copy is built recursively, then doubled with `copyWithin` (a memmove).
 *
 * @example
 * ```ts
 * import { tileInto } from "./wasm_conv_grads.ts";
 * import assert from "node:assert/strict";
 *
 * const dst = new Float32Array(8);
 * tileInto(Float32Array.from([1, 2]), [1, 2], [2, 2], dst); // [1, 2] -> [2, 4]
 * assert.deepEqual([...dst], [1, 2, 1, 2, 1, 2, 1, 2]);
 * ```
 *
 * @param src Values of the tensor to tile, row-major.
 * @param shape Its shape.
 * @param reps Repetitions per axis (same length as `shape`).
 * @param dst Output of shape shape[i] * reps[i], row-major (same element type as `src`).
 */
export function tileInto(
  src: tf.backend_util.TypedArray,
  shape: readonly number[],
  reps: readonly number[],
  dst: tf.backend_util.TypedArray,
): void {
  const rank = shape.length;
  if (reps.length !== rank) {
    throw new RangeError(
      `Cannot tile: reps must have one entry per axis (${rank}), got ${reps.length}`,
    );
  }
  if (rank === 0) {
    dst.set(src.subarray(0, 1));
    return;
  }
  const srcStride = new Array<number>(rank).fill(1);
  const dstStride = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) {
    srcStride[d] = srcStride[d + 1]! * shape[d + 1]!;
    dstStride[d] = dstStride[d + 1]! * shape[d + 1]! * reps[d + 1]!;
  }
  const fill = (d: number, s: number, o: number): void => {
    const len = shape[d]!;
    if (d === rank - 1) {
      dst.set(src.subarray(s, s + len), o);
    } else {
      for (let i = 0; i < len; i++) fill(d + 1, s + i * srcStride[d]!, o + i * dstStride[d]!);
    }
    // Repeat the finished block [o, o + block) reps[d] times along axis d by doubling.
    const block = len * dstStride[d]!;
    const r = reps[d]!;
    for (let done = 1; done < r;) {
      const k = Math.min(done, r - done);
      dst.copyWithin(o + done * block, o, o + k * block);
      done += k;
    }
  };
  // An empty input or a zero repetition leaves nothing to write (dst is empty).
  if (shape.every((v) => v > 0) && reps.every((r) => r > 0)) fill(0, 0, 0);
}

/** Tile on the wasm heap at memcpy speed (numeric and bool dtypes; strings go to the stock one). */
export function tile(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "Tile", "x");
  const { reps } = args.attrs as unknown as tf.TileAttrs;
  if (x.dtype === "string" || x.dtype === "complex64") {
    return run("Tile", backend, { x }, { reps });
  }
  const outShape = x.shape.map((v, i) => v * (reps[i] ?? 1));
  const out = backend.makeOutput(outShape, x.dtype);
  tileInto(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
  return out;
}

/**
 * out[s, ...] = sum of x[i, ...] over i with segmentIds[i] = s; ids outside [0, numSegments) are
 * dropped, as in TensorFlow. The gradient of `tf.gather`.
 */
export function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "UnsortedSegmentSum", "x");
  const ids = inputOf(args, "UnsortedSegmentSum", "segmentIds");
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const rows = tf.util.sizeFromShape(ids.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(ids.shape.length));
  if (tf.util.sizeFromShape(x.shape) !== rows * inner) {
    throw new TypeError(
      `Cannot compute UnsortedSegmentSum on wasm: segmentIds must cover x's leading axes, got ${
        JSON.stringify(ids.shape)
      } for x ${JSON.stringify(x.shape)}`,
    );
  }
  const out = backend.makeOutput([numSegments, ...x.shape.slice(ids.shape.length)], x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const seg = backend.typedArrayFromHeap(ids);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let i = 0; i < rows; i++) {
    const s = seg[i]!;
    if (s < 0 || s >= numSegments) continue;
    const o = s * inner;
    const p = i * inner;
    for (let j = 0; j < inner; j++) dst[o + j]! += src[p + j]!;
  }
  return out;
}

/**
 * MaxPool's input gradient: each window's dy goes to the window's first maximum in row-major
 * order (strict `>`, as the cpu backend picks it). One pass over the windows on the heap; the
 * stock kernel revisits every dy for every input position.
 */
export function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const dy = inputOf(args, "MaxPoolGrad", "dy");
  const x0 = inputOf(args, "MaxPoolGrad", "input");
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    x0.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } =
    info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = backend.makeOutput(x0.shape, "float32");
  const x = backend.typedArrayFromHeap(x0);
  const g = backend.typedArrayFromHeap(dy);
  const out = backend.typedArrayFromHeap(dx);
  const native = nativeKernels();
  if (
    native?.maxPoolBackward(
      poolGeometryOf(info),
      x as Float32Array,
      g as Float32Array,
      out as Float32Array,
    )
  ) {
    return dx;
  }
  out.fill(0);
  const best = new Float64Array(c); // per channel: the window's maximum so far
  const pos = new Int32Array(c); // and its index in x (-1: none yet)
  for (let b = 0; b < n; b++) {
    for (let yr = 0; yr < oh; yr++) {
      const r0 = Math.max(yr * sh - top, 0);
      const r1 = Math.min(yr * sh - top + fh, h);
      for (let yc = 0; yc < ow; yc++) {
        const c0 = Math.max(yc * sw - left, 0);
        const c1 = Math.min(yc * sw - left + fw, w);
        const gBase = ((b * oh + yr) * ow + yc) * c;
        best.fill(Number.NEGATIVE_INFINITY);
        pos.fill(-1);
        // Window pixels in row-major order, channels innermost (contiguous reads).
        for (let r = r0; r < r1; r++) {
          for (let col = c0; col < c1; col++) {
            const base = ((b * h + r) * w + col) * c;
            for (let d = 0; d < c; d++) {
              const v = x[base + d]!;
              if (v > best[d]!) {
                best[d] = v;
                pos[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < c; d++) {
          const p = pos[d]!;
          if (p >= 0) out[p]! += g[gBase + d]!;
        }
      }
    }
  }
  return dx;
}

/**
 * If `axes` are exactly the leading axes 0..k-1 of `shape` (k >= 1), the number of reduced
 * elements M; otherwise undefined. Such reductions (BatchNorm statistics, bias gradients) are
 * column sums of x viewed as [M, C].
 */
function leadingReduceSize(shape: readonly number[], axes: readonly number[]): number | undefined {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.some((a, i) => a !== i)) return undefined;
  return sorted.reduce((p, a) => p * shape[a]!, 1);
}

/**
 * Sum or mean over leading axes in one pass on the heap with float64 accumulators (the stock
 * kernel first transposes the reduced axes to the end, and an XNNPACK product would repack x as
 * weights on every call). Other reductions and dtypes go to the stock kernel.
 */
export function reduceKernel(name: "Sum" | "Mean"): KernelFn {
  return (args: KernelArgs): tf.TensorInfo => {
    const backend = args.backend as WasmHeapBackend;
    const x = inputOf(args, name, "x");
    const attrs = args.attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape);
    const m = leadingReduceSize(x.shape, axes);
    const size = tf.util.sizeFromShape(x.shape);
    if (m === undefined || x.dtype !== "float32" || size === 0) {
      return run(name, backend, { x }, { axis: attrs.axis, keepDims: attrs.keepDims });
    }
    const c = size / m;
    const rest = x.shape.slice(axes.length);
    const out = backend.makeOutput(
      attrs.keepDims ? [...axes.map(() => 1), ...rest] : rest,
      "float32",
    );
    const src = backend.typedArrayFromHeap(x); // [M, C]
    const acc = new Float64Array(c);
    for (let row = 0; row < m; row++) {
      const o = row * c;
      for (let j = 0; j < c; j++) acc[j]! += src[o + j]!;
    }
    const scale = name === "Sum" ? 1 : 1 / m;
    const dst = backend.typedArrayFromHeap(out);
    for (let j = 0; j < c; j++) dst[j] = acc[j]! * scale;
    return out;
  };
}

/** Identity shares the data (the stock kernel copies it), as the cpu backend does. */
export function identity(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "Identity", "x");
  if (x.dtype === "string") return run("Identity", backend, { x }, {});
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Cast to the same dtype shares the data (gradients cast every operand to float32, and the
 * stock kernel copies); real conversions go to the stock kernel.
 */
export function cast(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "Cast", "x");
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (x.dtype !== dtype || x.dtype === "string") return run("Cast", backend, { x }, { dtype });
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
