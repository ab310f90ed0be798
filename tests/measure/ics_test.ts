import * as tf from "@tensorflow/tfjs";
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { lossAndGradients } from "../../lib/measure/gradients.ts";
import { disposeParams, readParams } from "../../lib/params.ts";
import { measureIcs } from "../../lib/measure/ics.ts";
import type { Params } from "../../lib/models/types.ts";
import {
  assertClose,
  axpy,
  columnSums,
  dotAll,
  matmul,
  type Matrix,
  norm,
  randomMatrix,
  toTensor,
  transpose,
  useCpu,
} from "./_helpers.ts";

await useCpu();

/**
 * A 3-layer linear network on a batch of N rows:
 *   z1 = X K1, h1 = z1 * gamma1 + beta1 (per unit), h2 = h1 K2 + b2, out = h2 K3,
 *   L = 1/2 ||out - Y||^2 (summed).
 * Layer 1 has kernel, gamma and beta, layer 2 kernel and bias, layer 3 only a kernel, so the
 * update of "all parameters of layers 1..i-1" exercises every parameter name.
 */
interface Net {
  k1: Matrix; // [d0, d1]
  gamma1: Matrix; // [1, d1]
  beta1: Matrix; // [1, d1]
  k2: Matrix; // [d1, d2]
  b2: Matrix; // [1, d2]
  k3: Matrix; // [d2, d3]
}

const [N, D0, D1, D2, D3] = [5, 3, 4, 3, 2];
const X = randomMatrix(N, D0, 1);
const Y = randomMatrix(N, D3, 2);
const NET: Net = {
  k1: randomMatrix(D0, D1, 3),
  gamma1: randomMatrix(1, D1, 4),
  beta1: randomMatrix(1, D1, 5),
  k2: randomMatrix(D1, D2, 6),
  b2: randomMatrix(1, D2, 7),
  k3: randomMatrix(D2, D3, 8),
};
const LR = 0.02;

/** Adds a [1, d] row to every row. */
function addRow(a: Matrix, row: Matrix): Matrix {
  return a.map((r) => r.map((v, j) => v + row[0]![j]!));
}

/** Multiplies every row by a [1, d] row, elementwise. */
function mulRow(a: Matrix, row: Matrix): Matrix {
  return a.map((r) => r.map((v, j) => v * row[0]![j]!));
}

/** Hand-derived gradients of L in float64 (backpropagation written out). */
function handGradients(net: Net): Net {
  const z1 = matmul(X, net.k1); // [N, d1]
  const h1 = addRow(mulRow(z1, net.gamma1), net.beta1); // [N, d1]
  const h2 = addRow(matmul(h1, net.k2), net.b2); // [N, d2]
  const out = matmul(h2, net.k3); // [N, d3]
  const dOut = axpy(out, -1, Y); // dL/dout = out - Y
  const dH2 = matmul(dOut, transpose(net.k3)); // [N, d2]
  const dH1 = matmul(dH2, transpose(net.k2)); // [N, d1]
  const dZ1 = mulRow(dH1, net.gamma1); // [N, d1]
  return {
    k1: matmul(transpose(X), dZ1),
    gamma1: columnSums(dH1.map((row, n) => row.map((v, j) => v * z1[n]![j]!))),
    beta1: columnSums(dH1),
    k2: matmul(transpose(h1), dH2),
    b2: columnSums(dH2),
    k3: matmul(transpose(h2), dOut),
  };
}

/** Layers 1..i-1 (all their parameters) take the SGD step with the given gradients. */
function updateBefore(net: Net, grads: Net, layer: number): Net {
  const step = (name: keyof Net, of: number) =>
    of < layer ? axpy(net[name], -LR, grads[name]) : net[name];
  return {
    k1: step("k1", 1),
    gamma1: step("gamma1", 1),
    beta1: step("beta1", 1),
    k2: step("k2", 2),
    b2: step("b2", 2),
    k3: step("k3", 3),
  };
}

function makeParams(): Params {
  return [
    {
      kernel: toTensor(NET.k1),
      gamma: toTensor(NET.gamma1, [D1]),
      beta: toTensor(NET.beta1, [D1]),
    },
    { kernel: toTensor(NET.k2), bias: toTensor(NET.b2, [D2]) },
    { kernel: toTensor(NET.k3) },
  ];
}

/** The same network written with tf ops, as a LossFn over a fixed batch. */
function makeLossFn(x: tf.Tensor, y: tf.Tensor): (params: Params) => tf.Scalar {
  return (params) => {
    const [l1, l2, l3] = params as [Params[0], Params[0], Params[0]];
    const h1 = tf.add(
      tf.mul(tf.matMul(x as tf.Tensor2D, l1.kernel as tf.Tensor2D), l1.gamma!),
      l1.beta!,
    ); // [N, d1]
    const h2 = tf.add(tf.matMul(h1, l2.kernel as tf.Tensor2D), l2.bias!); // [N, d2]
    const out = tf.matMul(h2 as tf.Tensor2D, l3.kernel as tf.Tensor2D); // [N, d3]
    return tf.mul(0.5, tf.sum(tf.square(tf.sub(out, y)))) as tf.Scalar;
  };
}

Deno.test("measureIcs() equals G and G' computed by hand on a 3-layer linear network", async () => {
  const x = toTensor(X);
  const y = toTensor(Y);
  const params = makeParams();
  try {
    const results = await measureIcs(makeLossFn(x, y), params, {
      learningRate: LR,
      layers: [1, 2, 3],
    });
    deepStrictEqual(results.map((r) => r.layer), [1, 2, 3]);
    const full = handGradients(NET);
    const kernels = ["k1", "k2", "k3"] as const;
    for (const result of results) {
      const name = kernels[result.layer - 1]!;
      const g = full[name]; // G_i
      const gPrime = handGradients(updateBefore(NET, full, result.layer))[name]; // G'_i
      const normG = norm(g);
      const l2 = norm(axpy(g, -1, gPrime));
      const cosine = dotAll(g, gPrime) / (normG * norm(gPrime));
      const what = `layer ${result.layer}`;
      assertClose(result.normG, normG, { rel: 1e-5 }, `${what} ||G||`);
      assertClose(result.normGPrime, norm(gPrime), { rel: 1e-5 }, `${what} ||G'||`);
      // float32 gradients: the difference is exact up to ~1e-6 of ||G||.
      assertClose(result.l2, l2, { rel: 1e-3, abs: 1e-5 * normG }, `${what} l2`);
      assertClose(result.cosine, cosine, { abs: 1e-5 }, `${what} cosine`);
      if (result.layer > 1) ok(l2 > 0.05 * normG, `${what}: the test needs a visible shift`);
    }
    // Layer 1 has no earlier layer: G' = G exactly (the cpu backend is deterministic).
    strictEqual(results[0]!.l2, 0);
    assertClose(results[0]!.cosine, 1, { abs: 1e-6 }, "layer 1 cosine");
  } finally {
    tf.dispose([x, y]);
    disposeParams(params);
  }
});

Deno.test("measureIcs() keeps params bitwise, leaks nothing and keeps the layer order", async () => {
  const x = toTensor(X);
  const y = toTensor(Y);
  const params = makeParams();
  const lossFn = makeLossFn(x, y);
  try {
    const before = await readParams(params);
    await measureIcs(lossFn, params, { learningRate: LR, layers: [2] }); // warm-up
    const tensors = tf.memory().numTensors;
    const results = await measureIcs(lossFn, params, { learningRate: LR, layers: [3, 1] });
    strictEqual(tf.memory().numTensors, tensors);
    deepStrictEqual(results.map((r) => r.layer), [3, 1]);
    deepStrictEqual(await readParams(params), before);
    for (const p of params) ok(!p.kernel.isDisposed);
  } finally {
    tf.dispose([x, y]);
    disposeParams(params);
  }
});

Deno.test("measureIcs() shows a non-deterministic loss as nonzero layer-1 shift", async () => {
  const x = toTensor(X);
  const y = toTensor(Y);
  const params = makeParams();
  const base = makeLossFn(x, y);
  let calls = 0;
  // Like noisy BatchNorm with a fresh noise sample per call: the loss changes between calls.
  const drifting = (p: Params) => tf.mul(1 + 0.1 * calls++, base(p)) as tf.Scalar;
  try {
    const [result] = await measureIcs(drifting, params, { learningRate: LR, layers: [1] });
    ok(result!.l2 > 0.05 * result!.normG, `l2 ${result!.l2}`);
  } finally {
    tf.dispose([x, y]);
    disposeParams(params);
  }
});

Deno.test("measureIcs() rejects invalid layers and learning rates", async () => {
  const x = toTensor(X);
  const y = toTensor(Y);
  const params = makeParams();
  const lossFn = makeLossFn(x, y);
  try {
    for (const layer of [0, 4, 1.5]) {
      await rejects(measureIcs(lossFn, params, { learningRate: LR, layers: [layer] }), RangeError);
    }
    for (const learningRate of [0, -1, NaN]) {
      await rejects(measureIcs(lossFn, params, { learningRate, layers: [1] }), RangeError);
    }
    deepStrictEqual(await measureIcs(lossFn, params, { learningRate: LR, layers: [] }), []);
  } finally {
    tf.dispose([x, y]);
    disposeParams(params);
  }
});

Deno.test("measureIcs() gives the same result with precomputed gradients, borrowing them", async () => {
  const x = toTensor(X);
  const y = toTensor(Y);
  const params = makeParams();
  const lossFn = makeLossFn(x, y);
  const { loss, grads } = lossAndGradients(lossFn, params);
  try {
    const options = { learningRate: LR, layers: [2, 3] };
    const expected = await measureIcs(lossFn, params, options);
    deepStrictEqual(await measureIcs(lossFn, params, { ...options, gradients: grads }), expected);
    ok(grads.every((g) => !g.kernel.isDisposed));
    await rejects(
      measureIcs(lossFn, params, { ...options, gradients: grads.slice(1) }),
      TypeError,
    );
  } finally {
    tf.dispose([x, y, loss]);
    disposeParams(grads);
    disposeParams(params);
  }
});
