/**
 * Run scales of the experiments: how far each figure's run is shrunk from the paper's settings.
 *
 * `smoke` runs in seconds on the committed CIFAR-10 sample (tests, CI), `quick` fits a 2-core CPU
 * without a GPU, `long` keeps quick's networks and data and trains 10x longer (measurement
 * intervals 10x too; a CPU with oneDNN, or a GPU, in hours), `schedule` keeps docs/PROTOCOL.md's
 * whole training schedule and reduces only the VGG's width (1/4: CPU hours per run, over
 * several sessions), `paper` follows docs/PROTOCOL.md. Figures record their scale, and a figure
 * is never replaced by one of a smaller scale unless forced (see `lib/figures/write_figure.ts`).
 *
 * @module
 */

/** How far a run is shrunk from the paper's settings, smallest first. */
export type Scale = "smoke" | "quick" | "long" | "schedule" | "paper";

/** Every scale, smallest first (the order {@link scaleRank} follows). */
export const SCALES: readonly Scale[] = ["smoke", "quick", "long", "schedule", "paper"];

/** The scale used when none is given. */
export const DEFAULT_SCALE: Scale = "quick";

/**
 * Whether a string names a scale.
 *
 * @param value Any string.
 * @returns True for `smoke`, `quick`, `long`, `schedule` and `paper`.
 *
 * @example
 * ```ts
 * import { isScale } from "./scale.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isScale("quick"), true);
 * assert.equal(isScale("huge"), false);
 * ```
 */
export function isScale(value: string): value is Scale {
  return (SCALES as readonly string[]).includes(value);
}

/**
 * Validates a scale name from a flag or the environment.
 *
 * @param value The raw string (surrounding space and case are ignored).
 * @param source Where it came from, for the message (e.g. "--scale" or "FIGURE_SCALE").
 * @returns The scale.
 * @throws {RangeError} If the value names no scale; the message lists the valid ones.
 *
 * @example
 * ```ts
 * import { parseScale } from "./scale.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseScale(" Paper ", "--scale"), "paper");
 * assert.throws(() => parseScale("huge", "--scale"), RangeError);
 * ```
 */
export function parseScale(value: string, source: string): Scale {
  const scale = value.trim().toLowerCase();
  if (isScale(scale)) return scale;
  throw new RangeError(
    `Cannot select scale: unknown ${source} value "${value}", expected one of ${SCALES.join(", ")}`,
  );
}

/**
 * The scales whose runs are committed (`data/results/<scale>/`) and whose figures are also kept
 * in `figures/scales/<scale>/`, so that a figure of a larger scale does not hide the numbers of a
 * shorter one. Smoke and quick runs are cheap to recompute and are neither.
 */
export const KEPT_SCALES: readonly Scale[] = ["long", "schedule", "paper"];

/**
 * Whether a scale's runs and figures are kept per scale (see {@link KEPT_SCALES}).
 *
 * @param scale A scale.
 * @returns True for `long`, `schedule` and `paper`.
 */
export function isKeptScale(scale: Scale): boolean {
  return KEPT_SCALES.includes(scale);
}

/**
 * The position of a scale in `smoke < quick < long < schedule < paper`.
 *
 * @param scale A scale.
 * @returns 0 for smoke, 1 for quick, 2 for long, 3 for schedule, 4 for paper.
 *
 * @example
 * ```ts
 * import { scaleRank } from "./scale.ts";
 * import assert from "node:assert/strict";
 * assert.ok(scaleRank("paper") > scaleRank("smoke"));
 * ```
 */
export function scaleRank(scale: Scale): number {
  return SCALES.indexOf(scale);
}
