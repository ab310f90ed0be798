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

/** The wasm backend with the Emscripten module that owns its memory. */
export interface WasmModuleBackend extends WasmHeapBackend {
  /** The Emscripten module: its memory is `asm.memory` (or `wasmMemory` in threaded builds). */
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
}

/**
 * The backend's heap memory (for modules that work on it in place), or null where this tfjs
 * build does not expose it.
 *
 * @param backend The wasm backend.
 * @returns Its memory, or null.
 */
export function heapMemory(backend: WasmModuleBackend): WebAssembly.Memory | null {
  return backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory ?? null;
}
