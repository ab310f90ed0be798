/**
 * The figures committed beyond the quick scale come with the compact results of their runs in
 * `data/results/<scale>/` (job, status and logs; no checkpoints). Reading those runs back and
 * summarising them with the figure's experiment (from the registry) must give exactly the
 * committed results file, its configuration, runs, rows and key numbers: the figure is the
 * product of those runs and nothing else.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadRun, type RunRecord } from "../../lib/run/run_job.ts";
import { EXPERIMENTS, STORED_FIGURES } from "../../lib/registry.ts";
import { isScale } from "../../lib/scale.ts";
import { openStore } from "../../lib/store/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Each experiment once: the landscape's three figures share one results file. */
const experiments = [...new Set(STORED_FIGURES.map((stem) => EXPERIMENTS[stem].experiment))];

for (const experiment of experiments) {
  const path = join(ROOT, "figures", `${experiment.name}.results.json`);
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
  if (!isScale(scale) || scale === "smoke" || scale === "quick") continue; // runs not committed
  Deno.test(`results ${experiment.name} (${scale}) are rebuilt exactly from data/results/${scale}/`, async () => {
    const store = await openStore(join(ROOT, "data", "results", scale), { readOnly: true });
    const records: RunRecord[] = [];
    for (const job of experiment.jobs(scale)) records.push(await loadRun(job, store));
    const summary = await experiment.summarize(records, scale);
    const rebuilt = JSON.parse(JSON.stringify({
      config: experiment.config(scale),
      ...experiment.results(summary, records),
    }));
    assert.deepEqual(rebuilt, committed);
  });
}
