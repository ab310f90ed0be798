/**
 * Figure `lp-norms`: rows of `lib/experiments/lp_norms.ts` -> one Vega-Lite spec. Top row, the
 * VGG: train loss, test accuracy, effective beta-smoothness; where the runs measured activations, a
 * middle row of how far the normalised layers' unit variances (conv2, conv6) and means (conv6)
 * move between measurements; bottom row, the DLN: train loss, gradient predictiveness (range over
 * eta), effective beta-smoothness. Five networks each:
 * standard, BatchNorm, l1, l2, linf. Bands are the spread over seeds unless the title says eta.
 *
 * Pure: no I/O.
 *
 * @module
 */
import type { LpNormsRows } from "../experiments/lp_norms.ts";
import type { Normalization } from "../models/types.ts";
import { networkOrder } from "./series.ts";
import { bandChart, concatCharts, type Row, type VegaLiteSpec } from "./spec.ts";

type Json = Record<string, unknown>;

/**
 * Draws a point at every vertex of the chart's lines, so that a series with a single value
 * (test accuracy measured once) still shows.
 *
 * @param chart A layered chart.
 * @returns A new chart.
 */
export function withLinePoints(chart: VegaLiteSpec): VegaLiteSpec {
  const json = chart as unknown as Json & { layer: Json[] };
  const layer = json.layer.map((l) => {
    const mark = l.mark as { type?: string } | undefined;
    return mark?.type === "line" ? { ...l, mark: { ...mark, point: true } } : l;
  });
  return { ...json, layer } as unknown as VegaLiteSpec;
}

/** Steps between activation measurements (the smallest gap between drift rows' steps). */
function activationInterval(rows: readonly { step: number }[]): number {
  const steps = [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
  let gap = Infinity;
  for (let k = 1; k < steps.length; k++) gap = Math.min(gap, steps[k]! - steps[k - 1]!);
  return Number.isFinite(gap) ? gap : 0;
}

/**
 * The spec of figure `lp-norms` (without provenance: the notebook adds it).
 *
 * @param rows The rows of `lpNormsRows`.
 * @param options The VGG loss smoothing window (for its axis title) and the networks compared
 *   (the experiment's `normalizations`; default: those in the VGG loss rows).
 * @returns A concat spec, three panels per row.
 */
export function lpNormsFigure(
  rows: LpNormsRows,
  options: { smoothVggLoss?: number; networks?: readonly Normalization[] } = {},
): VegaLiteSpec {
  const smooth = options.smoothVggLoss ?? 1;
  const common = {
    x: "step",
    series: "normalization",
    seriesOrder: networkOrder(options.networks ?? rows.vggLoss.map((r) => r.normalization)),
    tooltip: ["seeds", "diverged"],
    width: 300,
    height: 220,
  } as const;
  const dlnLr = rows.dlnLandscape[0]?.lr ?? "";
  const every = activationInterval(rows.vggActivationDrift);
  const driftOf = (layer: string) => rows.vggActivationDrift.filter((r) => r.layer === layer);
  const driftPanels = rows.vggActivationDrift.length === 0 ? [] : [
    ...["conv2", "conv6"].map((layer) =>
      bandChart(driftOf(layer) as Row[], {
        ...common,
        low: "varianceDriftMin",
        high: "varianceDriftMax",
        mid: "varianceDrift",
        logY: true,
        yTitle: `|Δσ²| / σ² per ${every} steps (log)`,
        title: `VGG ${layer}: drift of the units' variance`,
      })
    ),
    bandChart(driftOf("conv6") as Row[], {
      ...common,
      low: "meanDriftMin",
      high: "meanDriftMax",
      mid: "meanDrift",
      logY: true,
      yTitle: `|Δμ| / σ per ${every} steps (log)`,
      title: "VGG conv6: drift of the units' mean",
    }),
  ];
  return concatCharts([
    bandChart(rows.vggLoss as Row[], {
      ...common,
      low: "lossMin",
      high: "lossMax",
      mid: "loss",
      yTitle: smooth > 1 ? `train loss (mean of ${smooth} steps)` : "train loss",
      title: "VGG: train loss",
    }),
    withLinePoints(bandChart(rows.vggAccuracy as Row[], {
      ...common,
      tooltip: ["seeds"],
      low: "accuracyMin",
      high: "accuracyMax",
      mid: "accuracy",
      yTitle: "test accuracy",
      title: "VGG: test accuracy",
    })),
    bandChart(rows.vggLandscape as Row[], {
      ...common,
      low: "betaMin",
      high: "betaMax",
      mid: "beta",
      logY: true,
      yTitle: "effective β-smoothness (log)",
      title: "VGG: effective β-smoothness",
    }),
    ...driftPanels,
    bandChart(rows.dlnLoss as Row[], {
      ...common,
      low: "lossMin",
      high: "lossMax",
      mid: "loss",
      logY: true,
      yTitle: "training loss, summed (log)",
      title: `DLN: training loss, lr ${dlnLr}`,
    }),
    bandChart(rows.dlnLandscape as Row[], {
      ...common,
      low: "gradientLow",
      high: "gradientHigh",
      logY: true,
      yTitle: "||∇L(W) − ∇L(W − ηg)|| (log)",
      title: "DLN: gradient predictiveness (band: η)",
    }),
    bandChart(rows.dlnLandscape as Row[], {
      ...common,
      low: "betaMin",
      high: "betaMax",
      mid: "beta",
      logY: true,
      yTitle: "effective β-smoothness (log)",
      title: "DLN: effective β-smoothness",
    }),
  ], {
    direction: "wrap",
    columns: 3,
    independentY: true,
    title: "l_p normalisation vs BatchNorm (Fig. 5, 12, 13): training and smoothness" +
      (driftPanels.length === 0 ? "" : ", activation drift"),
  });
}
