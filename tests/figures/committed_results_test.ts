/**
 * The figures committed beyond the quick scale come with the compact results of their runs in
 * `data/results/<scale>/` (job, status and logs; no checkpoints). Reading those runs back and
 * rebuilding the figure's rows must give exactly the rows in `figures/<stem>.results.json`: the
 * figure is the product of those runs and nothing else.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dlnJobs, dlnRows } from "../../lib/experiments/dln.ts";
import {
  LANDSCAPE_CONFIGS,
  landscapeJobs,
  landscapeRows,
} from "../../lib/experiments/landscape.ts";
import { LP_NORMS_CONFIGS, lpNormsJobs, lpNormsRows } from "../../lib/experiments/lp_norms.ts";
import { icsDefinitionsJobs, icsDefinitionsRows } from "../../lib/experiments/ics_definitions.ts";
import { loadRun, type RunRecord } from "../../lib/run/run_job.ts";
import type { TrainingJob } from "../../lib/run/job.ts";
import { isScale, type Scale } from "../../lib/scale.ts";
import { openStore } from "../../lib/store/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** How each figure whose runs can be committed rebuilds its rows from run records. */
const REBUILD: Record<
  string,
  { jobs(scale: Scale): TrainingJob[]; rows(records: RunRecord[], scale: Scale): unknown }
> = {
  dln: {
    jobs: dlnJobs,
    rows: (records) => {
      const rows = dlnRows(records);
      return { ics: rows.ics, landscape: rows.landscape, loss: rows.loss };
    },
  },
  "loss-variation": {
    jobs: landscapeJobs,
    rows: (records, scale) => landscapeRows(records, LANDSCAPE_CONFIGS[scale].keyFractions).rows,
  },
};
REBUILD["lp-norms"] = {
  jobs: (scale) => [...lpNormsJobs(scale).vgg, ...lpNormsJobs(scale).dln],
  rows: (records, scale) => {
    const vggCount = lpNormsJobs(scale).vgg.length;
    const rows = lpNormsRows(records.slice(0, vggCount), records.slice(vggCount), {
      smoothVggLoss: LP_NORMS_CONFIGS[scale].smoothVggLoss,
    });
    return {
      vggLoss: rows.vggLoss,
      vggAccuracy: rows.vggAccuracy,
      vggLandscape: rows.vggLandscape,
      dlnLoss: rows.dlnLoss,
      dlnLandscape: rows.dlnLandscape,
    };
  },
};
REBUILD["ics-definitions"] = {
  jobs: (scale) => icsDefinitionsJobs(scale).map((run) => run.job),
  rows: (records, scale) =>
    icsDefinitionsRows(icsDefinitionsJobs(scale).map((run, i) => ({ run, record: records[i]! }))),
};
REBUILD["gradient-predictiveness"] = REBUILD["loss-variation"]!;
REBUILD["beta-smoothness"] = REBUILD["loss-variation"]!;

interface CommittedResults {
  provenance: { scale: string };
  rows: unknown;
}

for (const [stem, rebuild] of Object.entries(REBUILD)) {
  const path = join(ROOT, "figures", `${stem}.results.json`);
  const results = JSON.parse(await Deno.readTextFile(path)) as CommittedResults;
  const scale = results.provenance.scale;
  if (!isScale(scale) || scale === "smoke" || scale === "quick") continue; // not committed
  Deno.test(`figure ${stem} (${scale}) is rebuilt exactly from data/results/${scale}/`, async () => {
    const store = await openStore(join(ROOT, "data", "results", scale), { readOnly: true });
    const records: RunRecord[] = [];
    for (const job of rebuild.jobs(scale)) records.push(await loadRun(job, store));
    const rebuilt = JSON.parse(JSON.stringify(rebuild.rows(records, scale)));
    assert.deepEqual(rebuilt, results.rows);
  });
}
