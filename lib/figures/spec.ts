/**
 * Small builders of Vega-Lite v6 specs for the figures, with inline data (`data: { values }`).
 *
 * Every chart is interactive where it is displayed (Jupyter, a browser): hovering shows the exact
 * values of the nearest point, and clicking a legend entry shows one series and fades the others
 * (a point selection bound to the legend). The same spec renders to a static SVG (see
 * `render.ts`) without the hover layer ({@link staticSpec}), every series shown.
 *
 * Pure: no I/O, no Deno APIs. Provenance (what was run, where, at which scale) goes into
 * `usermeta.provenance` with {@link withProvenance}.
 *
 * @module
 */
import type { TopLevelSpec } from "vega-lite";
import { isScale, type Scale } from "../scale.ts";

/** A Vega-Lite spec (any top-level kind: unit, layer, facet, concat). */
export type VegaLiteSpec = TopLevelSpec;

/** The `$schema` every spec declares. */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** One value of an inline data row; `null` marks a missing value (JSON has no NaN). */
export type DataValue = string | number | boolean | null;

/** One inline data row, e.g. `{ step: 100, loss: 1.92, norm: "batchnorm" }`. */
export type Row = Readonly<Record<string, DataValue>>;

/**
 * Number format of tooltip values: 8 significant digits shows every float32 value distinctly
 * (float32 holds about 7.2 decimal digits) and trims trailing zeros, so `0.1` stays `0.1`.
 */
export const TOOLTIP_FORMAT = ".8~g";

/** Name of the legend-bound selection over the series field. */
export const SERIES_PARAM = "series";

/** Name of the legend-bound selection over the dash field. */
export const DASH_PARAM = "dash";

/** Name of the nearest-point hover selection that drives tooltips. */
export const HOVER_PARAM = "hover";

/**
 * Where a figure comes from: stored in `usermeta.provenance` of its spec, so a figure file alone
 * says what was run, on what, at which scale and from which commit.
 */
export interface Provenance {
  /** Figure stem, e.g. `"ics"` (names `figures/ics.vl.json` and `notebooks/NN-ics.ipynb`). */
  figure: string;
  /** How far the run was shrunk from the paper's settings. */
  scale: Scale;
  /** What the scale shrinks, in words, e.g. "2,000 steps instead of 15,000; 1 seed". */
  scaleNote: string;
  /** Every hyperparameter of the run (JSON-serialisable). */
  config: object;
  /** Every seed, by role, e.g. `{ init: 0, data: 0, noise: 1 }`. */
  seeds: Readonly<Record<string, number>>;
  /** TensorFlow.js backend that ran it (`cpu`, `wasm` or `webgpu`). */
  backend: string;
  /** WebGPU adapter description, or null when there was none. */
  adapter: string | null;
  /**
   * The backends that computed the runs behind the figure, each as its runs recorded it (e.g.
   * "wasm, 1 thread, kernels by oneDNN 2.6.3 (libdnnl.so.2)"); `backend` is the one that made
   * the figure from them. Absent in figures made before it was recorded, and where no run is
   * stored (the figure's own computation is then `backend`'s).
   */
  computedOn?: string[];
  /** Deno version, e.g. `"2.9.6"`. */
  deno: string;
  /** TensorFlow.js core version, e.g. `"4.22.0"`. */
  tfjs: string;
  /** Git commit of the code (full hash), or null outside a repository or before the first. */
  commit: string | null;
  /** Whether the working tree differed from `commit` (figure outputs aside), null if unknown. */
  dirty: boolean | null;
  /** When the figure was made, ISO 8601 (UTC). */
  date: string;
  /** Wall-clock time of the run, in seconds. */
  wallTimeSeconds: number;
  /** Which data was used, e.g. "CIFAR-10 sample: first 1,000 train / 1,000 test images". */
  dataSubset: string;
}

/** Options shared by {@link lineChart} and {@link bandChart}. */
export interface ChartOptions {
  /** Field on the x axis (quantitative), e.g. `"step"`. */
  x: string;
  /** X-axis title (default: the field name). */
  xTitle?: string;
  /** Log x axis (rows whose x is not positive are left out). Default false. */
  logX?: boolean;
  /** Y-axis title (default: the field name). */
  yTitle?: string;
  /** Log y axis (rows whose y values are not positive are left out). Default false. */
  logY?: boolean;
  /** Field naming the series: one colour and one legend entry each. */
  series?: string;
  /** Legend title of the series (default: the field name). */
  seriesTitle?: string;
  /** Series values in legend and colour order, so colours agree across figures. */
  seriesOrder?: readonly (string | number)[];
  /** Second grouping field drawn as the dash pattern (e.g. the learning rate). */
  dash?: string;
  /** Legend title of the dash field (default: the field name). */
  dashTitle?: string;
  /** More fields to show in the tooltip. */
  tooltip?: readonly string[];
  /**
   * Hover tooltips with exact values (default true). The static SVG leaves them out (see
   * {@link staticSpec}), so they cost nothing there.
   */
  hover?: boolean;
  /** Chart title. */
  title?: string;
  /** Plot width in pixels (default 360). */
  width?: number;
  /** Plot height in pixels (default 240). */
  height?: number;
}

/** Options of {@link lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** Field on the y axis (quantitative), e.g. `"loss"`. */
  y: string;
}

/** Options of {@link bandChart}. */
export interface BandChartOptions extends ChartOptions {
  /** Field of the band's lower edge, e.g. `"min"`. */
  low: string;
  /** Field of the band's upper edge, e.g. `"max"`. */
  high: string;
  /** Optional field drawn as a line inside the band, e.g. `"median"`. */
  mid?: string;
}

// A JSON-like view of specs for the generic helpers below; the builders' outputs are checked
// against vega-lite by compiling them (tests), not by its deep union types.
type Json = Record<string, unknown>;

function asSpec(json: Json): VegaLiteSpec {
  return json as unknown as VegaLiteSpec;
}

function asJson(spec: VegaLiteSpec): Json {
  return spec as unknown as Json;
}

/** `datum["field"]`: safe for any field name inside a Vega expression. */
function datum(field: string): string {
  return `datum[${JSON.stringify(field)}]`;
}

function quantitative(field: string, title: string | undefined, log: boolean): Json {
  return {
    field,
    type: "quantitative",
    title: title ?? field,
    ...(log ? { scale: { type: "log" } } : {}),
  };
}

/**
 * Colour, dash, legend-bound selections and their opacity rule for the main marks. Areas cannot
 * be dashed: they are split by the dash field (`detail`) and its selection exists only where a
 * line draws the dash legend (`dashLegend`).
 */
function grouping(options: ChartOptions, style: {
  selected: number;
  faded: number;
  mark: "line" | "area";
  dashLegend: boolean;
}): {
  params: Json[];
  encoding: Json;
} {
  const { selected, faded } = style;
  const symbol = style.mark === "line" ? "stroke" : "square";
  const params: Json[] = [];
  const encoding: Json = {};
  const tests: Json[] = [];
  if (options.series !== undefined) {
    params.push({
      name: SERIES_PARAM,
      select: { type: "point", fields: [options.series] },
      bind: "legend",
    });
    encoding.color = {
      field: options.series,
      type: "nominal",
      title: options.seriesTitle ?? options.series,
      legend: { symbolType: symbol },
      ...(options.seriesOrder === undefined ? {} : {
        scale: { domain: [...options.seriesOrder] },
        sort: [...options.seriesOrder],
      }),
    };
    tests.push({ param: SERIES_PARAM });
  }
  if (options.dash !== undefined) {
    if (style.dashLegend) {
      params.push({
        name: DASH_PARAM,
        select: { type: "point", fields: [options.dash] },
        bind: "legend",
      });
      tests.push({ param: DASH_PARAM });
    }
    encoding[style.mark === "line" ? "strokeDash" : "detail"] = {
      field: options.dash,
      type: "nominal",
      ...(style.mark === "line"
        ? {
          title: options.dashTitle ?? options.dash,
          legend: { symbolType: "stroke", symbolStrokeColor: "#555" },
        }
        : {}),
    };
  }
  if (tests.length > 0) {
    const test = tests.length === 1 ? tests[0] : { and: tests };
    encoding.opacity = { condition: { test, value: selected }, value: faded };
  }
  return { params, encoding };
}

/** Invisible points that light up nearest to the pointer and carry the exact-value tooltip. */
function hoverLayer(
  options: ChartOptions,
  y: string,
  shown: readonly string[],
  dashParam: boolean,
): Json {
  const fields = [options.x, options.series, options.dash, ...shown, ...(options.tooltip ?? [])]
    .filter((f): f is string => f !== undefined)
    .filter((f, i, all) => all.indexOf(f) === i);
  const numeric = new Set([options.x, ...shown]);
  const visible: Json[] = [{ param: HOVER_PARAM, empty: false }];
  if (options.series !== undefined) visible.push({ param: SERIES_PARAM });
  if (options.dash !== undefined && dashParam) visible.push({ param: DASH_PARAM });
  return {
    params: [{
      name: HOVER_PARAM,
      select: { type: "point", on: "pointerover", nearest: true, clear: "pointerout" },
    }],
    mark: { type: "point", filled: true, size: 40 },
    encoding: {
      x: { field: options.x, type: "quantitative" },
      y: { field: y, type: "quantitative" },
      ...(options.series === undefined
        ? {}
        : { color: { field: options.series, type: "nominal" } }),
      opacity: {
        condition: { test: visible.length === 1 ? visible[0] : { and: visible }, value: 1 },
        value: 0,
      },
      tooltip: fields.map((field) =>
        numeric.has(field)
          ? { field, type: "quantitative", format: TOOLTIP_FORMAT }
          : { field, type: "nominal" }
      ),
    },
  };
}

/** Filters that drop rows a log axis cannot show. */
function logFilters(options: ChartOptions, yFields: readonly string[]): Json[] {
  const fields = [...(options.logX === true ? [options.x] : []), ...(options.logY ? yFields : [])];
  return fields.map((field) => ({ filter: `isValid(${datum(field)}) && ${datum(field)} > 0` }));
}

function frame(
  rows: readonly Row[],
  options: ChartOptions,
  transform: Json[],
  layer: Json[],
): Json {
  return {
    $schema: VEGA_LITE_SCHEMA,
    ...(options.title === undefined ? {} : { title: options.title }),
    width: options.width ?? 360,
    height: options.height ?? 240,
    data: { values: rows.map((row) => ({ ...row })) },
    ...(transform.length === 0 ? {} : { transform }),
    layer,
  };
}

/**
 * A line chart: one line per series (colour) and dash value, tooltips with exact values, a legend
 * that shows/hides series, optionally log axes.
 *
 * @param rows Inline data, one row per point.
 * @param options Fields and axes; see {@link LineChartOptions}.
 * @returns A layered Vega-Lite spec.
 *
 * @example
 * ```ts
 * import { lineChart } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = lineChart([{ step: 0, loss: 2.3, norm: "none" }], {
 *   x: "step", y: "loss", series: "norm", logY: true,
 * });
 * assert.deepEqual((spec as { data: unknown }).data, {
 *   values: [{ step: 0, loss: 2.3, norm: "none" }],
 * });
 * ```
 */
export function lineChart(rows: readonly Row[], options: LineChartOptions): VegaLiteSpec {
  const { params, encoding } = grouping(options, {
    selected: 1,
    faded: 0.12,
    mark: "line",
    dashLegend: true,
  });
  const line: Json = {
    ...(params.length === 0 ? {} : { params }),
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: quantitative(options.x, options.xTitle, options.logX === true),
      y: quantitative(options.y, options.yTitle, options.logY === true),
      ...encoding,
    },
  };
  return asSpec(frame(rows, options, logFilters(options, [options.y]), [
    line,
    ...(options.hover === false ? [] : [hoverLayer(options, options.y, [options.y], true)]),
  ]));
}

/**
 * A band chart: for each series, the area between `low` and `high` (e.g. min..max over a range
 * of step sizes), optionally a line at `mid`; tooltips with exact values; legend toggles series.
 *
 * @param rows Inline data, one row per x and series.
 * @param options Fields and axes; see {@link BandChartOptions}.
 * @returns A layered Vega-Lite spec.
 *
 * @example
 * ```ts
 * import { bandChart } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = bandChart([{ step: 0, min: 1, max: 3, norm: "none" }], {
 *   x: "step", low: "min", high: "max", series: "norm",
 * });
 * assert.equal((spec as { layer: unknown[] }).layer.length, 2);
 * ```
 */
export function bandChart(rows: readonly Row[], options: BandChartOptions): VegaLiteSpec {
  // The dash legend (and its selection) comes from the mid line; without one, bands of the
  // same colour are told apart only by the tooltip.
  const dashLegend = options.mid !== undefined;
  const { params, encoding } = grouping(options, {
    selected: 0.35,
    faded: 0.04,
    mark: "area",
    dashLegend,
  });
  const { encoding: lineEncoding } = grouping(options, {
    selected: 1,
    faded: 0.12,
    mark: "line",
    dashLegend,
  });
  const yTitle = options.yTitle ?? `${options.low} .. ${options.high}`;
  const area: Json = {
    ...(params.length === 0 ? {} : { params }),
    mark: { type: "area" },
    encoding: {
      x: quantitative(options.x, options.xTitle, options.logX === true),
      y: quantitative(options.low, yTitle, options.logY === true),
      y2: { field: options.high },
      ...encoding,
    },
  };
  const shown = [options.low, options.high, ...(options.mid === undefined ? [] : [options.mid])];
  const layer: Json[] = [area];
  if (options.mid !== undefined) {
    layer.push({
      mark: { type: "line", strokeWidth: 1.5 },
      encoding: {
        x: { field: options.x, type: "quantitative" },
        y: { field: options.mid, type: "quantitative" },
        ...lineEncoding,
      },
    });
  }
  if (options.hover !== false) {
    layer.push(hoverLayer(options, options.mid ?? options.high, shown, dashLegend));
  }
  return asSpec(frame(rows, options, logFilters(options, shown), layer));
}

/** Options of {@link concatCharts}. */
export interface ConcatOptions {
  /** `horizontal` (one row), `vertical` (one column) or `wrap` (rows of `columns`). */
  direction?: "horizontal" | "vertical" | "wrap";
  /** Charts per row when `direction` is `wrap` (default 2). */
  columns?: number;
  /** Title of the whole figure. */
  title?: string;
  /** Give each chart its own y scale (default false: shared where fields agree). */
  independentY?: boolean;
}

/**
 * Puts several charts side by side or in a grid; each keeps its own inline data. Their
 * `$schema` and `usermeta` move to the top.
 *
 * @param charts Charts made by {@link lineChart}, {@link bandChart} or by hand.
 * @param options Layout and title.
 * @returns A concat spec.
 * @throws {RangeError} If `charts` is empty or `columns` is not a positive integer.
 *
 * @example
 * ```ts
 * import { concatCharts, lineChart } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const a = lineChart([{ x: 1, y: 1 }], { x: "x", y: "y" });
 * const spec = concatCharts([a, a], { direction: "horizontal" });
 * assert.equal((spec as { hconcat: unknown[] }).hconcat.length, 2);
 * ```
 */
export function concatCharts(
  charts: readonly VegaLiteSpec[],
  options: ConcatOptions = {},
): VegaLiteSpec {
  if (charts.length === 0) {
    throw new RangeError("Cannot concatenate charts: at least one chart is needed, got 0");
  }
  const columns = options.columns ?? 2;
  if (!Number.isInteger(columns) || columns < 1) {
    throw new RangeError(
      `Cannot concatenate charts: columns must be a positive integer, got ${columns}`,
    );
  }
  const views = charts.map((chart) => {
    const { $schema: _schema, usermeta: _usermeta, config: _config, ...view } = asJson(chart);
    return view;
  });
  const key = options.direction === "vertical"
    ? "vconcat"
    : options.direction === "wrap"
    ? "concat"
    : "hconcat";
  return asSpec({
    $schema: VEGA_LITE_SCHEMA,
    ...(options.title === undefined ? {} : { title: options.title }),
    [key]: views,
    ...(key === "concat" ? { columns } : {}),
    ...(options.independentY === true ? { resolve: { scale: { y: "independent" } } } : {}),
  });
}

/** Options of {@link facetChart}. */
export interface FacetOptions {
  /** Field whose values make the rows of the grid. */
  row?: string;
  /** Field whose values make the columns of the grid. */
  column?: string;
  /** Title of the whole figure. */
  title?: string;
  /** Give each panel its own y scale (default false). */
  independentY?: boolean;
}

/**
 * Splits one chart into a grid of small multiples by the values of `row` and/or `column`, e.g.
 * one panel per layer or learning rate. The chart's inline data and transforms move to the top.
 *
 * @param chart A chart with inline data (from {@link lineChart}, {@link bandChart}, ...).
 * @param options The row/column fields.
 * @returns A facet spec.
 * @throws {TypeError} If neither `row` nor `column` is given, or `chart` has no inline data.
 *
 * @example
 * ```ts
 * import { facetChart, lineChart } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const chart = lineChart([{ x: 1, y: 1, layer: "conv5" }], { x: "x", y: "y" });
 * const spec = facetChart(chart, { column: "layer" });
 * assert.deepEqual((spec as { facet: unknown }).facet, {
 *   column: { field: "layer", type: "nominal", title: "layer" },
 * });
 * ```
 */
export function facetChart(chart: VegaLiteSpec, options: FacetOptions): VegaLiteSpec {
  if (options.row === undefined && options.column === undefined) {
    throw new TypeError("Cannot facet chart: give a row or a column field, got neither");
  }
  const {
    $schema: _schema,
    usermeta,
    data,
    transform,
    title,
    config: _config,
    ...inner
  } = asJson(chart);
  if (typeof data !== "object" || data === null || !("values" in data)) {
    throw new TypeError("Cannot facet chart: it must carry inline data (data.values), got none");
  }
  const facet: Json = {};
  for (const key of ["row", "column"] as const) {
    const field = options[key];
    if (field !== undefined) facet[key] = { field, type: "nominal", title: field };
  }
  const figureTitle = options.title ?? title;
  return asSpec({
    $schema: VEGA_LITE_SCHEMA,
    ...(figureTitle === undefined ? {} : { title: figureTitle }),
    ...(usermeta === undefined ? {} : { usermeta }),
    data,
    ...(transform === undefined ? {} : { transform }),
    facet,
    spec: inner,
    ...(options.independentY === true ? { resolve: { scale: { y: "independent" } } } : {}),
  });
}

/**
 * The spec without its hover layers, for static output: in an SVG they would only add an
 * invisible point and a Voronoi cell per row (about 0.5 kB each). Legends and every visible
 * mark stay. The input is not modified.
 *
 * @param spec Any Vega-Lite spec.
 * @returns A copy (data rows too) whose `layer` lists hold no layer defining the
 *   {@link HOVER_PARAM} selection.
 *
 * @example
 * ```ts
 * import { lineChart, staticSpec } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const spec = lineChart([{ x: 1, y: 1 }], { x: "x", y: "y" });
 * assert.equal((staticSpec(spec) as { layer: unknown[] }).layer.length, 1);
 * assert.equal((spec as { layer: unknown[] }).layer.length, 2);
 * ```
 */
export function staticSpec(spec: VegaLiteSpec): VegaLiteSpec {
  const isHover = (layer: unknown) =>
    Array.isArray((layer as { params?: unknown } | null)?.params) &&
    (layer as { params: unknown[] }).params.some((p) =>
      (p as { name?: unknown } | null)?.name === HOVER_PARAM
    );
  const strip = (value: unknown, key: string): unknown => {
    if (key === "values" && Array.isArray(value)) {
      // Inline data: a shallow copy of each row is enough (rows are flat) and fast.
      return value.map((row) => typeof row === "object" && row !== null ? { ...row } : row);
    }
    if (Array.isArray(value)) {
      const items = key === "layer" ? value.filter((layer) => !isHover(layer)) : value;
      return items.map((item) => strip(item, ""));
    }
    if (typeof value !== "object" || value === null) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(v, k)]));
  };
  return asSpec(strip(spec, "") as Json);
}

/**
 * The subtitle line that states a figure's scale and what it shrinks.
 *
 * @param provenance The figure's provenance (only `scale` and `scaleNote` are read).
 * @returns E.g. "Scale: quick (2,000 steps instead of 15,000)".
 *
 * @example
 * ```ts
 * import { scaleSubtitle } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   scaleSubtitle({ scale: "quick", scaleNote: "2,000 steps instead of 15,000" }),
 *   "Scale: quick (2,000 steps instead of 15,000)",
 * );
 * ```
 */
export function scaleSubtitle(provenance: Pick<Provenance, "scale" | "scaleNote">): string {
  return `Scale: ${provenance.scale} (${provenance.scaleNote})`;
}

/** Characters per subtitle line: a long scale note wraps instead of widening the figure. */
const SUBTITLE_WIDTH = 110;

/**
 * Splits text into lines of at most `width` characters at spaces (a longer word keeps its line).
 *
 * @param text The text.
 * @param width Characters per line.
 * @returns The lines, in order.
 * @example
 * ```ts
 * import { wrapText } from "./spec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(wrapText("aa bb cc", 5), ["aa bb", "cc"]);
 * ```
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * Records provenance in `usermeta.provenance` and states the scale in a subtitle. Calling it
 * again replaces the earlier provenance and its subtitle line. The input is not modified.
 *
 * @param spec Any Vega-Lite spec.
 * @param provenance Where the figure comes from.
 * @returns A new spec with the provenance; without a title, the figure stem becomes the title.
 *
 * @example
 * ```ts
 * import { lineChart, withProvenance, type Provenance } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const provenance: Provenance = {
 *   figure: "demo", scale: "smoke", scaleNote: "10 steps instead of 15,000", config: { steps: 10 },
 *   seeds: { init: 0 }, backend: "cpu", adapter: null, deno: "2.9.6", tfjs: "4.22.0",
 *   commit: null, dirty: null, date: "2025-01-01T00:00:00.000Z", wallTimeSeconds: 1,
 *   dataSubset: "none",
 * };
 * const spec = withProvenance(lineChart([{ x: 1, y: 1 }], { x: "x", y: "y" }), provenance);
 * assert.equal((spec.usermeta as { provenance: Provenance }).provenance.scale, "smoke");
 * ```
 */
export function withProvenance(spec: VegaLiteSpec, provenance: Provenance): VegaLiteSpec {
  const source = asJson(spec);
  const previous = provenanceOf(spec);
  const lines = wrapText(scaleSubtitle(provenance), SUBTITLE_WIDTH);
  const oldLines = previous === null ? [] : wrapText(scaleSubtitle(previous), SUBTITLE_WIDTH);
  let text: unknown = provenance.figure;
  let rest: Json = {};
  let subtitles: string[] = [];
  const title = source.title;
  if (typeof title === "string" || Array.isArray(title)) {
    text = title;
  } else if (typeof title === "object" && title !== null) {
    const { text: oldText, subtitle, ...others } = title as Json;
    text = oldText;
    rest = others;
    if (typeof subtitle === "string") subtitles = [subtitle];
    else if (Array.isArray(subtitle)) subtitles = subtitle.map(String);
  }
  subtitles = [...subtitles.filter((s) => !oldLines.includes(s)), ...lines];
  const usermeta = typeof source.usermeta === "object" && source.usermeta !== null
    ? source.usermeta as Json
    : {};
  return asSpec({
    ...source,
    title: { ...rest, text, subtitle: subtitles },
    usermeta: { ...usermeta, provenance },
  });
}

/** Options of {@link jsonProblems}. */
export interface JsonProblemsOptions {
  /** Name of the value in the messages (default `"value"`). */
  path?: string;
  /** Most problems to report (default 10). */
  limit?: number;
}

/**
 * Finds values JSON cannot hold (NaN, Infinity, undefined, functions, bigints) anywhere in a
 * value: `JSON.stringify` would silently turn them into `null` or drop them.
 *
 * @param value Any value.
 * @param options The value's name in messages and the most problems to report.
 * @returns One line per problem, with its path; empty when the value is plain JSON.
 *
 * @example
 * ```ts
 * import { jsonProblems } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(jsonProblems({ a: [1, 2] }), []);
 * assert.deepEqual(jsonProblems({ a: [1, NaN] }, { path: "x" }), [
 *   "x.a[1] is NaN, which JSON cannot hold (use null for a missing value)",
 * ]);
 * ```
 */
export function jsonProblems(value: unknown, options: JsonProblemsOptions = {}): string[] {
  const path = options.path ?? "value";
  const limit = options.limit ?? 10;
  const out: string[] = [];
  const visit = (item: unknown, at: string): void => {
    if (out.length >= limit) return;
    if (item === null || typeof item === "string" || typeof item === "boolean") return;
    if (typeof item === "number") {
      if (!Number.isFinite(item)) {
        out.push(`${at} is ${item}, which JSON cannot hold (use null for a missing value)`);
      }
    } else if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) visit(item[i], `${at}[${i}]`);
    } else if (typeof item === "object") {
      for (const [key, child] of Object.entries(item)) visit(child, `${at}.${key}`);
    } else {
      out.push(
        `${at} is ${item === undefined ? "undefined" : `a ${typeof item}`}, which JSON cannot hold`,
      );
    }
  };
  visit(value, path);
  return out;
}

/** Required provenance fields and their checks. */
const PROVENANCE_FIELDS: Readonly<
  Record<Exclude<keyof Provenance, "computedOn">, (v: unknown) => boolean>
> = {
  figure: (v) => typeof v === "string" && v !== "",
  scale: (v) => typeof v === "string" && isScale(v),
  scaleNote: (v) => typeof v === "string",
  config: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  seeds: (v) =>
    typeof v === "object" && v !== null && !Array.isArray(v) &&
    Object.values(v).every((s) => typeof s === "number" && Number.isFinite(s)),
  backend: (v) => typeof v === "string" && v !== "",
  adapter: (v) => v === null || typeof v === "string",
  deno: (v) => typeof v === "string" && v !== "",
  tfjs: (v) => typeof v === "string" && v !== "",
  commit: (v) => v === null || (typeof v === "string" && /^[0-9a-f]{7,64}$/.test(v)),
  dirty: (v) => v === null || typeof v === "boolean",
  date: (v) => typeof v === "string" && !Number.isNaN(Date.parse(v)),
  wallTimeSeconds: (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
  dataSubset: (v) => typeof v === "string" && v !== "",
};

/**
 * Lists what is missing or malformed in a spec's `usermeta.provenance`.
 *
 * @param spec A parsed spec (any JSON value).
 * @returns One line per problem; empty when the provenance is complete.
 *
 * @example
 * ```ts
 * import { provenanceProblems } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(provenanceProblems({ mark: "point" }), ["usermeta.provenance is missing"]);
 * ```
 */
export function provenanceProblems(spec: unknown): string[] {
  const usermeta = (spec as { usermeta?: unknown } | null)?.usermeta;
  const provenance = (usermeta as { provenance?: unknown } | null | undefined)?.provenance;
  if (typeof provenance !== "object" || provenance === null || Array.isArray(provenance)) {
    return ["usermeta.provenance is missing"];
  }
  const record = provenance as Record<string, unknown>;
  const problems: string[] = [];
  // Optional (older figures lack it), but well-formed where present.
  const computedOn = record.computedOn;
  if (
    computedOn !== undefined &&
    !(Array.isArray(computedOn) && computedOn.every((b) => typeof b === "string" && b !== ""))
  ) {
    problems.push(
      `usermeta.provenance.computedOn is invalid, got ${JSON.stringify(computedOn)}`,
    );
  }
  for (const [field, valid] of Object.entries(PROVENANCE_FIELDS)) {
    if (!(field in record)) problems.push(`usermeta.provenance.${field} is missing`);
    else if (!valid(record[field])) {
      problems.push(
        `usermeta.provenance.${field} is invalid, got ${JSON.stringify(record[field])}`,
      );
    }
  }
  return problems;
}

/**
 * Reads a spec's provenance.
 *
 * @param spec A parsed spec (any JSON value).
 * @returns The provenance, or null when it is missing or incomplete (see
 *   {@link provenanceProblems}).
 *
 * @example
 * ```ts
 * import { provenanceOf } from "./spec.ts";
 * import assert from "node:assert/strict";
 * assert.equal(provenanceOf({ mark: "point" }), null);
 * ```
 */
export function provenanceOf(spec: unknown): Provenance | null {
  if (provenanceProblems(spec).length > 0) return null;
  return (spec as { usermeta: { provenance: Provenance } }).usermeta.provenance;
}
