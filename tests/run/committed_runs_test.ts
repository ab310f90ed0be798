/**
 * Committed runs as a read-only source: a run exported without checkpoints (as `data/results/`
 * holds them) is found in the first folder that has it finished and reads back as the run the
 * store computed; a cut run, a missing folder and an empty list find nothing; and `runFigure`
 * replots from committed runs with an empty result store, computing nothing and writing nothing
 * into the store.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend.ts";
import { committedRunFolders, CommittedRuns } from "../../lib/run/committed_runs.ts";
import { jobId, runFolderName, type TrainingJob } from "../../lib/run/job.ts";
import { loadRun, runJob } from "../../lib/run/run_job.ts";
import { runFigure } from "../../lib/run_figure.ts";
import { openStore } from "../../lib/store/mod.ts";
import { tinyDlnJob } from "../experiments/_jobs.ts";

await initBackend({ backend: "cpu" });

/** Copies a store's run folders without their checkpoints, as `deno task jobs --export` does. */
async function exportWithoutCheckpoints(from: string, to: string): Promise<void> {
  for await (const run of Deno.readDir(from)) {
    if (!run.isDirectory) continue;
    await Deno.mkdir(join(to, run.name), { recursive: true });
    for await (const file of Deno.readDir(join(from, run.name))) {
      if (/^ckpt-\d+\.bin$/.test(file.name)) continue;
      await Deno.copyFile(join(from, run.name, file.name), join(to, run.name, file.name));
    }
  }
}

async function runFolders(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) names.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

Deno.test("committedRunFolders() puts the figure's own scale first, then the other kept scales", () => {
  assert.deepEqual(committedRunFolders("schedule", "/r"), ["/r/schedule", "/r/long", "/r/paper"]);
  assert.deepEqual(committedRunFolders("quick", "/r"), [
    "/r/quick",
    "/r/long",
    "/r/schedule",
    "/r/paper",
  ]);
});

Deno.test("CommittedRuns.find() reads an exported run back as computed, and skips cut or absent ones", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const finished: TrainingJob = tinyDlnJob();
    const cut: TrainingJob = tinyDlnJob({ seeds: { init: 7, data: 2, noise: 3 } });
    const store = await openStore(join(tmp, "runs"));
    try {
      await runJob(finished, store);
      await runJob(cut, store);
    } finally {
      await store.close();
    }
    const root = join(tmp, "results");
    await exportWithoutCheckpoints(join(tmp, "runs"), join(root, "paper"));
    // The second run as a cut one looks: its status still "running", at its first checkpoint.
    const cutStatusPath = join(root, "paper", runFolderName(await jobId(cut)), "status.json");
    const status = JSON.parse(await Deno.readTextFile(cutStatusPath));
    await Deno.writeTextFile(
      cutStatusPath,
      JSON.stringify({ ...status, state: "running", step: 10 }),
    );
    const committed = await CommittedRuns.open(committedRunFolders("schedule", root));
    const found = await committed.find(finished);
    assert.ok(found !== null, "the exported run is found");
    assert.equal(found.folder, join(root, "paper")); // schedule/ and long/ do not exist
    const original = await loadRun(
      finished,
      await openStore(join(tmp, "runs"), { readOnly: true }),
    );
    assert.deepEqual(found.record.metrics, original.metrics);
    assert.equal(found.record.status.state, "finished");
    assert.equal(found.record.computedSteps, 0);
    assert.equal(await committed.folderOf(finished), join(root, "paper"));
    // The store the run would go into has it finished: its own run comes first.
    const own = await openStore(join(tmp, "runs"), { readOnly: true });
    assert.equal(await committed.find(finished, own), null);
    assert.equal(await committed.folderOf(finished, own), null);
    assert.equal(await committed.folderOf(cut, own), null);
    assert.equal(await committed.find(cut), null, "a cut run is not used");
    assert.equal(await committed.folderOf(cut), null);
    assert.equal(await committed.find(tinyDlnJob({ seeds: { init: 9, data: 2, noise: 3 } })), null);
    assert.equal(await (await CommittedRuns.open([])).find(finished), null);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("runFigure() replots from committed runs with an empty result store, computing nothing", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const quiet = { log: () => {}, write: false, scale: "smoke", backend: "cpu" } as const;
    const first = await runFigure("dln", { ...quiet, runsDir: join(tmp, "a"), committedRuns: [] });
    assert.ok(first.records.some((r) => r.computedSteps > 0), "the first figure computes its runs");
    await exportWithoutCheckpoints(join(tmp, "a"), join(tmp, "committed"));
    const lines: string[] = [];
    const replot = await runFigure("dln", {
      ...quiet,
      log: (line) => lines.push(line),
      runsDir: join(tmp, "b"),
      committedRuns: [join(tmp, "committed")],
    });
    assert.deepEqual(replot.records.map((r) => r.computedSteps), first.records.map(() => 0));
    assert.deepEqual(replot.summary, first.summary);
    assert.deepEqual(await runFolders(join(tmp, "b")), [], "nothing is written into the store");
    assert.ok(lines.some((l) => l.includes(`(committed, ${join(tmp, "committed")})`)));
    // --recompute / FIGURE_RECOMPUTE: the committed runs are computed again, to the same summary.
    const recomputed = await runFigure("dln", {
      ...quiet,
      runsDir: join(tmp, "c"),
      committedRuns: [join(tmp, "committed")],
      recompute: true,
    });
    assert.ok(recomputed.records.every((r) => r.computedSteps > 0), "every run is computed");
    assert.deepEqual(recomputed.summary, first.summary);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
