import * as tf from "@tensorflow/tfjs";
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { lossAndGradients } from "../../lib/measure/gradients.ts";
import { disposeParams, readParams } from "../../lib/params.ts";
import {
  DLN_ETA_GRID,
  etaGrid,
  measureLandscape,
  VGG_ETA_GRID,
} from "../../lib/measure/landscape.ts";
import type { Params } from "../../lib/models/types.ts";
import {
  assertClose,
  dotAll,
  matmul,
  type Matrix,
  norm,
  randomMatrix,
  transpose,
  useCpu,
} from "./_helpers.ts";

await useCpu();

/**
 * A quadratic L(w) = 1/2 w' A w over w = (layer 1 kernel [2, 2], layer 1 bias [1], layer 2
 * kernel [3, 1]) flattened to 8 entries, with A = B'B + I symmetric positive definite. Then
 * g = A w, L(w - eta g) = 1/2 (w - eta g)' A (w - eta g) and
 * ||grad L(w) - grad L(w - eta g)|| / ||eta g|| = ||A g|| / ||g|| for every eta.
 */
const DIM = 8;
const B = randomMatrix(DIM, DIM, 11);
const A: Matrix = matmul(transpose(B), B).map((row, i) =>
  row.map((v, j) => Math.fround(v + (i === j ? 1 : 0)))
);
const W: Matrix = randomMatrix(DIM, 1, 12); // column vector [8, 1]

function makeParams(): Params {
  const w = W.flat();
  return [
    { kernel: tf.tensor2d(w.slice(0, 4), [2, 2]), bias: tf.tensor1d(w.slice(4, 5)) },
    { kernel: tf.tensor2d(w.slice(5, 8), [3, 1]) },
  ];
}

/** The quadratic with tf ops: the parameters flattened in the same order as W. */
function makeLossFn(a: tf.Tensor2D): (params: Params) => tf.Scalar {
  return (params) => {
    const [l1, l2] = params as [Params[0], Params[0]];
    const w = tf.concat([
      tf.reshape(l1.kernel, [-1]),
      tf.reshape(l1.bias!, [-1]),
      tf.reshape(l2.kernel, [-1]),
    ]); // [8]
    const aw = tf.matMul(a, tf.reshape(w, [DIM, 1])); // [8, 1]
    return tf.mul(0.5, tf.sum(tf.mul(tf.reshape(w, [DIM, 1]), aw))) as tf.Scalar;
  };
}

/** 1/2 v' A v in float64. */
function quadratic(v: Matrix): number {
  return 0.5 * dotAll(v, matmul(A, v));
}

Deno.test("measureLandscape() matches the closed form on a quadratic", async () => {
  const a = tf.tensor2d(A);
  const params = makeParams();
  // eta * lambda_max(A) from ~0.09 to ~0.7: large enough to see, small enough for float32.
  const etas = etaGrid(0.005, VGG_ETA_GRID);
  try {
    const result = await measureLandscape(makeLossFn(a), params, { etas });
    const g = matmul(A, W);
    const ag = matmul(A, g);
    const smoothness = norm(ag) / norm(g); // ||A g|| / ||g||
    assertClose(result.loss, quadratic(W), { rel: 1e-5 }, "L(W)");
    assertClose(result.gradientNorm, norm(g), { rel: 1e-5 }, "||g||");
    deepStrictEqual(result.points.map((p) => p.eta), etas);
    const losses = etas.map((eta) => quadratic(W.map((row, i) => [row[0]! - eta * g[i]![0]!])));
    result.points.forEach((point, k) => {
      const eta = etas[k]!;
      assertClose(point.loss, losses[k]!, { rel: 1e-5 }, `loss at eta ${eta}`);
      assertClose(point.gradientChange, eta * norm(ag), { rel: 1e-3 }, `change at eta ${eta}`);
      assertClose(point.smoothness, smoothness, { rel: 1e-3 }, `smoothness at eta ${eta}`);
    });
    assertClose(result.lossRange[0], Math.min(...losses), { rel: 1e-5 }, "min loss");
    assertClose(result.lossRange[1], Math.max(...losses), { rel: 1e-5 }, "max loss");
    ok(result.lossRange[1] > result.lossRange[0] * 1.01, "the range must not be trivial");
    assertClose(result.gradientChange[0], etas[0]! * norm(ag), { rel: 1e-3 }, "min change");
    assertClose(result.gradientChange[1], etas.at(-1)! * norm(ag), { rel: 1e-3 }, "max change");
    assertClose(result.betaSmoothness, smoothness, { rel: 1e-3 }, "beta-smoothness");
  } finally {
    a.dispose();
    disposeParams(params);
  }
});

Deno.test("measureLandscape() keeps params bitwise and leaks nothing", async () => {
  const a = tf.tensor2d(A);
  const params = makeParams();
  const lossFn = makeLossFn(a);
  const etas = [0.01, 0.02];
  try {
    const before = await readParams(params);
    await measureLandscape(lossFn, params, { etas }); // warm-up
    const tensors = tf.memory().numTensors;
    await measureLandscape(lossFn, params, { etas });
    strictEqual(tf.memory().numTensors, tensors);
    deepStrictEqual(await readParams(params), before);
    await rejects(measureLandscape(lossFn, params, { etas: [] }), RangeError);
    await rejects(measureLandscape(lossFn, params, { etas: [0.1, 0] }), RangeError);
    strictEqual(tf.memory().numTensors, tensors);
  } finally {
    a.dispose();
    disposeParams(params);
  }
});

Deno.test("measureLandscape() gives the same result with precomputed gradients", async () => {
  const a = tf.tensor2d(A);
  const params = makeParams();
  const lossFn = makeLossFn(a);
  const { loss, grads } = lossAndGradients(lossFn, params);
  const etas = [0.01, 0.03];
  try {
    const expected = await measureLandscape(lossFn, params, { etas });
    deepStrictEqual(await measureLandscape(lossFn, params, { etas, gradients: grads }), expected);
    ok(grads.every((g) => !g.kernel.isDisposed));
    await rejects(
      measureLandscape(lossFn, params, { etas, gradients: grads.slice(1) }),
      TypeError,
    );
  } finally {
    tf.dispose([a, loss]);
    disposeParams(grads);
    disposeParams(params);
  }
});

Deno.test("etaGrid() spaces step sizes linearly or geometrically, ends exact", async (t) => {
  await t.step("VGG default: 1/2 .. 4 x lr, linear", () => {
    const etas = etaGrid(0.1, VGG_ETA_GRID);
    strictEqual(etas.length, 8);
    etas.forEach((eta, k) => assertClose(eta, 0.05 * (k + 1), { rel: 1e-12 }, `eta ${k}`));
    strictEqual(etas[0], 0.5 * 0.1);
    strictEqual(etas[7], 4 * 0.1);
  });
  await t.step("DLN default: 1/100 .. 30 x lr, log", () => {
    const etas = etaGrid(1e-6, DLN_ETA_GRID);
    strictEqual(etas.length, 8);
    strictEqual(etas[0], 0.01 * 1e-6);
    strictEqual(etas[7], 30 * 1e-6);
    const ratio = 3000 ** (1 / 7);
    for (let k = 1; k < 8; k++) {
      assertClose(etas[k]! / etas[k - 1]!, ratio, { rel: 1e-12 }, `ratio ${k}`);
    }
  });
  await t.step("one point and invalid ranges", () => {
    deepStrictEqual(etaGrid(2, { from: 3, to: 3, count: 1, spacing: "log" }), [6]);
    throws(() => etaGrid(0, VGG_ETA_GRID), RangeError);
    throws(() => etaGrid(0.1, { ...VGG_ETA_GRID, from: 0 }), RangeError);
    throws(() => etaGrid(0.1, { ...VGG_ETA_GRID, to: 0.1 }), RangeError);
    throws(() => etaGrid(0.1, { ...VGG_ETA_GRID, count: 1 }), RangeError);
    throws(() => etaGrid(0.1, { ...VGG_ETA_GRID, count: 2.5 }), RangeError);
  });
});
