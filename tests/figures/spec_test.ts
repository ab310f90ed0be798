import assert from "node:assert/strict";
import { renderSvg, validateSpec } from "../../lib/figures/render.ts";
import {
  bandChart,
  concatCharts,
  facetChart,
  HOVER_PARAM,
  lineChart,
  type Row,
  SERIES_PARAM,
  staticSpec,
  TOOLTIP_FORMAT,
  VEGA_LITE_SCHEMA,
} from "../../lib/figures/spec.ts";
import {
  jsonProblems,
  type Provenance,
  provenanceOf,
  provenanceProblems,
  scaleSubtitle,
  withProvenance,
  wrapText,
} from "../../lib/figures/spec_provenance.ts";

// Two series of 4 points each; the y values span 4 decades for the log axis.
const ROWS: Row[] = [0, 1, 2, 3].flatMap((step) => [
  { step, loss: 10 ** -step, norm: "batchnorm" },
  { step, loss: 2 * 10 ** -step, norm: "none" },
]);

const BAND_ROWS: Row[] = [0, 10, 20].flatMap((step) => [
  { step, min: 1 + step, max: 5 + step, median: 3 + step, norm: "batchnorm" },
  { step, min: 1, max: 100 + step, median: 10, norm: "none" },
]);

const PROVENANCE: Provenance = {
  figure: "demo",
  scale: "quick",
  scaleNote: "2,000 steps instead of 15,000",
  config: { steps: 2000, learningRate: 0.1 },
  seeds: { init: 0, data: 1 },
  backend: "cpu",
  adapter: null,
  deno: "2.9.6",
  tfjs: "4.22.0",
  commit: "0123456789abcdef0123456789abcdef01234567",
  dirty: false,
  date: "2025-01-01T00:00:00.000Z",
  wallTimeSeconds: 12.5,
  dataSubset: "CIFAR-10 sample",
};

/** Occurrences of `needle` in `text`. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Every object in a JSON tree, depth first. */
function objects(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap(objects);
  if (typeof value !== "object" || value === null) return [];
  const record = value as Record<string, unknown>;
  return [record, ...Object.values(record).flatMap(objects)];
}

Deno.test("lineChart() compiles and renders one line per series with axes, legend and log ticks", async () => {
  const spec = lineChart(ROWS, {
    x: "step",
    y: "loss",
    series: "norm",
    logY: true,
    yTitle: "training loss",
    title: "Loss",
  });
  const svg = await renderSvg(spec);
  assert.match(svg, /^<svg/);
  assert.equal(count(svg, 'class="mark-line role-mark'), 2, "one line mark per series");
  assert.match(svg, />training loss</);
  assert.match(svg, />step</);
  assert.match(svg, />Loss</);
  assert.match(svg, />batchnorm</);
  assert.match(svg, />none</);
  // A log axis over 0.001..2 has decade ticks; a linear one would not show 0.001 and 0.01 both.
  assert.match(svg, />0\.001</);
  assert.match(svg, />0\.01</);
});

Deno.test("lineChart() binds a point selection to the legend and conditions opacity on it", () => {
  const spec = lineChart(ROWS, { x: "step", y: "loss", series: "norm" });
  const params = objects(spec).filter((o) => o.name === SERIES_PARAM && "select" in o);
  assert.equal(params.length, 1);
  assert.deepEqual(params[0], {
    name: SERIES_PARAM,
    select: { type: "point", fields: ["norm"] },
    bind: "legend",
  });
  const conditions = objects(spec).filter((o) =>
    "condition" in o && JSON.stringify(o.condition).includes(`"param":"${SERIES_PARAM}"`)
  );
  assert.ok(conditions.length >= 2, "line and hover layers both follow the legend selection");
  assert.ok(objects(spec).some((o) => o.name === HOVER_PARAM), "hover selection present");
});

Deno.test("lineChart() tooltips show exact values: x, series and y with 8 significant digits", () => {
  const spec = lineChart(ROWS, { x: "step", y: "loss", series: "norm", tooltip: ["extra"] });
  const tooltip = objects(spec).find((o) => Array.isArray(o.tooltip))?.tooltip;
  assert.deepEqual(tooltip, [
    { field: "step", type: "quantitative", format: TOOLTIP_FORMAT },
    { field: "norm", type: "nominal" },
    { field: "loss", type: "quantitative", format: TOOLTIP_FORMAT },
    { field: "extra", type: "nominal" },
  ]);
  assert.equal(TOOLTIP_FORMAT, ".8~g");
});

Deno.test("lineChart() with logY drops non-positive rows instead of breaking the scale", async () => {
  const rows: Row[] = [{ x: 0, y: 0 }, { x: 1, y: 1 }, { x: 2, y: 10 }, { x: 3, y: -1 }];
  const spec = lineChart(rows, { x: "x", y: "y", logY: true });
  const filters = objects(spec).filter((o) => typeof o.filter === "string");
  assert.deepEqual(filters.map((f) => f.filter), ['isValid(datum["y"]) && datum["y"] > 0']);
  // Without the filter, log(0) and log(-1) leave the y scale without a domain: no tick labels,
  // and the x axis runs to 3. With it, the y axis shows its decades 1 and 10, x stays in 1..2.
  const svg = await renderSvg(lineChart(rows, { x: "x", y: "y", logY: true, hover: false }));
  const labels = [...svg.matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1]);
  assert.ok(labels.includes("1") && labels.includes("10"), labels.join("|"));
  assert.ok(!labels.includes("3.0") && !labels.includes("0.0"), labels.join("|"));
});

Deno.test("lineChart() without hover has no hover layer; the SVG drops it either way", async () => {
  const rows: Row[] = Array.from({ length: 200 }, (_, i) => ({ x: i, y: Math.sin(i / 10) }));
  const spec = lineChart(rows, { x: "x", y: "y", hover: false });
  assert.ok(!objects(spec).some((o) => o.name === HOVER_PARAM));
  const interactive = lineChart(rows, { x: "x", y: "y" });
  assert.ok(objects(interactive).some((o) => o.name === HOVER_PARAM));
  assert.ok(!objects(staticSpec(interactive)).some((o) => o.name === HOVER_PARAM));
  // Same static drawing: no invisible points or Voronoi cells (about 0.5 kB per row).
  assert.equal(await renderSvg(interactive), await renderSvg(spec));
});

Deno.test("staticSpec() copies the data rows, so rendering leaves the caller's rows untouched", async () => {
  const rows = [{ x: 1, y: 1 }, { x: 2, y: 3 }];
  const spec = lineChart(rows, { x: "x", y: "y" });
  const values = (spec as { data: { values: object[] } }).data.values;
  await renderSvg(spec);
  // Vega tags each row it ingests with a symbol; none may appear on our objects.
  for (const row of [...rows, ...values]) assert.deepEqual(Object.getOwnPropertySymbols(row), []);
});

Deno.test("bandChart() renders an area per series between low and high, plus the mid line", async () => {
  const spec = bandChart(BAND_ROWS, {
    x: "step",
    low: "min",
    high: "max",
    mid: "median",
    series: "norm",
    logY: true,
    yTitle: "loss range",
  });
  const area = objects(spec).find((o) =>
    o.mark !== undefined && JSON.stringify(o.mark).includes("area")
  );
  assert.ok(area !== undefined);
  const encoding = area.encoding as Record<string, { field?: string }>;
  assert.equal(encoding.y?.field, "min");
  assert.equal(encoding.y2?.field, "max");
  const svg = await renderSvg(spec);
  assert.equal(count(svg, 'class="mark-area role-mark'), 2, "one band per series");
  assert.equal(count(svg, 'class="mark-line role-mark'), 2, "one mid line per series");
  assert.match(svg, />loss range</);
});

Deno.test("bandChart() area y-range spans exactly low..high of the data", () => {
  // Compile, then read the Vega scale domain the band uses: it must cover min(low)..max(high).
  const spec = bandChart(BAND_ROWS, { x: "step", low: "min", high: "max", series: "norm" });
  const vg = validateSpec(spec);
  const y = (vg.scales ?? []).find((s) => s.name === "y") as { domain?: { fields?: unknown[] } };
  const fields = JSON.stringify(y.domain);
  assert.match(fields, /"min"/);
  assert.match(fields, /"max"/);
});

Deno.test("dash groups lines by a second field; bands are split by it and dashed only in the mid line", async () => {
  // 2 norms x 2 learning rates, distinct values so every line is drawn apart.
  const rows: Row[] = [1, 2, 4].flatMap((x) =>
    ["none", "batchnorm"].flatMap((norm, n) =>
      [0.1, 0.5].map((lr) => ({
        x,
        y: x * lr * (n + 1),
        lo: x * lr,
        hi: 3 * x * lr * (n + 1),
        norm,
        lr,
      }))
    )
  );
  const line = await renderSvg(
    lineChart(rows, { x: "x", y: "y", series: "norm", dash: "lr", logX: true, logY: true }),
  );
  assert.equal(count(line, 'class="mark-line role-mark'), 4, "one line per norm and lr");
  assert.match(line, /stroke-dasharray/);
  assert.match(line, />0\.5</, "lr legend entry");
  const withMid = bandChart(rows, {
    x: "x",
    low: "lo",
    high: "hi",
    mid: "y",
    series: "norm",
    dash: "lr",
  });
  const band = await renderSvg(withMid);
  assert.equal(count(band, 'class="mark-area role-mark'), 4, "one band per norm and lr");
  assert.equal(count(band, 'class="mark-line role-mark'), 4);
  assert.ok(objects(withMid).some((o) => o.name === "dash"), "dash legend selection");
  const noMid = bandChart(rows, { x: "x", low: "lo", high: "hi", series: "norm", dash: "lr" });
  assert.ok(!objects(noMid).some((o) => o.name === "dash"), "no dash legend without a line");
  assert.equal(count(await renderSvg(noMid), 'class="mark-area role-mark'), 4);
});

Deno.test("concatCharts() lays out charts, keeping each chart's data; facetChart() splits panels", async (t) => {
  const a = lineChart(ROWS, { x: "step", y: "loss", series: "norm", title: "A" });
  const b = bandChart(BAND_ROWS, {
    x: "step",
    low: "min",
    high: "max",
    series: "norm",
    title: "B",
  });
  await t.step("horizontal", async () => {
    const spec = concatCharts([a, b], { title: "Both" });
    assert.equal((spec as { hconcat: unknown[] }).hconcat.length, 2);
    const svg = await renderSvg(spec);
    assert.match(svg, />A</);
    assert.match(svg, />B</);
    assert.match(svg, />Both</);
    assert.equal(count(svg, 'class="mark-area role-mark'), 2);
  });
  await t.step("wrap with columns and independent y", async () => {
    const spec = concatCharts([a, a, a], { direction: "wrap", columns: 2, independentY: true });
    const record = spec as { concat: unknown[]; columns: number };
    assert.equal(record.concat.length, 3);
    assert.equal(record.columns, 2);
    const svg = await renderSvg(spec);
    assert.equal(count(svg, 'class="mark-line role-mark'), 6);
  });
  await t.step("rejects an empty list and bad columns", () => {
    assert.throws(() => concatCharts([]), RangeError);
    assert.throws(() => concatCharts([a], { direction: "wrap", columns: 0 }), RangeError);
  });
  await t.step("facet by column", async () => {
    const rows: Row[] = ["conv5", "dense10"].flatMap((layer) =>
      ROWS.map((row) => ({ ...row, layer }))
    );
    const spec = facetChart(lineChart(rows, { x: "step", y: "loss", series: "norm" }), {
      column: "layer",
      independentY: true,
    });
    const svg = await renderSvg(spec);
    assert.match(svg, />conv5</);
    assert.match(svg, />dense10</);
    assert.equal(count(svg, 'class="mark-line role-mark'), 4, "2 panels x 2 series");
    assert.throws(() => facetChart(lineChart(rows, { x: "step", y: "loss" }), {}), TypeError);
  });
});

Deno.test("withProvenance() stores provenance in usermeta and states the scale in a subtitle", async () => {
  const base = lineChart(ROWS, { x: "step", y: "loss", series: "norm", title: "Loss" });
  const spec = withProvenance(base, PROVENANCE);
  assert.deepEqual(provenanceOf(spec), PROVENANCE);
  assert.deepEqual(provenanceProblems(spec), []);
  assert.deepEqual((spec as { title: unknown }).title, {
    text: "Loss",
    subtitle: ["Scale: quick (2,000 steps instead of 15,000)"],
  });
  assert.equal((base as { usermeta?: unknown }).usermeta, undefined, "input left unchanged");
  const svg = await renderSvg(spec);
  assert.match(svg, />Scale: quick \(2,000 steps instead of 15,000\)</);
  assert.equal((spec as { $schema: string }).$schema, VEGA_LITE_SCHEMA);
});

Deno.test("withProvenance() replaces earlier provenance and keeps other subtitles", () => {
  const titled = lineChart(ROWS, { x: "step", y: "loss" });
  const first = withProvenance(
    { ...titled, title: { text: "T", subtitle: "lr 0.1" }, usermeta: { note: 1 } } as typeof titled,
    PROVENANCE,
  );
  const second = withProvenance(first, {
    ...PROVENANCE,
    scale: "paper",
    scaleNote: "as in the paper",
  });
  assert.deepEqual((second as { title: unknown }).title, {
    text: "T",
    subtitle: ["lr 0.1", scaleSubtitle({ scale: "paper", scaleNote: "as in the paper" })],
  });
  assert.equal(provenanceOf(second)?.scale, "paper");
  assert.equal((second.usermeta as { note: number }).note, 1);
  const untitled = withProvenance(titled, PROVENANCE);
  assert.equal((untitled as { title: { text: string } }).title.text, "demo");
});

Deno.test("provenanceProblems() names every missing or malformed field", () => {
  assert.deepEqual(provenanceProblems({}), ["usermeta.provenance is missing"]);
  const { commit: _commit, ...partial } = PROVENANCE;
  const problems = provenanceProblems({
    usermeta: { provenance: { ...partial, scale: "huge", wallTimeSeconds: -1 } },
  });
  assert.deepEqual(problems, [
    'usermeta.provenance.scale is invalid, got "huge"',
    "usermeta.provenance.commit is missing",
    "usermeta.provenance.wallTimeSeconds is invalid, got -1",
  ]);
  assert.equal(provenanceOf({ usermeta: { provenance: partial } }), null);
  // computedOn is optional, but a list of backend lines where present.
  const withRuns = { ...PROVENANCE, computedOn: ["wasm, 1 thread"] };
  assert.deepEqual(provenanceProblems({ usermeta: { provenance: withRuns } }), []);
  assert.deepEqual(
    provenanceProblems({ usermeta: { provenance: { ...PROVENANCE, computedOn: ["", 3] } } }),
    ['usermeta.provenance.computedOn is invalid, got ["",3]'],
  );
});

Deno.test("jsonProblems() finds the values JSON.stringify would silently change", () => {
  assert.deepEqual(jsonProblems({ a: [1, "x", null, true, { b: 2 }] }), []);
  assert.deepEqual(
    jsonProblems({ a: [1, NaN], b: { c: Infinity }, d: undefined }, { path: "spec" }),
    [
      "spec.a[1] is NaN, which JSON cannot hold (use null for a missing value)",
      "spec.b.c is Infinity, which JSON cannot hold (use null for a missing value)",
      "spec.d is undefined, which JSON cannot hold",
    ],
  );
  assert.equal(jsonProblems(Array(50).fill(NaN), { limit: 3 }).length, 3);
});

Deno.test("withProvenance() wraps a long scale note over several subtitle lines and replaces them all", () => {
  assert.deepEqual(wrapText("aa bb cc", 5), ["aa bb", "cc"]);
  assert.deepEqual(wrapText("a verylongword b", 4), ["a", "verylongword", "b"]);
  const note = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
  const base = lineChart([{ step: 0, loss: 1 }], { x: "step", y: "loss", title: "T" });
  const first = withProvenance(base, { ...PROVENANCE, scaleNote: note });
  const subtitle = (first.title as { subtitle: string[] }).subtitle;
  assert.ok(subtitle.length > 1 && subtitle.every((l) => l.length <= 110), subtitle.join("|"));
  assert.equal(subtitle.join(" "), `Scale: ${PROVENANCE.scale} (${note})`);
  const second = withProvenance(first, { ...PROVENANCE, scaleNote: "short" });
  assert.deepEqual((second.title as { subtitle: string[] }).subtitle, [
    `Scale: ${PROVENANCE.scale} (short)`,
  ]);
});
