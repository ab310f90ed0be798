import assert from "node:assert/strict";
import { divergedLabel, finiteMedian } from "../../lib/experiments/analysis.ts";
import {
  icsJobs,
  icsRows,
  icsScaleNote,
  VGG_MEASURE_CONFIGS,
  vggMeasureJob,
} from "../../lib/experiments/ics.ts";
import { jobId, validateJob } from "../../lib/run/job.ts";
import { icsFigure } from "../../lib/figures/ics.ts";
import { renderSvg } from "../../lib/figures/render.ts";
import { SCALES } from "../../lib/scale.ts";
import type { IcsResult } from "../../lib/measure/ics.ts";
import { createNetwork } from "../../lib/models/mod.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";
import { fakeRecord } from "./_records.ts";

function ics(step: number, values: [number, number, number][]): MeasurementLine {
  // [layer, l2, cosine]; norms are set so that ||G|| = 2 * l2 (checked below).
  const results: IcsResult[] = values.map(([layer, l2, cosine]) => ({
    layer,
    l2,
    cosine,
    normG: 2 * l2,
    normGPrime: 1,
  }));
  return { step, kind: "ics", values: results };
}

Deno.test("icsJobs() gives valid jobs at every scale, 3+ seeds where a verdict rests on them", () => {
  for (const scale of SCALES) {
    const config = VGG_MEASURE_CONFIGS[scale];
    const jobs = icsJobs(scale);
    for (const job of jobs) validateJob(job);
    assert.equal(
      jobs.length,
      config.normalizations.length * config.learningRates.length * config.seeds.length,
    );
    if (scale !== "smoke") assert.ok(config.seeds.length >= 3, `${scale}: seeds`);
    // Every (normalization, lr, seed) once.
    const keys = jobs.map((j) =>
      `${j.network.normalization}|${j.sgd.learningRate}|${j.seeds.init}`
    );
    assert.equal(new Set(keys).size, jobs.length);
  }
});

Deno.test("icsJobs() paper scale matches PROTOCOL.md (Fig. 3a settings and layer mapping)", () => {
  const config = VGG_MEASURE_CONFIGS.paper;
  const jobs = icsJobs("paper");
  for (const job of jobs) {
    assert.deepEqual(job.network, {
      arch: "vgg",
      normalization: job.network.normalization,
      width: 1,
    });
    assert.deepEqual(job.data, { kind: "cifar10", source: "full", batchSize: 128 });
    assert.equal(job.sgd.steps, 15_000);
    assert.equal(job.sgd.bnMomentum, 0.1);
    assert.deepEqual(job.measurements?.ics?.layers, [5, 10]);
    assert.equal(job.measurements?.ics?.learningRate, undefined, "G' uses the training lr");
  }
  assert.deepEqual([...new Set(jobs.map((j) => j.sgd.learningRate))], [0.1, 0.01]);
  assert.deepEqual(
    [...new Set(jobs.map((j) => j.network.normalization))],
    ["none", "batchnorm", "noisy-batchnorm"],
  );
  // Paper #5 -> conv5, #10 -> the second dense layer of our 11-layer VGG.
  const names = createNetwork({ arch: "vgg", normalization: "none", width: 1 / 32 }).layerNames;
  assert.equal(names.length, 11);
  assert.deepEqual(config.icsLayers.map((l) => names[l - 1]), ["conv5", "dense10"]);
  // Figure 4 rides on the standard and BatchNorm runs at lr 0.1: eta in [1/2, 4] x 0.1.
  for (const job of jobs) {
    const carries = job.sgd.learningRate === 0.1 && job.network.normalization !== "noisy-batchnorm";
    assert.equal(job.measurements?.landscape !== undefined, carries);
    if (carries) {
      const etas = job.measurements!.landscape!.etas;
      assert.ok(Math.abs(etas[0]! - 0.05) < 1e-12 && Math.abs(etas.at(-1)! - 0.4) < 1e-12);
      assert.equal(etas.length, 8);
    }
  }
});

Deno.test("icsJobs() ids differ across configurations and equal vggMeasureJob's", async () => {
  const jobs = icsJobs("quick");
  const ids = await Promise.all(jobs.map(jobId));
  assert.equal(new Set(ids).size, jobs.length);
  const again = vggMeasureJob(VGG_MEASURE_CONFIGS.quick, {
    normalization: "batchnorm",
    learningRate: 0.1,
    seed: 1,
  });
  assert.ok(ids.includes(await jobId(again)));
});

Deno.test("icsScaleNote() states width, batch, steps, data and seeds", () => {
  assert.equal(
    icsScaleNote("quick"),
    "VGG width 1/8 instead of 1, batch 64 instead of 128, 400 of 15,000 steps, full CIFAR-10, " +
      "3 seeds, ICS every 25 steps",
  );
  assert.match(icsScaleNote("smoke"), /width 1\/32 .*1,000-image CIFAR-10 sample, 1 seed/);
  assert.match(
    icsScaleNote("paper"),
    /^PROTOCOL\.md settings: VGG width 1, batch 128, 15,000 steps/,
  );
});

Deno.test("finiteMedian() of finite values, null when none", () => {
  assert.equal(finiteMedian([3, 1, 2]), 2);
  assert.equal(finiteMedian([4, 1, null, 2, NaN, 3]), 2.5);
  assert.equal(finiteMedian([null, NaN]), null);
});

Deno.test("divergedLabel() names the diverged seeds and their steps", () => {
  const job = icsJobs("smoke")[0]!;
  assert.equal(divergedLabel([fakeRecord(job, []), fakeRecord(job, [])]), null);
  assert.equal(
    divergedLabel([fakeRecord(job, [], 52), fakeRecord(job, []), fakeRecord(job, [], 37)]),
    "2 of 3 seeds diverged (at steps 37, 52)",
  );
});

Deno.test("icsRows() aggregates seeds per network, lr, layer and step; marks divergence", async (t) => {
  const config = VGG_MEASURE_CONFIGS.smoke;
  const job = (normalization: "none" | "batchnorm", seed: number) =>
    vggMeasureJob(config, { normalization, learningRate: 0.1, seed });
  const records = [
    fakeRecord(job("none", 0), [
      ics(0, [[5, 0.1, 0.9], [10, 0.01, 0.99]]),
      ics(5, [[5, 0.2, 0.8], [10, 0.02, 0.98]]),
    ]),
    fakeRecord(job("none", 1), [
      ics(0, [[5, 0.3, 0.7], [10, 0.03, 0.97]]),
      ics(5, [[5, 0.4, NaN], [10, 0.04, 0.96]]),
    ]),
    // Diverged at step 3: only its step-0 measurement exists.
    fakeRecord(job("batchnorm", 0), [ics(0, [[5, 1, 0.5], [10, 0.5, 0.6]])], 3),
    fakeRecord(job("batchnorm", 1), [
      ics(0, [[5, 3, 0.1], [10, 0.7, 0.4]]),
      ics(5, [[5, 2, 0.3], [10, 0.9, 0.2]]),
    ]),
  ];
  const { rows, keyNumbers } = icsRows(records);
  const find = (normalization: string, layer: string, step: number) =>
    rows.find((r) => r.normalization === normalization && r.layer === layer && r.step === step)!;

  await t.step("rows: seed mean, min and max", () => {
    assert.equal(rows.length, 2 * 2 * 2); // networks x layers x steps
    const r = find("none", "conv5 (paper #5)", 0);
    assert.ok(Math.abs(r.l2! - 0.2) < 1e-12);
    assert.equal(r.l2Min, 0.1);
    assert.equal(r.l2Max, 0.3);
    assert.ok(Math.abs(r.cosine! - 0.8) < 1e-12);
    assert.ok(Math.abs(r.normG! - 0.4) < 1e-12);
    assert.equal(r.learningRate, "lr 0.1");
    assert.equal(r.seeds, 2);
    assert.equal(r.diverged, null);
  });

  await t.step("a NaN cosine is left out of the mean, not averaged", () => {
    const r = find("none", "conv5 (paper #5)", 5);
    assert.equal(r.cosine, 0.8);
    assert.equal(r.seeds, 1);
    assert.ok(Math.abs(r.l2! - 0.3) < 1e-12);
  });

  await t.step("a diverged seed is kept and named on every row of its network", () => {
    const r = find("batchnorm", "dense10 (paper #10)", 5);
    assert.equal(r.seeds, 1);
    assert.equal(r.l2, 0.9);
    assert.equal(r.diverged, "1 of 2 seeds diverged (at step 3)");
    assert.equal(find("batchnorm", "conv5 (paper #5)", 0).diverged, r.diverged);
  });

  await t.step("key numbers: medians over steps of seed means, l2 ratio to standard", () => {
    const key = (normalization: string, layer: string) =>
      keyNumbers.find((k) => k.normalization === normalization && k.layer === layer)!;
    // none conv5: l2 means 0.2 (step 0), 0.3 (step 5) -> median 0.25; cosine 0.8, 0.8.
    assert.ok(Math.abs(key("none", "conv5 (paper #5)").medianL2! - 0.25) < 1e-12);
    assert.ok(Math.abs(key("none", "conv5 (paper #5)").medianCosine! - 0.8) < 1e-12);
    assert.equal(key("none", "conv5 (paper #5)").l2RatioToStandard, null);
    // batchnorm conv5: l2 means 2 (step 0), 2 (step 5) -> ratio 2 / 0.25 = 8.
    assert.ok(Math.abs(key("batchnorm", "conv5 (paper #5)").l2RatioToStandard! - 8) < 1e-9);
    // batchnorm dense10: means 0.6, 0.9 -> 0.75; none dense10: 0.02, 0.03 -> 0.025; ratio 30.
    assert.ok(Math.abs(key("batchnorm", "dense10 (paper #10)").l2RatioToStandard! - 30) < 1e-9);
    assert.ok(Math.abs(key("batchnorm", "dense10 (paper #10)").medianCosine! - 0.35) < 1e-12);
  });

  await t.step("the figure compiles and renders, l2 panels on a log axis", async () => {
    const spec = icsFigure(rows);
    const panels = (spec as { concat: { layer: { encoding: { y: { scale?: unknown } } }[] }[] })
      .concat;
    assert.equal(panels.length, 4); // one lr x (l2, cosine) x 2 layers
    assert.deepEqual(panels[0]!.layer[0]!.encoding.y.scale, { type: "log" });
    assert.equal(panels[2]!.layer[0]!.encoding.y.scale, undefined);
    assert.match(await renderSvg(spec), /^<svg/);
  });
});

Deno.test("icsFigure() refuses empty rows", () => {
  assert.throws(() => icsFigure([]), RangeError);
});
