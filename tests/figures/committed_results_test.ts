/**
 * The figures committed beyond the quick scale come with the compact results of their runs in
 * `data/results/<scale>/` (job, status and logs; no checkpoints). Reading those runs back and
 * summarising them with the figure's experiment (from the registry) must give exactly the
 * committed results file, its configuration, runs, rows and key numbers: the figure is the
 * product of those runs and nothing else. The per-scale copies in `figures/scales/<scale>/` are
 * checked the same way, so a shorter scale's numbers stay the product of its committed runs. A run
 * that two scales share (the DLN of `lp-norms` at `schedule` is the `paper` DLN) is committed once:
 * it is read from its own scale's folder first, else from another kept scale's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { RunRecord } from "../../lib/run/run_job.ts";
import { committedRunFolders, CommittedRuns } from "../../lib/run/committed_runs.ts";
import { jobId, runFolderName } from "../../lib/run/job.ts";
import { EXPERIMENTS, STORED_FIGURES } from "../../lib/registry.ts";
import { isKeptScale, isScale, type Scale } from "../../lib/scale.ts";
import type { TrainingJob } from "../../lib/run/job.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Each experiment once: the landscape's three figures share one results file. */
const experiments = [...new Set(STORED_FIGURES.map((stem) => EXPERIMENTS[stem].experiment))];

/** The folders that hold results: figures/ and its per-scale copies, figures/scales/<scale>/. */
async function resultFolders(): Promise<string[]> {
  const folders = [join(ROOT, "figures")];
  try {
    for await (const entry of Deno.readDir(join(ROOT, "figures", "scales"))) {
      if (entry.isDirectory) folders.push(join(ROOT, "figures", "scales", entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return folders.sort();
}

/** A run from `data/results/<scale>/`, else from the first other kept scale that holds it. */
async function loadCommittedRun(job: TrainingJob, scale: Scale): Promise<RunRecord> {
  const committed = await CommittedRuns.open(
    committedRunFolders(scale, join(ROOT, "data", "results")),
  );
  const found = await committed.find(job);
  if (found === null) {
    throw new Error(`run ${runFolderName(await jobId(job))} is not committed in data/results/`);
  }
  return found.record;
}

/** Each (experiment, scale) once: the copy in figures/scales/ of the figure in figures/ is the same. */
const tested = new Set<string>();
for (const folder of await resultFolders()) {
  for (const experiment of experiments) {
    const path = join(folder, `${experiment.name}.results.json`);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue; // not committed
      throw error;
    }
    const { provenance, ...committed } = JSON.parse(text) as {
      provenance: { scale: string };
      [field: string]: unknown;
    };
    const scale = provenance.scale;
    if (!isScale(scale) || !isKeptScale(scale)) continue; // runs not committed
    const key = `${experiment.name} ${scale}\n${text}`;
    if (tested.has(key)) continue;
    tested.add(key);
    const where = path.slice(ROOT.length);
    Deno.test(`results ${where} (${scale}) are rebuilt exactly from data/results/${scale}/`, async () => {
      const records: RunRecord[] = [];
      for (const job of experiment.jobs(scale)) records.push(await loadCommittedRun(job, scale));
      const summary = await experiment.summarize(records, scale);
      const rebuilt = JSON.parse(JSON.stringify({
        config: experiment.config(scale),
        ...experiment.results(summary, records),
      }));
      assert.deepEqual(rebuilt, committed);
    });
  }
}
