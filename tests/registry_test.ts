import assert from "node:assert/strict";
import {
  EXPERIMENTS,
  FIGURE_STEMS,
  figureJobs,
  type FigureStem,
  filedScale,
  jobsFiledUnder,
  jobsFor,
  registeredFigure,
  STORED_FIGURES,
} from "../lib/registry.ts";
import { dlnJobs } from "../lib/experiments/dln.ts";
import { icsJobs } from "../lib/experiments/ics.ts";
import { canonicalJson, validateJob } from "../lib/run/job.ts";
import { lpNormsJobs } from "../lib/experiments/lp_norms.ts";
import { type Scale, SCALES } from "../lib/scale.ts";
import { runFigure } from "../lib/run_figure.ts";

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
    args: ["run", "-A", new URL("../scripts/jobs.ts", import.meta.url).pathname, ...args],
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
    assert.match(
      bad.out,
      /unknown figure "nope", expected one of dln, ics-definitions, lp-norms, training/,
    );
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
    assert.match(list.out, new RegExp(`scale smoke, ${count} runs: ${count} finished\n`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scripts/jobs.ts --workers runs each job in a child process under the parent's lock", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = await jobsCli(["--workers", "0"], `${dir}/runs`);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /--workers must be a positive integer, got "0"/);
    const count = dlnJobs("smoke").length;
    const run = await jobsCli(
      ["--scale", "smoke", "--only", "dln", "--workers", "2"],
      `${dir}/runs`,
    );
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, new RegExp(`${count} runs, ${count} to compute by 2 workers`));
    assert.match(run.out, new RegExp(`${count} of ${count} runs computed, 0 failed`));
    assert.match(run.out, /^w1 [0-9a-f]{16} finished \(dln/m);
    assert.match(run.out, /^w2 [0-9a-f]{16} finished \(dln/m);
    const names: string[] = [];
    for await (const e of Deno.readDir(`${dir}/runs`)) names.push(e.name);
    assert.equal(names.length, count, "one folder per run, and the lock freed");
    const again = await jobsCli(
      ["--scale", "smoke", "--only", "dln", "--workers", "2"],
      `${dir}/runs`,
    );
    assert.match(again.out, /0 to compute by 2 workers/);
    // A worker started by hand (its parent holds no lock) refuses to write.
    const lone = await jobsCli(
      ["--scale", "smoke", "--only", "dln", "--run", names[0]!],
      `${dir}/runs`,
    );
    assert.equal(lone.code, 1);
    assert.match(
      lone.out,
      /Cannot open result store as a worker: lock file .* must name the parent/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the schedule scale: 36 VGG runs on PROTOCOL.md's schedule, shared by every VGG figure", () => {
  // ics-definitions keeps its long-scale runs (its own figure, not PROTOCOL.md's VGG runs).
  const figures = STORED_FIGURES.filter((f) => f !== "ics-definitions");
  const vgg = jobsFor("schedule", figures).filter(({ job }) => job.network.arch === "vgg");
  assert.equal(vgg.length, 36); // 12 configurations x 3 seeds
  for (const { job } of vgg) {
    assert.equal(job.data.kind === "cifar10" && job.data.source, "full");
    assert.equal(job.data.kind === "cifar10" && job.data.batchSize, 128);
    assert.equal(job.sgd.steps, 15_000);
    assert.equal(job.network.arch === "vgg" && job.network.width, 1 / 4);
    assert.deepEqual(Object.keys(job.measurements ?? {}).sort(), [
      "activations",
      "ics",
      "landscape",
    ]);
  }
  assert.deepEqual([...new Set(vgg.map(({ job }) => job.seeds.init))].sort(), [0, 1, 2]);
  assert.deepEqual([...new Set(vgg.map(({ job }) => job.sgd.learningRate))].sort(), [
    0.01,
    0.1,
    0.5,
  ]);
  const keys = new Set(vgg.map(({ job }) => canonicalJson(job)));
  const vggOf = (figure: FigureStem) =>
    figureJobs(figure, "schedule").filter((job) => job.network.arch === "vgg");
  for (const figure of ["training", "ics", "loss-variation", "lp-norms"] as const) {
    for (const job of vggOf(figure)) assert.ok(keys.has(canonicalJson(job)), figure);
  }
  // The lr-0.1 standard and BatchNorm runs carry training, ICS, landscape and l_p together.
  const landscape = vggOf("loss-variation");
  assert.equal(landscape.length, 6);
  const training = new Set(vggOf("training").map(canonicalJson));
  const lp = new Set(vggOf("lp-norms").map(canonicalJson));
  for (const job of landscape) {
    assert.equal(job.sgd.learningRate, 0.1);
    assert.ok(training.has(canonicalJson(job)) && lp.has(canonicalJson(job)));
  }
});

Deno.test("scripts/jobs.ts --workers stops its children on SIGTERM and starts no further run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../scripts/jobs.ts", import.meta.url).pathname,
        ...["--scale", "smoke", "--only", "dln", "--only", "lp-norms", "--workers", "2"],
      ],
      env: { BN_RUNS_DIR: `${dir}/runs`, NO_COLOR: "1", BN_BACKEND: "wasm" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    // Signal once the first worker has said something (its run is under way).
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    let out = "";
    let signalled = false;
    for await (const chunk of lines) {
      out += chunk;
      if (!signalled && /^w1 /m.test(out)) {
        child.kill("SIGTERM");
        signalled = true;
      }
    }
    const status = await child.status;
    assert.equal(status.code, 0, out);
    assert.match(
      out,
      /stopped by a signal; the runs in progress resume from their last checkpoint/,
    );
    assert.doesNotMatch(out, /failed/);
    const count = Number(out.match(/(\d+) to compute by 2 workers/)?.[1]);
    assert.ok(count > 4, out);
    let finished = 0;
    for await (const e of Deno.readDir(`${dir}/runs`)) {
      const status = await Deno.readTextFile(`${dir}/runs/${e.name}/status.json`).catch(() => "");
      if (status.includes('"finished"')) finished++;
    }
    assert.ok(finished < count, `${finished} of ${count} runs finished after the signal`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("registry: every figure names its experiment, the landscape's three share one", () => {
  assert.deepEqual(
    [...STORED_FIGURES],
    FIGURE_STEMS.filter((stem) => stem !== "example" && stem !== "instrument"),
  );
  const landscape = ["loss-variation", "gradient-predictiveness", "beta-smoothness"] as const;
  for (const stem of landscape) assert.equal(EXPERIMENTS[stem].experiment.name, "landscape");
  for (const stem of FIGURE_STEMS.filter((s) => !(landscape as readonly string[]).includes(s))) {
    assert.equal(EXPERIMENTS[stem].experiment.name, stem, `${stem}: results file name`);
  }
  assert.throws(() => registeredFigure("nope"), /Unknown figure "nope": expected one of dln/);
});

Deno.test("a figure is filed under a scale only where its settings are that scale's own", () => {
  const same = (figure: FigureStem, a: Scale, b: Scale) => {
    const { experiment } = EXPERIMENTS[figure];
    return canonicalJson(experiment.config(a)) === canonicalJson(experiment.config(b)) &&
      canonicalJson(experiment.jobs(a)) === canonicalJson(experiment.jobs(b)) &&
      experiment.scaleNote(a) === experiment.scaleNote(b);
  };
  for (const figure of FIGURE_STEMS) {
    for (const scale of SCALES) {
      const filed = filedScale(figure, scale);
      // The borrowed scale has exactly the settings, runs and words of the requested one.
      assert.ok(same(figure, scale, filed), `${figure} at ${scale} filed as ${filed}`);
      assert.equal(filedScale(figure, filed), filed, `${figure}: ${filed} is filed as itself`);
    }
    // Beyond smoke (the tests' own scale), scales with the same settings are filed together,
    // so that no figure is labelled with a scale whose settings it does not have of its own.
    const beyondSmoke = SCALES.filter((s) => s !== "smoke");
    for (const a of beyondSmoke) {
      for (const b of beyondSmoke) {
        if (same(figure, a, b)) {
          assert.equal(filedScale(figure, a), filedScale(figure, b), `${figure}: ${a} vs ${b}`);
        }
      }
    }
  }
  assert.equal(filedScale("dln", "schedule"), "paper");
  assert.equal(filedScale("ics-definitions", "schedule"), "long");
  assert.equal(filedScale("example", "paper"), "quick");
  assert.equal(filedScale("ics", "schedule"), "schedule");
});

Deno.test("runFigure() at a borrowed scale makes and labels the figure of the scale it borrows", async () => {
  const lines: string[] = [];
  const out = await runFigure("example", {
    scale: "paper",
    write: false,
    backend: "cpu",
    log: (line) => lines.push(line),
  });
  assert.equal(out.scale, "quick");
  assert.equal(out.provenance.scale, "quick");
  assert.ok(lines.some((l) => l.includes("has no paper settings of its own")), lines.join("\n"));
});

Deno.test("jobsFiledUnder() keeps a scale's own runs and leaves out those it only borrows", () => {
  const all = jobsFor("schedule", ["dln", "lp-norms", "ics-definitions", "ics"]);
  const own = jobsFiledUnder("schedule", all);
  const keys = new Set(own.map(({ job }) => canonicalJson(job)));
  // dln's paper runs and ics-definitions' long runs are not schedule runs...
  const dlnOnly = all.filter(({ figures }) => figures.length === 1 && figures[0] === "dln");
  assert.ok(dlnOnly.length > 0);
  for (const { job } of dlnOnly) assert.ok(!keys.has(canonicalJson(job)), "dln-only run kept");
  for (const job of figureJobs("ics-definitions", "schedule")) {
    assert.ok(!keys.has(canonicalJson(job)), "ics-definitions run kept");
  }
  // ...but a dln run that lp-norms (filed under schedule) shares is, as is every ics run.
  for (const job of [...figureJobs("lp-norms", "schedule"), ...figureJobs("ics", "schedule")]) {
    assert.ok(keys.has(canonicalJson(job)), "a schedule run left out");
  }
  assert.equal(own.length, jobsFor("schedule", ["lp-norms", "ics"]).length);
  assert.deepEqual(jobsFiledUnder("quick", jobsFor("quick")), jobsFor("quick"));
});
