import assert from "node:assert/strict";
import { validateJob } from "../../lib/run/job.ts";
import type { RunRecord } from "../../lib/run/run_job.ts";
import {
  ACTIVATION_BANDS,
  bandLabel,
  finalAccuracyTable,
  formatFinalAccuracyTable,
  formatKeyNumbers,
  type TrainingConfig,
  trainingConfig,
  trainingJobEntries,
  trainingResults,
  trainingScaleNote,
} from "../../lib/experiments/training.ts";
import { renderSvg, validateSpec } from "../../lib/figures/render.ts";
import { SCALES } from "../../lib/scale.ts";
import { trainingFigure } from "../../lib/figures/training.ts";
import { DEFAULT_QUANTILES } from "../../lib/measure/activations.ts";
import type { Normalization } from "../../lib/models/types.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";

Deno.test("trainingJobEntries() gives valid jobs, one per configuration and seed, at every scale", () => {
  for (const scale of SCALES) {
    const config = trainingConfig(scale);
    const entries = trainingJobEntries(config);
    assert.equal(entries.length, config.configurations.length * config.seeds.length, scale);
    for (const entry of entries) validateJob(entry.job);
    if (scale !== "smoke") assert.ok(config.seeds.length >= 3, `${scale}: at least 3 seeds`);
    // Every run's activation measurement covers the plotted layer.
    assert.ok(config.activations.layers.includes(config.plotLayer), scale);
  }
});

Deno.test("trainingConfig('paper') follows PROTOCOL.md", () => {
  const config = trainingConfig("paper");
  const entries = trainingJobEntries(config);
  for (const { job } of entries) {
    assert.deepEqual(job.network, {
      arch: "vgg",
      normalization: job.network.normalization,
      width: 1,
    });
    assert.deepEqual(job.data, { kind: "cifar10", source: "full", batchSize: 128 });
    assert.equal(job.sgd.steps, 15_000);
    assert.equal(job.measurements?.ics, undefined);
  }
  // Claims 1 and 2: four variants at lr 0.1, standard and BatchNorm at lr 0.5.
  assert.deepEqual(
    entries.filter((e) => e.seed === config.seeds[0]).map((e) => e.label),
    [
      "none, lr 0.1",
      "batchnorm, lr 0.1",
      "noisy-batchnorm, lr 0.1",
      "noise-only, lr 0.1",
      "none, lr 0.5",
      "batchnorm, lr 0.5",
    ],
  );
  // Activation layers #2, #9, #13 -> conv2, conv6, dense10; the figure shows conv2 (#2).
  assert.deepEqual(config.activations.layers, [2, 6, 10]);
  assert.equal(config.plotLayer, 2);
  assert.equal(trainingScaleNote("paper"), "PROTOCOL.md settings, 3 seeds");
});

Deno.test("trainingScaleNote() states what quick and smoke shrink", () => {
  assert.equal(
    trainingScaleNote("quick"),
    "VGG width 1/8, batch 32, 200 steps (paper: width 1, batch 128, 15,000), 3 seeds, " +
      "full CIFAR-10 (50,000 train, 10,000 test)",
  );
  assert.match(
    trainingScaleNote("smoke"),
    /width 1\/32, batch 16, 12 steps .* 1 seed, the 1,000-image/,
  );
});

Deno.test("bandLabel() prints symmetric bands in percent", () => {
  assert.deepEqual(ACTIVATION_BANDS.map(bandLabel), [
    "min–max",
    "6.7–93.3%",
    "15.9–84.1%",
    "30.9–69.1%",
  ]);
  assert.equal(bandLabel([0.25, 0.5]), "25.0–50.0%");
});

/** Deep equality with numbers compared to 1e-12 (moving averages carry rounding). */
function assertClose(actual: unknown, expected: unknown, path = "value"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    assert.ok(Math.abs(actual - expected) < 1e-12, `${path}: ${actual} != ${expected}`);
  } else if (Array.isArray(expected) && Array.isArray(actual)) {
    assert.equal(actual.length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertClose(actual[i], e, `${path}[${i}]`));
  } else {
    assert.deepEqual(actual, expected, path);
  }
}

/** A small config for hand-made records: no smoothing, no thinning unless asked. */
const TEST_CONFIG: TrainingConfig = {
  ...trainingConfig("smoke"),
  steps: 4,
  seeds: [0, 1],
  smoothWindow: 1,
  maxPoints: 100,
  finalWindow: 2,
  plotLayer: 2,
};

/** Quantiles 10 p of a unit, so band edges are 10x their probabilities. */
function unitStats(unit: number, offset: number) {
  return {
    unit,
    mean: 5 + offset,
    variance: 1,
    quantiles: DEFAULT_QUANTILES.map((p) => 10 * p + offset),
  };
}

function record(
  normalization: Normalization,
  learningRate: number,
  seed: number,
  metrics: { loss: number[]; accuracy: number[] },
  evals: { step: number[]; accuracy: number[] },
  measurements: MeasurementLine[] = [],
): RunRecord {
  const entry = trainingJobEntries(TEST_CONFIG).find((e) =>
    e.configuration.normalization === normalization &&
    e.configuration.learningRate === learningRate && e.seed === seed
  )!;
  const bad = metrics.loss.findIndex((l) => !Number.isFinite(l));
  const divergedAt = bad < 0 ? null : bad;
  return {
    id: "0".repeat(64),
    dir: "/nowhere",
    job: entry.job,
    status: {
      state: divergedAt === null ? "finished" : "diverged",
      step: divergedAt ?? TEST_CONFIG.steps,
      divergedAt,
      wallTime: 1,
      backend: "cpu",
      updated: "2025-01-01T00:00:00.000Z",
    },
    metrics: { step: metrics.loss.map((_, i) => i), ...metrics },
    evals,
    measurements,
    divergedAt,
    wallTime: 1,
    computedSteps: 0,
  };
}

const activationLine = (step: number, offset: number): MeasurementLine => ({
  step,
  kind: "activations",
  values: [
    { layer: 2, preNorm: { units: [] }, postNorm: { units: [unitStats(3, offset)] } },
    { layer: 6, preNorm: { units: [] }, postNorm: { units: [unitStats(1, 100)] } },
  ],
});

const RECORDS: RunRecord[] = [
  record(
    "none",
    0.1,
    0,
    { loss: [2.3, 2.2, 2.0, 1.8], accuracy: [0.1, 0.2, 0.3, 0.5] },
    { step: [2, 4], accuracy: [0.2, 0.4] },
    [activationLine(0, 0), activationLine(2, 1)],
  ),
  record("none", 0.1, 1, { loss: [2.1, 2.0, 1.6, 1.4], accuracy: [0.1, 0.3, 0.5, 0.7] }, {
    step: [2, 4],
    accuracy: [0.3, 0.6],
  }),
  record("batchnorm", 0.1, 0, { loss: [2.0, 1.5, 1.0, 0.5], accuracy: [0.2, 0.4, 0.6, 0.8] }, {
    step: [2, 4],
    accuracy: [0.5, 0.7],
  }),
  // Standard at lr 0.5: seed 0 diverges at step 2 (its last line is the non-finite loss).
  record("none", 0.5, 0, { loss: [2.3, 9.0, NaN], accuracy: [0.1, 0.1, 0.1] }, {
    step: [],
    accuracy: [],
  }),
  record("none", 0.5, 1, { loss: [2.3, 2.1, 2.0, 1.9], accuracy: [0.1, 0.2, 0.2, 0.4] }, {
    step: [2, 4],
    accuracy: [0.1, 0.3],
  }),
];

Deno.test("trainingResults() averages seeds, keeps diverged runs and marks their step", () => {
  const results = trainingResults(RECORDS, TEST_CONFIG);
  assert.deepEqual(results.configurations, ["none, lr 0.1", "batchnorm, lr 0.1", "none, lr 0.5"]);
  const curve = (configuration: string, metric: string) =>
    results.curves.filter((r) => r.configuration === configuration && r.metric === metric);
  // Mean/min/max over the two seeds, by hand.
  assertClose(curve("none, lr 0.1", "train loss").map((r) => [r.step, r.min, r.max, r.n]), [
    [0, 2.1, 2.3, 2],
    [1, 2.0, 2.2, 2],
    [2, 1.6, 2.0, 2],
    [3, 1.4, 1.8, 2],
  ]);
  assertClose(curve("none, lr 0.1", "train accuracy").map((r) => r.mean), [0.1, 0.25, 0.4, 0.6]);
  assertClose(
    curve("none, lr 0.1", "test accuracy").map((r) => [r.step, r.min, r.max]),
    [[2, 0.2, 0.3], [4, 0.4, 0.6]],
  );
  // The diverged seed counts up to step 1, not at its NaN step 2 nor after.
  assertClose(
    curve("none, lr 0.5", "train loss").map((r) => [r.step, r.n, r.mean]),
    [[0, 2, 2.3], [1, 2, 5.55], [2, 1, 2.0], [3, 1, 1.9]],
  );
  assert.deepEqual(results.divergences, [{
    configuration: "none, lr 0.5",
    seed: 0,
    step: 2,
    label: "diverged at step 2",
  }]);
});

Deno.test("trainingResults() turns the plotted layer's quantiles into bands", () => {
  const results = trainingResults(RECORDS, TEST_CONFIG);
  // Only layer 2 (not 6), only the first seed of "none, lr 0.1" has measurements.
  assert.equal(results.activations.length, 2 * ACTIVATION_BANDS.length);
  assert.deepEqual(results.plotLayer, { ours: 2, paper: 2 });
  const at2 = results.activations.filter((r) => r.step === 2);
  // Quantiles are 10 p + 1: the 15.87-84.13% band spans 2.587..9.413, the median is 6.
  const band = at2.find((r) => r.band === "15.9–84.1%")!;
  assert.equal(band.unit, "unit 3");
  assert.equal(band.configuration, "none, lr 0.1");
  assert.ok(Math.abs(band.low! - 2.587) < 1e-12 && Math.abs(band.high! - 9.413) < 1e-12);
  assert.equal(band.median, 6);
  const full = at2.find((r) => r.band === "min–max")!;
  assert.deepEqual([full.low, full.high], [1, 11]);
});

Deno.test("trainingResults() thins long curves to maxPoints, keeping the last step", () => {
  const loss = Array.from({ length: 10 }, (_, i) => 2 - i / 10);
  const long = { ...TEST_CONFIG, steps: 10, maxPoints: 4 };
  const runs = [record("batchnorm", 0.1, 0, { loss, accuracy: loss }, { step: [], accuracy: [] })];
  const steps = trainingResults(runs, long).curves.filter((r) => r.metric === "train loss")
    .map((r) => r.step);
  assert.deepEqual(steps, [0, 3, 6, 9]); // stride ceil(10 / 4) = 3
});

Deno.test("trainingResults() smooths each seed with a trailing moving average", () => {
  const smooth = { ...TEST_CONFIG, smoothWindow: 2 };
  const runs = [RECORDS[2]!]; // batchnorm: loss 2.0, 1.5, 1.0, 0.5
  const means = trainingResults(runs, smooth).curves.filter((r) => r.metric === "train loss")
    .map((r) => r.mean);
  assertClose(means, [2.0, 1.75, 1.25, 0.75]);
});

Deno.test("finalAccuracyTable() averages the last steps and the final test, beside the paper", () => {
  const rows = finalAccuracyTable(RECORDS, TEST_CONFIG);
  const none = rows[0]!;
  // Last 2 batch accuracies: seed 0 (0.3 + 0.5) / 2 = 0.4, seed 1 (0.5 + 0.7) / 2 = 0.6.
  assert.ok(Math.abs(none.trainAccuracy!.mean - 0.5) < 1e-12);
  assert.ok(Math.abs(none.trainAccuracy!.min - 0.4) < 1e-12);
  assert.ok(Math.abs(none.trainAccuracy!.max - 0.6) < 1e-12);
  assert.deepEqual(none.testAccuracy, { mean: 0.5, min: 0.4, max: 0.6, n: 2 });
  assert.equal(none.paperTestAccuracy, 0.8);
  assert.equal(rows[1]!.paperTestAccuracy, 0.83);
  // lr 0.5: the diverged seed is listed, not averaged; no paper number at lr 0.5.
  const large = rows[2]!;
  assert.deepEqual(large.divergedAt, [2]);
  assert.equal(large.seeds, 2);
  assert.deepEqual(large.testAccuracy, { mean: 0.3, min: 0.3, max: 0.3, n: 1 });
  assert.equal(large.paperTestAccuracy, null);
  const table = formatFinalAccuracyTable(rows);
  assert.match(
    table,
    /\| none, lr 0\.1 \| 2 \| 50\.0% \(40\.0–60\.0\) \| 50\.0% \(40\.0–60\.0\) \| 80% \| none \|/,
  );
  assert.match(table, /\| none, lr 0\.5 \| 2 \| 30\.0% \| 30\.0% \| — \| 1\/2 \(at step 2\) \|/);
});

Deno.test("trainingResults() key numbers: train accuracy and BatchNorm/standard loss ratios", () => {
  const numbers = trainingResults(RECORDS, TEST_CONFIG).keyNumbers;
  assert.deepEqual(numbers.steps, [0, 1, 3]); // last steps of a quarter, half, all of 4 steps
  const ratio = numbers.ratios.find((r) =>
    r.numerator === "batchnorm, lr 0.1" && r.denominator === "none, lr 0.1" && r.step === 3
  )!;
  assert.ok(Math.abs(ratio.ratio! - 0.5 / 1.6) < 1e-12); // 0.5 / mean(1.8, 1.4)
  // No noisy-BatchNorm runs: its ratio is missing, not invented.
  assert.ok(
    numbers.ratios.filter((r) => r.numerator.startsWith("noisy")).every((r) => r.ratio === null),
  );
  const lines = formatKeyNumbers(numbers);
  assert.match(
    lines[0]!,
    /^train accuracy none, lr 0\.1 +step 0: 10\.0%; step 1: 25\.0%; step 3: 60\.0%$/,
  );
  assert.ok(
    lines.some((l) => l.includes("batchnorm, lr 0.1 / none, lr 0.1") && l.includes("0.313")),
  );
});

Deno.test("trainingFigure() compiles and renders, with a rule where a run diverged", async () => {
  const results = trainingResults(RECORDS, TEST_CONFIG);
  const spec = trainingFigure(results);
  validateSpec(spec);
  const svg = await renderSvg(spec);
  assert.match(svg, /^<svg/);
  assert.ok(svg.includes("Train loss") && svg.includes("none, lr 0.5"));
  assert.ok(JSON.stringify(spec).includes('"label":"diverged at step 2"'));
  assert.throws(() => trainingFigure({ ...results, curves: [] }), RangeError);
});
