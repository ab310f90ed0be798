import assert from "node:assert/strict";
import { activationDrift } from "../../lib/experiments/activation_drift.ts";
import { lpNormsJobs } from "../../lib/experiments/lp_norms.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { fakeRecord } from "./_dln_records.ts";

/** An activations line: conv2 (layer 2), conv6 (layer 6) and dense10 (layer 10) moments. */
function activations(
  step: number,
  conv2: { mean: number[]; variance: number[] },
  conv6: { mean: number[]; variance: number[] },
): MeasurementLine {
  const layer = (n: number, moments: { mean: number[]; variance: number[] }) => ({
    layer: n,
    preNorm: { units: [], moments: { mean: [9, 9], variance: [9, 9] } },
    postNorm: { units: [], moments },
  });
  return {
    step,
    kind: "activations",
    values: [
      layer(2, conv2),
      layer(6, conv6),
      layer(10, { mean: [100, -100], variance: [1e6, 1e-6] }),
    ],
  };
}

const vggJob = (n: Normalization, seed: number) =>
  lpNormsJobs("smoke").vgg.map((j) => ({ ...j, seeds: { ...j.seeds, init: seed } }))
    .find((j) => j.network.normalization === n)!;

Deno.test("activationDrift() gives the units' relative variance and scaled mean changes", () => {
  // conv2, seed 0: variances 1 -> 2 -> 1 (changes 1/1 = 1 and 1/2 = 0.5, averaged over the two
  // identical units), means 0 -> 0.5 -> 0.5 (|d mu| / sigma: 0.5 / 1 = 0.5, then 0).
  const unit = (m: number, v: number) => ({ mean: [m, m], variance: [v, v] });
  const steady = unit(0, 4);
  const seed0 = fakeRecord(vggJob("l2", 0), [1, 1, 1], [
    activations(0, unit(0, 1), steady),
    activations(250, unit(0.5, 2), steady),
    activations(500, unit(0.5, 1), steady),
  ]);
  // Seed 1: conv2 variances 1 -> 1.5 -> 1.5 (0.5, then 0); means unchanged.
  const seed1 = fakeRecord(vggJob("l2", 1), [1, 1, 1], [
    activations(0, unit(0, 1), steady),
    activations(250, unit(0, 1.5), steady),
    activations(500, unit(0, 1.5), unit(0, Math.E ** 2)),
  ]);
  const { rows, stability } = activationDrift([seed0, seed1]);

  const conv2 = rows.filter((r) => r.layer === "conv2");
  assert.deepEqual(conv2.map((r) => r.step), [250, 500]);
  assert.deepEqual(conv2.map((r) => r.varianceDrift), [0.75, 0.25]); // (1 + 0.5) / 2, (0.5 + 0) / 2
  assert.deepEqual(conv2.map((r) => [r.varianceDriftMin, r.varianceDriftMax]), [[0.5, 1], [
    0,
    0.5,
  ]]);
  assert.deepEqual(conv2.map((r) => r.meanDrift), [0.25, 0]);
  assert.ok(rows.every((r) => r.layer !== "dense10"), "the dense layer is not normalised");

  const summary = stability.find((s) => s.layer === "conv2")!;
  assert.equal(summary.varianceDrift, 0.5); // median of 0.75 and 0.25
  assert.equal(summary.seeds, 2);
  // |ln var| at the end: conv2 ln 1 = 0 and ln 1.5; conv6 ln 4 and 2.
  assert.ok(Math.abs(summary.logVarianceEnd! - Math.log(1.5) / 2) < 1e-12);
  const conv6 = stability.find((s) => s.layer === "conv6")!;
  assert.ok(Math.abs(conv6.logVarianceEnd! - (Math.log(4) + 2) / 2) < 1e-12);
  // conv6 variances: seed 0 stays at 4 (drifts 0, 0), seed 1 goes 4 -> 4 -> e^2 (0, (e^2 - 4) / 4);
  // over seeds 0 and (e^2 - 4) / 8, whose median is (e^2 - 4) / 16.
  assert.ok(Math.abs(conv6.varianceDrift! - (Math.E ** 2 - 4) / 16) < 1e-12);
  assert.equal(conv6.meanDrift, 0);
});

Deno.test("activationDrift() gives nothing for runs without activation measurements", () => {
  const record = fakeRecord(vggJob("batchnorm", 0), [1, 1], []);
  assert.deepEqual(activationDrift([record]), { rows: [], stability: [] });
});
