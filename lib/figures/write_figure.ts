/**
 * Writes a figure's three files (Deno I/O), all or nothing, and guards a figure of a larger
 * scale from being replaced by one of a smaller scale unless forced.
 *
 * A figure `<stem>` is three files in `figures/` (or `FIGURE_DIR`): `<stem>.vl.json` (the
 * Vega-Lite spec, data inline, provenance in `usermeta`), `<stem>.svg` (its static render) and
 * `<stem>.results.json` (the compact results it was built from). A figure of a scale whose runs
 * are committed (`long`, `schedule`, `paper`) is also written to `scales/<scale>/` of that folder,
 * whichever scale holds the main slot, so that every scale's figure and numbers stay readable.
 * A figure of another scale (e.g. `quick`) that a larger scale replaces in the main slot is moved
 * to `scales/<its scale>/` too, unless a copy is already there.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { figureSettings } from "../notebook/config.ts";
import { figuresDir, repoPath } from "../paths.ts";
import { isKeptScale, isScale, scaleRank } from "../scale.ts";
import { readTextOrNull } from "../store/store_files.ts";
import { renderSvg } from "./render.ts";
import { type VegaLiteSpec } from "./spec.ts";
import {
  jsonProblems,
  type Provenance,
  provenanceOf,
  provenanceProblems,
} from "./spec_provenance.ts";

/** Figure stems: kebab-case, e.g. `loss-variation`. */
const STEM = /^[a-z0-9][a-z0-9-]*$/;

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
  /**
   * Where the per-scale copy goes, or null for none. Default: `<dir>/scales/<scale>/` for the
   * kept scales (see `KEPT_SCALES`), none for smoke and quick.
   */
  scaleDir?: string | null;
}

/**
 * The folder of a figure's per-scale copy: `<dir>/scales/<scale>/`.
 *
 * @param dir The figure folder.
 * @param scale The figure's scale.
 * @returns The folder's path.
 */
export function scaleFolder(dir: string, scale: string): string {
  return join(dir, "scales", scale);
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
  /** The per-scale copy, where one was written. */
  scalePaths?: FigurePaths;
  /** Where the figure this one replaced in the main slot was moved, if it was. */
  displacedPaths?: FigurePaths;
}

/** The scale recorded in a spec's or results file's text, or null when none can be read. */
function recordedScale(text: string, read: (json: unknown) => unknown): string | null {
  try {
    const scale = read(JSON.parse(text));
    return typeof scale === "string" ? scale : null;
  } catch {
    return null;
  }
}

/**
 * Moves the figure in the main slot to `scales/<its scale>/` before a larger scale replaces it,
 * when no copy of that scale is there yet (the kept scales write theirs on every run; this keeps
 * a `quick` figure that a `schedule` one replaces). The results file goes with it only when it
 * records the same scale: several stems share one results file, which an earlier stem of the
 * same run may already have replaced. Smoke figures are not kept.
 */
async function keepDisplaced(
  existing: ExistingSpec | null,
  paths: FigurePaths,
  incoming: Provenance,
  dir: string,
  stem: string,
  resultsName: string,
): Promise<FigurePaths | undefined> {
  if (existing === null) return undefined;
  const spec = existing.text;
  const scale = existing.provenance?.scale ?? null;
  if (scale === null || !isScale(scale) || scale === "smoke") return undefined;
  if (scaleRank(scale) >= scaleRank(incoming.scale)) return undefined;
  const target = figurePaths(stem, scaleFolder(dir, scale), resultsName);
  if (await readTextOrNull(target.spec) !== null) return undefined;
  const svg = await readTextOrNull(paths.svg);
  const results = await readTextOrNull(paths.results);
  const resultsScale = results === null ? null : recordedScale(
    results,
    (json) => (json as { provenance?: { scale?: unknown } }).provenance?.scale,
  );
  const moved = [
    ...(svg === null ? [] : [{ path: target.svg, text: svg }]),
    ...(results !== null && (resultsScale === null || resultsScale === scale) &&
        await readTextOrNull(target.results) === null
      ? [{ path: target.results, text: results }]
      : []),
    { path: target.spec, text: spec }, // last, as in writeFigure
  ];
  await Deno.mkdir(scaleFolder(dir, scale), { recursive: true });
  await writeAllOrNothing(moved);
  return target;
}

/**
 * Whether an existing figure may be replaced by one of `scale`: no when the existing one has a
 * larger scale or no readable scale, unless forced. Returns null when replacing is allowed,
 * else the reason it is not.
 */
function guardReason(
  specPath: string,
  existing: ExistingSpec | null,
  provenance: Provenance,
  force: boolean,
): string | null {
  if (force || existing === null) return null;
  if (existing.provenance === null) {
    return `${specPath} has no readable provenance scale (use --force / FIGURE_FORCE=1 to replace it)`;
  }
  if (scaleRank(existing.provenance.scale) > scaleRank(provenance.scale)) {
    return `${specPath} has scale ${existing.provenance.scale}, larger than ${provenance.scale} ` +
      `(use --force / FIGURE_FORCE=1 to replace it)`;
  }
  return null;
}

/** The spec in a figure's main slot: its text and provenance (null when unreadable). */
interface ExistingSpec {
  text: string;
  provenance: Provenance | null;
}

async function readExistingSpec(specPath: string): Promise<ExistingSpec | null> {
  const text = await readTextOrNull(specPath);
  if (text === null) return null;
  try {
    return { text, provenance: provenanceOf(JSON.parse(text)) };
  } catch {
    return { text, provenance: null }; // unreadable JSON: its scale is unknown
  }
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
  const existing = await readExistingSpec(paths.spec); // read once: the guard and the move use it
  const reason = guardReason(paths.spec, existing, provenance, force);
  const say = (line: string) => {
    if (options.quiet !== true) console.log(line);
  };
  const scaleDir = options.scaleDir !== undefined
    ? options.scaleDir
    : isKeptScale(provenance.scale)
    ? scaleFolder(dir, provenance.scale)
    : null;
  const scalePaths = scaleDir === null ? undefined : figurePaths(stem, scaleDir, resultsName);
  if (scaleDir !== null && scalePaths !== undefined) {
    await Deno.mkdir(scaleDir, { recursive: true });
    await writeAllOrNothing(files.map((f) => ({ path: scalePaths[f.kind], text: f.text })));
  }
  const kept = scalePaths === undefined ? {} : { scalePaths };
  const copyNote = scaleDir === null ? "" : `; a copy in ${scaleDir}`;
  if (reason !== null) {
    const shadowDir = options.shadowDir !== undefined
      ? options.shadowDir
      : defaultDir
      ? repoPath("data", "runs", "figures")
      : null;
    if (shadowDir === null) {
      say(`figure ${stem}: not written: ${reason}${copyNote}`);
      return { written: false, paths, reason, ...kept };
    }
    const shadowPaths = figurePaths(stem, shadowDir, resultsName);
    await Deno.mkdir(shadowDir, { recursive: true });
    await writeAllOrNothing(files.map((f) => ({ path: shadowPaths[f.kind], text: f.text })));
    say(
      `figure ${stem}: kept the existing figure: ${reason}; wrote ${shadowPaths.spec} instead${copyNote}`,
    );
    return { written: false, paths, reason, shadowPaths, ...kept };
  }
  const displacedPaths = await keepDisplaced(existing, paths, provenance, dir, stem, resultsName);
  await Deno.mkdir(dir, { recursive: true });
  await writeAllOrNothing(files.map((f) => ({ path: paths[f.kind], text: f.text })));
  const movedNote = displacedPaths === undefined
    ? ""
    : `; the figure it replaced is now ${displacedPaths.spec}`;
  say(
    `figure ${stem}: wrote ${paths.spec}, .svg, ${resultsName}.results.json ` +
      `(scale ${provenance.scale})${copyNote}${movedNote}`,
  );
  return {
    written: true,
    paths,
    ...kept,
    ...(displacedPaths === undefined ? {} : { displacedPaths }),
  };
}
