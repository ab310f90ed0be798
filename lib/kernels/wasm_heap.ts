/**
 * The parts of the tfjs wasm backend (`BackendWasm`) that this folder's kernels use, and the
 * arguments the engine passes a kernel function.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The wasm backend as the heap kernels see it. */
export interface WasmHeapBackend {
  /** Allocates an output on the wasm heap (may grow the heap and detach older views). */
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A typed-array view of a tensor's bytes on the wasm heap. */
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}
