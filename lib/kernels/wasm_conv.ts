/**
 * Convolution kernels for training on wasm: `Conv2D`, `Conv2DBackpropFilter` (missing in stock
 * tfjs) and a fast `Conv2DBackpropInput`, each by the installed native kernels where they
 * accept the shape, else through the stock forward convolution (see `wasm_conv_grads.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { geometryOf, nativeKernels } from "./native.ts";
import type { KernelArgs } from "./kernel_args.ts";
import { free, inputOf, run, viaNative, view, type WasmHeapBackend } from "./wasm_kernel_base.ts";

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
export function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo {
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
export function conv2D(args: KernelArgs): tf.TensorInfo {
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
export function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
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
