/**
 * Training kernels for the tfjs wasm backend.
 *
 * Stock tfjs 4.22's wasm backend runs forward convolutions and plain matrix products through
 * XNNPACK (SIMD), but cannot train a convnet quickly:
 * - `Conv2DBackpropFilter` is missing, so `tf.grad` of any `conv2d` throws;
 * - `Conv2DBackpropInput` exists but is a scalar direct loop, about 10x slower than the forward
 *   convolution at the VGG's shapes;
 * - `BatchMatMul` uses XNNPACK only without transposes, yet both gradients of a dense layer ask
 *   for a transposed operand (the fallback loop is about 10x slower);
 * - `Tile` (used by `tf.broadcastTo`) is an element-by-element loop, about 30 ms per 0.5 M floats;
 * - `UnsortedSegmentSum` (the gradient of `tf.gather`) is missing;
 * - `MaxPoolGrad` revisits every dy for every input position (3x slower than one pass);
 * - `Sum`/`Mean` over leading axes (BatchNorm statistics, bias gradients) first transpose the
 *   whole activation;
 * - `Identity` and same-dtype `Cast` (every operand of `mul`'s gradient) copy the buffer.
 *
 * `registerWasmTrainingKernels()` registers replacements built from the backend's own fast
 * kernels (forward `Conv2D`, untransposed `BatchMatMul`, `Transpose`) and single passes or
 * memcpy-speed copies on the wasm heap. Each returns the cpu backend's values up to float32
 * rounding (bitwise for Tile, MaxPoolGrad, UnsortedSegmentSum; tests/kernels/).
 *
 * The filter gradient of a convolution is itself a convolution: with x^T = x as [Ci, H, W, N]
 * ("batch" Ci, "channels" N) and dy as a filter [OH, OW, N, Co] dilated by the forward stride,
 * conv(x^T, dy) = [Ci, KH, KW, Co], i.e. the im2col(x)^T x dy GEMM that XNNPACK runs at near
 * forward speed. The input gradient is the forward convolution of dy (zero-upsampled by the
 * stride) with the spatially flipped filter whose in/out channels are swapped.
 *
 * Where native kernels are installed (`native.ts`: oneDNN through Deno's FFI), `Conv2D`, both
 * convolution gradients and `MaxPoolGrad` hand the work to them, on the same heap buffers, and
 * fall back to the paths above for what the library declines.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Side effect: registers the wasm backend and its stock kernels, which these kernels call.
import "@tensorflow/tfjs-backend-wasm";
import { geometryOf, type NativeKernels, nativeKernels, poolGeometryOf } from "./native.ts";
import type { KernelArgs } from "./kernel_args.ts";
import type { WasmHeapBackend as HeapBackend } from "./wasm_heap.ts";

/** The wasm backend as the kernels here use it: the heap, and tensor data references. */
interface WasmHeapBackend extends HeapBackend {
  /** Drops one reference to a tensor's data (frees it at zero). */
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** Adds one reference to a tensor's data. */
  incRef(dataId: tf.DataId): void;
}

/** A kernel function as registered with `tf.registerKernel`. */
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const BACKEND = "wasm";

/** Stock wasm kernels we replace, captured before replacement so the replacements can call them. */
const stock = new Map<string, KernelFn>();

/** The kernel functions registered by this module (to make registration idempotent). */
const ours = new Set<unknown>();

/** A kernel input by name; throws a TypeError naming the inputs present when it is missing. */
function inputOf(args: KernelArgs, op: string, name: string): tf.TensorInfo {
  const info = args.inputs[name];
  if (info === undefined) {
    throw new TypeError(
      `Cannot compute ${op} on wasm: input ${name} is required, got [${Object.keys(args.inputs)}]`,
    );
  }
  return info;
}

/** Looks up a wasm kernel function: the captured stock one if we replaced it, else the registry's. */
function wasmKernel(name: string): KernelFn {
  const captured = stock.get(name);
  if (captured !== undefined) return captured;
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) {
    throw new Error(
      `Cannot run a wasm training kernel: the wasm backend has no '${name}' kernel, got none`,
    );
  }
  return config.kernelFunc as unknown as KernelFn;
}

/** Runs a single-output wasm kernel. */
function run(
  name: string,
  backend: WasmHeapBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const out = wasmKernel(name)({ inputs, backend, attrs });
  if (Array.isArray(out)) {
    throw new TypeError(`Cannot run wasm kernel '${name}': expected one output, got ${out.length}`);
  }
  return out;
}

/** A reshaped view that shares the data (no reference taken: never dispose a view). */
function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Frees kernel-internal intermediates (results of `run`, never views or kernel inputs). */
function free(backend: WasmHeapBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * A float32 output of `shape` computed by the installed native kernels, or null where none is
 * installed or it declines (the output is freed then and the caller computes it in wasm).
 * `compute` gets a heap-view getter and the output's view, both taken after the output's
 * allocation: growing the heap detaches older views.
 */
function viaNative(
  backend: WasmHeapBackend,
  shape: number[],
  compute: (
    native: NativeKernels,
    heap: (info: tf.TensorInfo) => Float32Array,
    out: Float32Array,
  ) => boolean,
): tf.TensorInfo | null {
  const native = nativeKernels();
  if (native === null) return null;
  const out = backend.makeOutput(shape, "float32");
  const heap = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info) as Float32Array;
  if (compute(native, heap, heap(out))) return out;
  free(backend, out);
  return null;
}

/** Conv geometry shared by both gradients; throws for what the kernels do not support. */
function convInfo(
  op: string,
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: tf.Conv2DBackpropFilterAttrs | tf.Conv2DBackpropInputAttrs | tf.Conv2DAttrs,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== "NHWC") {
    throw new RangeError(
      `Cannot compute ${op} on wasm: only the NHWC data format is supported, got ${attrs.dataFormat}`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  // The gradient kernels carry no dilation attribute (conv2d's gradient asserts dilation 1
  // before calling them); refuse one passed explicitly rather than ignore it.
  const { dilations } = attrs as { dilations?: number | number[] };
  if (dilations !== undefined && [dilations].flat().some((d) => d !== 1)) {
    throw new RangeError(`Cannot compute ${op} on wasm: dilation must be 1, got ${dilations}`);
  }
  return info;
}

/**
 * dW[kh, kw, ci, co] = sum over n, oy, ox of x[n, oy*sh + kh - top, ox*sw + kw - left, ci] *
 * dy[n, oy, ox, co], computed as one forward convolution (see the module doc).
 */
function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "Conv2DBackpropFilter", "x");
  const dy = inputOf(args, "Conv2DBackpropFilter", "dy");
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = convInfo(
    "Conv2DBackpropFilter",
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs,
  );
  const nativeDw = viaNative(
    backend,
    [...attrs.filterShape],
    (native, heap, out) => native.convBackwardFilter(geometryOf(info), heap(x), heap(dy), out),
  );
  if (nativeDw !== null) return nativeDw;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // The convolution below reads x rows top-padded by `top` and needs exactly kh output rows, so
  // its bottom padding is whatever is left; negative means the last rows of x are never read
  // (VALID with a remainder) and are cropped instead.
  const bottom = kh + (oh - 1) * sh - h - top;
  const right = kw + (ow - 1) * sw - w - left;
  const temps: tf.TensorInfo[] = [];
  let xUsed = x;
  if (bottom < 0 || right < 0) {
    xUsed = run("Slice", backend, { x }, {
      begin: [0, 0, 0, 0],
      size: [n, h + Math.min(bottom, 0), w + Math.min(right, 0), ci],
    });
    temps.push(xUsed);
  }
  const xT = run("Transpose", backend, { x: xUsed }, { perm: [3, 1, 2, 0] }); // [Ci, H', W', N]
  const dyT = run("Transpose", backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, Co]
  temps.push(xT, dyT);
  const pad = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
  const dw = run("Conv2D", backend, { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad,
    dataFormat: "NHWC",
    dilations: [sh, sw], // the forward stride becomes the dilation of the dy "filter"
  }); // [Ci, KH, KW, Co]
  temps.push(dw);
  if (dw.shape[1] !== kh || dw.shape[2] !== kw) {
    free(backend, ...temps);
    throw new RangeError(
      `Cannot compute Conv2DBackpropFilter on wasm: expected a ${kh}x${kw} filter, got ${
        dw.shape[1]
      }x${dw.shape[2]}`,
    );
  }
  const out = run("Transpose", backend, { x: dw }, { perm: [1, 2, 0, 3] }); // [KH, KW, Ci, Co]
  free(backend, ...temps);
  return out;
}

/**
 * The forward convolution: the installed native convolution where there is one and the op is
 * float32 NHWC with dilation 1, else the stock XNNPACK kernel.
 */
function conv2D(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "Conv2D", "x");
  const filter = inputOf(args, "Conv2D", "filter");
  const attrs = args.attrs as unknown as tf.Conv2DAttrs;
  const dilations = [attrs.dilations].flat();
  if (
    nativeKernels() !== null && attrs.dataFormat === "NHWC" && dilations.every((d) => d === 1) &&
    x.dtype === "float32" && filter.dtype === "float32"
  ) {
    const info = convInfo(
      "Conv2D",
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs,
    );
    const y = viaNative(
      backend,
      [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
      (native, heap, out) => native.convForward(geometryOf(info), heap(x), heap(filter), out),
    );
    if (y !== null) return y;
  }
  return run("Conv2D", backend, args.inputs, args.attrs ?? {});
}

/**
 * The filter flipped in both spatial axes with in/out channels swapped:
 * out[kh-1-a, kw-1-b, co, ci] = w[a, b, ci, co]. A transpose plus memcpys of whole taps (the
 * stock Reverse kernel is several times slower than the convolution it feeds).
 */
function flipFilter(backend: WasmHeapBackend, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const taps = kh * kw;
  const swapped = run("Transpose", backend, { x: view(filter, [taps, ci, co]) }, {
    perm: [0, 2, 1],
  }); // [KH*KW, Co, Ci]
  const out = backend.makeOutput([kh, kw, co, ci], "float32");
  // Views are taken after the last allocation: growing the heap detaches older ones.
  const src = backend.typedArrayFromHeap(swapped);
  const dst = backend.typedArrayFromHeap(out);
  const block = ci * co;
  for (let t = 0; t < taps; t++) {
    const s = (taps - 1 - t) * block; // flipping both axes reverses the row-major tap order
    dst.set(src.subarray(s, s + block), t * block);
  }
  free(backend, swapped);
  return out;
}

/**
 * dy with (stride - 1) zeros between neighbours, padded by (top, bottom, left, right) with zeros;
 * negative pads crop. [N, OH, OW, C] -> [N, (OH-1)*sh + 1 + top + bottom, ..., C].
 */
function upsamplePad(
  backend: WasmHeapBackend,
  dy: tf.TensorInfo,
  strides: [number, number],
  pads: [number, number, number, number],
): tf.TensorInfo {
  const [n, oh, ow, c] = dy.shape as [number, number, number, number];
  const [sh, sw] = strides;
  const [top, bottom, left, right] = pads;
  const hp = (oh - 1) * sh + 1 + top + bottom;
  const wp = (ow - 1) * sw + 1 + left + right;
  if (hp <= 0 || wp <= 0) {
    throw new RangeError(
      `Cannot compute Conv2DBackpropInput on wasm: padding crops all of dy, got ${hp}x${wp}`,
    );
  }
  const out = backend.makeOutput([n, hp, wp, c], "float32");
  const src = backend.typedArrayFromHeap(dy);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const r = top + y * sh;
      if (r < 0 || r >= hp) continue;
      for (let x = 0; x < ow; x++) {
        const col = left + x * sw;
        if (col < 0 || col >= wp) continue;
        const s = ((b * oh + y) * ow + x) * c;
        dst.set(src.subarray(s, s + c), ((b * hp + r) * wp + col) * c);
      }
    }
  }
  return out;
}

/**
 * dx = conv(upsample(dy), flip(W)^T): dx[h] = sum_k dyUp[h + top - k] W[k], a correlation with
 * the flipped filter after padding dyUp by kh-1-top rows on top.
 */
function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const dy = inputOf(args, "Conv2DBackpropInput", "dy");
  const filter = inputOf(args, "Conv2DBackpropInput", "filter");
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = convInfo(
    "Conv2DBackpropInput",
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs,
  );
  const nativeDx = viaNative(
    backend,
    [...attrs.inputShape],
    (native, heap, out) => native.convBackwardInput(geometryOf(info), heap(dy), heap(filter), out),
  );
  if (nativeDx !== null) return nativeDx;
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = h - 1 - (oh - 1) * sh + info.padInfo.top;
  const right = w - 1 - (ow - 1) * sw + info.padInfo.left;
  const flipped = flipFilter(backend, filter); // [KH, KW, Co, Ci]
  const temps = [flipped];
  let input = dy;
  let pad: number[][] = [[0, 0], [top, bottom], [left, right], [0, 0]];
  if (sh !== 1 || sw !== 1 || Math.min(top, bottom, left, right) < 0) {
    // Strided (or over-padded) case: materialise the zero-upsampled, padded dy once.
    input = upsamplePad(backend, dy, [sh, sw], [top, bottom, left, right]);
    temps.push(input);
    pad = [[0, 0], [0, 0], [0, 0], [0, 0]];
  }
  const dx = run("Conv2D", backend, { x: input, filter: flipped }, {
    strides: [1, 1],
    pad,
    dataFormat: "NHWC",
    dilations: [1, 1],
  }); // [N, H, W, Ci]
  free(backend, ...temps);
  return dx;
}

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
function batchMatMul(args: KernelArgs): tf.TensorInfo {
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
function tile(args: KernelArgs): tf.TensorInfo {
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
function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
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
function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
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
function reduceKernel(name: "Sum" | "Mean"): KernelFn {
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
function identity(args: KernelArgs): tf.TensorInfo {
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
function cast(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmHeapBackend;
  const x = inputOf(args, "Cast", "x");
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (x.dtype !== dtype || x.dtype === "string") return run("Cast", backend, { x }, { dtype });
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Kernels this module registers; `replaces` marks stock wasm kernels that get overridden. */
const KERNELS: readonly { name: string; kernelFunc: KernelFn; replaces: boolean }[] = [
  { name: "Conv2D", kernelFunc: conv2D, replaces: true },
  { name: "Conv2DBackpropFilter", kernelFunc: conv2DBackpropFilter, replaces: false },
  { name: "Conv2DBackpropInput", kernelFunc: conv2DBackpropInput, replaces: true },
  { name: "BatchMatMul", kernelFunc: batchMatMul, replaces: true },
  { name: "Tile", kernelFunc: tile, replaces: true },
  { name: "UnsortedSegmentSum", kernelFunc: unsortedSegmentSum, replaces: false },
  { name: "MaxPoolGrad", kernelFunc: maxPoolGrad, replaces: true },
  { name: "Sum", kernelFunc: reduceKernel("Sum"), replaces: true },
  { name: "Mean", kernelFunc: reduceKernel("Mean"), replaces: true },
  { name: "Identity", kernelFunc: identity, replaces: true },
  { name: "Cast", kernelFunc: cast, replaces: true },
];

/** Names of the wasm kernels that `registerWasmTrainingKernels()` adds or replaces. */
export const WASM_TRAINING_KERNELS: readonly string[] = KERNELS.map((k) => k.name);

/**
 * Registers fast training kernels on the wasm backend: `Conv2DBackpropFilter` (missing in
 * stock tfjs), and faster `Conv2DBackpropInput`, `BatchMatMul` (transposed operands), `Tile`,
 * plus `UnsortedSegmentSum` (missing; the gradient of `tf.gather`). Idempotent: later calls do
 * nothing. Call before the first wasm gradient; the cpu and webgpu backends are unaffected.
 *
 * Supports NHWC, any stride, SAME / VALID / explicit padding, dilation 1.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmTrainingKernels } from "./wasm_conv_grads.ts";
 * import assert from "node:assert/strict";
 *
 * registerWasmTrainingKernels();
 * assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
 * ```
 */
export function registerWasmTrainingKernels(): void {
  for (const { name, kernelFunc, replaces } of KERNELS) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && ours.has(current.kernelFunc)) continue;
    if (replaces) {
      if (current === undefined) {
        throw new Error(
          `Cannot register wasm training kernels: expected a stock '${name}' kernel, got none`,
        );
      }
      stock.set(name, current.kernelFunc as unknown as KernelFn);
      // registerKernel warns on duplicates; unregistering first keeps the log clean.
      tf.unregisterKernel(name, BACKEND);
    } else if (current !== undefined) {
      continue; // a future tfjs (or another module) provides it: keep theirs
    }
    ours.add(kernelFunc);
    const config: tf.KernelConfig = {
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    };
    // The stock kernel binds its wasm function in setupFunc when the backend initialises; keep
    // that hook, or the stock kernel we delegate to would be unbound.
    if (current?.setupFunc !== undefined) config.setupFunc = current.setupFunc;
    tf.registerKernel(config);
  }
}
