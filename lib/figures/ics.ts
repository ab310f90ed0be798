/**
 * Figure `ics` (paper Figure 3a): gradient-view internal covariate shift of the VGG against the
 * training step, ||G - G'|| (log axis) and cos(G, G'), for conv5 and dense10 (the paper's #5
 * and #10), one row of panels per learning rate. Each network is a line (the mean over seeds)
 * inside a band (min..max over seeds).
 *
 * Pure: rows in, Vega-Lite spec out.
 *
 * @module
 */
import type { IcsRow } from "../experiments/ics.ts";
import type { Normalization } from "../models/types.ts";
import { networkOrder } from "./series.ts";
import { bandChart, concatCharts, type VegaLiteSpec } from "./spec.ts";

/** Options of {@link icsFigure}. */
export interface IcsFigureOptions {
  /** Figure title (default: the paper's figure it mirrors). */
  title?: string;
  /** The networks it compares (the experiment's `normalizations`; default: those in the rows). */
  networks?: readonly Normalization[];
}

/**
 * The `ics` figure: for every learning rate (a row) four panels, ||G - G'|| and cos(G, G') of
 * each measured layer against the step; bands are the spread over seeds.
 *
 * @param rows Rows from `icsRows` (any order).
 * @param options Title and networks.
 * @returns A Vega-Lite spec (concat of band charts).
 * @throws {RangeError} When there are no rows.
 */
export function icsFigure(rows: readonly IcsRow[], options: IcsFigureOptions = {}): VegaLiteSpec {
  if (rows.length === 0) {
    throw new RangeError("Cannot build the ics figure: expected rows, got 0");
  }
  const learningRates = [...new Set(rows.map((r) => r.learningRate))];
  const layers = [...new Set(rows.map((r) => r.layer))];
  const charts: VegaLiteSpec[] = [];
  const common = {
    x: "step",
    xTitle: "training step",
    series: "normalization",
    seriesTitle: "network",
    seriesOrder: networkOrder(options.networks ?? rows.map((r) => r.normalization)),
    tooltip: ["learningRate", "layer", "normG", "seeds", "diverged"],
    width: 260,
    height: 180,
  } as const;
  for (const learningRate of learningRates) {
    for (const metric of ["l2", "cosine"] as const) {
      for (const layer of layers) {
        const panel = rows.filter((r) => r.learningRate === learningRate && r.layer === layer);
        charts.push(bandChart(panel, {
          ...common,
          low: `${metric}Min`,
          high: `${metric}Max`,
          mid: metric,
          logY: metric === "l2",
          yTitle: metric === "l2" ? "||G − G′||" : "cos(G, G′)",
          title: `${layer}, ${learningRate}`,
        }));
      }
    }
  }
  return concatCharts(charts, {
    direction: "wrap",
    columns: 2 * layers.length,
    independentY: true,
    title: options.title ??
      "Internal covariate shift, gradient view (Def. 2.1; paper Fig. 3a): mean and min..max over seeds",
  });
}
