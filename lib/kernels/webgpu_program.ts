/**
 * The slice of tfjs-backend-webgpu's `WebGPUBackend` and `WebGPUProgram` that this project's
 * WGSL kernels use, typed here so that a kernel module needs no private import of the backend.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** The part of `WebGPUBackend` the kernels call. */
export interface WebGpuBackendLike {
  runWebGPUProgram(
    program: WebGpuProgramLike,
    inputs: tf.TensorInfo[],
    outputDtype: "float32",
    programDefinedUniform?: { type: "int32" | "uint32"; data: number[] }[],
  ): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** The fields of `WebGPUProgram` that the kernels set. */
export interface WebGpuProgramLike {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  variableComponents?: number[];
  uniforms: string;
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode: () => string;
}

/**
 * The backend as a {@link WebGpuBackendLike}, or undefined when it is not the webgpu backend.
 *
 * @param backend A tfjs kernel backend (e.g. `tf.backend()` or a kernel's `args.backend`).
 * @returns The backend, typed, or undefined.
 */
export function webGpuBackendOf(backend: unknown): WebGpuBackendLike | undefined {
  const candidate = backend as Partial<WebGpuBackendLike> | null;
  return typeof candidate?.runWebGPUProgram === "function"
    ? candidate as WebGpuBackendLike
    : undefined;
}
