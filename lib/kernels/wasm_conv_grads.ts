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
 * The kernels live in `wasm_conv.ts`, `wasm_matmul.ts` and `wasm_layout_kernels.ts` (shared
 * plumbing in `wasm_kernel_base.ts`); this module registers them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Side effect: registers the wasm backend and its stock kernels, which these kernels call.
import "@tensorflow/tfjs-backend-wasm";
import { conv2D, conv2DBackpropFilter, conv2DBackpropInput } from "./wasm_conv.ts";
import { BACKEND, type KernelFn, stock } from "./wasm_kernel_base.ts";
import {
  cast,
  identity,
  maxPoolGrad,
  reduceKernel,
  tile,
  unsortedSegmentSum,
} from "./wasm_layout_kernels.ts";
import { batchMatMul } from "./wasm_matmul.ts";

/** The kernel functions registered by this module (to make registration idempotent). */
const ours = new Set<unknown>();

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

export { tileInto } from "./wasm_layout_kernels.ts";
