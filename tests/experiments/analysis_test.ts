import assert from "node:assert/strict";
import { aggregateSeeds, movingAverage } from "../../lib/experiments/analysis.ts";

Deno.test("aggregateSeeds() gives mean, min, max per x and counts non-finite values apart", () => {
  const rows = aggregateSeeds([
    { x: [0, 10, 20], y: [2, 4, 6] },
    { x: [0, 10, 20], y: [4, 8, Infinity] },
    { x: [0, 10], y: [6, NaN] }, // diverged at 10, stopped
  ]);
  assert.deepEqual(rows, [
    { x: 0, mean: 4, min: 2, max: 6, n: 3, nonFinite: 0 },
    { x: 10, mean: 6, min: 4, max: 8, n: 2, nonFinite: 1 },
    { x: 20, mean: 6, min: 6, max: 6, n: 1, nonFinite: 1 },
  ]);
  assert.deepEqual(aggregateSeeds([{ x: [5], y: [NaN] }]), [
    { x: 5, mean: null, min: null, max: null, n: 0, nonFinite: 1 },
  ]);
  assert.throws(() => aggregateSeeds([{ x: [1, 2], y: [1] }]), /run 0 has 2 x values and 1 y/);
});

Deno.test("movingAverage() averages the trailing window", () => {
  assert.deepEqual(movingAverage([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(movingAverage([3, 6, 9], 5), [3, 4.5, 6]);
  assert.throws(() => movingAverage([1], 0), /window must be a positive integer, got 0/);
});
