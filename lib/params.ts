/**
 * Parameters as one structure: flattening `Params` (tensors grouped per weight layer) into a
 * tensor list and back, mapping over them, disposing them, reading them to the host, and the plain
 * SGD step that training and the measurements share.
 *
 * Every function here but `readParams` is synchronous, reads nothing back to the host, and
 * returns tensors owned by the caller: dispose them, or call inside `tf.tidy`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { SGD_UPDATE, sgdUpdateAvailable } from "./kernels/wasm_sgd.ts";
import type { LayerParams, Params } from "./models/types.ts";

/** Name of one parameter tensor inside a layer. */
export type ParamName = keyof LayerParams;

/** The parameter names of a layer, in the fixed order used when flattening. */
export const PARAM_NAMES: readonly ParamName[] = ["kernel", "bias", "gamma", "beta"];

/** Where one flattened tensor lives: 1-based layer number and parameter name. */
export interface ParamSlot {
  /** 1-based layer number (layer i is `params[i - 1]`). */
  layer: number;
  /** Which tensor of the layer. */
  name: ParamName;
}

/** Parameters as a flat tensor list plus the map back to the per-layer structure. */
export interface FlatParams {
  /** The parameter tensors (the same objects as in `Params`, not copies). */
  tensors: tf.Tensor[];
  /** `slots[k]` says where `tensors[k]` belongs. */
  slots: ParamSlot[];
}

/**
 * Flattens per-layer parameters into one tensor list (layer order, then `PARAM_NAMES` order).
 *
 * @param params Parameters, one entry per weight layer.
 * @returns The tensors (not copied) and their slots.
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { deepStrictEqual } from "node:assert/strict";
 * import { flattenParams } from "./params.ts";
 *
 * const params = [{ kernel: tf.zeros([2, 2]), bias: tf.zeros([2]) }, { kernel: tf.zeros([2, 1]) }];
 * const { slots } = flattenParams(params);
 * deepStrictEqual(slots, [
 *   { layer: 1, name: "kernel" },
 *   { layer: 1, name: "bias" },
 *   { layer: 2, name: "kernel" },
 * ]);
 * tf.dispose(flattenParams(params).tensors);
 * ```
 */
export function flattenParams(params: Params): FlatParams {
  const tensors: tf.Tensor[] = [];
  const slots: ParamSlot[] = [];
  params.forEach((layerParams, index) => {
    for (const name of PARAM_NAMES) {
      const tensor = layerParams[name];
      if (tensor === undefined) continue;
      tensors.push(tensor);
      slots.push({ layer: index + 1, name });
    }
  });
  return { tensors, slots };
}

/**
 * Inverse of `flattenParams`: puts a flat tensor list back into per-layer structure.
 *
 * @param tensors One tensor per slot.
 * @param slots Where each tensor belongs, as returned by `flattenParams`.
 * @returns Per-layer parameters referencing the given tensors (not copies).
 */
export function unflattenParams(
  tensors: readonly tf.Tensor[],
  slots: readonly ParamSlot[],
): Params {
  if (tensors.length !== slots.length) {
    throw new RangeError(
      `Cannot unflatten parameters: expected ${slots.length} tensors, got ${tensors.length}`,
    );
  }
  const layerCount = slots.reduce((max, slot) => Math.max(max, slot.layer), 0);
  const layers: Partial<LayerParams>[] = Array.from({ length: layerCount }, () => ({}));
  slots.forEach((slot, k) => {
    const layer = layers[slot.layer - 1];
    if (layer === undefined || layer[slot.name] !== undefined) {
      throw new RangeError(
        `Cannot unflatten parameters: invalid or repeated slot, got layer ${slot.layer} ${slot.name}`,
      );
    }
    layer[slot.name] = tensors[k]!;
  });
  return layers.map((layer, index) => {
    if (layer.kernel === undefined) {
      throw new RangeError(
        `Cannot unflatten parameters: every layer needs a kernel, got none for layer ${index + 1}`,
      );
    }
    return layer as LayerParams;
  });
}

/**
 * Applies `fn` to every parameter tensor, keeping the structure.
 *
 * @param params Parameters.
 * @param fn Maps one tensor (and its slot) to a new tensor.
 * @returns New parameters holding `fn`'s results (owned by the caller).
 */
export function mapParams(
  params: Params,
  fn: (tensor: tf.Tensor, slot: ParamSlot) => tf.Tensor,
): Params {
  const { tensors, slots } = flattenParams(params);
  return unflattenParams(tensors.map((t, k) => fn(t, slots[k]!)), slots);
}

/**
 * Applies `fn` to matching tensors of two parameter sets of the same structure.
 *
 * @param a First parameters.
 * @param b Second parameters, same layers, names and shapes as `a`.
 * @param fn Combines one tensor of each.
 * @returns New parameters holding `fn`'s results (owned by the caller).
 */
export function zipParams(
  a: Params,
  b: Params,
  fn: (x: tf.Tensor, y: tf.Tensor, slot: ParamSlot) => tf.Tensor,
): Params {
  const flatA = flattenParams(a);
  const flatB = flattenParams(b);
  assertSameFlat(flatA, flatB, "combine parameters");
  return unflattenParams(
    flatA.tensors.map((x, k) => fn(x, flatB.tensors[k]!, flatA.slots[k]!)),
    flatA.slots,
  );
}

/**
 * Checks that two parameter sets have the same layers, parameter names and shapes (e.g. that
 * gradients belong to the parameters).
 *
 * @param a First parameters.
 * @param b Second parameters.
 * @param action What the caller was doing, for the message ("measure ICS").
 * @throws {TypeError} When they differ.
 */
export function assertSameStructure(a: Params, b: Params, action: string): void {
  assertSameFlat(flattenParams(a), flattenParams(b), action);
}

/**
 * Disposes every tensor of a parameter set (e.g. gradients or perturbed parameters).
 *
 * @param params Parameters to free.
 */
export function disposeParams(params: Params): void {
  tf.dispose(flattenParams(params).tensors);
}

/**
 * One plain SGD step on every parameter tensor: W - lr * g (no momentum, no weight decay).
 * The training loop and the measurements share it so that a measured update is bitwise the
 * update training takes.
 *
 * @param params Current parameters W; left untouched.
 * @param grads Gradients g, same structure as `params`.
 * @param lr Learning rate (step size) eta.
 * @returns New parameters (owned by the caller).
 */
export function sgdStep(params: Params, grads: Params, lr: number): Params {
  if (!Number.isFinite(lr)) {
    throw new RangeError(`Cannot take an SGD step: learning rate must be finite, got ${lr}`);
  }
  if (!sgdUpdateAvailable()) {
    return zipParams(params, grads, (w, g) => tf.tidy(() => tf.sub(w, tf.mul(g, lr))));
  }
  // One kernel call for every tensor, with the same float32 arithmetic (lib/kernels/wasm_sgd.ts).
  const flatW = flattenParams(params);
  const flatG = flattenParams(grads);
  assertSameFlat(flatW, flatG, "take an SGD step");
  const inputs: tf.NamedTensorMap = {};
  flatW.tensors.forEach((w, k) => {
    inputs[`w${k}`] = w;
    inputs[`g${k}`] = flatG.tensors[k]!;
  });
  const out = tf.engine().runKernel(SGD_UPDATE, inputs, { learningRate: lr });
  return unflattenParams(Array.isArray(out) ? out : [out as tf.Tensor], flatW.slots);
}

/**
 * Reads every parameter tensor back to the host (for checkpoints and for tests that check
 * parameters are bitwise unchanged).
 *
 * @param params Parameters.
 * @returns One array per flattened tensor, in `flattenParams` order.
 */
export async function readParams(params: Params): Promise<Float32Array[]> {
  const { tensors } = flattenParams(params);
  const values = await Promise.all(tensors.map((t) => t.data()));
  return values.map((v) => Float32Array.from(v));
}

/** Throws unless two flattened parameter sets have the same slots and shapes. */
export function assertSameFlat(a: FlatParams, b: FlatParams, action: string): void {
  const describe = (flat: FlatParams) =>
    flat.slots.map((s, k) => `${s.layer}.${s.name}[${flat.tensors[k]!.shape}]`).join(" ");
  const left = describe(a);
  const right = describe(b);
  if (left !== right) {
    throw new TypeError(
      `Cannot ${action}: operands differ in structure or shape, got ${left} and ${right}`,
    );
  }
}
