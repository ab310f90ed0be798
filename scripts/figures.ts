/**
 * `deno task figures`: rebuilds figures by running each figure notebook's code cells headless.
 *
 *     deno task figures [--scale smoke|quick|long|schedule|paper] [--only NAME ...] [--backend B] [--force]
 *
 * Every `notebooks/NN-name.ipynb` makes figure `name`. Its code cells are joined into one module
 * (see `lib/notebook/notebook.ts`) and run by `deno run -A` from the notebook's folder, the way
 * the Jupyter kernel runs them, with the settings passed as FIGURE_SCALE, BN_BACKEND and
 * FIGURE_FORCE (read by `figureSettings()` in the config cell). One line per notebook with its
 * wall time; a failed notebook does not stop the others, and the exit status is 1 if any failed,
 * 2 on bad arguments.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BACKEND_CHOICES, parseBackendChoice } from "../lib/backend.ts";
import { BACKEND_ENV, FORCE_ENV, readEnv, RECOMPUTE_ENV, SCALE_ENV } from "../lib/env.ts";
import { ensureCifar10 } from "../lib/data/download.ts";
import { defaultGalleryPaths, hasFigures, writeGallery } from "../lib/figures/gallery_files.ts";
import { figuresDir, REPO_ROOT } from "../lib/paths.ts";
import { parseScale, type Scale, SCALES } from "../lib/scale.ts";
import { figureStem, notebookModule, parseNotebook } from "../lib/notebook/notebook.ts";

const USAGE = `Rebuild figures by running the figure notebooks headless.

Usage: deno task figures [options] [NAME ...]

Options:
  --scale S       ${SCALES.join(" | ")} (default: FIGURE_SCALE, else quick)
  --only NAME     run only this figure (repeatable, or comma-separated; NAME as positional too)
  --backend B     ${BACKEND_CHOICES.join(" | ")} (default: BN_BACKEND, else auto)
  --force         replace figures of a larger scale (FIGURE_FORCE=1)
  --recompute     compute runs that data/results/ holds finished, instead of reading them, to
                  check that a committed figure reproduces (FIGURE_RECOMPUTE=1)
  --notebooks DIR folder of the notebooks (default: notebooks/)
  --help          show this help

Figures: every notebooks/NN-NAME.ipynb.`;

/** A figure notebook found on disk. */
interface FigureNotebook {
  /** Figure stem, e.g. `training`. */
  stem: string;
  /** File name, e.g. `01-training.ipynb`. */
  file: string;
  /** Absolute path. */
  path: string;
}

/** Bad command-line input: reported with the usage hint and exit status 2. */
class UsageError extends Error {
  override name = "UsageError";
}

async function findNotebooks(dir: string): Promise<FigureNotebook[]> {
  const found: FigureNotebook[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const stem = entry.isFile ? figureStem(entry.name) : null;
      if (stem !== null) found.push({ stem, file: entry.name, path: join(dir, entry.name) });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found.sort((a, b) => a.file.localeCompare(b.file));
}

function select(notebooks: readonly FigureNotebook[], names: readonly string[]): FigureNotebook[] {
  if (names.length === 0) return [...notebooks];
  const valid = notebooks.map((n) => n.stem);
  const unknown = names.filter((name) =>
    !notebooks.some((n) => n.stem === name || n.file === name)
  );
  if (unknown.length > 0) {
    throw new UsageError(
      `Cannot select figures: unknown ${unknown.map((u) => `"${u}"`).join(", ")}, expected one of ${
        valid.length === 0 ? "(none: notebooks/ holds no NN-name.ipynb)" : valid.join(", ")
      }`,
    );
  }
  return notebooks.filter((n) => names.includes(n.stem) || names.includes(n.file));
}

/** Runs one notebook's code cells as a module; returns the exit code. */
async function runNotebook(notebook: FigureNotebook, env: Record<string, string>): Promise<number> {
  const module = notebookModule(
    parseNotebook(await Deno.readTextFile(notebook.path), notebook.file),
    notebook.file,
  );
  // `deno run -` resolves the module's relative imports and finds deno.json from the working
  // folder, which is the notebook's folder: the same resolution as the Jupyter kernel's cells.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", join(REPO_ROOT, "deno.json"), "-"],
    cwd: join(notebook.path, ".."),
    env,
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(module));
  await writer.close();
  return (await child.status).code;
}

async function main(args: readonly string[]): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        scale: { type: "string" },
        only: { type: "string", multiple: true },
        backend: { type: "string" },
        force: { type: "boolean", default: false },
        recompute: { type: "boolean", default: false },
        notebooks: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`Cannot parse arguments: ${(error as Error).message}`);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let scale: Scale;
  const backend = values.backend;
  try {
    const raw = values.scale ?? readEnv(SCALE_ENV) ?? "quick";
    scale = parseScale(raw, values.scale === undefined ? SCALE_ENV : "--scale");
    if (backend !== undefined) parseBackendChoice(backend, "--backend");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const names = [...(values.only ?? []), ...positionals]
    .flatMap((n) => n.split(","))
    .map((n) => n.trim())
    .filter((n) => n !== "");
  const folder = values.notebooks === undefined
    ? join(REPO_ROOT, "notebooks")
    : resolve(values.notebooks);
  const notebooks = select(await findNotebooks(folder), names);
  if (notebooks.length === 0) {
    console.log(`No figure notebooks (NN-name.ipynb) in ${folder}`);
    return 0;
  }

  if (scale !== "smoke") {
    // quick, long and paper train on the full CIFAR-10 (smoke uses the committed sample).
    try {
      await ensureCifar10({ onProgress: (line) => console.log(`cifar10: ${line}`) });
    } catch (error) {
      console.error(`Cannot prepare CIFAR-10 for scale ${scale}: ${(error as Error).message}`);
      return 1;
    }
  }

  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    [SCALE_ENV]: scale,
    ...(backend === undefined ? {} : { [BACKEND_ENV]: backend.trim().toLowerCase() }),
    ...(values.force ? { [FORCE_ENV]: "1" } : {}),
    ...(values.recompute ? { [RECOMPUTE_ENV]: "1" } : {}),
  };
  console.log(
    `figures: scale ${scale}, ${notebooks.length} notebook${notebooks.length === 1 ? "" : "s"}: ${
      notebooks.map((n) => n.stem).join(", ")
    }`,
  );
  const failed: string[] = [];
  const started = performance.now();
  for (const notebook of notebooks) {
    const t0 = performance.now();
    let problem: string | null;
    try {
      const code = await runNotebook(notebook, env);
      problem = code === 0 ? null : `exit status ${code}`;
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem !== null) failed.push(notebook.stem);
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      problem === null
        ? `ok     ${notebook.file} ${seconds} s`
        : `FAILED ${notebook.file} ${seconds} s: ${problem}`,
    );
  }
  // The gallery shows whatever figures are now on disk, so it is rebuilt even after a failure.
  if (!(await hasFigures(figuresDir()))) {
    console.log(`gallery: not written (no figure in ${figuresDir()})`);
  } else {
    try {
      const gallery = await writeGallery({
        ...defaultGalleryPaths(),
        figures: figuresDir(),
        notebooks: folder,
      });
      console.log(`gallery: ${gallery.changed ? "wrote" : "unchanged"} ${gallery.path}`);
    } catch (error) {
      console.log(`FAILED gallery: ${(error as Error).message}`);
      failed.push("gallery");
    }
  }
  const total = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `figures: ${notebooks.length - failed.length} ok, ${failed.length} failed${
      failed.length === 0 ? "" : ` (${failed.join(", ")})`
    } in ${total} s`,
  );
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\nRun deno task figures --help for usage.`);
      Deno.exit(2);
    }
    throw error;
  }
}
