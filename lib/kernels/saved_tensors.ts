/**
 * Tensors saved for the backward pass without a kernel call each.
 *
 * When a gradient is recorded, tfjs 4.22 keeps every input and output that a gradient config
 * asks for (`inputsToSave`, `outputsToSave`, and `tf.customGrad`'s `save`) by `engine.clone`,
 * which runs the `Identity` kernel once per tensor: 70 of the 235 kernel calls of a VGG training
 * step without BatchNorm, 138 of 403 with it. The clone only needs a second reference to the
 * same data, which is what the `Reshape` kernel gives every backend's tensors: here the clone is
 * that reference made directly (the backend's `incRef`, a new tensor on the same data id, the
 * same tape node as before), so values, memory accounting and disposal are as with `Identity`.
 *
 * Backend-agnostic (no Deno APIs); a backend without `incRef` keeps the stock clone.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs's `Engine` that the clone touches. */
interface EngineLike {
  clone(x: tf.Tensor): tf.Tensor;
  makeTensorFromDataId(
    dataId: tf.DataId,
    shape: number[],
    dtype: tf.DataType,
    backend?: tf.KernelBackend,
  ): tf.Tensor;
  addTapeNode(
    scopeName: string,
    inputs: tf.NamedTensorMap,
    outputs: tf.Tensor[],
    gradientsFunc: (dy: tf.Tensor) => Record<string, () => tf.Tensor>,
    saved: tf.Tensor[],
    attrs: tf.NamedAttrMap,
  ): void;
  isTapeOn(): boolean;
  state: {
    activeScope: { name: string } | null;
    tensorInfo: WeakMap<tf.DataId, { backend: tf.KernelBackend }>;
  };
}

let installed = false;

/**
 * Makes tfjs save tensors for the backward pass by reference instead of by an `Identity` kernel
 * call. Idempotent; call before the first gradient.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { shareSavedTensors } from "./saved_tensors.ts";
 * import assert from "node:assert/strict";
 *
 * shareSavedTensors();
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.relu(x)))(tf.tensor1d([-1, 2]));
 * assert.deepEqual(Array.from(await g.data()), [0, 1]);
 * ```
 */
export function shareSavedTensors(): void {
  if (installed) return;
  installed = true;
  const engine = tf.engine() as unknown as EngineLike;
  const stockClone = engine.clone.bind(engine);
  // The stock clone runs only while a gradient is recorded, and tapes itself unconditionally.
  engine.clone = (x: tf.Tensor): tf.Tensor => view(engine, x, x.shape, true) ?? stockClone(x);
}

/**
 * A tensor on the same data as `x` with another shape of the same size, made without a kernel
 * call (a `Reshape` that the engine does not dispatch), or undefined where x's backend has no
 * `incRef`. Recorded on the gradient tape like a reshape, so gradients flow through it.
 *
 * @param x The tensor.
 * @param shape The view's shape (same number of elements).
 * @returns The view (owned by the caller), or undefined.
 * @throws {RangeError} When the sizes differ.
 */
export function sharedView(x: tf.Tensor, shape: readonly number[]): tf.Tensor | undefined {
  if (tf.util.sizeFromShape([...shape]) !== x.size) {
    throw new RangeError(
      `Cannot view a tensor of shape [${x.shape}] as [${shape}]: sizes differ`,
    );
  }
  return view(tf.engine() as unknown as EngineLike, x, shape, false);
}

/** {@link sharedView}; `alwaysTape` records the tape node also inside a kernel's execution. */
function view(
  engine: EngineLike,
  x: tf.Tensor,
  shape: readonly number[],
  alwaysTape: boolean,
): tf.Tensor | undefined {
  const backend = engine.state.tensorInfo.get(x.dataId)?.backend as
    | (tf.KernelBackend & { incRef?: (dataId: tf.DataId) => void })
    | undefined;
  if (backend?.incRef === undefined) return undefined;
  backend.incRef(x.dataId);
  const y = engine.makeTensorFromDataId(x.dataId, [...shape], x.dtype, backend);
  // Where a gradient is being recorded, a tape node as the stock clone and reshape add: its
  // gradient maps dy back to x's shape.
  if (alwaysTape || engine.isTapeOn()) {
    engine.addTapeNode(
      engine.state.activeScope?.name ?? "sharedView",
      { x },
      [y],
      (dy) => ({ x: () => tf.reshape(tf.cast(dy, "float32"), x.shape) }),
      [],
      {},
    );
  }
  return y;
}
