/**
 * One call that installs every kernel and gradient of this folder.
 *
 * @module
 */
import { registerFastGradients } from "./gradients.ts";
import { registerWasmBatchNormKernels } from "./wasm_batchnorm.ts";
import { registerWasmTrainingKernels } from "./wasm_conv_grads.ts";
import { shareSavedTensors } from "./saved_tensors.ts";
import { registerWasmMomentsKernel } from "./wasm_moments.ts";
import { registerWasmReluKernels } from "./wasm_relu.ts";
import { registerWasmSgdKernel } from "./wasm_sgd.ts";
import { registerWebGpuTrainingKernels } from "./webgpu_conv_grads.ts";
import { registerWebGpuFusedKernels } from "./webgpu_fused.ts";
import { registerWebGpuLossKernels } from "./webgpu_loss.ts";

/**
 * Registers every fused kernel and gradient of this folder: on wasm the training kernels
 * (`registerWasmTrainingKernels`), BatchNorm (`registerWasmBatchNormKernels`), the SGD update
 * (`registerWasmSgdKernel`), the running moments (`registerWasmMomentsKernel`) and the ReLU
 * kernels (`registerWasmReluKernels`); on webgpu the filter and input gradients
 * (`registerWebGpuTrainingKernels`), the same fused kernels in WGSL
 * (`registerWebGpuFusedKernels`) and the loss and accuracy (`registerWebGpuLossKernels`); the
 * device-side gradients of every backend (`registerFastGradients`); and saves tensors for the
 * backward pass by reference (`shareSavedTensors`). Idempotent; call before the first gradient.
 * Safe before or after the backend is initialised.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerTrainingKernels } from "./register.ts";
 * import { ok } from "node:assert/strict";
 *
 * registerTrainingKernels();
 * ok(tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
 * ```
 */
export function registerTrainingKernels(): void {
  registerWasmTrainingKernels();
  registerWasmBatchNormKernels();
  registerWasmSgdKernel();
  registerWasmMomentsKernel();
  registerWasmReluKernels();
  registerWebGpuTrainingKernels();
  registerWebGpuFusedKernels();
  registerWebGpuLossKernels();
  registerFastGradients();
  shareSavedTensors();
}
