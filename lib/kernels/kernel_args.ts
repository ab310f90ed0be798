/**
 * The arguments tfjs passes to a registered kernel function, shared by the wasm and webgpu
 * kernels of this project.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Arguments a kernel function receives from the engine. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** A kernel function of this project: one output or several. */
export type ProjectKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Registers each (name, function) on `backend` unless a kernel of that name is there already
 * (so registration is idempotent and never replaces a stock kernel by accident).
 *
 * @param backend "wasm" or "webgpu".
 * @param kernels Kernel names and their functions.
 */
export function registerNewKernels(
  backend: string,
  kernels: readonly (readonly [string, ProjectKernel])[],
): void {
  for (const [kernelName, kernelFunc] of kernels) {
    if (tf.getKernel(kernelName, backend) !== undefined) continue;
    tf.registerKernel({
      kernelName,
      backendName: backend,
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
  }
}
