import assert from "node:assert/strict";
import {
  ICS_DEFINITIONS,
  icsDefinitionsKeyNumbers,
  type IcsDefinitionsResult,
  icsDefinitionsRows,
  type IcsDefinitionsRun,
  icsDefinitionsRuns,
  icsDefinitionsScaleNote,
  type IcsNormalization,
  summarizeRun,
} from "../../lib/experiments/ics_definitions.ts";
import { validateJob } from "../../lib/run/job.ts";
import { icsDefinitionsFigure } from "../../lib/figures/ics_definitions.ts";
import { renderSvg } from "../../lib/figures/render.ts";
import { SCALES } from "../../lib/scale.ts";
import type { MeasurementLine } from "../../lib/store/mod.ts";

Deno.test("icsDefinitionsRuns() gives valid jobs at every scale", async (t) => {
  for (const scale of SCALES) {
    await t.step(scale, () => {
      const runs = icsDefinitionsRuns(scale);
      const c = ICS_DEFINITIONS[scale];
      // depth x learning rate x normalisation x seed
      assert.equal(runs.length, 2 * c.learningRates.length * 2 * c.seeds.length);
      for (const run of runs) validateJob(run.job);
      if (scale !== "smoke") assert.ok(c.seeds.length >= 3, "verdict needs at least 3 seeds");
      assert.ok(c.learningRates.includes(c.baselineLearningRate));
      assert.match(icsDefinitionsScaleNote(scale), /seed/);
    });
  }
});

Deno.test("icsDefinitionsRuns() at paper scale matches PROTOCOL.md", () => {
  const runs = icsDefinitionsRuns("paper");
  const deep = runs.filter((r) => r.depth === "deep");
  assert.ok(deep.length > 0);
  for (const { job } of runs) {
    assert.equal(job.sgd.steps, 15_000);
    assert.equal(job.data.kind === "cifar10" && job.data.batchSize, 128);
    assert.equal(job.data.kind === "cifar10" && job.data.source, "full");
  }
  for (const { job } of deep) {
    assert.equal(job.network.arch === "vgg" && job.network.width, 1);
    // Paper ICS layers #5, #10 -> conv5, dense10; activation layers #2, #9, #13 -> 2, 6, 10.
    assert.deepEqual(job.measurements?.ics?.layers, [5, 10]);
    assert.deepEqual(job.measurements?.activations?.layers, [2, 6, 10]);
  }
  // Only normalised layers enter the distribution view (our VGG has no norm in dense10).
  for (const run of deep) assert.deepEqual(run.driftLayers, [2, 6]);
  assert.deepEqual([...new Set(runs.map((r) => r.learningRate))].sort(), [0.01, 0.1]);
  assert.deepEqual([...new Set(runs.map((r) => r.normalization))].sort(), ["batchnorm", "none"]);
  // The ICS step size is the training step size (Def. 2.1 on the update actually taken).
  for (const { job } of runs) assert.equal(job.measurements?.ics?.learningRate, undefined);
});

/** An activations line: one layer, two units, given pre- and post-norm moments. */
function activations(step: number, pre: number[][], post: number[][]): MeasurementLine {
  return {
    step,
    kind: "activations",
    values: [{
      layer: 1,
      preNorm: { units: [], moments: { mean: pre[0]!, variance: pre[1]! } },
      postNorm: { units: [], moments: { mean: post[0]!, variance: post[1]! } },
    }],
  };
}

/** An ics line for one layer. */
function ics(step: number, l2: number, normG: number, cosine: number): MeasurementLine {
  return { step, kind: "ics", values: [{ layer: 2, l2, cosine, normG, normGPrime: normG }] };
}

Deno.test("summarizeRun() computes scale-free drift and gradient measures by hand", () => {
  const summary = summarizeRun([
    ics(0, 1, 4, 0.9),
    activations(0, [[0, 2], [1, 4]], [[0, 0], [1, 1]]),
    activations(5, [[1, 2], [4, 4]], [[0.1, 0], [1, 1.5]]),
    ics(10, 3, 4, 0.7),
    activations(10, [[1, 0], [4, 1]], [[0.1, 0], [1, 1.5]]),
  ]);
  // pre, interval 1: |1-0|/1 = 1, |2-2|/2 = 0 -> 0.5; interval 2: 0, |0-2|/2 = 1 -> 0.5.
  assert.equal(summary.meanDrift["pre-norm"], 0.5);
  // pre variance: interval 1: 3/1, 0/4 -> 1.5; interval 2: 0/4, 3/4 -> 0.375; mean 0.9375.
  assert.equal(summary.varianceDrift["pre-norm"], 0.9375);
  // post: interval 1: 0.1/1, 0 -> 0.05; interval 2: 0 -> mean 0.025.
  assert.ok(Math.abs(summary.meanDrift["post-norm"] - 0.025) < 1e-12);
  // post variance: interval 1: 0, 0.5 -> 0.25; interval 2: 0 -> 0.125.
  assert.equal(summary.varianceDrift["post-norm"], 0.125);
  assert.equal(summary.gradientChange, (0.25 + 0.75) / 2);
  // Layers outside options.layers are left out of the distribution view (none left: NaN).
  const only2 = summarizeRun([activations(0, [[0, 2], [1, 4]], [[0, 0], [1, 1]])], { layers: [2] });
  assert.ok(Number.isNaN(only2.meanDrift["pre-norm"]));
  assert.ok(Math.abs(summary.gradientAngle - (0.1 + 0.3) / 2) < 1e-12);
});

function result(
  normalization: IcsNormalization,
  seed: number,
  l2: number,
  divergedAt: number | null = null,
): IcsDefinitionsResult {
  const run: IcsDefinitionsRun = {
    depth: "shallow",
    normalization,
    learningRate: 0.01,
    seed,
    driftLayers: [1],
    job: icsDefinitionsRuns("smoke")[0]!.job,
  };
  // Mean drift post-norm = shift (pre-norm the same); gradient change = l2 / 1.
  const shift = normalization === "none" ? 1 : 0.1;
  return {
    run,
    record: {
      divergedAt,
      wallTime: 1,
      measurements: [
        activations(0, [[0, 0], [1, 1]], [[0, 0], [1, 1]]),
        activations(5, [[shift, shift], [1, 1]], [[shift, shift], [1, 1]]),
        ics(0, l2, 1, 0.5),
      ],
    },
  };
}

Deno.test("icsDefinitionsRows() pairs seeds, aggregates ratios and marks divergence", () => {
  const rows = icsDefinitionsRows([
    result("none", 0, 1),
    result("batchnorm", 0, 2),
    result("none", 1, 1),
    result("batchnorm", 1, 4),
    result("none", 2, 1, 7),
    result("batchnorm", 2, NaN),
  ]);
  // 4 measures: mean/variance drift at 2 places + 2 gradient measures, one setting.
  assert.equal(rows.length, 6);
  const change = rows.find((r) => r.measure === "gradient change")!;
  // Ratios per seed 2, 4, NaN: the NaN seed drops out of mean/min/max and is counted apart.
  assert.equal(change.ratio, 3);
  assert.equal(change.ratioMin, 2);
  assert.equal(change.ratioMax, 4);
  assert.equal(change.seeds, 2);
  assert.equal(change.setting, "MLP, η = 0.01");
  assert.equal(change.diverged, "none seed 2 diverged at step 7");
  const drift = rows.find((r) => r.measure === "mean drift" && r.where === "post-norm")!;
  assert.ok(Math.abs(drift.ratio! - 0.1) < 1e-12);
  assert.equal(drift.standard, 1);
  const angle = rows.find((r) => r.measure === "gradient angle")!;
  assert.equal(angle.ratio, 1); // 1 - cos = 0.5 for both
});

Deno.test("icsDefinitionsKeyNumbers() finds the factors that flip the conclusion", () => {
  const rows = icsDefinitionsRows([result("none", 0, 1), result("batchnorm", 0, 2)]);
  const keys = icsDefinitionsKeyNumbers(rows, {
    baselineLearningRate: 0.01,
    otherLearningRate: 0.1,
  });
  assert.equal(keys.steps[0]!.factor, "baseline");
  assert.equal(keys.steps[0]!.reduction, true); // ratio 0.1 < 1/2
  const definition = keys.steps.find((s) => s.factor === "definition")!;
  assert.equal(definition.ratio, 2);
  assert.equal(definition.flips, true);
  // Missing settings (no deep runs here) give no ratio and no flip.
  assert.equal(keys.steps.find((s) => s.factor === "depth")!.ratio, null);
  assert.deepEqual(keys.flipping, ["definition", "definition (angle)"]);
  assert.match(keys.verdict, /flips when we change: definition\b/);
});

Deno.test("icsDefinitionsFigure() compiles and renders with a log ratio axis", async () => {
  const rows = icsDefinitionsRows([
    result("none", 0, 1),
    result("batchnorm", 0, 2),
    result("none", 1, 1, 3),
    result("batchnorm", 1, 3),
  ]);
  const spec = icsDefinitionsFigure(rows);
  const svg = await renderSvg(spec);
  assert.match(svg, /^<svg/);
  assert.match(svg, /BatchNorm \/ standard/);
  assert.match(svg, /Def\. 2\.1/);
  const json = JSON.stringify(spec);
  assert.match(json, /"type":"log"/);
  assert.match(json, /"bind":"legend"/);
});
