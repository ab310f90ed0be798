/**
 * Figure `ics-definitions`: the BatchNorm / standard ratio of each covariate-shift measure in
 * each setting (network and learning rate), one panel per measure, with a line at 1 (no change)
 * and a dashed line at 1/2 (a "large" reduction). Points are the mean over seeds, whiskers the
 * smallest and largest seed; colour tells where the moments are taken.
 *
 * @module
 */
import { type IcsRatioRow, LARGE_REDUCTION } from "../experiments/ics_definitions.ts";
import { TOOLTIP_FORMAT, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./spec.ts";

/** Measure titles of the panels (x axis). */
const TITLES: Record<string, string> = {
  "mean drift": "|Δμ| / σ  (distribution view)",
  "variance drift": "|Δσ²| / σ²  (distribution view)",
  "gradient change": "‖G − G′‖ / ‖G‖  (Def. 2.1)",
  "gradient angle": "1 − cos(G, G′)  (Def. 2.1)",
};

/** Colours of the places, fixed so the legend reads the same in every panel. */
const WHERE_ORDER = ["post-norm", "pre-norm", "G vs G′"];

/** Options of {@link icsDefinitionsFigure}. */
export interface IcsDefinitionsSpecOptions {
  /** Figure title. */
  title?: string;
  /** Panel width in pixels (default 230). */
  width?: number;
}

/**
 * Rows -> Vega-Lite spec: a dot plot of BatchNorm / standard per setting, faceted by measure,
 * log x axis, a rule at 1 and at 1/2, whiskers over seeds, a legend that highlights a place and
 * tooltips with the absolute values and any divergence.
 *
 * @param rows Rows from `icsDefinitionsRows`.
 * @param options Title and size.
 * @returns The spec (without provenance: add it with `withProvenance`).
 */
export function icsDefinitionsFigure(
  rows: readonly IcsRatioRow[],
  options: IcsDefinitionsSpecOptions = {},
): VegaLiteSpec {
  const settings = [...new Set(rows.map((r) => r.setting))];
  const measures = [...new Set(rows.map((r) => r.measure))];
  // Null ratios (no finite seed) cannot sit on a log axis: they stay in the data (and the
  // results file) but are filtered from the marks. All panels share one x scale, so the lines
  // at 1 and 1/2 line up and ratios compare across measures.
  const x = {
    field: "ratio",
    type: "quantitative",
    scale: { type: "log" },
    title: "BatchNorm / standard",
  };
  const y = { field: "setting", type: "nominal", sort: settings, title: null };
  const color = {
    field: "where",
    type: "nominal",
    title: "moments taken at",
    scale: { domain: WHERE_ORDER.filter((w) => rows.some((r) => r.where === w)) },
  };
  const opacity = {
    condition: { param: "place", value: 1 },
    value: 0.15,
  };
  const tooltip = [
    { field: "measure", type: "nominal" },
    { field: "where", type: "nominal" },
    { field: "setting", type: "nominal" },
    { field: "ratio", type: "quantitative", format: TOOLTIP_FORMAT, title: "BN / standard" },
    { field: "ratioMin", type: "quantitative", format: TOOLTIP_FORMAT, title: "min over seeds" },
    { field: "ratioMax", type: "quantitative", format: TOOLTIP_FORMAT, title: "max over seeds" },
    { field: "standard", type: "quantitative", format: TOOLTIP_FORMAT },
    { field: "batchnorm", type: "quantitative", format: TOOLTIP_FORMAT },
    { field: "seeds", type: "quantitative" },
    { field: "diverged", type: "nominal" },
  ];
  const spec = {
    $schema: VEGA_LITE_SCHEMA,
    title: options.title ??
      "Covariate shift with BatchNorm relative to without: by definition, place, depth, step size",
    data: { values: rows.map((r) => ({ ...r })) },
    facet: {
      column: {
        field: "measure",
        type: "nominal",
        sort: measures,
        title: null,
        header: { labelExpr: headerExpr(measures), labelFontWeight: "bold" },
      },
    },
    spec: {
      width: options.width ?? 230,
      height: { step: 22 },
      layer: [
        { mark: { type: "rule", color: "#555" }, encoding: { x: { datum: 1 } } },
        {
          mark: { type: "rule", color: "#999", strokeDash: [4, 3] },
          encoding: { x: { datum: LARGE_REDUCTION } },
        },
        {
          transform: [{ filter: "isValid(datum.ratioMin) && datum.ratioMin > 0" }],
          mark: { type: "rule", strokeWidth: 1.5 },
          encoding: {
            x: { ...x, field: "ratioMin" },
            x2: { field: "ratioMax" },
            y,
            yOffset: { field: "where", type: "nominal" },
            color,
            opacity,
          },
        },
        {
          transform: [{ filter: "isValid(datum.ratio) && datum.ratio > 0" }],
          params: [{ name: "place", select: { type: "point", fields: ["where"] }, bind: "legend" }],
          mark: { type: "point", filled: true, size: 60 },
          encoding: {
            x,
            y,
            yOffset: { field: "where", type: "nominal" },
            color,
            opacity,
            shape: {
              condition: { test: "datum.diverged !== ''", value: "cross" },
              value: "circle",
            },
            tooltip,
          },
        },
      ],
    },
  };
  return spec as unknown as VegaLiteSpec;
}

/** A Vega expression mapping each measure to its panel title. */
function headerExpr(measures: readonly string[]): string {
  return measures.reduceRight(
    (rest, m) =>
      `datum.value === ${JSON.stringify(m)} ? ${JSON.stringify(TITLES[m] ?? m)} : ${rest}`,
    "datum.value",
  );
}
