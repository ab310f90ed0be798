/**
 * Figure `loss-variation` (paper Figure 4a): the range of the loss along the gradient, L(W - eta
 * g) for eta in [1/2, 4] x lr, at every measured step, as a band per network (standard vs
 * BatchNorm, lr 0.1). The band edges are the seed means of the per-run min and max over eta.
 *
 * Pure: rows in, Vega-Lite spec out.
 *
 * @module
 */
import type { LandscapeRow } from "../experiments/landscape.ts";
import type { Normalization } from "../models/types.ts";
import { networkOrder } from "./series.ts";
import { bandChart, type VegaLiteSpec } from "./spec.ts";

/** Options of the landscape figure builders. */
export interface LandscapeFigureOptions {
  /** Figure title (default: the paper's panel it mirrors). */
  title?: string;
  /** The networks it compares (the experiment's `normalizations`; default: those in the rows). */
  networks?: readonly Normalization[];
}

/**
 * The `loss-variation` figure: min..max over eta of L(W - eta g) against the step.
 *
 * @param rows Rows from `landscapeRows`.
 * @param options Title.
 * @returns A Vega-Lite band chart.
 * @throws {RangeError} When there are no rows.
 */
export function lossVariationFigure(
  rows: readonly LandscapeRow[],
  options: LandscapeFigureOptions = {},
): VegaLiteSpec {
  if (rows.length === 0) {
    throw new RangeError("Cannot build the loss-variation figure: expected rows, got 0");
  }
  return bandChart(rows, {
    x: "step",
    xTitle: "training step",
    low: "lossLow",
    high: "lossHigh",
    yTitle: "loss at W − ηg, min..max over η",
    series: "normalization",
    seriesTitle: "network",
    seriesOrder: networkOrder(options.networks ?? rows.map((r) => r.normalization)),
    tooltip: [
      "learningRate",
      "lossAtW",
      "lossLowest",
      "lossHighest",
      "gradNorm",
      "seeds",
      "diverged",
    ],
    width: 520,
    height: 300,
    title: options.title ?? "Loss variation along the gradient (paper Fig. 4a)",
  });
}
