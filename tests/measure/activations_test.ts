import * as tf from "@tensorflow/tfjs";
import {
  deepStrictEqual,
  notDeepStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import {
  activationStats,
  activationSummary,
  DEFAULT_QUANTILES,
  layerMoments,
  momentDrift,
  pickUnits,
} from "../../lib/measure/activations.ts";
import { assertClose, useCpu } from "./_helpers.ts";

await useCpu();

/**
 * A conv-shaped activation [N=2, H=2, W=2, C=3]: 8 positions per unit, position
 * p = (n * 2 + h) * 2 + w, entry [n, h, w, c] at flat index p * 3 + c.
 * Unit 0: the numbers 1..8 in scrambled order; unit 1: constant 5; unit 2: one 10, seven 0.
 */
const UNIT0 = [5, 2, 8, 1, 7, 3, 6, 4];
const UNIT2 = [0, 0, 0, 10, 0, 0, 0, 0];
const CONV_VALUES = UNIT0.flatMap((v, p) => [v, 5, UNIT2[p]!]);

/** Hand-computed truth for the conv activation. */
const QUANTILES = [0, 0.1, 0.25, 0.5, 0.9, 0.95, 1];
const EXPECTED = [
  // Sorted 1..8: Q(p) = 1 + 7p. Population variance of 1..n is (n^2 - 1) / 12 = 63 / 12.
  { unit: 0, mean: 4.5, variance: 5.25, quantiles: [1, 1.7, 2.75, 4.5, 7.3, 7.65, 8] },
  { unit: 1, mean: 5, variance: 0, quantiles: [5, 5, 5, 5, 5, 5, 5] },
  // Sorted 0 x7, 10: h = 7p; p = 0.9 gives h = 6.3, so 0 + 0.3 * 10; p = 0.95 gives 6.5.
  // Variance: E[x^2] - mean^2 = 100 / 8 - 1.25^2.
  { unit: 2, mean: 1.25, variance: 10.9375, quantiles: [0, 0, 0, 0, 3, 6.5, 10] },
];

function assertStats(
  actual: { unit: number; mean: number; variance: number; quantiles: number[] },
  expected: { unit: number; mean: number; variance: number; quantiles: number[] },
): void {
  const what = `unit ${expected.unit}`;
  strictEqual(actual.unit, expected.unit);
  assertClose(actual.mean, expected.mean, { abs: 1e-12 }, `${what} mean`);
  assertClose(actual.variance, expected.variance, { abs: 1e-12 }, `${what} variance`);
  strictEqual(actual.quantiles.length, expected.quantiles.length);
  actual.quantiles.forEach((q, k) =>
    assertClose(q, expected.quantiles[k]!, { abs: 1e-12 }, `${what} quantile ${k}`)
  );
}

Deno.test("activationStats() matches hand-computed moments and type-7 quantiles", async (t) => {
  await t.step("conv activation [N, H, W, C]", async () => {
    const x = tf.tensor4d(CONV_VALUES, [2, 2, 2, 3]);
    const before = tf.memory().numTensors;
    const stats = await activationStats(x, { units: [2, 0, 1], quantiles: QUANTILES });
    strictEqual(tf.memory().numTensors, before);
    assertStats(stats[0]!, EXPECTED[2]!);
    assertStats(stats[1]!, EXPECTED[0]!);
    assertStats(stats[2]!, EXPECTED[1]!);
    x.dispose();
  });
  await t.step("dense activation [N, C]", async () => {
    const x = tf.tensor2d([[9, 2], [9, 4], [9, 4], [9, 6]]);
    const [stats] = await activationStats(x, { units: [1], quantiles: [0.25, 0.5] });
    // [2, 4, 4, 6]: mean 4, variance (4 + 0 + 0 + 4) / 4; h = 0.75 gives 2 + 0.75 * 2.
    assertStats(stats!, { unit: 1, mean: 4, variance: 2, quantiles: [3.5, 4] });
    x.dispose();
  });
  await t.step("default quantiles run from the minimum to the maximum", async () => {
    const x = tf.tensor4d(CONV_VALUES, [2, 2, 2, 3]);
    const [stats] = await activationStats(x, { units: [0] });
    strictEqual(stats!.quantiles.length, DEFAULT_QUANTILES.length);
    strictEqual(stats!.quantiles[0], 1);
    strictEqual(stats!.quantiles.at(-1), 8);
    strictEqual(stats!.quantiles[4], 4.5); // median
    x.dispose();
  });
  await t.step("invalid input", async () => {
    const x = tf.tensor2d([[1, 2]]);
    const flat = tf.tensor1d([1, 2]);
    await rejects(activationStats(x, { units: [2] }), RangeError);
    await rejects(activationStats(x, { units: [-1] }), RangeError);
    await rejects(activationStats(x, { units: [0], quantiles: [1.5] }), RangeError);
    await rejects(activationStats(flat, { units: [0] }), TypeError);
    tf.dispose([x, flat]);
  });
});

Deno.test("layerMoments() matches the per-unit mean and population variance", async () => {
  const x = tf.tensor4d(CONV_VALUES, [2, 2, 2, 3]);
  const before = tf.memory().numTensors;
  const moments = await layerMoments(x);
  strictEqual(tf.memory().numTensors, before);
  strictEqual(moments.mean.length, 3);
  EXPECTED.forEach((e, j) => {
    assertClose(moments.mean[j]!, e.mean, { abs: 1e-6 }, `mean ${j}`);
    assertClose(moments.variance[j]!, e.variance, { abs: 1e-5 }, `variance ${j}`);
  });
  x.dispose();
});

Deno.test("momentDrift() returns step-to-step moment changes", () => {
  const drift = momentDrift([
    { mean: [0, 1, 2], variance: [1, 4, 0] },
    { mean: [0.5, 0, 2], variance: [2, 4, 1] },
    { mean: [0.5, 3, 1], variance: [2, 1, 1] },
  ]);
  deepStrictEqual(drift.meanChange, [[0.5, 1, 0], [0, 3, 1]]);
  deepStrictEqual(drift.varianceChange, [[1, 0, 1], [0, 3, 0]]);
  deepStrictEqual(drift.meanChangeAverage, [0.5, 4 / 3]);
  deepStrictEqual(drift.varianceChangeAverage, [2 / 3, 1]);
  // Step 0 leaves out unit 2 (variance 0): (0.5 / 1 + 1 / 2) / 2; step 1: (0 + 3 / 2 + 1) / 3.
  deepStrictEqual(drift.meanChangeScaledAverage, [0.5, 2.5 / 3]);
  // Step 0: (1 / 1 + 0 / 4) / 2; step 1: (0 / 2 + 3 / 4 + 0 / 1) / 3.
  deepStrictEqual(drift.varianceChangeRelativeAverage, [0.5, 0.25]);

  const constant = momentDrift([
    { mean: [1], variance: [0] },
    { mean: [1], variance: [0] },
  ]);
  deepStrictEqual(constant.meanChangeScaledAverage, [NaN]);
  deepStrictEqual(momentDrift([{ mean: [1], variance: [1] }]).meanChange, []);
  deepStrictEqual(momentDrift([]).meanChangeAverage, []);
  throws(
    () => momentDrift([{ mean: [1], variance: [1] }, { mean: [1, 2], variance: [1, 1] }]),
    RangeError,
  );
});

Deno.test("pickUnits() is deterministic: evenly spaced or seeded", () => {
  deepStrictEqual(pickUnits(64, { count: 4 }), [8, 24, 40, 56]);
  deepStrictEqual(pickUnits(10, { count: 1 }), [5]);
  deepStrictEqual(pickUnits(3, { count: 3 }), [0, 1, 2]);
  const seeded = pickUnits(512, { count: 6, seed: 7 });
  deepStrictEqual(pickUnits(512, { count: 6, seed: 7 }), seeded);
  strictEqual(new Set(seeded).size, 6);
  ok(
    seeded.every((u, k) =>
      Number.isInteger(u) && u >= 0 && u < 512 && (k === 0 || u > seeded[k - 1]!)
    ),
  );
  notDeepStrictEqual(pickUnits(512, { count: 6, seed: 8 }), seeded);
  throws(() => pickUnits(4, { count: 5 }), RangeError);
  throws(() => pickUnits(4, { count: 0 }), RangeError);
  throws(() => pickUnits(0, { count: 1 }), RangeError);
});

Deno.test("activationSummary() combines picked-unit stats and all-unit moments", async () => {
  const x = tf.tensor4d(CONV_VALUES, [2, 2, 2, 3]);
  const before = tf.memory().numTensors;
  const summary = await activationSummary(x, { quantiles: QUANTILES }); // 4 > 3 units: all
  strictEqual(tf.memory().numTensors, before);
  summary.units.forEach((stats, j) => assertStats(stats, EXPECTED[j]!));
  deepStrictEqual(summary.moments, await layerMoments(x));
  const seeded = await activationSummary(x, { count: 2, seed: 3 });
  deepStrictEqual(seeded.units.map((s) => s.unit), pickUnits(3, { count: 2, seed: 3 }));
  x.dispose();
});
