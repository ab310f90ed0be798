/**
 * The instrument check's figure: ICS per layer, loss and gradient change along the gradient,
 * conv2's moment drift and the training loss, each network a series, in a 2-column grid.
 *
 * @module
 */
import type { InstrumentConfig, InstrumentResult } from "../experiments/instrument.ts";
import { networkOrder } from "./series.ts";
import { concatCharts, lineChart, type VegaLiteSpec } from "./spec.ts";

/**
 * The instrument check's charts.
 *
 * @param result From `runInstrumentCheck`.
 * @param config Its settings (the measured step and the networks' order).
 * @returns A Vega-Lite spec (without provenance).
 */
export function instrumentFigure(
  result: InstrumentResult,
  config: InstrumentConfig,
): VegaLiteSpec {
  const order = networkOrder(config.normalizations);
  const at = `ICS at step ${config.measureStep}`;
  return concatCharts([
    lineChart(result.ics, {
      x: "layer",
      y: "l2",
      logY: true,
      series: "normalization",
      seriesOrder: order,
      yTitle: "||G − G′||",
      title: at,
    }),
    lineChart(result.ics, {
      x: "layer",
      y: "cosine",
      series: "normalization",
      seriesOrder: order,
      yTitle: "cos(G, G′)",
      title: at,
    }),
    lineChart(result.landscape, {
      x: "eta",
      y: "loss",
      series: "normalization",
      seriesOrder: order,
      xTitle: "η",
      yTitle: "loss at W − ηg",
      title: "Loss along the gradient",
    }),
    lineChart(result.landscape, {
      x: "eta",
      y: "gradientChange",
      series: "normalization",
      seriesOrder: order,
      xTitle: "η",
      yTitle: "||∇L(W) − ∇L(W − ηg)||",
      title: "Gradient change along the gradient",
    }),
    lineChart(result.drift, {
      x: "step",
      y: "meanShift",
      series: "normalization",
      seriesOrder: order,
      dash: "where",
      logY: true,
      yTitle: "mean |Δμ| / σ (conv2)",
      title: "Moment drift of conv2",
    }),
    lineChart(result.loss, {
      x: "step",
      y: "loss",
      series: "normalization",
      seriesOrder: order,
      yTitle: "training loss",
      title: "Training loss",
    }),
  ], {
    direction: "wrap",
    columns: 2,
    independentY: true,
    title: "Instrument check on a tiny VGG",
  });
}
