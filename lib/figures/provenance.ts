/**
 * Figure I/O for Deno (the thin module that owns figure files): collects provenance (Deno and
 * TensorFlow.js versions, git commit and dirty flag, date), writes a figure's three files
 * atomically, guards larger-scale figures, and displays specs inline in Jupyter.
 *
 * A figure `<stem>` is three files in `figures/` (or `FIGURE_DIR`): `<stem>.vl.json` (the
 * Vega-Lite spec, data inline, provenance in `usermeta`), `<stem>.svg` (its static render) and
 * `<stem>.results.json` (the compact results it was built from).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { dirname, join } from "node:path";
import { type BackendInfo, computedOnLabel } from "../backend.ts";
import { figureSettings } from "../notebook/config.ts";
import { figuresDir, REPO_ROOT, repoPath } from "../paths.ts";
import { renderSvg } from "./render.ts";
import { scaleRank } from "../scale.ts";
import {
  jsonProblems,
  type Provenance,
  provenanceOf,
  provenanceProblems,
  type VegaLiteSpec,
} from "./spec.ts";

/**
 * MIME type under which {@link display} sends specs to Jupyter. JupyterLab's built-in renderer
 * (`@jupyterlab/vega5-extension`) registers Vega-Lite v3, v4 and v5 MIME types and no v6 one;
 * it renders our v6 specs (which use no v6-only features) under the v5 type.
 */
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";

/** Figure stems: kebab-case, e.g. `loss-variation`. */
const STEM = /^[a-z0-9][a-z0-9-]*$/;

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

/** What a notebook knows about its run; {@link collectProvenance} adds the environment. */
export interface ProvenanceInput {
  /** Figure stem. */
  figure: string;
  /** Run scale. */
  scale: Provenance["scale"];
  /** What the scale shrinks, in words. */
  scaleNote: string;
  /** Every hyperparameter. */
  config: object;
  /** Every seed, by role. */
  seeds: Readonly<Record<string, number>>;
  /** The backend from `initBackend()`, or a backend name (adapter then unknown: null). */
  backend: BackendInfo | string;
  /** Wall-clock time of the run, in seconds. */
  wallTimeSeconds: number;
  /** Which data was used. */
  dataSubset: string;
  /** The stored runs behind the figure (their recorded backends become `computedOn`). */
  runs?: readonly { status: ComputedBy }[];
}

/** The part of a stored run's status that says what computed it. */
export interface ComputedBy {
  /** The backend line (`formatBackend`), in every run. */
  backend: string;
  /** The structured backend, in runs written since it was recorded. */
  backendInfo?: BackendInfo;
}

/**
 * What computed a stored run, without why that backend was chosen; webgpu keeps its adapter.
 * Runs that recorded the structured backend are read from it; older runs from their line.
 *
 * @param status The run's status.
 * @returns e.g. "wasm, 1 thread", or "webgpu (NVIDIA H100 80GB HBM3)".
 */
export function computedOn(status: ComputedBy): string {
  return status.backendInfo === undefined
    ? computedBackend(status.backend)
    : computedOnLabel(status.backendInfo);
}

/**
 * A run's recorded backend line (`formatBackend`) without the trailing "(adapter; reason)",
 * for runs that stored the line only.
 *
 * @param line e.g. "wasm, 1 thread (no WebGPU adapter; default)".
 * @returns e.g. "wasm, 1 thread", or "webgpu (NVIDIA H100 80GB HBM3)".
 */
export function computedBackend(line: string): string {
  const match = /^(.*?) \((software adapter |adapter |no WebGPU adapter)(.*)\)$/.exec(line);
  if (match === null) return line;
  const [, what, kind, rest] = match as unknown as [string, string, string, string];
  if (!what.startsWith("webgpu") || kind === "no WebGPU adapter") return what;
  return `${what} (${rest.split("; ")[0]})`;
}

/** The backend in a few words: its name, wasm threads beyond one, native convolutions. */
function describeBackend(info: BackendInfo): string {
  const parts: string[] = [info.backend];
  if (info.backend === "wasm" && info.threads > 1) parts.push(`${info.threads} threads`);
  if (info.nativeKernels !== null) parts.push(`kernels by ${info.nativeKernels}`);
  return parts.join(", ");
}

/**
 * Builds a figure's provenance: the notebook's facts plus versions, git state and date.
 *
 * @param input What the run was.
 * @returns The complete provenance, for `withProvenance`.
 */
export async function collectProvenance(input: ProvenanceInput): Promise<Provenance> {
  const environment = await runEnvironment();
  // wasm records its thread count and native convolutions (e.g. "wasm, 2 threads, convolutions
  // by oneDNN 2.6.3 (libdnnl.so.2)"): they change the speed and the float32 rounding.
  const backend = typeof input.backend === "string"
    ? input.backend
    : describeBackend(input.backend);
  const adapter = typeof input.backend === "string"
    ? null
    : input.backend.adapter?.description ?? null;
  return {
    figure: input.figure,
    scale: input.scale,
    scaleNote: input.scaleNote,
    config: input.config,
    seeds: input.seeds,
    backend,
    adapter,
    deno: environment.deno,
    tfjs: environment.tfjs,
    commit: environment.commit,
    dirty: environment.dirty,
    date: environment.date,
    wallTimeSeconds: input.wallTimeSeconds,
    dataSubset: input.dataSubset,
    ...(input.runs === undefined || input.runs.length === 0 ? {} : {
      computedOn: [...new Set(input.runs.map((r) => computedOn(r.status)))].sort(),
    }),
  };
}

/** Paths of a figure's three files. */
export interface FigurePaths {
  /** `<stem>.vl.json`. */
  spec: string;
  /** `<stem>.svg`. */
  svg: string;
  /** `<stem>.results.json`. */
  results: string;
}

/**
 * Paths of a figure's files in a folder.
 *
 * @param stem Figure stem.
 * @param dir Folder (default {@link figuresDir}).
 * @param resultsName Name of the results file (default the stem; an experiment with several
 *   figures writes one results file under its own name).
 * @returns The three paths.
 */
export function figurePaths(
  stem: string,
  dir: string = figuresDir(),
  resultsName: string = stem,
): FigurePaths {
  return {
    spec: join(dir, `${stem}.vl.json`),
    svg: join(dir, `${stem}.svg`),
    results: join(dir, `${resultsName}.results.json`),
  };
}

/** Options of {@link writeFigure}. */
export interface WriteFigureOptions {
  /** Folder (default {@link figuresDir}: `FIGURE_DIR` or `figures/`). */
  dir?: string;
  /** Replace an existing figure of a larger scale (default: `FIGURE_FORCE`). */
  force?: boolean;
  /**
   * Where a figure goes when the guard keeps it out of `dir`, or null to drop it. Default:
   * `data/runs/figures/` (git-ignored) when `dir` is the default folder, else null.
   */
  shadowDir?: string | null;
  /** Print no line (default false: one line saying what was written). */
  quiet?: boolean;
  /** Name of the results file, `<resultsName>.results.json` (default: the stem). */
  resultsName?: string;
}

/** What {@link writeFigure} did. */
export interface WriteFigureResult {
  /** Whether the figure was written to its folder. */
  written: boolean;
  /** The files in the figure folder (written or kept). */
  paths: FigurePaths;
  /** When not written: why, and where it went instead (if anywhere). */
  reason?: string;
  /** When not written but kept elsewhere: those files. */
  shadowPaths?: FigurePaths;
}

/**
 * Whether an existing figure may be replaced by one of `scale`: no when the existing one has a
 * larger scale or no readable scale, unless forced. Returns null when replacing is allowed,
 * else the reason it is not.
 */
async function guardReason(
  specPath: string,
  provenance: Provenance,
  force: boolean,
): Promise<string | null> {
  if (force) return null;
  let text: string;
  try {
    text = await Deno.readTextFile(specPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  let existing: Provenance | null = null;
  try {
    existing = provenanceOf(JSON.parse(text));
  } catch {
    existing = null; // unreadable JSON: its scale is unknown
  }
  if (existing === null) {
    return `${specPath} has no readable provenance scale (use --force / FIGURE_FORCE=1 to replace it)`;
  }
  if (scaleRank(existing.scale) > scaleRank(provenance.scale)) {
    return `${specPath} has scale ${existing.scale}, larger than ${provenance.scale} ` +
      `(use --force / FIGURE_FORCE=1 to replace it)`;
  }
  return null;
}

/**
 * JSON with one line per object of plain values and per array of plain values (data rows,
 * series), indented otherwise: readable, diff-friendly, and far smaller than fully indented JSON.
 */
function formatJson(value: unknown, indent = ""): string {
  const plain = (v: unknown) => v === null || typeof v !== "object";
  if (plain(value)) return JSON.stringify(value);
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every(plain)) return JSON.stringify(value);
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  if (entries.every(([, v]) => plain(v))) return JSON.stringify(value);
  return `{\n${
    entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`).join(",\n")
  }\n${indent}}`;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // already gone
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.lstat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Writes files all or nothing: each content goes to a temporary file beside its target, then
 * the temporaries are renamed over the targets; if a write or rename fails, the targets already
 * replaced are restored from hard-linked backups and every temporary is removed. (A process
 * killed between two renames can still leave a mixed set; each file is always whole.)
 */
async function writeAllOrNothing(files: readonly { path: string; text: string }[]): Promise<void> {
  const id = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const steps = files.map(({ path, text }) => ({
    path,
    text,
    temporary: join(dirname(path), `.${path.split(/[\\/]/).pop()}.tmp-${id}`),
    backup: join(dirname(path), `.${path.split(/[\\/]/).pop()}.bak-${id}`),
    hadBackup: false,
    renamed: false,
  }));
  try {
    for (const step of steps) await Deno.writeTextFile(step.temporary, step.text);
    for (const step of steps) {
      if (await isFile(step.path)) {
        try {
          await Deno.link(step.path, step.backup);
        } catch {
          await Deno.copyFile(step.path, step.backup); // no hard links on this file system
        }
        step.hadBackup = true;
      }
    }
    for (const step of steps) {
      await Deno.rename(step.temporary, step.path);
      step.renamed = true;
    }
  } catch (error) {
    for (const step of steps.filter((s) => s.renamed)) {
      if (step.hadBackup) await Deno.rename(step.backup, step.path);
      else await removeQuietly(step.path);
    }
    throw error;
  } finally {
    for (const step of steps) {
      await removeQuietly(step.temporary);
      await removeQuietly(step.backup);
    }
  }
}

/**
 * Writes a figure: `<stem>.vl.json`, `<stem>.svg` and `<stem>.results.json` (or the
 * `resultsName` option's), all or nothing.
 * The spec must carry complete provenance for `stem` (see `withProvenance`). A figure of a
 * larger scale already in the folder is kept unless forced (smoke < quick < paper); the new one
 * then goes to `shadowDir`.
 *
 * @param stem Figure stem, kebab-case (e.g. `loss-variation`).
 * @param spec The Vega-Lite spec, with provenance.
 * @param results The compact results the spec was built from (JSON-serialisable).
 * @param options Folder, force, shadow folder, quiet.
 * @returns What was written where.
 * @throws {RangeError} If the stem is not kebab-case or differs from the provenance's figure.
 * @throws {TypeError} If the provenance is incomplete, the spec is invalid (see `validateSpec`),
 *   or the results hold values JSON cannot hold; nothing is written then.
 */
export async function writeFigure(
  stem: string,
  spec: VegaLiteSpec,
  results: unknown,
  options: WriteFigureOptions = {},
): Promise<WriteFigureResult> {
  if (!STEM.test(stem)) {
    throw new RangeError(`Cannot write figure: the stem must be kebab-case, got "${stem}"`);
  }
  const problems = provenanceProblems(spec);
  if (problems.length > 0) {
    throw new TypeError(
      `Cannot write figure ${stem}: its provenance is incomplete (use withProvenance):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  const provenance = provenanceOf(spec) as Provenance;
  if (provenance.figure !== stem) {
    throw new RangeError(
      `Cannot write figure ${stem}: its provenance names figure "${provenance.figure}"`,
    );
  }
  const resultProblems = jsonProblems(results, { path: "results" });
  if (resultProblems.length > 0) {
    throw new TypeError(
      `Cannot write figure ${stem}: the results are not plain JSON:\n` +
        resultProblems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  // Everything that can fail on content runs before the first byte is written.
  const svg = await renderSvg(spec);
  const files = [
    { kind: "svg" as const, text: svg.endsWith("\n") ? svg : `${svg}\n` },
    { kind: "results" as const, text: `${formatJson(results)}\n` },
    { kind: "spec" as const, text: `${formatJson(spec)}\n` }, // last: the guard reads it
  ];
  const defaultDir = options.dir === undefined;
  const dir = options.dir ?? figuresDir();
  const resultsName = options.resultsName ?? stem;
  if (!STEM.test(resultsName)) {
    throw new RangeError(`Cannot write figure ${stem}: bad results name "${resultsName}"`);
  }
  const paths = figurePaths(stem, dir, resultsName);
  const force = options.force ?? figureSettings().force;
  const reason = await guardReason(paths.spec, provenance, force);
  const say = (line: string) => {
    if (options.quiet !== true) console.log(line);
  };
  if (reason !== null) {
    const shadowDir = options.shadowDir !== undefined
      ? options.shadowDir
      : defaultDir
      ? repoPath("data", "runs", "figures")
      : null;
    if (shadowDir === null) {
      say(`figure ${stem}: not written: ${reason}`);
      return { written: false, paths, reason };
    }
    const shadowPaths = figurePaths(stem, shadowDir, resultsName);
    await Deno.mkdir(shadowDir, { recursive: true });
    await writeAllOrNothing(files.map((f) => ({ path: shadowPaths[f.kind], text: f.text })));
    say(`figure ${stem}: kept the existing figure: ${reason}; wrote ${shadowPaths.spec} instead`);
    return { written: false, paths, reason, shadowPaths };
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeAllOrNothing(files.map((f) => ({ path: paths[f.kind], text: f.text })));
  say(
    `figure ${stem}: wrote ${paths.spec}, .svg, ${resultsName}.results.json ` +
      `(scale ${provenance.scale})`,
  );
  return { written: true, paths };
}

/**
 * Whether this code runs inside the Deno Jupyter kernel.
 *
 * @returns True inside `deno jupyter`; false under `deno run` and elsewhere.
 */
export function inJupyter(): boolean {
  try {
    // Outside the kernel, Deno 2 throws on reading Deno.jupyter.
    const jupyter = (globalThis as { Deno?: { jupyter?: { display?: unknown } } }).Deno?.jupyter;
    return typeof jupyter?.display === "function";
  } catch {
    return false;
  }
}

type JupyterDisplay = (
  bundle: Record<string, unknown>,
  options: { raw: boolean },
) => Promise<void>;

/**
 * Shows a spec inline in Jupyter, interactive (Vega-Lite, {@link VEGA_LITE_MIME}) with a static
 * SVG fallback for front ends without a Vega renderer (VS Code, GitHub, nbviewer). Outside
 * Jupyter it prints one line instead.
 *
 * @param spec A Vega-Lite spec.
 * @returns Resolves once the output is sent.
 * @throws {TypeError} If the spec is invalid (see `validateSpec`).
 */
export async function display(spec: VegaLiteSpec): Promise<void> {
  const svg = await renderSvg(spec);
  const title = titleOf(spec);
  if (!inJupyter()) {
    console.log(`figure ${title}: rendered (${svg.length} bytes of SVG); not in Jupyter`);
    return;
  }
  const jupyter = (Deno as unknown as { jupyter: { display: JupyterDisplay } }).jupyter;
  await jupyter.display({
    [VEGA_LITE_MIME]: spec,
    "image/svg+xml": svg,
    "text/plain": `Vega-Lite figure: ${title}`,
  }, { raw: true });
}

function titleOf(spec: VegaLiteSpec): string {
  const title = (spec as { title?: unknown }).title;
  if (typeof title === "string") return title;
  const text = (title as { text?: unknown } | undefined)?.text;
  if (typeof text === "string") return text;
  if (Array.isArray(text)) return text.join(" ");
  return provenanceOf(spec)?.figure ?? "untitled";
}
