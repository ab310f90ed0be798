import assert from "node:assert/strict";
import {
  DLN_CONFIGS,
  DLN_PAPER,
  dlnJobs,
  dlnRows,
  ICS_FLOAT32_FLOOR,
} from "../../lib/experiments/dln.ts";
import { learningRateExponent } from "../../lib/experiments/analysis.ts";
import { type TrainingJob, validateJob } from "../../lib/run/job.ts";
import { dlnFigure } from "../../lib/figures/dln.ts";
import { renderSvg } from "../../lib/figures/render.ts";
import { SCALES } from "../../lib/scale.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";
import { fakeRecord } from "./_dln_records.ts";

function ics(step: number, l2: number, cosine: number | null, normG: number): MeasurementLine {
  return { step, kind: "ics", values: [{ layer: 9, l2, cosine, normG, normGPrime: normG }] };
}

function landscape(step: number, loss: [number, number], grad: [number, number], beta: number) {
  return {
    step,
    kind: "landscape" as const,
    values: { lossRange: loss, gradientChange: grad, betaSmoothness: beta },
  };
}

Deno.test("dlnJobs() gives valid jobs at every scale", () => {
  for (const scale of SCALES) {
    const jobs = dlnJobs(scale);
    const config = DLN_CONFIGS[scale];
    assert.equal(
      jobs.length,
      config.learningRates.length * config.normalizations.length * config.seeds.length,
    );
    for (const job of jobs) assert.equal(validateJob(job), job);
    if (scale !== "smoke") assert.ok(config.seeds.length >= 3, `${scale} has at least 3 seeds`);
  }
});

Deno.test("dlnJobs('paper') follows PROTOCOL.md", () => {
  const jobs = dlnJobs("paper");
  for (const job of jobs) {
    assert.deepEqual(job.network, {
      arch: "dln",
      normalization: job.network.normalization,
      depth: 25,
      dim: 10,
    });
    assert.deepEqual(job.data, { kind: "dln", samples: 1000 });
    assert.equal(job.sgd.steps, 10_000);
    assert.deepEqual(job.measurements?.ics?.layers, [9, 17]);
  }
  assert.deepEqual([...new Set(jobs.map((j) => j.sgd.learningRate))], [1e-6, 1e-7]);
  assert.deepEqual([...new Set(jobs.map((j) => j.network.normalization))], ["none", "batchnorm"]);
  // The landscape only at lr 1e-6, eta from 1/100 to 30 x lr.
  for (const job of jobs) {
    const etas = job.measurements?.landscape?.etas;
    if (job.sgd.learningRate === 1e-7) assert.equal(etas, undefined);
    else {
      assert.ok(Math.abs(etas![0]! - 1e-8) < 1e-20);
      assert.ok(Math.abs(etas![etas!.length - 1]! - 3e-5) < 1e-17);
    }
  }
  assert.equal(DLN_PAPER.landscapeLearningRate, 1e-6);
});

Deno.test("learningRateExponent() writes short exponents", () => {
  assert.equal(learningRateExponent(1e-6), "1e-6");
  assert.equal(learningRateExponent(1e-7), "1e-7");
  assert.equal(learningRateExponent(0.1), "1e-1");
});

/** A smoke job measuring ICS of layer 9 only (the fakes carry values of that layer). */
function layer9(job: TrainingJob): TrainingJob {
  return { ...job, measurements: { ...job.measurements, ics: { every: 10, layers: [9] } } };
}

Deno.test("dlnRows() aggregates seeds, flags the float32 floor and names divergence", () => {
  const none0 = layer9(dlnJobs("smoke").find((j) => j.network.normalization === "none")!);
  const bnJob = layer9(dlnJobs("smoke").find((j) => j.network.normalization === "batchnorm")!);
  // Two seeds of the standard network at lr 1e-6 and one diverged BatchNorm run.
  const a = fakeRecord(none0, [100, 50], [
    ics(0, 2, 0.9, 1000),
    ics(10, 1e-3, null, 1000), // relative 1e-6: under the floor; cosine NaN stored as null
    landscape(0, [10, 30], [1, 5], 4),
  ]);
  const b = fakeRecord({ ...none0, seeds: { init: 7, data: 7, noise: 7 } }, [300, 70], [
    ics(0, 4, 0.7, 3000),
    ics(10, 3e-3, 0.5, 1000),
    landscape(0, [20, 60], [3, 7], 8),
  ]);
  const bn = fakeRecord(bnJob, [200, NaN], [
    ics(0, 30, 0.1, 1000),
    landscape(0, [5, 6], [1, 2], 2),
  ], { divergedAt: 1 });
  const rows = dlnRows([a, b, bn]);

  const icsNone = rows.ics.filter((r) => r.normalization === "none" && r.lr === "1e-6");
  assert.equal(icsNone.length, 2);
  assert.equal(icsNone[0]!.l2, 3);
  assert.equal(icsNone[0]!.l2Min, 2);
  assert.equal(icsNone[0]!.l2Max, 4);
  assert.ok(Math.abs(icsNone[0]!.cosine! - 0.8) < 1e-12);
  assert.ok(Math.abs(icsNone[0]!.relative! - (2 / 1000 + 4 / 3000) / 2) < 1e-15);
  assert.equal(icsNone[0]!.floor, ICS_FLOAT32_FLOOR * 2000);
  assert.equal(icsNone[0]!.atFloor, false);
  // Step 10: relative (1e-6 + 3e-6) / 2 = 2e-6 < 1e-5; the null cosine is left out, not zero.
  assert.equal(icsNone[1]!.atFloor, true);
  assert.equal(icsNone[1]!.cosine, 0.5);
  assert.equal(icsNone[1]!.seeds, 2);

  const landNone = rows.landscape.find((r) => r.normalization === "none")!;
  assert.deepEqual(
    [landNone.lossLow, landNone.lossHigh, landNone.gradientLow, landNone.gradientHigh],
    [15, 45, 2, 6],
  );
  assert.deepEqual([landNone.beta, landNone.betaMin, landNone.betaMax], [6, 4, 8]);

  // Loss: the mean over seeds; the diverged BatchNorm run keeps its rows and is named.
  const lossNone = rows.loss.filter((r) => r.normalization === "none");
  assert.deepEqual(lossNone.map((r) => r.loss), [200, 60]);
  const lossBn = rows.loss.filter((r) => r.normalization === "batchnorm");
  assert.deepEqual(lossBn.map((r) => r.loss), [200, null]);
  assert.equal(lossBn[0]!.diverged, "diverged at step 1 (seed 0)");
  assert.deepEqual(rows.key.diverged, ["diverged at step 1 (seed 0)"]);

  // Key numbers: standard / BatchNorm at step 0: width 30 / 1, grad max 6 / 2, beta 6 / 2.
  assert.deepEqual(rows.key.landscapeRatios, {
    lossVariation: 30,
    gradientPredictiveness: 3,
    betaSmoothness: 3,
  });
  const key9 = rows.key.ics.find((k) => k.lr === "1e-6" && k.layer === "#9")!;
  assert.equal(key9.l2Ratio, 10); // BatchNorm 30 / standard 3 at step 0 (the only common step)
  assert.equal(rows.key.atFloorFraction, 1 / 3);
});

Deno.test("dlnFigure() renders to SVG", async () => {
  const job = dlnJobs("smoke")[0]!;
  const record = fakeRecord(job, [100, 50], [
    ics(0, 2, 0.9, 1000),
    ics(10, 1e-4, 0.8, 1000),
    landscape(0, [10, 30], [1, 5], 4),
  ]);
  const svg = await renderSvg(dlnFigure(dlnRows([record])));
  assert.match(svg, /^<svg/);
  assert.match(svg, /float32 floor/);
});
