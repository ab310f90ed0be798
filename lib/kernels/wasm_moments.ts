/**
 * The running-moment update of every normalised layer as one kernel on the tfjs wasm backend.
 *
 * `running <- (1 - m) running + m batch` as tfjs ops is three kernel calls per statistic (two
 * `Multiply` by a scalar and an `Add`): 48 of a VGG+BatchNorm step's calls, on vectors of at
 * most a few hundred units. `RunningMomentsUpdate` makes one pass over every (running, batch)
 * pair on the backend's heap. Each element is `fround(fround(a * r) + fround(b * c))` with
 * a = fround(1 - m) and b = fround(m): the two float32 products and the float32 sum of the stock
 * kernels (a double-precision result of one operation on float32 values rounds to the float32
 * result exactly), so training is bitwise the same with or without it.
 *
 * Inputs `r0..r{n-1}` (running) and `c0..c{n-1}` (this batch's), attribute `momentum`; outputs
 * the n new running statistics.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { KernelArgs } from "./kernel_args.ts";
import type { WasmHeapBackend } from "./wasm_heap.ts";

/** Kernel name of the fused running-moment update. */
export const RUNNING_MOMENTS_UPDATE = "RunningMomentsUpdate";

/** Attributes of the kernel. */
export interface RunningMomentsUpdateAttrs {
  momentum: number;
}

function runningMomentsUpdate(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmHeapBackend;
  const { momentum } = args.attrs as unknown as RunningMomentsUpdateAttrs;
  const count = Object.keys(args.inputs).length / 2;
  const pairs: [tf.TensorInfo, tf.TensorInfo][] = [];
  for (let k = 0; k < count; k++) {
    const r = args.inputs[`r${k}`];
    const c = args.inputs[`c${k}`];
    if (
      r === undefined || c === undefined || r.dtype !== "float32" || c.dtype !== "float32" ||
      !tf.util.arraysEqual(r.shape, c.shape)
    ) {
      throw new TypeError(
        `Cannot compute ${RUNNING_MOMENTS_UPDATE} on wasm: r${k} and c${k} must be float32 ` +
          `tensors of one shape, got [${r?.shape ?? "none"}] ${r?.dtype ?? ""} and [${
            c?.shape ?? "none"
          }] ${c?.dtype ?? ""}`,
      );
    }
    pairs.push([r, c]);
  }
  const outputs = pairs.map(([r]) => backend.makeOutput(r.shape.slice(), "float32"));
  const keep = Math.fround(1 - momentum);
  const take = Math.fround(momentum);
  // Views taken after the last allocation (which may grow the heap and detach older views).
  pairs.forEach(([rInfo, cInfo], k) => {
    const r = backend.typedArrayFromHeap(rInfo) as Float32Array;
    const c = backend.typedArrayFromHeap(cInfo) as Float32Array;
    const out = backend.typedArrayFromHeap(outputs[k]!) as Float32Array;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.fround(keep * r[i]!) + Math.fround(take * c[i]!);
    }
  });
  return outputs;
}

/**
 * The new running statistics `(1 - m) running + m batch` of every pair: one kernel call on
 * wasm, else the same arithmetic as tfjs ops.
 *
 * @param running The running statistics.
 * @param batch This step's statistics, pairwise of the same shapes.
 * @param momentum m in [0, 1].
 * @returns The new running statistics (owned by the caller).
 */
export function updateRunningMoments(
  running: readonly tf.Tensor[],
  batch: readonly tf.Tensor[],
  momentum: number,
): tf.Tensor[] {
  if (running.length !== batch.length) {
    throw new TypeError(
      `Cannot update running moments: expected as many batch statistics as running ones, got ${batch.length} and ${running.length}`,
    );
  }
  if (running.length === 0) return [];
  // wasm here, webgpu in lib/kernels/webgpu_fused.ts; elsewhere the same arithmetic as ops.
  if (tf.getKernel(RUNNING_MOMENTS_UPDATE, tf.getBackend()) === undefined) {
    return tf.tidy(() =>
      running.map((r, k) => tf.add(tf.mul(1 - momentum, r), tf.mul(momentum, batch[k]!)))
    );
  }
  const inputs: tf.NamedTensorMap = {};
  running.forEach((r, k) => {
    inputs[`r${k}`] = r;
    inputs[`c${k}`] = batch[k]!;
  });
  const out = tf.engine().runKernel(RUNNING_MOMENTS_UPDATE, inputs, { momentum });
  return Array.isArray(out) ? out : [out as tf.Tensor];
}

/**
 * Registers `RunningMomentsUpdate` on the wasm backend. Idempotent.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerWasmMomentsKernel, RUNNING_MOMENTS_UPDATE } from "./wasm_moments.ts";
 * import assert from "node:assert/strict";
 *
 * registerWasmMomentsKernel();
 * assert.ok(tf.getKernel(RUNNING_MOMENTS_UPDATE, "wasm") !== undefined);
 * ```
 */
export function registerWasmMomentsKernel(): void {
  if (tf.getKernel(RUNNING_MOMENTS_UPDATE, "wasm") !== undefined) return;
  tf.registerKernel({
    kernelName: RUNNING_MOMENTS_UPDATE,
    backendName: "wasm",
    kernelFunc: runningMomentsUpdate as unknown as tf.KernelFunc,
  });
}
