/**
 * A figure's provenance inside its Vega-Lite spec (`usermeta.provenance`): the fields, the
 * subtitle that states the scale, attaching it, validating it and reading it back.
 *
 * Pure: no I/O, no Deno APIs.
 *
 * @module
 */
import { isScale, type Scale } from "../scale.ts";
import type { VegaLiteSpec } from "./spec.ts";

type Json = Record<string, unknown>;

function asSpec(json: Json): VegaLiteSpec {
  return json as unknown as VegaLiteSpec;
}

function asJson(spec: VegaLiteSpec): Json {
  return spec as unknown as Json;
}

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

/**
 * The subtitle line that states a figure's scale and what it shrinks.
 *
 * @param provenance The figure's provenance (only `scale` and `scaleNote` are read).
 * @returns E.g. "Scale: quick (2,000 steps instead of 15,000)".
 *
 * @example
 * ```ts
 * import { scaleSubtitle } from "./spec_provenance.ts";
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
 * import { wrapText } from "./spec_provenance.ts";
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
 * import { lineChart } from "./spec.ts";
import { withProvenance, type Provenance } from "./spec_provenance.ts";
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
 * import { jsonProblems } from "./spec_provenance.ts";
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
 * import { provenanceProblems } from "./spec_provenance.ts";
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
 * import { provenanceOf } from "./spec_provenance.ts";
 * import assert from "node:assert/strict";
 * assert.equal(provenanceOf({ mark: "point" }), null);
 * ```
 */
export function provenanceOf(spec: unknown): Provenance | null {
  if (provenanceProblems(spec).length > 0) return null;
  return (spec as { usermeta: { provenance: Provenance } }).usermeta.provenance;
}
