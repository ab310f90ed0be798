/**
 * The networks of the reproduction: the paper's VGG on CIFAR-10, its deep linear network and
 * an MLP for the shallow-network question, each with any of the normalisations of the paper;
 * their initialisation, normalisation layers and training noise (Algorithm 1).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createNetwork } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const net = createNetwork({ arch: "dln", normalization: "batchnorm", depth: 3, dim: 2 });
 * assert.deepEqual(net.layerNames, ["dense1", "dense2", "dense3"]);
 * ```
 *
 * @module
 */
import { createDln, type DlnOptions } from "./dln.ts";
import { createMlp, type MlpOptions } from "./mlp.ts";
import type { Network } from "./types.ts";
import { createVgg, type VggOptions } from "./vgg.ts";

export * from "./types.ts";
export * from "./noise.ts";
export * from "./norm.ts";
export * from "./init.ts";
export * from "./vgg.ts";
export * from "./dln.ts";
export * from "./mlp.ts";
export * from "./layer_map.ts";

/** A network described by data: the architecture tag plus that architecture's options. */
export type NetworkSpec =
  | ({ arch: "vgg" } & VggOptions)
  | ({ arch: "dln" } & DlnOptions)
  | ({ arch: "mlp" } & MlpOptions);

/**
 * Build a network from its spec (e.g. from an experiment config).
 *
 * @param spec `{ arch, ...options }`.
 * @returns The network.
 */
export function createNetwork(spec: NetworkSpec): Network {
  switch (spec.arch) {
    case "vgg":
      return createVgg(spec);
    case "dln":
      return createDln(spec);
    case "mlp":
      return createMlp(spec);
    default: {
      const arch = (spec as { arch: unknown }).arch;
      throw new TypeError(`Cannot create network: unknown arch, got ${String(arch)}`);
    }
  }
}
