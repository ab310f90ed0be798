/**
 * Fused ReLU kernels on the tfjs wasm backend, bitwise the stock kernels they replace.
 *
 * A VGG layer without normalisation runs `relu(z + b)` forward (an `Add` and a `Relu`) and, in
 * the backward pass, `dy * step(x)` (a `Step` and a `Multiply`) and the bias gradient (a `Sum`):
 * five kernel calls, each a full pass over the activation. Here:
 *
 * - `BiasRelu` (inputs `x` [M, C] or [N, H, W, C], `bias` [C]): `relu(x + bias)`, one pass.
 * - `BiasReluGrad` (inputs `dy`, `y` = the forward output): `[dx, dbias]` with
 *   dx = dy * step(y) and dbias = the column sums of dx, one pass.
 * - `ReluGrad` (inputs `dy`, `x`): dy * step(x), the gradient of a `Relu` alone (after
 *   BatchNorm), one pass instead of two.
 *
 * The arithmetic is the stock kernels': x + bias rounds to float32 once; relu(v) is v for v > 0,
 * NaN for NaN and +0 otherwise (the stock wasm `Relu`); step(v) is 1 for v > 0, NaN for NaN and
 * 0 otherwise, and dy * step(v) is exact; the bias sum accumulates the rows in order in float64
 * and rounds once, as this project's wasm `Sum` over leading axes does (`reduceKernel` in
 * `wasm_layout_kernels.ts`). step(y) equals step(x + bias), so the gradient needs only y.
 * The loops are SIMD WebAssembly (`wasm_relu_simd.ts`) where C is a multiple of 4, else JS.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type KernelArgs, registerNewKernels } from "./kernel_args.ts";
import { heapMemory, type WasmModuleBackend as HeapModule } from "./wasm_heap.ts";
import { type ReluSimd, reluSimd } from "./wasm_relu_simd.ts";

/** Kernel name of relu(x + bias). */
export const BIAS_RELU = "BiasRelu";
/** Kernel name of the gradient of {@link BIAS_RELU}: [dx, dbias]. */
export const BIAS_RELU_GRAD = "BiasReluGrad";
/** Kernel name of dy * step(x), the gradient of a ReLU. */
export const RELU_GRAD = "ReluGrad";

/** A float32 input by name; throws a TypeError that says what arrived instead. */
function floatInput(args: KernelArgs, op: string, name: string): tf.TensorInfo {
  const info = args.inputs[name];
  if (info === undefined || info.dtype !== "float32") {
    throw new TypeError(
      `Cannot compute ${op} on wasm: input ${name} must be a float32 tensor, got ${
        info === undefined ? "none" : info.dtype
      }`,
    );
  }
  return info;
}

/** Checks that two inputs have one shape. */
function sameShape(op: string, a: tf.TensorInfo, b: tf.TensorInfo): void {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new TypeError(
      `Cannot compute ${op} on wasm: dy and the activation must have one shape, got [${a.shape}] and [${b.shape}]`,
    );
  }
}

/** The wasm backend as these kernels use it: heap, module memory, and freeing scratch data. */
interface WasmModuleBackend extends HeapModule {
  disposeData(dataId: tf.DataId): boolean;
}

/** The SIMD functions on this backend's heap where `units` (C) allows them, else null. */
function simdFor(backend: WasmModuleBackend, units: number): ReluSimd | null {
  if (units % 4 !== 0) return null;
  const memory = heapMemory(backend);
  return memory === null ? null : reluSimd(memory);
}

/** 1 for v > 0, NaN for NaN, else 0: the stock `Step` with alpha 0. */
function step(v: number): number {
  return v > 0 ? 1 : v === v ? 0 : NaN;
}

function biasRelu(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmModuleBackend;
  const x = floatInput(args, BIAS_RELU, "x");
  const bias = floatInput(args, BIAS_RELU, "bias");
  const c = x.shape[x.shape.length - 1] ?? 0;
  if (x.shape.length < 2 || bias.shape.length !== 1 || bias.shape[0] !== c) {
    throw new TypeError(
      `Cannot compute ${BIAS_RELU} on wasm: x must be [..., C] and bias [C], got [${x.shape}] and [${bias.shape}]`,
    );
  }
  const outInfo = backend.makeOutput(x.shape.slice(), "float32");
  // Views only after the last allocation: growing the heap detaches earlier ones.
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const b = backend.typedArrayFromHeap(bias) as Float32Array;
  const out = backend.typedArrayFromHeap(outInfo) as Float32Array;
  const fast = simdFor(backend, c);
  if (fast !== null) {
    fast.biasRelu(src.byteOffset, b.byteOffset, out.byteOffset, out.byteLength, 4 * c);
    return outInfo;
  }
  for (let o = 0; o < src.length; o += c) {
    for (let j = 0; j < c; j++) {
      const v = Math.fround(src[o + j]! + b[j]!); // the float32 sum, before the comparison
      out[o + j] = v > 0 || v !== v ? v : 0;
    }
  }
  return outInfo;
}

function biasReluGrad(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmModuleBackend;
  const dyInfo = floatInput(args, BIAS_RELU_GRAD, "dy");
  const yInfo = floatInput(args, BIAS_RELU_GRAD, "y");
  sameShape(BIAS_RELU_GRAD, dyInfo, yInfo);
  const c = yInfo.shape[yInfo.shape.length - 1] ?? 0;
  const dxInfo = backend.makeOutput(yInfo.shape.slice(), "float32");
  const dbInfo = backend.makeOutput([c], "float32");
  const fast = simdFor(backend, c);
  if (fast !== null) {
    // float64 accumulators on the heap (two float32 slots each), zeroed, freed after.
    const accInfo = backend.makeOutput([2 * c], "float32");
    const heap = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info) as Float32Array;
    const accView = heap(accInfo).fill(0);
    const dx = heap(dxInfo);
    fast.biasReluGrad(
      heap(dyInfo).byteOffset,
      heap(yInfo).byteOffset,
      dx.byteOffset,
      accView.byteOffset,
      dx.byteLength,
      4 * c,
    );
    const sums = new DataView(accView.buffer, accView.byteOffset, 8 * c);
    const db = heap(dbInfo);
    for (let j = 0; j < c; j++) db[j] = sums.getFloat64(8 * j, true);
    backend.disposeData(accInfo.dataId);
    return [dxInfo, dbInfo];
  }
  const dy = backend.typedArrayFromHeap(dyInfo) as Float32Array;
  const y = backend.typedArrayFromHeap(yInfo) as Float32Array;
  const dx = backend.typedArrayFromHeap(dxInfo) as Float32Array;
  const acc = new Float64Array(c);
  for (let o = 0; o < y.length; o += c) {
    for (let j = 0; j < c; j++) {
      const d = dy[o + j]! * step(y[o + j]!); // exact: step is 0, 1 or NaN
      dx[o + j] = d;
      acc[j]! += d;
    }
  }
  const db = backend.typedArrayFromHeap(dbInfo) as Float32Array;
  for (let j = 0; j < c; j++) db[j] = acc[j]!;
  return [dxInfo, dbInfo];
}

function reluGrad(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmModuleBackend;
  const dyInfo = floatInput(args, RELU_GRAD, "dy");
  const xInfo = floatInput(args, RELU_GRAD, "x");
  sameShape(RELU_GRAD, dyInfo, xInfo);
  const dxInfo = backend.makeOutput(xInfo.shape.slice(), "float32");
  const dy = backend.typedArrayFromHeap(dyInfo) as Float32Array;
  const x = backend.typedArrayFromHeap(xInfo) as Float32Array;
  const dx = backend.typedArrayFromHeap(dxInfo) as Float32Array;
  const fast = simdFor(backend, x.length);
  if (fast !== null) {
    fast.reluGrad(dy.byteOffset, x.byteOffset, dx.byteOffset, dx.byteLength);
    return dxInfo;
  }
  for (let i = 0; i < x.length; i++) dx[i] = dy[i]! * step(x[i]!);
  return dxInfo;
}

/**
 * Registers `BiasRelu`, `BiasReluGrad` and `ReluGrad` on the wasm backend. Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { BIAS_RELU, registerWasmReluKernels } from "./wasm_relu.ts";
 * import assert from "node:assert/strict";
 *
 * registerWasmReluKernels();
 * assert.ok(tf.getKernel(BIAS_RELU, "wasm") !== undefined);
 * ```
 */
export function registerWasmReluKernels(): void {
  registerNewKernels("wasm", [
    [BIAS_RELU, biasRelu],
    [BIAS_RELU_GRAD, biasReluGrad],
    [RELU_GRAD, reluGrad],
  ]);
}
