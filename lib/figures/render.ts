/**
 * Compiles Vega-Lite specs with `vega-lite` and renders them to static SVG with `vega`, headless
 * (no DOM, no canvas: the SVG renderer measures text with Vega's built-in estimate).
 *
 * Figures carry their data inline, so the Vega loader here refuses every load: a spec that points
 * at a URL or file is an error, not a silent network access.
 *
 * @module
 */
import * as vega from "vega";
import { compile } from "vega-lite";
import { staticSpec, type VegaLiteSpec } from "./spec.ts";
import { jsonProblems } from "./spec_provenance.ts";

/** A compiled Vega spec. */
export type VegaSpec = vega.Spec;

// vega-lite reports most problems through its logger (and drops the offending part) rather than
// throwing, so a quiet compile needs a logger that records warnings and errors.
interface Recorder {
  problems: string[];
  logger: Parameters<typeof compile>[1] extends infer O
    ? O extends { logger?: infer L } ? NonNullable<L> : never
    : never;
}

function recorder(): Recorder {
  const problems: string[] = [];
  let level = 0;
  const logger = {
    level(value?: number) {
      if (value === undefined) return level;
      level = value;
      return logger;
    },
    error(...args: readonly unknown[]) {
      problems.push(`error: ${args.map(String).join(" ")}`);
      return logger;
    },
    warn(...args: readonly unknown[]) {
      problems.push(`warning: ${args.map(String).join(" ")}`);
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return { problems, logger: logger as unknown as Recorder["logger"] };
}

/**
 * Compiles a Vega-Lite spec to Vega, failing on anything vega-lite would warn about.
 *
 * @param spec A Vega-Lite spec.
 * @returns The Vega spec.
 * @throws {TypeError} Listing every problem: values JSON cannot hold, a missing or non-v6
 *   `$schema`, non-inline data, vega-lite warnings and errors, and Vega parse errors.
 *
 * @example
 * ```ts
 * import { validateSpec } from "./render.ts";
 * import { lineChart } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const vg = validateSpec(lineChart([{ x: 1, y: 2 }], { x: "x", y: "y" }));
 * assert.ok(Array.isArray(vg.marks));
 * assert.throws(() => validateSpec(lineChart([{ x: 1, y: NaN }], { x: "x", y: "y" })), TypeError);
 * ```
 */
export function validateSpec(spec: VegaLiteSpec): VegaSpec {
  const problems = jsonProblems(spec, { path: "spec" });
  const schema = (spec as { $schema?: unknown }).$schema;
  if (typeof schema !== "string" || !/\/vega-lite\/v6(\.[0-9.]+)?\.json$/.test(schema)) {
    problems.push(`$schema must name Vega-Lite v6, got ${JSON.stringify(schema)}`);
  }
  for (const url of dataUrls(spec)) {
    problems.push(`data must be inline (data.values), got url ${url}`);
  }
  const { problems: logged, logger } = recorder();
  let compiled: VegaSpec | undefined;
  try {
    compiled = compile(spec, { logger }).spec;
  } catch (error) {
    problems.push(`vega-lite cannot compile it: ${(error as Error).message}`);
  }
  problems.push(...logged.map((p) => `vega-lite ${p}`));
  if (compiled !== undefined) {
    try {
      vega.parse(compiled);
    } catch (error) {
      problems.push(`vega cannot parse the compiled spec: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0 || compiled === undefined) {
    throw new TypeError(
      `Cannot validate Vega-Lite spec: ${problems.length} problem${
        problems.length === 1 ? "" : "s"
      }:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return compiled;
}

function dataUrls(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) dataUrls(item, out);
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === "data" && typeof item === "object" && item !== null && "url" in item) {
        out.push(String((item as { url: unknown }).url));
      } else if (key !== "values") {
        dataUrls(item, out);
      }
    }
  }
  return out;
}

// Inline data only: any load request is a bug in the spec.
const noLoader = {
  load(uri: string): Promise<string> {
    return Promise.reject(new Error(`Cannot load ${uri}: figures carry their data inline`));
  },
  sanitize(uri: string): Promise<{ href: string }> {
    return Promise.reject(new Error(`Cannot load ${uri}: figures carry their data inline`));
  },
  http(uri: string): Promise<string> {
    return Promise.reject(new Error(`Cannot fetch ${uri}: figures carry their data inline`));
  },
  file(path: string): Promise<string> {
    return Promise.reject(new Error(`Cannot read ${path}: figures carry their data inline`));
  },
};

/**
 * Renders a Vega-Lite spec to a static SVG document: validated first (see
 * {@link validateSpec}), then drawn without its hover layers (see `staticSpec`).
 *
 * @param spec A Vega-Lite spec with inline data.
 * @returns The SVG markup, starting with `<svg`.
 * @throws {TypeError} As {@link validateSpec}.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./render.ts";
 * import { lineChart } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const svg = await renderSvg(lineChart([{ x: 1, y: 2 }, { x: 2, y: 3 }], { x: "x", y: "y" }));
 * assert.match(svg, /^<svg/);
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  validateSpec(spec);
  // staticSpec copies the spec (data rows included, see below) before Vega sees it: Vega tags
  // every ingested row with a symbol id, and the caller's spec and results must stay untouched.
  const compiled = compile(staticSpec(spec)).spec;
  const view = new vega.View(vega.parse(compiled), {
    renderer: "none",
    loader: noLoader as unknown as vega.Loader,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize(); // releases timers and listeners so Deno's test sanitizers stay quiet
  }
}
