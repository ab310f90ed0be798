import * as tf from "@tensorflow/tfjs";
import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import {
  cosineSimilarity,
  dot,
  globalNorm,
  l2Distance,
  lossAndGradients,
} from "../../lib/measure/gradients.ts";
import {
  disposeParams,
  flattenParams,
  readParams,
  sgdStep,
  unflattenParams,
} from "../../lib/params.ts";
import type { Params } from "../../lib/models/types.ts";
import { assertClose, useCpu } from "./_helpers.ts";

await useCpu();

/** Two layers using all four parameter names: kernel, bias (layer 1), gamma, beta (layer 2). */
function makeParams(): Params {
  return [
    { kernel: tf.tensor2d([[1, -2], [0.5, 3]]), bias: tf.tensor1d([0.25, -1]) },
    { kernel: tf.tensor2d([[2], [-1]]), gamma: tf.tensor1d([1.5]), beta: tf.tensor1d([-0.5]) },
  ];
}

/** Host copies of makeParams(), flattened in layer then kernel/bias/gamma/beta order. */
const VALUES = {
  kernel1: [1, -2, 0.5, 3],
  bias1: [0.25, -1],
  kernel2: [2, -1],
  gamma2: [1.5],
  beta2: [-0.5],
};

/**
 * L = 1/2 sum(K1^2) + 3 sum(b1) + gamma2 * sum(K2) + beta2^2, with the hand gradients
 * dK1 = K1, db1 = 3, dK2 = gamma2, dgamma2 = sum(K2), dbeta2 = 2 beta2.
 */
function toyLoss(params: Params): tf.Scalar {
  const [l1, l2] = params as [Params[0], Params[0]];
  return tf.addN([
    tf.mul(0.5, tf.sum(tf.square(l1.kernel))),
    tf.mul(3, tf.sum(l1.bias!)),
    tf.sum(tf.mul(l2.gamma!, tf.sum(l2.kernel))),
    tf.sum(tf.square(l2.beta!)),
  ]) as tf.Scalar;
}

Deno.test("flattenParams() and unflattenParams() round-trip the structure", () => {
  const params = makeParams();
  try {
    const { tensors, slots } = flattenParams(params);
    deepStrictEqual(slots, [
      { layer: 1, name: "kernel" },
      { layer: 1, name: "bias" },
      { layer: 2, name: "kernel" },
      { layer: 2, name: "gamma" },
      { layer: 2, name: "beta" },
    ]);
    const back = unflattenParams(tensors, slots);
    strictEqual(back.length, 2);
    strictEqual(back[0]!.kernel, params[0]!.kernel);
    strictEqual(back[0]!.bias, params[0]!.bias);
    strictEqual(back[1]!.gamma, params[1]!.gamma);
    strictEqual(back[1]!.beta, params[1]!.beta);
    deepStrictEqual(Object.keys(back[0]!).sort(), ["bias", "kernel"]);
    throws(() => unflattenParams(tensors.slice(1), slots), RangeError);
    throws(() => unflattenParams(tensors.slice(1), slots.slice(1)), RangeError); // no kernel 1
  } finally {
    disposeParams(params);
  }
});

Deno.test("lossAndGradients() matches hand-derived gradients", async () => {
  const params = makeParams();
  const before = tf.memory().numTensors;
  const { loss, grads } = lossAndGradients(toyLoss, params);
  try {
    strictEqual(tf.memory().numTensors, before + 6); // loss + 5 gradients, nothing else kept
    const sumSquares = VALUES.kernel1.reduce((s, v) => s + v * v, 0);
    const expectedLoss = 0.5 * sumSquares + 3 * (0.25 - 1) + 1.5 * (2 - 1) + 0.25;
    assertClose((await loss.data())[0]!, expectedLoss, { rel: 1e-6 }, "loss");
    const got = await readParams(grads);
    const expected = [VALUES.kernel1, [3, 3], [1.5, 1.5], [1], [-1]];
    got.forEach((g, k) => deepStrictEqual(Array.from(g), expected[k]));
  } finally {
    loss.dispose();
    disposeParams(grads);
    disposeParams(params);
  }
});

Deno.test("lossAndGradients() rejects a non-scalar or disconnected loss without leaking", () => {
  const params = makeParams();
  try {
    const before = tf.memory().numTensors;
    const pair = (p: Params) => tf.stack([toyLoss(p), toyLoss(p)]) as unknown as tf.Scalar;
    throws(() => lossAndGradients(pair, params), TypeError);
    strictEqual(tf.memory().numTensors, before);
    // A loss that ignores a parameter: TensorFlow.js throws, and nothing is kept either.
    throws(() => lossAndGradients((p) => tf.sum(p[0]!.kernel) as tf.Scalar, params), Error);
    strictEqual(tf.memory().numTensors, before);
  } finally {
    disposeParams(params);
  }
});

Deno.test("sgdStep() returns W - lr * g on every tensor", async () => {
  const params = makeParams();
  const { loss, grads } = lossAndGradients(toyLoss, params);
  const stepped = sgdStep(params, grads, 0.1);
  try {
    const got = await readParams(stepped);
    const w = Object.values(VALUES);
    const g = [VALUES.kernel1, [3, 3], [1.5, 1.5], [1], [-1]];
    got.forEach((values, k) =>
      values.forEach((v, j) =>
        assertClose(v, w[k]![j]! - 0.1 * g[k]![j]!, { abs: 1e-6 }, `tensor ${k}[${j}]`)
      )
    );
    throws(() => sgdStep(params, grads, NaN), RangeError);
    throws(() => sgdStep(params, grads.slice(1), 0.1), TypeError);
  } finally {
    loss.dispose();
    disposeParams(grads);
    disposeParams(stepped);
    disposeParams(params);
  }
});

Deno.test("globalNorm() equals the plain norm, without float32 overflow or underflow", async (t) => {
  const read = async (s: tf.Scalar) => {
    const v = (await s.data())[0]!;
    s.dispose();
    return v;
  };
  await t.step("over all parameters together", async () => {
    const params = makeParams();
    const all = Object.values(VALUES).flat();
    const expected = Math.sqrt(all.reduce((s, v) => s + v * v, 0));
    assertClose(await read(globalNorm(params)), expected, { rel: 1e-6 }, "norm");
    disposeParams(params);
  });
  await t.step("entries whose squares overflow float32", async () => {
    const x = tf.tensor1d([3e20, -4e20]); // squares 1.6e41 > float32 max 3.4e38
    assertClose(await read(globalNorm(x)), 5e20, { rel: 1e-6 }, "norm");
    x.dispose();
  });
  await t.step("entries whose squares underflow float32", async () => {
    const x = tf.tensor1d([3e-25, 4e-25]); // squares 1e-49 < float32 min 1.4e-45
    assertClose(await read(globalNorm(x)), 5e-25, { rel: 1e-6 }, "norm");
    x.dispose();
  });
  await t.step("zero", async () => {
    const x = tf.zeros([3]);
    strictEqual(await read(globalNorm(x)), 0);
    x.dispose();
  });
});

Deno.test("l2Distance(), dot() and cosineSimilarity() equal plain arithmetic", async () => {
  const a = tf.tensor2d([[1, 2], [3, -4]]);
  const b = tf.tensor2d([[-2, 0.5], [1, 2]]);
  const huge = tf.mul(a, 1e25); // dot product would overflow float32; the cosine must not
  const zero = tf.zerosLike(a);
  const scalars = [
    l2Distance(a, b),
    dot(a, b),
    cosineSimilarity(a, b),
    cosineSimilarity(huge, b),
    cosineSimilarity(zero, b),
  ];
  try {
    const [distance, product, cosine, cosineHuge, cosineZero] = await Promise.all(
      scalars.map(async (s) => (await s.data())[0]!),
    );
    const x = [1, 2, 3, -4];
    const y = [-2, 0.5, 1, 2];
    const expectedDot = x.reduce((s, v, k) => s + v * y[k]!, 0);
    const normX = Math.hypot(...x);
    const normY = Math.hypot(...y);
    assertClose(distance!, Math.hypot(...x.map((v, k) => v - y[k]!)), { rel: 1e-6 }, "distance");
    assertClose(product!, expectedDot, { rel: 1e-6 }, "dot");
    assertClose(cosine!, expectedDot / (normX * normY), { rel: 1e-6 }, "cosine");
    assertClose(cosineHuge!, expectedDot / (normX * normY), { rel: 1e-6 }, "cosine, huge");
    strictEqual(cosineZero, NaN);
    throws(() => tf.tidy(() => dot(a, tf.zeros([4]))), TypeError);
  } finally {
    tf.dispose([a, b, huge, zero, ...scalars]);
  }
});
