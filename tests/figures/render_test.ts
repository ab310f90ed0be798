import assert from "node:assert/strict";
import { renderSvg, validateSpec } from "../../lib/figures/render.ts";
import { lineChart, VEGA_LITE_SCHEMA, type VegaLiteSpec } from "../../lib/figures/spec.ts";

/** Casts a hand-written (possibly invalid) spec for the functions under test. */
function spec(value: Record<string, unknown>): VegaLiteSpec {
  return value as unknown as VegaLiteSpec;
}

Deno.test("renderSvg() places points where the scales say: (0,0)..(10,10) on a 100x100 plot", async () => {
  // x and y domains are [0, 10] (zero-based, already nice), the plot 100 px square, so the line
  // runs from the bottom-left (0,100) to the top-right (100,0) of the plot area.
  const svg = await renderSvg(
    lineChart([{ x: 0, y: 0 }, { x: 10, y: 10 }], {
      x: "x",
      y: "y",
      width: 100,
      height: 100,
      hover: false,
    }),
  );
  const line = /<path[^>]*\bd="([^"]+)"[^>]*>/g;
  const paths = [...svg.matchAll(line)].map((m) => m[1]);
  assert.ok(paths.includes("M0,100L100,0"), paths.join("\n"));
});

Deno.test("renderSvg() is deterministic: the same spec gives the same SVG", async () => {
  const rows = Array.from({ length: 30 }, (_, i) => ({ x: i, y: (i * 7919) % 13, s: `s${i % 3}` }));
  const chart = lineChart(rows, { x: "x", y: "y", series: "s" });
  assert.equal(await renderSvg(chart), await renderSvg(chart));
});

Deno.test("validateSpec() lists every problem in one error", async (t) => {
  await t.step("schema, data url and an invalid field type", () => {
    assert.throws(
      () =>
        validateSpec(spec({
          $schema: "https://vega.github.io/schema/vega-lite/v5.json",
          data: { url: "data/x.csv" },
          mark: "line",
          encoding: { x: { field: "a", type: "quantitativ" } },
        })),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^Cannot validate Vega-Lite spec: 3 problems:/);
        assert.match(error.message, /\$schema must name Vega-Lite v6, got ".*v5\.json"/);
        assert.match(error.message, /data must be inline \(data\.values\), got url data\/x\.csv/);
        assert.match(error.message, /vega-lite cannot compile it/);
        return true;
      },
    );
  });
  await t.step("vega-lite warnings count as problems", () => {
    assert.throws(
      () =>
        validateSpec(spec({
          $schema: VEGA_LITE_SCHEMA,
          data: { values: [{ a: 1, b: "x" }] },
          mark: "point",
          encoding: {
            x: { field: "a", type: "quantitative" },
            color: { field: "b", type: "nominal", scale: { type: "log" } },
          },
        })),
      /vega-lite warning: .*"log" scale/,
    );
  });
  await t.step("NaN in the data", () => {
    assert.throws(
      () => validateSpec(lineChart([{ x: 1, y: NaN }], { x: "x", y: "y" })),
      /spec\.data\.values\[0\]\.y is NaN/,
    );
  });
  await t.step("a valid spec compiles to Vega with the data inline", () => {
    const vg = validateSpec(lineChart([{ x: 1, y: 2 }], { x: "x", y: "y" }));
    const source = (vg.data ?? []).find((d) => "values" in d) as { values?: unknown } | undefined;
    assert.deepEqual(source?.values, [{ x: 1, y: 2 }]);
  });
});

Deno.test("renderSvg() refuses a spec that would load data", async () => {
  await assert.rejects(
    () =>
      renderSvg(spec({
        $schema: VEGA_LITE_SCHEMA,
        data: { url: "https://example.com/x.json" },
        mark: "point",
      })),
    /data must be inline/,
  );
});
