/**
 * Gallery I/O for Deno (thin): reads the committed specs, notebooks and paper.md, writes
 * `figures/index.html` atomically, and vendors the vega libraries (with their licences) from the
 * npm cache into `figures/vendor/`. The page itself is built by `gallery.ts`.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { figureStem } from "../notebook/notebook.ts";
import { resultsFileName } from "../registry.ts";
import { type GalleryFigure, galleryHtml, parseVerdicts, verdictsFor } from "./gallery.ts";
import { REPO_ROOT } from "../paths.ts";
import type { VegaLiteSpec } from "./spec.ts";
import { writeAtomic } from "../store/store_files.ts";

/** The npm packages the page loads, at the versions the project renders with. */
export const VENDORED = [
  { name: "vega", version: "6.4.0", file: "build/vega.min.js" },
  { name: "vega-lite", version: "6.5.0", file: "build/vega-lite.min.js" },
  { name: "vega-embed", version: "7.3.0", file: "build/vega-embed.min.js" },
] as const;

/** Where the gallery's inputs and output live. */
export interface GalleryPaths {
  /** Folder of the `.vl.json` specs; the page is written here as `index.html`. */
  figures: string;
  /** Folder of the `NN-name.ipynb` notebooks. */
  notebooks: string;
  /** paper.md. */
  paper: string;
}

/** The repository's own folders. */
export function defaultGalleryPaths(): GalleryPaths {
  return {
    figures: join(REPO_ROOT, "figures"),
    notebooks: join(REPO_ROOT, "notebooks"),
    paper: join(REPO_ROOT, "paper.md"),
  };
}

async function readDirNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Whether a folder holds any `.vl.json` figure (an empty one gets no gallery). */
export async function hasFigures(dir: string): Promise<boolean> {
  return (await readDirNames(dir)).some((n) => n.endsWith(".vl.json"));
}

/**
 * Reads every committed figure with its notebook and verdicts, in notebook order (figures
 * without a notebook last, by name).
 *
 * @throws {Error} If no spec is found, naming the folder and how to make figures.
 * @throws {SyntaxError} If a spec is not JSON, naming the file.
 */
export async function readGalleryFigures(paths: GalleryPaths): Promise<GalleryFigure[]> {
  const specs = (await readDirNames(paths.figures)).filter((n) => n.endsWith(".vl.json"));
  if (specs.length === 0) {
    throw new Error(
      `Cannot build the gallery: ${paths.figures} holds no .vl.json figure; run deno task figures`,
    );
  }
  const notebooks = new Map<string, string>();
  for (const name of await readDirNames(paths.notebooks)) {
    const stem = figureStem(name);
    if (stem !== null) notebooks.set(stem, name);
  }
  let paper = "";
  try {
    paper = await Deno.readTextFile(paths.paper);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const rows = parseVerdicts(paper);
  const figures: GalleryFigure[] = [];
  for (const name of specs) {
    const stem = name.slice(0, -".vl.json".length);
    const path = join(paths.figures, name);
    let spec: VegaLiteSpec;
    try {
      spec = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      throw new SyntaxError(`Cannot build the gallery: ${path} is not JSON (${error})`);
    }
    figures.push({
      stem,
      spec,
      notebook: notebooks.get(stem) ?? null,
      verdicts: verdictsFor(rows, stem),
      resultsFile: resultsFileName(stem),
    });
  }
  const order = (f: GalleryFigure) => f.notebook ?? `~${f.stem}`;
  return figures.sort((a, b) => order(a).localeCompare(order(b)));
}

/** The page text for the given folders (what `index.html` must hold to be current). */
export async function buildGallery(paths: GalleryPaths = defaultGalleryPaths()): Promise<string> {
  return galleryHtml(await readGalleryFigures(paths));
}

/** Deno's npm cache folder (from `deno info --json`). */
async function npmCacheDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return (JSON.parse(new TextDecoder().decode(out.stdout)) as { npmCache: string }).npmCache;
}

/**
 * Copies the vega libraries and their licences into `<figures>/vendor/` where any is missing,
 * fetching the packages into Deno's npm cache first if needed.
 *
 * @returns The files written (empty when all were present).
 * @throws {Error} If a package cannot be fetched, saying which and how to get it.
 */
export async function vendorLibraries(figuresDir: string): Promise<string[]> {
  const vendor = join(figuresDir, "vendor");
  const wanted = VENDORED.flatMap((p) => [
    { pkg: p, from: p.file, to: join(vendor, p.file.split("/").pop() as string) },
    { pkg: p, from: "LICENSE", to: join(vendor, `LICENSE-${p.name}`) },
  ]);
  const missing = [];
  for (const w of wanted) {
    try {
      await Deno.stat(w.to);
    } catch {
      missing.push(w);
    }
  }
  if (missing.length === 0) return [];
  // The repository's committed copies serve any other figures folder; the npm cache refills them.
  const committed = join(REPO_ROOT, "figures", "vendor");
  const cache = join(await npmCacheDir(), "registry.npmjs.org");
  await Deno.mkdir(vendor, { recursive: true });
  for (const w of missing) {
    let source = join(committed, basename(w.to));
    try {
      await Deno.stat(source);
    } catch {
      source = join(cache, w.pkg.name, w.pkg.version, w.from);
    }
    try {
      await Deno.stat(source);
    } catch {
      const spec = `npm:${w.pkg.name}@${w.pkg.version}`;
      // `deno cache` of a one-line module is how Deno fetches an npm package on its own.
      const module = await Deno.makeTempFile({ suffix: ".ts" });
      await Deno.writeTextFile(module, `import "${spec}";\n`);
      const fetched = await new Deno.Command(Deno.execPath(), {
        args: ["cache", "--no-config", module],
        stdout: "null",
        stderr: "piped",
      }).output();
      await Deno.remove(module);
      if (!fetched.success) {
        throw new Error(
          `Cannot vendor ${spec} for the gallery: it is not in Deno's npm cache and could not be ` +
            `fetched (${new TextDecoder().decode(fetched.stderr).trim()}). ` +
            `Connect to the npm registry, or restore figures/vendor/ from git.`,
        );
      }
    }
    await Deno.mkdir(dirname(w.to), { recursive: true });
    await writeAtomic(w.to, await Deno.readFile(source));
  }
  return missing.map((w) => w.to);
}

/**
 * Writes `index.html` (and any missing vendored library) into the figures folder.
 *
 * @returns The page's path and whether its text changed.
 */
export async function writeGallery(
  paths: GalleryPaths = defaultGalleryPaths(),
): Promise<{ path: string; changed: boolean; vendored: string[] }> {
  const vendored = await vendorLibraries(paths.figures);
  const html = await buildGallery(paths);
  const path = join(paths.figures, "index.html");
  let old: string | null = null;
  try {
    old = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (old !== html) await writeAtomic(path, html);
  return { path, changed: old !== html, vendored };
}
