/**
 * The example figure: |w_t - w*| against the step, one line per learning rate, log y axis.
 *
 * @module
 */
import type { ExampleRow } from "../experiments/example.ts";
import { lineChart, type VegaLiteSpec } from "./spec.ts";

/**
 * The example's chart.
 *
 * @param rows From `exampleRows`.
 * @returns A Vega-Lite spec (without provenance).
 */
export function exampleFigure(rows: readonly ExampleRow[]): VegaLiteSpec {
  return lineChart(rows, {
    x: "step",
    y: "distance",
    series: "learningRate",
    seriesTitle: "learning rate η",
    logY: true,
    yTitle: "|w_t − w*|",
    title: "Gradient descent on a quadratic (example)",
  });
}
