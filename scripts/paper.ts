/**
 * `deno task paper [--check]`: fills the generated blocks of paper.md from the committed figures
 * (`figures/<stem>.vl.json` provenance and its experiment's `figures/<name>.results.json`). With `--check`, writes
 * nothing and exits 1 when a block is stale.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeAtomic } from "../lib/store/store_files.ts";
import { fillBlocks } from "../lib/report/blocks.ts";
import { type BenchReport, type CommittedFigure, REPORT_BLOCKS } from "../lib/report/sections.ts";
import { provenanceOf } from "../lib/figures/spec_provenance.ts";
import { resultsFileName } from "../lib/registry.ts";
import type { VegaLiteSpec } from "../lib/figures/spec.ts";
import { scaleRank } from "../lib/scale.ts";

const root = new URL("../", import.meta.url);

/** Reads the figures of one folder (`<stem>.vl.json` and its results file), by stem. */
async function readFigureFolder(dir: URL): Promise<Map<string, CommittedFigure>> {
  const figures = new Map<string, CommittedFigure>();
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(.+)\.vl\.json$/.exec(entry.name);
    if (match === null) continue;
    const stem = match[1]!;
    const spec = JSON.parse(await Deno.readTextFile(new URL(entry.name, dir))) as VegaLiteSpec;
    const provenance = provenanceOf(spec);
    if (provenance === null) {
      throw new Error(`Cannot read figure ${stem}: its spec has no provenance`);
    }
    // Figures drawn from one experiment share its results file (the landscape's three).
    const results = JSON.parse(await Deno.readTextFile(new URL(resultsFileName(stem), dir)));
    figures.set(stem, { stem, provenance, results });
  }
  return figures;
}

/**
 * Reads every committed figure, each with its copies of other scales (`figures/scales/<scale>/`,
 * smallest scale first) as `otherScales`.
 */
export async function readCommittedFigures(
  dir: URL = new URL("figures/", root),
): Promise<Map<string, CommittedFigure>> {
  const figures = await readFigureFolder(dir);
  const kept: CommittedFigure[] = [];
  try {
    for await (const entry of Deno.readDir(new URL("scales/", dir))) {
      if (!entry.isDirectory) continue;
      kept.push(...(await readFigureFolder(new URL(`scales/${entry.name}/`, dir))).values());
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  kept.sort((a, b) => scaleRank(a.provenance.scale) - scaleRank(b.provenance.scale));
  for (const [stem, figure] of figures) {
    const others = kept.filter((k) =>
      k.stem === stem && k.provenance.scale !== figure.provenance.scale
    );
    if (others.length > 0) figures.set(stem, { ...figure, otherScales: others });
  }
  return figures;
}

/** The newest committed bench result (`data/bench/*.json`, by its date), or null. */
export async function readLatestBench(
  dir: URL = new URL("data/bench/", root),
): Promise<BenchReport | null> {
  let latest: BenchReport | null = null;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".json")) continue;
      const report = JSON.parse(await Deno.readTextFile(new URL(entry.name, dir))) as BenchReport;
      if (latest === null || report.date > latest.date) latest = report;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return latest;
}

/** The report with every block regenerated. */
export async function regeneratePaper(paperPath: URL = new URL("paper.md", root)): Promise<{
  current: string;
  next: string;
}> {
  const figures = await readCommittedFigures();
  const current = await Deno.readTextFile(paperPath);
  const bench = await readLatestBench();
  const contents = Object.fromEntries(
    Object.entries(REPORT_BLOCKS).map(([name, generate]) => [name, generate(figures, bench)]),
  );
  return { current, next: await formatMarkdown(fillBlocks(current, contents)) };
}

/** Formats Markdown as `deno fmt` does, so the generated report passes `deno task check`. */
async function formatMarkdown(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    cwd: new URL(".", root).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`Cannot format paper.md: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { check: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log("Usage: deno task paper [--check]");
    return;
  }
  const path = new URL("paper.md", root);
  const { current, next } = await regeneratePaper(path);
  if (values.check) {
    if (current !== next) {
      console.error("paper.md is stale: run `deno task paper` and commit the result");
      Deno.exit(1);
    }
    console.log("paper.md is up to date");
    return;
  }
  if (current === next) {
    console.log("paper.md is up to date");
    return;
  }
  await writeAtomic(fileURLToPath(path), next);
  console.log("paper.md: generated blocks rewritten");
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
}
