/**
 * Where the repository is and how configured folders resolve against it: a relative setting
 * (`CIFAR10_DIR=../shared/data/cifar10`) is taken from the repository root, not the working
 * directory, so every script, notebook and test agrees on it. File-system code only.
 *
 * @module
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FIGURE_DIR_ENV, readEnv } from "./env.ts";

/** Absolute path of the repository root (one folder above this module). */
export const REPO_ROOT: string = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * A path inside the repository.
 *
 * @param parts Path segments below the root.
 * @returns An absolute path.
 */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/**
 * A configured folder: the setting when given (relative to the repository root), else the
 * default folder inside the repository.
 *
 * @param setting The configured value; undefined, null or "" for unset.
 * @param fallback Segments of the default below the root, e.g. `["data", "runs"]`.
 * @returns An absolute path (which may not exist yet).
 * @example
 * ```ts
 * import { REPO_ROOT, resolveConfiguredDir } from "./paths.ts";
 * import assert from "node:assert/strict";
 * assert.equal(resolveConfiguredDir("/tmp/runs", ["data", "runs"]), "/tmp/runs");
 * assert.equal(resolveConfiguredDir("", ["data", "runs"]), `${REPO_ROOT}/data/runs`);
 * ```
 */
export function resolveConfiguredDir(
  setting: string | null | undefined,
  fallback: readonly string[],
): string {
  if (setting === undefined || setting === null || setting === "") return repoPath(...fallback);
  return isAbsolute(setting) ? setting : resolve(REPO_ROOT, setting);
}

/**
 * The folder figures are written to: `FIGURE_DIR` when set (relative to the repository root),
 * else `figures/` in the repository.
 *
 * @returns An absolute path.
 */
export function figuresDir(): string {
  return resolveConfiguredDir(readEnv(FIGURE_DIR_ENV), ["figures"]);
}
