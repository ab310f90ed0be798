import assert from "node:assert/strict";
import { icsJobs, VGG_MEASURE_CONFIGS, vggMeasureJob } from "../../lib/experiments/ics.ts";
import { jobId, validateJob } from "../../lib/run/job.ts";
import {
  LANDSCAPE_CONFIGS,
  landscapeJobs,
  landscapeRows,
  landscapeScaleNote,
} from "../../lib/experiments/landscape.ts";
import { betaSmoothnessFigure } from "../../lib/figures/beta_smoothness.ts";
import { gradientPredictivenessFigure } from "../../lib/figures/gradient_predictiveness.ts";
import { lossVariationFigure } from "../../lib/figures/loss_variation.ts";
import { renderSvg } from "../../lib/figures/render.ts";
import { SCALES } from "../../lib/scale.ts";
import type { LandscapeResult } from "../../lib/measure/landscape.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";
import { fakeRecord } from "./_records.ts";

/** A landscape line with the given loss range, gradient-change range and beta-smoothness. */
function landscape(
  step: number,
  loss: [number, number],
  grad: [number, number],
  beta: number,
): MeasurementLine {
  const values: LandscapeResult = {
    loss: loss[0] + 1,
    gradientNorm: beta / 10, // any value: checked as a seed mean below
    points: [], // the rows read only the summaries
    lossRange: loss,
    gradientChange: grad,
    betaSmoothness: beta,
  };
  return { step, kind: "landscape", values };
}

Deno.test("landscapeJobs() are exactly the ics jobs of standard and BatchNorm at lr 0.1", async () => {
  for (const scale of SCALES) {
    const jobs = landscapeJobs(scale);
    for (const job of jobs) validateJob(job);
    const config = VGG_MEASURE_CONFIGS[scale];
    assert.equal(jobs.length, 2 * config.seeds.length);
    for (const job of jobs) {
      assert.equal(job.sgd.learningRate, 0.1);
      assert.ok(["none", "batchnorm"].includes(job.network.normalization));
    }
    // Same jobs, so the same run folders: the ics notebook computes them once for all four.
    const icsIds = new Set(await Promise.all(icsJobs(scale).map(jobId)));
    for (const id of await Promise.all(jobs.map(jobId))) assert.ok(icsIds.has(id), scale);
  }
});

Deno.test("landscapeJobs() paper scale: eta in [1/2, 4] x lr on the PROTOCOL.md VGG", () => {
  for (const job of landscapeJobs("paper")) {
    assert.deepEqual(job.data, { kind: "cifar10", source: "full", batchSize: 128 });
    assert.equal(job.sgd.steps, 15_000);
    assert.equal((job.network as { width: number }).width, 1);
    const etas = job.measurements!.landscape!.etas;
    const expected = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4];
    assert.equal(etas.length, expected.length);
    etas.forEach((eta, i) => assert.ok(Math.abs(eta - expected[i]!) < 1e-12, `eta ${eta}`));
  }
});

Deno.test("landscapeScaleNote() states what the scale shrinks", () => {
  assert.equal(
    landscapeScaleNote("quick"),
    "VGG width 1/8 instead of 1, batch 64 instead of 128, 400 of 15,000 steps, full CIFAR-10, " +
      "3 seeds, 8 etas, every 25 steps",
  );
  assert.match(landscapeScaleNote("paper"), /^PROTOCOL\.md settings: VGG width 1, batch 128/);
});

Deno.test("landscapeRows() band edges, seed spread, key numbers and divergence", async (t) => {
  const config = VGG_MEASURE_CONFIGS.quick;
  const job = (normalization: "none" | "batchnorm" | "noisy-batchnorm", seed: number) =>
    vggMeasureJob(config, { normalization, learningRate: 0.1, seed });
  const steps = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  // Standard: loss band [1, 1 + 0.1 (k + 1)] for seed 0, twice as wide for seed 1.
  const standard = (seed: number) =>
    fakeRecord(
      job("none", seed),
      steps.map((s, k) =>
        landscape(s, [1, 1 + (seed + 1) * 0.1 * (k + 1)], [1, 1 + 99 * (seed + 1)], 10 * (seed + 1))
      ),
    );
  // BatchNorm: every band 10x narrower; seed 1 diverged at step 55 (measurements to step 50).
  const batchnorm = (seed: number) =>
    fakeRecord(
      job("batchnorm", seed),
      steps.filter((s) => seed === 0 || s <= 50).map((s, k) =>
        landscape(s, [1, 1 + (seed + 1) * 0.01 * (k + 1)], [0.1, 0.1 + 9.9 * (seed + 1)], seed + 1)
      ),
      seed === 1 ? 55 : null,
    );
  // A noisy-BatchNorm ics run without the landscape measurement is ignored.
  const records = [
    standard(0),
    standard(1),
    batchnorm(0),
    batchnorm(1),
    fakeRecord(job("noisy-batchnorm", 0), []),
  ];
  const { rows, keyNumbers } = landscapeRows(records, LANDSCAPE_CONFIGS.quick.keyFractions);
  const row = (normalization: string, step: number) =>
    rows.find((r) => r.normalization === normalization && r.step === step)!;
  const close = (a: number | null, b: number, what: string) =>
    assert.ok(
      a !== null && Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)),
      `${what}: ${a} vs ${b}`,
    );

  await t.step("one row per network and step, edges averaged over seeds", () => {
    assert.equal(rows.length, 2 * steps.length);
    const r = row("none", 10); // k = 1: seed 0 [1, 1.2], seed 1 [1, 1.4]
    close(r.lossLow, 1, "lossLow");
    close(r.lossHigh, 1.3, "lossHigh");
    close(r.gradLow, 1, "gradLow");
    close(r.gradHigh, 149.5, "gradHigh"); // (100 + 199) / 2
    assert.equal(r.lossLowest, 1);
    close(r.lossHighest, 1.4, "lossHighest");
    assert.equal(r.gradLowest, 1);
    assert.equal(r.gradHighest, 199);
    close(r.beta, 15, "beta");
    close(r.gradNorm, 1.5, "gradNorm"); // (1 + 2) / 2
    assert.equal(r.betaMin, 10);
    assert.equal(r.betaMax, 20);
    assert.equal(r.seeds, 2);
    assert.equal(r.diverged, null);
    assert.equal(r.learningRate, "lr 0.1");
  });

  await t.step("a diverged seed is kept, named, and drops out after its divergence", () => {
    const early = row("batchnorm", 50);
    const late = row("batchnorm", 60);
    assert.equal(early.seeds, 2);
    assert.equal(late.seeds, 1);
    close(late.beta, 1, "beta after divergence: seed 0 only");
    assert.equal(late.diverged, "1 of 2 seeds diverged (at step 55)");
  });

  await t.step("key numbers at the steps nearest to 10%, 50%, 100% of the last", () => {
    assert.deepEqual(keyNumbers.map((k) => [k.phase, k.step]), [
      ["early", 10],
      ["middle", 50],
      ["late", 100],
    ]);
    const [early, middle, late] = keyNumbers;
    // Step 10 (k = 1): standard widths 0.2, 0.4 -> 0.3; BatchNorm 0.02, 0.04 -> 0.03: ratio 10.
    close(early!.lossWidthStandard, 0.3, "standard loss width");
    close(early!.lossWidthBatchnorm, 0.03, "BatchNorm loss width");
    close(early!.lossWidthRatio, 10, "loss width ratio");
    // Gradient change widths: standard (99 + 198) / 2, BatchNorm (9.9 + 19.8) / 2: ratio 10.
    close(early!.gradWidthRatio, 10, "gradient width ratio");
    close(early!.gradHighRatio, 149.5 / 14.95, "gradient upper edge ratio"); // (10 + 19.9) / 2
    close(middle!.betaRatio, 15 / 1.5, "beta ratio");
    close(middle!.gradNormStandard, 1.5, "standard ||g||");
    close(middle!.gradNormBatchnorm, 0.15, "BatchNorm ||g||");
    // Step 100: BatchNorm has seed 0 only (width 0.11); standard (1.1 + 2.2) / 2 = 1.65.
    close(late!.lossWidthBatchnorm, 0.11, "late BatchNorm width");
    close(late!.lossWidthRatio, 1.65 / 0.11, "late ratio");
    close(late!.betaRatio, 15, "late beta ratio");
  });

  await t.step("phase ratios: median, min, max of per-step ratios over each third", () => {
    // Every ratio is 10 while both BatchNorm seeds run (to step 50) and 15 after (seed 0 only).
    const { phaseRatios } = landscapeRows(records, LANDSCAPE_CONFIGS.quick.keyFractions);
    assert.deepEqual(
      phaseRatios.map((p) => [p.phase, p.fromStep, p.toStep, p.steps]),
      [["early", 0, 33, 3], ["middle", 33, 67, 3], ["late", 67, 100, 4]],
    );
    const [early, middle, late] = phaseRatios;
    for (const field of ["lossWidthRatio", "gradWidthRatio", "betaRatio"]) {
      close(early![field] as number, 10, `early ${field}`);
      close(middle![field] as number, 10, `middle ${field}: median of 10, 10, 15`);
      close(middle![`${field}Min`] as number, 10, `middle ${field} min`);
      close(middle![`${field}Max`] as number, 15, `middle ${field} max`);
      close(late![field] as number, 15, `late ${field}`);
    }
  });

  await t.step("the three figures compile and render; (b) on a log axis", async () => {
    const specs = [
      lossVariationFigure(rows),
      gradientPredictivenessFigure(rows),
      betaSmoothnessFigure(rows),
    ];
    const scales = specs.map((s) =>
      (s as { layer: { encoding: { y: { scale?: unknown } } }[] }).layer[0]!.encoding.y.scale
    );
    assert.deepEqual(scales, [undefined, { type: "log" }, undefined]);
    for (const spec of specs) assert.match(await renderSvg(spec), /^<svg/);
  });
});

Deno.test("landscapeRows() gives no key numbers without both networks, figures refuse no rows", () => {
  const job = vggMeasureJob(VGG_MEASURE_CONFIGS.smoke, {
    normalization: "none",
    learningRate: 0.1,
    seed: 0,
  });
  const { rows, keyNumbers } = landscapeRows([fakeRecord(job, [landscape(0, [1, 2], [1, 2], 3)])]);
  assert.equal(rows.length, 1);
  assert.deepEqual(keyNumbers, []);
  assert.deepEqual(landscapeRows([fakeRecord(job, [])]).phaseRatios, []);
  assert.throws(() => lossVariationFigure([]), RangeError);
  assert.throws(() => gradientPredictivenessFigure([]), RangeError);
  assert.throws(() => betaSmoothnessFigure([]), RangeError);
});
