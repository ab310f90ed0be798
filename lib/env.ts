/**
 * Every environment variable the project reads, and the one reader of them. Settings come from
 * the environment so that notebooks run unchanged in Jupyter, headless and in CI; in a browser
 * (no `Deno`) or without `--allow-env`, nothing is set and the defaults apply.
 *
 * @module
 */

/** Run scale of the figure notebooks (`smoke`, `quick`, `long`, `schedule` or `paper`). */
export const SCALE_ENV = "FIGURE_SCALE";

/** Allows replacing a figure of a larger scale (`1`/`true`). */
export const FORCE_ENV = "FIGURE_FORCE";

/**
 * Computes every run of a figure even where `data/results/` holds it finished (`1`/`true`): to
 * check that a committed figure reproduces. Runs finished in the result store are still loaded.
 */
export const RECOMPUTE_ENV = "FIGURE_RECOMPUTE";

/** Redirects figure files (tests point it at a temporary folder). */
export const FIGURE_DIR_ENV = "FIGURE_DIR";

/** Overrides the backend choice (a flag overrides it in turn). */
export const BACKEND_ENV = "BN_BACKEND";

/** The wasm backend's thread count (1 = single-threaded). */
export const WASM_THREADS_ENV = "BN_WASM_THREADS";

/**
 * The wasm backend's native kernels (oneDNN through Deno's FFI: convolutions, BatchNorm,
 * max-pool gradient): `off` keeps everything in wasm; a path names the library; unset looks for
 * it by its usual name and silently does without where it is missing.
 */
export const ONEDNN_ENV = "BN_ONEDNN";

/** The result store's folder (default `data/runs/`). */
export const RUNS_DIR_ENV = "BN_RUNS_DIR";

/** The CIFAR-10 folder (default `data/cifar10/`). */
export const CIFAR10_DIR_ENV = "CIFAR10_DIR";

/**
 * One environment variable, with "" read as unset.
 *
 * @param key The variable's name.
 * @returns Its value, or undefined when unset, empty, or unreadable (no `Deno`, no permission).
 * @example
 * ```ts
 * import { readEnv } from "./env.ts";
 * import assert from "node:assert/strict";
 * assert.equal(readEnv("BN_SURELY_UNSET_VARIABLE"), undefined);
 * ```
 */
export function readEnv(key: string): string | undefined {
  const deno = (globalThis as { Deno?: { env: { get(key: string): string | undefined } } }).Deno;
  try {
    const value = deno?.env.get(key);
    return value === "" ? undefined : value;
  } catch {
    return undefined; // no --allow-env: the variable cannot be read, so it cannot be set either
  }
}
