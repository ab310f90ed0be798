/**
 * The arguments tfjs passes to a registered kernel function, shared by the wasm and webgpu
 * kernels of this project.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** Arguments a kernel function receives from the engine. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}
