/**
 * The run environment a figure records (Deno I/O): Deno and TensorFlow.js versions and the
 * repository's git commit and dirty flag.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { REPO_ROOT } from "../paths.ts";

/** Git state of the working tree. */
export interface GitState {
  /** HEAD's full hash, or null outside a repository, before the first commit, or without git. */
  commit: string | null;
  /** Whether tracked or untracked (not ignored) files differ from HEAD, `figures/` excluded;
   * null when unknown. */
  dirty: boolean | null;
}

async function git(args: readonly string[], cwd: string): Promise<string | null> {
  try {
    const output = await new Deno.Command("git", {
      args: [...args],
      cwd,
      stdout: "piped",
      stderr: "null",
      env: { GIT_OPTIONAL_LOCKS: "0" }, // read-only: never take index.lock beside a running git
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout) : null;
  } catch {
    return null; // git missing, or no --allow-run
  }
}

/**
 * Reads the git commit and dirty flag of a working tree. Figure outputs (`figures/`) do not
 * count as dirty: they are what a run writes.
 *
 * @param dir Any folder inside the tree (default: the repository root).
 * @returns The commit and dirty flag; nulls where git cannot tell (not a repository, no commit
 *   yet, git absent).
 */
export async function gitState(dir: string = REPO_ROOT): Promise<GitState> {
  const inside = await git(["rev-parse", "--is-inside-work-tree"], dir);
  if (inside?.trim() !== "true") return { commit: null, dirty: null };
  const head = await git(["rev-parse", "--verify", "--quiet", "HEAD"], dir);
  const commit = head === null || head.trim() === "" ? null : head.trim();
  const status = await git(
    ["status", "--porcelain", "--untracked-files=normal", "--", ".", ":(exclude)figures"],
    await topLevel(dir),
  );
  return { commit, dirty: status === null ? null : status.trim() !== "" };
}

async function topLevel(dir: string): Promise<string> {
  return (await git(["rev-parse", "--show-toplevel"], dir))?.trim() || dir;
}

/** The run environment recorded in every figure. */
export interface RunEnvironment extends GitState {
  /** Deno version. */
  deno: string;
  /** TensorFlow.js core version. */
  tfjs: string;
  /** Now, ISO 8601 (UTC). */
  date: string;
}

/**
 * Collects the Deno and TensorFlow.js versions, the git state and the date.
 *
 * @returns The run environment.
 */
export async function runEnvironment(): Promise<RunEnvironment> {
  return {
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    ...(await gitState()),
    date: new Date().toISOString(),
  };
}
