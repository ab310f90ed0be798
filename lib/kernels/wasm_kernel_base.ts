/**
 * Plumbing shared by this project's wasm training kernels: the backend as they use it, the
 * stock kernels they delegate to (captured before replacement), reshaped views, freeing of
 * intermediates, and handing work to the installed native kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type NativeKernels, nativeKernels } from "./native.ts";
import type { KernelArgs } from "./kernel_args.ts";
import type { WasmHeapBackend as HeapBackend } from "./wasm_heap.ts";

/** The wasm backend as the kernels here use it: the heap, and tensor data references. */
export interface WasmHeapBackend extends HeapBackend {
  /** Drops one reference to a tensor's data (frees it at zero). */
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  /** Adds one reference to a tensor's data. */
  incRef(dataId: tf.DataId): void;
}

/** A kernel function as registered with `tf.registerKernel`. */
export type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

export const BACKEND = "wasm";

/** Stock wasm kernels we replace, captured before replacement so the replacements can call them. */
export const stock = new Map<string, KernelFn>();

/** A kernel input by name; throws a TypeError naming the inputs present when it is missing. */
export function inputOf(args: KernelArgs, op: string, name: string): tf.TensorInfo {
  const info = args.inputs[name];
  if (info === undefined) {
    throw new TypeError(
      `Cannot compute ${op} on wasm: input ${name} is required, got [${Object.keys(args.inputs)}]`,
    );
  }
  return info;
}

/** Looks up a wasm kernel function: the captured stock one if we replaced it, else the registry's. */
export function wasmKernel(name: string): KernelFn {
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
export function run(
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
export function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Frees kernel-internal intermediates (results of `run`, never views or kernel inputs). */
export function free(backend: WasmHeapBackend, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * A float32 output of `shape` computed by the installed native kernels, or null where none is
 * installed or it declines (the output is freed then and the caller computes it in wasm).
 * `compute` gets a heap-view getter and the output's view, both taken after the output's
 * allocation: growing the heap detaches older views.
 */
export function viaNative(
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
