/**
 * Figure `dln`: rows of `lib/experiments/dln.ts` -> one Vega-Lite spec. Top: gradient-view ICS
 * (Figure 3b) at each learning rate, ||G - G'|| on a log axis with the float32 floor dotted and
 * points under it crossed, and cos(G, G'); bottom: the landscape along the gradient (Figure 10)
 * and the training loss. Bands are the spread over seeds (min..max), except the loss-variation
 * and gradient-predictiveness bands, which are the range over eta (ends averaged over seeds).
 *
 * Pure: no I/O.
 *
 * @module
 */
import type { DlnFigureRows, IcsRow } from "../experiments/dln.ts";
import type { Normalization } from "../models/types.ts";
import { networkOrder } from "./series.ts";
import { bandChart, concatCharts, type Row, type VegaLiteSpec } from "./spec.ts";

/** Extra tooltip fields of every panel. */
const TOOLTIP = ["lr", "seeds", "diverged"] as const;

type Json = Record<string, unknown>;

/**
 * Adds layers to a layered chart (the output of `bandChart`/`lineChart`), before its hover layer
 * so that hovering still finds the band's points first.
 *
 * @param chart A layered chart.
 * @param layers The layers to add.
 * @returns A new chart.
 */
export function addLayers(chart: VegaLiteSpec, layers: readonly Json[]): VegaLiteSpec {
  const json = chart as unknown as Json & { layer: Json[] };
  const [first, ...rest] = json.layer;
  return { ...json, layer: [first!, ...layers, ...rest] } as unknown as VegaLiteSpec;
}

/**
 * The dotted float32 floor and crosses on the points under it (see `ICS_FLOAT32_FLOOR`); the
 * crosses only where some point is under it (an empty layer makes Vega warn of infinite extents).
 */
function floorLayers(anyAtFloor: boolean): Json[] {
  const floor: Json[] = [
    {
      mark: { type: "line", strokeDash: [2, 3], strokeWidth: 1, color: "#777" },
      encoding: {
        x: { field: "step", type: "quantitative" },
        y: { field: "floor", type: "quantitative", scale: { type: "log" } },
        detail: [{ field: "normalization" }, { field: "layer" }],
      },
    },
  ];
  if (!anyAtFloor) return floor;
  return [
    ...floor,
    {
      transform: [{ filter: "datum.atFloor === true" }],
      mark: { type: "point", shape: "cross", color: "#d62728", size: 60, filled: true },
      encoding: {
        x: { field: "step", type: "quantitative" },
        y: { field: "l2", type: "quantitative", scale: { type: "log" } },
      },
    },
  ];
}

function icsCharts(
  rows: readonly IcsRow[],
  lr: string,
  networks: readonly Normalization[],
): VegaLiteSpec[] {
  const data = rows.filter((r) => r.lr === lr) as Row[];
  const common = {
    x: "step",
    series: "normalization",
    seriesOrder: networks,
    dash: "layer",
    tooltip: [...TOOLTIP, "relative", "atFloor"],
  } as const;
  const l2 = bandChart(data, {
    ...common,
    low: "l2Min",
    high: "l2Max",
    mid: "l2",
    logY: true,
    yTitle: "||G − G′|| (log)",
    title: `ICS ||G − G′||, lr ${lr} (dotted: float32 floor, ✕: under it)`,
  });
  const cosine = bandChart(data, {
    ...common,
    low: "cosineMin",
    high: "cosineMax",
    mid: "cosine",
    yTitle: "cos(G, G′)",
    title: `ICS cos(G, G′), lr ${lr}`,
  });
  return [addLayers(l2, floorLayers(data.some((r) => r.atFloor === true))), cosine];
}

/**
 * The spec of figure `dln` (without provenance: the notebook adds it).
 *
 * @param rows The rows of `dlnRows`.
 * @param options The networks compared (the experiment's `normalizations`; default: those in the
 *   loss rows).
 * @returns A concat spec, two panels per row.
 */
export function dlnFigure(
  rows: DlnFigureRows,
  options: { networks?: readonly Normalization[] } = {},
): VegaLiteSpec {
  const networks = networkOrder(options.networks ?? rows.loss.map((r) => r.normalization));
  const lrs = [...new Set(rows.ics.map((r) => r.lr))];
  const landscape = rows.landscape as Row[];
  const landscapeLr = rows.landscape[0]?.lr ?? "";
  const common = {
    x: "step",
    series: "normalization",
    seriesOrder: networks,
    tooltip: [...TOOLTIP],
  } as const;
  return concatCharts([
    ...lrs.flatMap((lr) => icsCharts(rows.ics, lr, networks)),
    bandChart(landscape, {
      ...common,
      low: "lossLow",
      high: "lossHigh",
      logY: true,
      yTitle: "L(W − ηg) over η (log)",
      title: `(a) Loss variation, lr ${landscapeLr}, η ∈ [1/100, 30]·lr`,
    }),
    bandChart(landscape, {
      ...common,
      low: "gradientLow",
      high: "gradientHigh",
      logY: true,
      yTitle: "||∇L(W) − ∇L(W − ηg)|| (log)",
      title: `(b) Gradient predictiveness, lr ${landscapeLr}`,
    }),
    bandChart(landscape, {
      ...common,
      low: "betaMin",
      high: "betaMax",
      mid: "beta",
      logY: true,
      yTitle: "max over η of ||Δ∇L|| / ||ηg|| (log)",
      title: `(c) Effective β-smoothness, lr ${landscapeLr} (band: seeds)`,
    }),
    bandChart(rows.loss as Row[], {
      ...common,
      low: "lossMin",
      high: "lossMax",
      mid: "loss",
      dash: "lr",
      logY: true,
      yTitle: "training loss, summed (log)",
      title: "Training loss (band: seeds)",
    }),
  ], {
    direction: "wrap",
    columns: 2,
    independentY: true,
    title: "Deep linear network: ICS (Fig. 3b) and landscape (Fig. 10), standard vs BatchNorm",
  });
}
