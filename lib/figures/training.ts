/**
 * Figure `training` (paper Figures 1, 2 and 7): rows from `lib/experiments/training.ts` to a
 * Vega-Lite spec. Top row: train loss (log axis), train accuracy and test accuracy against the
 * step, one colour per configuration, the mean over seeds as a line and the seeds' min..max as a
 * band, dashed vertical rules where a run diverged. Below: a grid of quantile bands of a few
 * units of one layer over training, one column per configuration and one row per unit.
 *
 * Pure: no I/O.
 *
 * @module
 */
import type { TrainingResults } from "../experiments/training.ts";
import { ACTIVATION_BANDS, bandLabel } from "../experiments/training.ts";
import {
  bandChart,
  concatCharts,
  facetChart,
  type Row,
  SERIES_PARAM,
  type VegaLiteSpec,
} from "./spec.ts";

/** Options of {@link trainingFigure}. */
export interface TrainingFigureOptions {
  /** Figure title (default: the claim in a few words). */
  title?: string;
}

type Json = Record<string, unknown>;

/** Name of the legend selection of the activation grid (its series are bands, not curves). */
const BAND_PARAM = "band";

/** Renames the legend selection `from` to `to` in a spec (params and their uses). */
function renameParam(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) return value.map((item) => renameParam(item, from, to));
  if (typeof value !== "object" || value === null) return value;
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === "data") {
      out[key] = item; // inline rows: left as they are
    } else if ((key === "name" || key === "param") && item === from) {
      out[key] = to;
    } else {
      out[key] = renameParam(item, from, to);
    }
  }
  return out;
}

/** Rows with NaN/undefined replaced by null (JSON has no NaN). */
function clean<T extends object>(rows: readonly T[]): Row[] {
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map((
        [k, v],
      ) => [k, typeof v === "number" && !Number.isFinite(v) ? null : v]),
    ) as Row
  );
}

/** A dashed rule per diverged run, in its configuration's colour, with a tooltip. */
function divergenceLayer(results: TrainingResults): Json {
  return {
    data: { values: clean(results.divergences) },
    mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1.2 },
    encoding: {
      x: { field: "step", type: "quantitative" },
      color: { field: "configuration", type: "nominal" },
      opacity: { condition: { param: SERIES_PARAM, value: 0.9 }, value: 0.1 },
      tooltip: [
        { field: "configuration", type: "nominal" },
        { field: "seed", type: "quantitative" },
        { field: "label", type: "nominal", title: "divergence" },
      ],
    },
  };
}

/**
 * The `training` figure.
 *
 * @param results From `trainingResults`.
 * @param options Title.
 * @returns A concat spec (curves on top, activation grid below).
 * @throws {RangeError} When the results hold no curves.
 */
export function trainingFigure(
  results: TrainingResults,
  options: TrainingFigureOptions = {},
): VegaLiteSpec {
  if (results.curves.length === 0) {
    throw new RangeError("Cannot build training figure: the results hold no curves, got 0 rows");
  }
  const order = results.configurations;
  // [metric, panel title, y title, log y]. Short y titles: without a canvas, Vega overestimates
  // text widths, and a long rotated title would push its panel's title up.
  const panels: [string, string, string, boolean][] = [
    ["train loss", "Train loss (smoothed; line: mean, band: seeds' min–max)", "loss", true],
    ["train accuracy", "Train accuracy (batch, smoothed)", "accuracy", false],
    ["test accuracy", "Test accuracy", "accuracy", false],
  ];
  const curves = panels.map(([metric, title, yTitle, logY]) => {
    const chart = bandChart(
      clean(results.curves.filter((r) => r.metric === metric)),
      {
        x: "step",
        low: "min",
        high: "max",
        mid: "mean",
        series: "configuration",
        seriesOrder: order,
        logY,
        yTitle,
        xTitle: "step",
        tooltip: ["n"],
        title,
        width: 300,
        height: 220,
      },
    ) as unknown as Json;
    const layers = chart.layer as Json[];
    if (logY) {
      // A log axis niced to whole decades would span 1..10 for losses of 1.5..2.5.
      const y = (layers[0]!.encoding as Json).y as Json;
      y.scale = { type: "log", nice: false };
    }
    if (results.divergences.length > 0) layers.push(divergenceLayer(results));
    return chart as unknown as VegaLiteSpec;
  });

  const bandOrder = ACTIVATION_BANDS.map(bandLabel);
  const unitChart = bandChart(clean(results.activations), {
    x: "step",
    low: "low",
    high: "high",
    series: "band",
    seriesTitle: "quantile band",
    seriesOrder: bandOrder,
    tooltip: ["median"],
    yTitle: "activation",
    width: 130,
    height: 90,
  }) as unknown as Json;
  // Nested bands in one hue, darker toward the median.
  const bandArea = (unitChart.layer as Json[])[0]!;
  const bandColor = (bandArea.encoding as Json).color as Json;
  bandColor.scale = {
    domain: bandOrder,
    range: ["#9ecae1", "#6baed6", "#3182bd", "#08519c"].slice(0, bandOrder.length),
  };
  (unitChart.layer as Json[]).splice(1, 0, {
    mark: { type: "line", strokeWidth: 1, color: "black" },
    encoding: {
      x: { field: "step", type: "quantitative" },
      y: { field: "median", type: "quantitative" },
      detail: { field: "band", type: "nominal" },
    },
  });
  const { paper, ours } = results.plotLayer;
  const grid = facetChart(
    renameParam(unitChart, SERIES_PARAM, BAND_PARAM) as VegaLiteSpec,
    {
      row: "unit",
      column: "configuration",
      // Each panel its own scale, as the paper's histograms: what matters is how a unit's
      // distribution moves over time, and a diverging run would flatten every other panel.
      independentY: true,
      title: `Activations of layer ${ours}${
        paper === null ? "" : ` (paper #${paper})`
      } after the normalisation (and noise), first seed: quantile bands and median (black)`,
    },
  ) as unknown as Json;
  // Units in numeric order ("unit 2" before "unit 13").
  const units = [...new Set(results.activations.map((r) => r.unit))]
    .sort((a, b) => Number(a.replace(/\D+/g, "")) - Number(b.replace(/\D+/g, "")));
  (grid.facet as Json).row = { field: "unit", type: "nominal", title: null, sort: units };
  (grid.facet as Json).column = {
    field: "configuration",
    type: "nominal",
    title: null,
    sort: order,
  };

  const top = concatCharts(curves, { direction: "horizontal", independentY: true });
  const figure = concatCharts([top, grid as unknown as VegaLiteSpec], {
    direction: "vertical",
    title: options.title ??
      // The claims as questions: at the schedule scale noise alone does train (paper.md).
      "Training with and without BatchNorm (claims 1–2): does BatchNorm train faster, does noise " +
        "after BatchNorm barely hurt, does noise alone stop training?",
  }) as unknown as Json;
  figure.config = { legend: { labelLimit: 240 } }; // full configuration names
  // Curves are coloured by configuration, the grid by quantile band: two colour scales.
  figure.resolve = {
    scale: { color: "independent", y: "independent" },
    legend: { color: "independent" },
  };
  return figure as unknown as VegaLiteSpec;
}
