/**
 * Figure `beta-smoothness` (paper Figure 4c): the "effective" beta-smoothness, max over eta of
 * ||grad L(W) - grad L(W - eta g)|| / ||eta g||, against the step, standard vs BatchNorm at lr
 * 0.1: a line at the mean over seeds inside a band (min..max over seeds).
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
 * The `beta-smoothness` figure.
 *
 * @param rows Rows from `landscapeRows`.
 * @param options Title.
 * @returns A Vega-Lite band chart (mean line, seed band).
 * @throws {RangeError} When there are no rows.
 */
export function betaSmoothnessFigure(
  rows: readonly LandscapeRow[],
  options: LandscapeFigureOptions = {},
): VegaLiteSpec {
  if (rows.length === 0) {
    throw new RangeError("Cannot build the beta-smoothness figure: expected rows, got 0");
  }
  return bandChart(rows, {
    x: "step",
    xTitle: "training step",
    low: "betaMin",
    high: "betaMax",
    mid: "beta",
    yTitle: "effective β-smoothness",
    series: "normalization",
    seriesTitle: "network",
    seriesOrder: networkOrder(options.networks ?? rows.map((r) => r.normalization)),
    tooltip: ["learningRate", "gradNorm", "seeds", "diverged"],
    width: 520,
    height: 300,
    title: options.title ??
      "Effective β-smoothness (paper Fig. 4c): mean and min..max over seeds",
  });
}
