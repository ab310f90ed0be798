/**
 * Settings a figure notebook reads in its config cell: the run scale, the backend, whether to
 * overwrite a figure of a larger scale, and where figures go. `deno task figures` and the
 * notebook test harness pass them as environment variables, so the same notebook runs in
 * Jupyter (defaults), headless and in CI without edits.
 *
 * The environment is read only where `Deno` exists and `--allow-env` is granted; elsewhere (a
 * browser) the defaults apply.
 *
 * @module
 */
import { type BackendChoice, parseBackendChoice } from "../backend.ts";
import {
  BACKEND_ENV,
  FIGURE_DIR_ENV,
  FORCE_ENV,
  readEnv,
  RECOMPUTE_ENV,
  SCALE_ENV,
} from "../env.ts";
import { DEFAULT_SCALE, parseScale, type Scale } from "../scale.ts";

/** What a figure notebook runs with. */
export interface FigureSettings {
  /** Run scale; default `quick`. */
  scale: Scale;
  /** Backend choice for `initBackend`; default `auto`. */
  backend: BackendChoice;
  /** Replace an existing figure of a larger scale; default false. */
  force: boolean;
  /** Compute runs that `data/results/` holds finished instead of reading them; default false. */
  recompute: boolean;
  /** Folder for figure files, or null for the repository's `figures/`. */
  figureDir: string | null;
}

/** Options of {@link figureSettings}. */
export interface FigureSettingsOptions {
  /** Variables to read instead of the process environment (tests). */
  env?: Readonly<Record<string, string>>;
}

/**
 * Parses a yes/no environment value.
 *
 * @param value The raw string, or undefined when unset.
 * @param source The variable's name, for the message.
 * @returns True for `1`, `true`, `yes`, `on`; false for unset, empty, `0`, `false`, `no`, `off`.
 * @throws {RangeError} For any other value.
 *
 * @example
 * ```ts
 * import { parseFlag } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseFlag("1", "FIGURE_FORCE"), true);
 * assert.equal(parseFlag(undefined, "FIGURE_FORCE"), false);
 * assert.throws(() => parseFlag("maybe", "FIGURE_FORCE"), RangeError);
 * ```
 */
export function parseFlag(value: string | undefined, source: string): boolean {
  const flag = (value ?? "").trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(flag)) return true;
  if (["", "0", "false", "no", "off"].includes(flag)) return false;
  throw new RangeError(
    `Cannot read ${source}: expected 1/true/yes/on or 0/false/no/off, got "${value}"`,
  );
}

/**
 * The settings of this run, from `FIGURE_SCALE`, `BN_BACKEND`, `FIGURE_FORCE`, `FIGURE_RECOMPUTE`
 * and `FIGURE_DIR`.
 *
 * @param options Where to read the variables (default: the process environment).
 * @returns The settings, with defaults for unset variables.
 * @throws {RangeError} If a variable holds an unknown value; the message lists the valid ones.
 *
 * @example
 * ```ts
 * import { figureSettings } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(figureSettings({ env: {} }), {
 *   scale: "quick", backend: "auto", force: false, recompute: false, figureDir: null,
 * });
 * assert.equal(figureSettings({ env: { FIGURE_SCALE: "smoke" } }).scale, "smoke");
 * ```
 */
export function figureSettings(options: FigureSettingsOptions = {}): FigureSettings {
  const env = options.env;
  const get = env === undefined ? readEnv : (key: string) => env[key];
  const scale = get(SCALE_ENV);
  const backend = get(BACKEND_ENV);
  const dir = get(FIGURE_DIR_ENV);
  return {
    scale: scale === undefined || scale === "" ? DEFAULT_SCALE : parseScale(scale, SCALE_ENV),
    backend: backend === undefined || backend === ""
      ? "auto"
      : parseBackendChoice(backend, BACKEND_ENV),
    force: parseFlag(get(FORCE_ENV), FORCE_ENV),
    recompute: parseFlag(get(RECOMPUTE_ENV), RECOMPUTE_ENV),
    figureDir: dir === undefined || dir === "" ? null : dir,
  };
}
