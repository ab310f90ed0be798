/**
 * Small builders of Vega-Lite v6 specs for the figures, with inline data (`data: { values }`).
 *
 * Every chart is interactive where it is displayed (Jupyter, a browser): hovering shows the exact
 * values of the nearest point, and clicking a legend entry shows one series and fades the others
 * (a point selection bound to the legend). The same spec renders to a static SVG (see
 * `render.ts`) without the hover layer ({@link staticSpec}), every series shown.
 *
 * Pure: no I/O, no Deno APIs. Provenance (what was run, where, at which scale) goes into
 * `usermeta.provenance` with `withProvenance` (`spec_provenance.ts`).
 *
 * @module
 */
import type { TopLevelSpec } from "vega-lite";

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
