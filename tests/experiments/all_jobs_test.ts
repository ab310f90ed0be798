import assert from "node:assert/strict";
import { figureJobs, jobsFor, STORED_FIGURES } from "../../lib/experiments/all_jobs.ts";
import { dlnJobs } from "../../lib/experiments/dln.ts";
import { icsJobs } from "../../lib/experiments/ics.ts";
import { canonicalJson, validateJob } from "../../lib/experiments/job.ts";
import { lpNormsJobs } from "../../lib/experiments/lp_norms.ts";
import { SCALES } from "../../lib/figures/scale.ts";

Deno.test("jobsFor() lists every figure's valid jobs once, sharing runs between figures", () => {
  for (const scale of SCALES) {
    const all = jobsFor(scale);
    const keys = all.map(({ job }) => canonicalJson(job));
    assert.equal(new Set(keys).size, keys.length, `${scale}: duplicates`);
    for (const { job } of all) validateJob(job);
    for (const figure of STORED_FIGURES) {
      for (const job of figureJobs(figure, scale)) {
        const entry = all.find((e) => canonicalJson(e.job) === canonicalJson(job));
        assert.ok(entry?.figures.includes(figure), `${scale}: ${figure} job missing`);
      }
    }
    // The landscape figures add no run to ics; lp-norms' DLN runs include dln's lr-1e-6 runs.
    assert.equal(jobsFor(scale, ["ics", "loss-variation"]).length, icsJobs(scale).length);
    const dlnKeys = new Set(dlnJobs(scale).map(canonicalJson));
    const shared = lpNormsJobs(scale).dln.filter((job) => dlnKeys.has(canonicalJson(job)));
    assert.ok(shared.length > 0, `${scale}: lp-norms shares no DLN run with dln`);
    assert.equal(
      jobsFor(scale, ["dln", "lp-norms"]).length,
      dlnJobs(scale).length + lpNormsJobs(scale).vgg.length + lpNormsJobs(scale).dln.length -
        shared.length,
    );
  }
});

async function jobsCli(args: string[], runsDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../scripts/jobs.ts", import.meta.url).pathname, ...args],
    env: { BN_RUNS_DIR: runsDir, NO_COLOR: "1", BN_BACKEND: "wasm" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, out: text.decode(out.stdout) + text.decode(out.stderr) };
}

Deno.test("scripts/jobs.ts computes a figure's runs into the store and refuses bad input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = await jobsCli(["--only", "nope"], `${dir}/runs`);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /unknown figure "nope", expected one of training, ics/);
    const badMinutes = await jobsCli(["--minutes", "0"], `${dir}/runs`);
    assert.equal(badMinutes.code, 2);
    assert.match(badMinutes.out, /--minutes must be a positive number, got "0"/);
    const run = await jobsCli(["--scale", "smoke", "--only", "dln"], `${dir}/runs`);
    assert.equal(run.code, 0, run.out);
    const count = dlnJobs("smoke").length;
    assert.match(run.out, new RegExp(`\\[${count}/${count}\\] [0-9a-f]{16} finished`));
    const list = await jobsCli(["--scale", "smoke", "--only", "dln", "--list"], `${dir}/runs`);
    assert.equal(list.code, 0, list.out);
    assert.equal(list.out.match(/ finished /g)?.length, count);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
