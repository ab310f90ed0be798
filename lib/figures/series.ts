/**
 * The legend and colour order of the networks in every figure: the order of `NORMALIZATIONS`
 * (lib/models/types.ts), restricted to the networks a figure plots. A new normalisation is
 * placed there once; standard and BatchNorm come first everywhere, so they keep their colours.
 *
 * Pure: no I/O.
 *
 * @module
 */
import { type Normalization, NORMALIZATIONS } from "../models/types.ts";

/**
 * The networks in legend order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { networkOrder } from "./series.ts";
 *
 * assert.deepEqual(networkOrder(["linf", "batchnorm", "none", "batchnorm"]), ["none", "batchnorm", "linf"]);
 * ```
 *
 * @param networks The networks a figure plots (an experiment's `normalizations`, or its rows'),
 *   repeats allowed.
 * @returns Each network once, in the order of `NORMALIZATIONS`.
 */
export function networkOrder(networks: Iterable<Normalization>): Normalization[] {
  const plotted = new Set(networks);
  return NORMALIZATIONS.filter((n) => plotted.has(n));
}
