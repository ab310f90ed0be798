/**
 * Figure `gradient-predictiveness` (paper Figure 4b): ||grad L(W) - grad L(W - eta g)|| for eta
 * in [1/2, 4] x lr at every measured step, as a band per network (standard vs BatchNorm, lr
 * 0.1) on a log axis, as in the paper. The band edges are the seed means of the per-run min and
 * max over eta.
 *
 * Pure: rows in, Vega-Lite spec out.
 *
 * @module
 */
import type { LandscapeRow } from "../experiments/landscape.ts";
import type { LandscapeFigureOptions } from "./loss_variation.ts";
import { networkOrder } from "./series.ts";
import { bandChart, type VegaLiteSpec } from "./spec.ts";

/**
 * The `gradient-predictiveness` figure: min..max over eta of the gradient change.
 *
 * @param rows Rows from `landscapeRows`.
 * @param options Title.
 * @returns A Vega-Lite band chart with a log y axis.
 * @throws {RangeError} When there are no rows.
 */
export function gradientPredictivenessFigure(
  rows: readonly LandscapeRow[],
  options: LandscapeFigureOptions = {},
): VegaLiteSpec {
  if (rows.length === 0) {
    throw new RangeError("Cannot build the gradient-predictiveness figure: expected rows, got 0");
  }
  return bandChart(rows, {
    x: "step",
    xTitle: "training step",
    low: "gradLow",
    high: "gradHigh",
    logY: true,
    yTitle: "||∇L(W) − ∇L(W − ηg)||, min..max over η",
    series: "normalization",
    seriesTitle: "network",
    seriesOrder: networkOrder(options.networks ?? rows.map((r) => r.normalization)),
    tooltip: ["learningRate", "gradLowest", "gradHighest", "gradNorm", "seeds", "diverged"],
    width: 520,
    height: 300,
    title: options.title ?? "Gradient predictiveness (paper Fig. 4b)",
  });
}
