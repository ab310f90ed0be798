import assert from "node:assert/strict";
import { dlnJobs } from "../../lib/experiments/dln.ts";
import { jobId, validateJob } from "../../lib/run/job.ts";
import {
  LP_NORMS_CONFIGS,
  lpNormsJobs,
  lpNormsRows,
  lpNormsScaleNote,
} from "../../lib/experiments/lp_norms.ts";
import { lpNormsFigure } from "../../lib/figures/lp_norms.ts";
import { renderSvg } from "../../lib/figures/render.ts";
import { SCALES } from "../../lib/scale.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { fakeRecord } from "./_dln_records.ts";

function landscape(step: number, grad: [number, number], beta: number) {
  return {
    step,
    kind: "landscape" as const,
    values: { lossRange: [1, 2], gradientChange: grad, betaSmoothness: beta },
  };
}

Deno.test("lpNormsJobs() gives valid jobs at every scale", () => {
  for (const scale of SCALES) {
    const jobs = lpNormsJobs(scale);
    const config = LP_NORMS_CONFIGS[scale];
    assert.equal(jobs.vgg.length, 5 * config.seeds.length);
    assert.equal(jobs.dln.length, 5 * config.seeds.length);
    for (const job of [...jobs.vgg, ...jobs.dln]) assert.equal(validateJob(job), job);
    if (scale !== "smoke") assert.ok(config.seeds.length >= 3);
    assert.ok(lpNormsScaleNote(scale).length > 0);
  }
});

Deno.test("lpNormsJobs('paper') follows PROTOCOL.md", () => {
  const { vgg, dln } = lpNormsJobs("paper");
  assert.deepEqual(
    [...new Set(vgg.map((j) => j.network.normalization))],
    ["none", "batchnorm", "l1", "l2", "linf"],
  );
  for (const job of vgg) {
    assert.equal(job.network.arch, "vgg");
    assert.equal((job.network as { width: number }).width, 1);
    assert.deepEqual(job.data, { kind: "cifar10", source: "full", batchSize: 128 });
    assert.equal(job.sgd.steps, 15_000);
    assert.equal(job.sgd.learningRate, 0.1);
    const etas = job.measurements!.landscape!.etas;
    assert.ok(Math.abs(etas[0]! - 0.05) < 1e-12 && Math.abs(etas[etas.length - 1]! - 0.4) < 1e-12);
  }
  for (const job of dln) {
    assert.equal(job.sgd.steps, 10_000);
    assert.equal(job.sgd.learningRate, 1e-6);
  }
});

Deno.test("lpNormsJobs() shares the standard and BatchNorm DLN runs with figure dln", async () => {
  for (const scale of SCALES) {
    const shared = lpNormsJobs(scale).dln.filter((j) =>
      j.network.normalization === "none" || j.network.normalization === "batchnorm"
    );
    const dlnIds = new Set(await Promise.all(dlnJobs(scale).map(jobId)));
    for (const job of shared) assert.ok(dlnIds.has(await jobId(job)), `${scale} shares its runs`);
  }
});

Deno.test("lpNormsRows() compares every network with BatchNorm", () => {
  const { vgg, dln } = lpNormsJobs("smoke");
  const pick = (jobs: typeof vgg, n: Normalization) =>
    jobs.find((j) => j.network.normalization === n)!;
  const evals = (accuracy: number) => ({ evals: { step: [10], accuracy: [accuracy] } });
  const vggRecords = [
    fakeRecord(pick(vgg, "batchnorm"), [2, 1, 1], [
      landscape(0, [1, 2], 4),
      landscape(5, [1, 4], 2),
    ], evals(0.5)),
    fakeRecord(
      pick(vgg, "l1"),
      [2, 3, 1],
      [landscape(0, [1, 4], 8), landscape(5, [1, 4], 2)],
      evals(0.3),
    ),
  ];
  const dlnRecords = [
    fakeRecord(pick(dln, "batchnorm"), [100, 40], [landscape(0, [1, 10], 5)]),
    fakeRecord(pick(dln, "l1"), [100, 20], [landscape(0, [1, 5], 10)], { divergedAt: null }),
  ];
  const rows = lpNormsRows(vggRecords, dlnRecords, { smoothVggLoss: 2 });
  // Smoothed VGG loss of l1: [2, (2 + 3) / 2, (3 + 1) / 2].
  assert.deepEqual(
    rows.vggLoss.filter((r) => r.normalization === "l1").map((r) => r.loss),
    [2, 2.5, 2],
  );
  const l1 = rows.key.find((k) => k.normalization === "l1")!;
  assert.equal(l1.vggFinalLoss, 2);
  assert.equal(l1.vggTestAccuracy, 0.3);
  assert.equal(l1.vggBetaVsBatchnorm, (8 / 4 + 2 / 2) / 2);
  assert.equal(l1.vggGradientVsBatchnorm, (4 / 2 + 4 / 4) / 2);
  assert.equal(l1.dlnFinalLoss, 20);
  assert.equal(l1.dlnLossVsBatchnorm, 0.5); // l1 beats BatchNorm here
  assert.equal(l1.dlnBetaVsBatchnorm, 2);
  assert.equal(l1.dlnGradientVsBatchnorm, 0.5);
  assert.equal(l1.diverged, null);
  const bn = rows.key.find((k) => k.normalization === "batchnorm")!;
  assert.equal(bn.dlnLossVsBatchnorm, 1);
  assert.deepEqual(rows.vggAccuracy.map((r) => [r.normalization, r.accuracy]), [
    ["batchnorm", 0.5],
    ["l1", 0.3],
  ]);
});

Deno.test("lpNormsFigure() renders to SVG", async () => {
  const { vgg, dln } = lpNormsJobs("smoke");
  const rows = lpNormsRows(
    [fakeRecord(vgg[0]!, [2, 1], [landscape(0, [1, 2], 4)], {
      evals: { step: [2], accuracy: [0.2] },
    })],
    [fakeRecord(dln[0]!, [100, 40], [landscape(0, [1, 10], 5)])],
  );
  const svg = await renderSvg(lpNormsFigure(rows));
  assert.match(svg, /^<svg/);
  assert.match(svg, /test accuracy/);
});
