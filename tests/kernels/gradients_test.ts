import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { FAST_GRADIENTS, registerFastGradients } from "../../lib/kernels/gradients.ts";
import { memorySnapshot, normals, relError } from "./_helpers.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

/** Tolerance of the task: the replacement gradients equal the stock ones to 1e-5 relative. */
const TOL = 1e-5;

/** One differentiated function: gradients with respect to its inputs. */
interface GradCase {
  name: string;
  inputs: () => tf.Tensor[];
  loss: (...xs: tf.Tensor[]) => tf.Tensor;
}

const X4: [number, number, number, number] = [3, 5, 7, 4]; // [B, H, W, C], odd sizes
const x4 = () => tf.tensor4d(normals(3 * 5 * 7 * 4, 1), X4);
const weights = (shape: number[], seed: number) =>
  tf.tensor(normals(shape.reduce((a, b) => a * b, 1), seed), shape);
const stat = (seed: number, positive: boolean) =>
  tf.tensor1d(Array.from(normals(4, seed), (v) => positive ? 0.5 + v * v : v));

/** Sum/Mean over several axes, with and without keepDims, and BatchNorm built both ways. */
const CASES: GradCase[] = [
  ...([[0, 1, 2], [1, 2], [3], [0], undefined] as (number[] | undefined)[]).flatMap((axes) =>
    [false, true].flatMap((keepDims): GradCase[] => [
      {
        name: `sum over ${axes ?? "all"} keepDims ${keepDims}`,
        inputs: () => [x4()],
        loss: (x) => {
          const s = tf.sum(x!, axes, keepDims);
          return tf.sum(tf.mul(s, weights(s.shape, 2)));
        },
      },
      {
        name: `mean over ${axes ?? "all"} keepDims ${keepDims}`,
        inputs: () => [x4()],
        loss: (x) => {
          const m = tf.mean(x!, axes, keepDims);
          return tf.sum(tf.mul(m, weights(m.shape, 3)));
        },
      },
    ])
  ),
  {
    name: "BatchNorm from tf.moments and primitive ops",
    inputs: () => [x4(), stat(4, true), stat(5, false)],
    loss: (x, gamma, beta) => {
      const { mean, variance } = tf.moments(x!, [0, 1, 2], true);
      const y = tf.add(
        tf.mul(tf.mul(tf.sub(x!, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma!),
        beta!,
      );
      return tf.sum(tf.mul(y, weights(X4, 6)));
    },
  },
  // Max/Min, also of |x| (the l_inf norm) and of values with ties (every tie gets dy).
  ...([[0, 1, 2], [1, 2], [3], undefined] as (number[] | undefined)[]).flatMap((axes) =>
    [false, true].flatMap((keepDims): GradCase[] =>
      (["max", "min"] as const).map((op) => ({
        name: `${op} over ${axes ?? "all"} keepDims ${keepDims}`,
        inputs: () => [tf.round(tf.mul(x4(), 2)), x4()],
        loss: (ties, x) => {
          const t = tf[op](ties!, axes, keepDims);
          const m = tf[op](tf.abs(x!), axes, keepDims);
          return tf.add(
            tf.sum(tf.mul(t, weights(t.shape, 16))),
            tf.sum(tf.mul(m, weights(m.shape, 17))),
          );
        },
      }))
    )
  ),
  ...[X4, [6, 4], [5, 3, 4]].map((shape): GradCase => ({
    name: `tf.batchNorm on rank ${shape.length} with rank-1 statistics`,
    inputs:
      () => [weights(shape, 7), stat(8, false), stat(9, true), stat(10, false), stat(11, true)],
    loss: (x, mean, variance, offset, scale) =>
      tf.sum(tf.mul(tf.batchNorm(x!, mean!, variance!, offset!, scale!, 1e-3), weights(shape, 12))),
  })),
  // Relu (exact zeros included: step(0) is 0) and Add with and without broadcasting.
  {
    name: "relu with ties at 0",
    inputs: () => [tf.round(tf.mul(x4(), 2))],
    loss: (x) => tf.sum(tf.mul(tf.relu(x!), weights(X4, 18))),
  },
  ...([
    [X4, [4]],
    [[4], X4],
    [[2, 1], [1, 3]],
    [[], [2, 2]],
    [[5, 3], [5, 3]],
  ] as number[][][]).map(([a, b]): GradCase => ({
    name: `add [${a}] + [${b}]`,
    inputs: () => [weights(a!, 19), weights(b!, 20)],
    loss: (x, y) => {
      const sum = tf.add(x!, y!);
      return tf.sum(tf.mul(sum, weights(sum.shape, 21)));
    },
  })),
];

/** Cases whose replacement gradient is the stock arithmetic with fewer kernel calls. */
const BITWISE_CASES = CASES.filter((c) => c.name.startsWith("relu") || c.name.startsWith("add"));

/** Gradients of every case, read back. */
async function allGradients(): Promise<Float32Array[][]> {
  const out: Float32Array[][] = [];
  for (const c of CASES) {
    const inputs = c.inputs();
    const grads = tf.grads(c.loss)(inputs);
    out.push(await Promise.all(grads.map(async (g) => Float32Array.from(await g.data()))));
    tf.dispose([...inputs, ...grads]);
  }
  return out;
}

/**
 * Largest tensor (in elements) made from host values while `fn` runs: `tf.tensor`, `tf.ones`,
 * `tf.scalar` go through `engine.makeTensor`; kernel outputs do not.
 */
function largestUpload(fn: () => void): number {
  const engine = tf.engine() as unknown as {
    makeTensor: (values: { length: number }, ...rest: unknown[]) => tf.Tensor;
  };
  const original = engine.makeTensor;
  let largest = 0;
  engine.makeTensor = function (values, ...rest) {
    largest = Math.max(largest, values.length);
    return original.call(this, values, ...rest);
  };
  try {
    fn();
  } finally {
    engine.makeTensor = original;
  }
  return largest;
}

/** Input of the upload spy, created outside the spied region. */
const spyInput = x4();

/** Reduction gradients of an activation-sized x, for the upload spy. */
function reductionGrads(): void {
  tf.tidy(() => {
    // [C] reductions weighted by [C] dy (passed to tf.grads: no extra Sum on top).
    tf.grads((a: tf.Tensor) => tf.add(tf.sum(tf.square(a), [0, 1, 2]), tf.mean(a, [0, 1, 2])))(
      [spyInput],
      tf.ones([X4[3]]),
    );
  });
}

/**
 * tf.batchNorm with [1, 1, 1, C] statistics (tf.moments with keepDims) and the same BatchNorm
 * from primitive ops: gradients w.r.t. x, offset and scale of both.
 */
function keepDimsBatchNormGrads(): tf.Tensor[] {
  return tf.tidy(() => {
    const dy = weights(X4, 15);
    const fused = (x: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2], true); // [1, 1, 1, C]
      // tf.batchNorm's gradient wants the statistics and the offset of equal rank.
      const o = tf.reshape(offset, [1, 1, 1, 4]);
      const s = tf.reshape(scale, [1, 1, 1, 4]);
      return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, o, s, 1e-5), dy));
    };
    const primitive = (x: tf.Tensor, offset: tf.Tensor, scale: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2], true);
      const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
      return tf.sum(tf.mul(tf.add(tf.mul(xhat, scale), offset), dy));
    };
    const inputs = [x4(), stat(13, false), stat(14, true)];
    return [...tf.grads(fused)(inputs), ...tf.grads(primitive)(inputs)];
  });
}

// Measured with the stock gradients, before registration (tests in a file run in order).
const stockGradients = await allGradients();
const stockUpload = largestUpload(reductionGrads);
const stockKeepDimsError = (() => {
  try {
    tf.dispose(keepDimsBatchNormGrads());
    return null;
  } catch (e) {
    return e as Error;
  }
})();
registerFastGradients();
registerFastGradients(); // idempotent

Deno.test("registerFastGradients() keeps the gradients of Sum, Mean, FusedBatchNorm, Max and Min on cpu", async (t) => {
  const fast = await allGradients();
  for (const [i, c] of CASES.entries()) {
    await t.step(c.name, () => {
      for (const [j, g] of fast[i]!.entries()) {
        const err = relError(g, stockGradients[i]![j]!);
        assert.ok(err <= TOL, `input ${j}: relative error ${err}`);
      }
    });
  }
});

Deno.test("the Relu and Add gradients equal the stock ones bitwise", async () => {
  const fast = await allGradients();
  for (const c of BITWISE_CASES) {
    const i = CASES.indexOf(c);
    fast[i]!.forEach((g, j) =>
      assert.deepEqual(g, stockGradients[i]![j]!, `${c.name}, input ${j}`)
    );
  }
});

Deno.test("the Relu and Add gradients skip the stock same-dtype Cast and no-op Reshape calls", async () => {
  const x = x4();
  const bias = stat(22, false);
  const dy = weights(X4, 23);
  const info = await tf.profile(() => {
    // dy given: no Sum on top, whose gradient reshapes.
    const [dx, db] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.relu(tf.add(a, b)))(
      [x, bias],
      dy,
    );
    tf.dispose([dx!, db!]);
  });
  const names = info.kernels.map((k) => k.name);
  assert.equal(names.filter((n) => n === "Cast").length, 0, names.join(" "));
  assert.equal(names.filter((n) => n === "Reshape").length, 0, names.join(" "));
  tf.dispose([x, bias, dy]);
});

Deno.test("the Max and Min gradients send dy to every position of the extremum, ties included", async () => {
  const x = tf.tensor2d([[2, 2, 1], [-1, 3, 3]]);
  const dy = tf.tensor1d([5, 7]);
  const [dMax] = tf.grads((a: tf.Tensor) => tf.max(a, 1))([x], dy);
  const [dMin] = tf.grads((a: tf.Tensor) => tf.min(a, 0))([x], tf.tensor1d([1, 2, 4]));
  assert.deepEqual(Array.from(await dMax!.data()), [5, 5, 0, 0, 7, 7]);
  assert.deepEqual(Array.from(await dMin!.data()), [0, 2, 4, 1, 0, 0]);
  tf.dispose([x, dy, dMax!, dMin!]);
});

Deno.test("registerFastGradients() replaces exactly the listed gradients", () => {
  assert.deepEqual([...FAST_GRADIENTS].sort(), [
    "Add",
    "FusedBatchNorm",
    "Max",
    "Mean",
    "Min",
    "Relu",
    "Sum",
  ]);
  for (const name of FAST_GRADIENTS) assert.ok(tf.getGradient(name) !== undefined, name);
});

Deno.test("Sum and Mean gradients upload nothing activation-sized from the host", () => {
  const size = X4.reduce((a, b) => a * b);
  assert.ok(stockUpload >= size, `the spy sees stock's ones(x.shape): ${stockUpload} < ${size}`);
  const upload = largestUpload(reductionGrads);
  assert.ok(upload <= X4[3], `largest upload ${upload} elements`); // dy [C] at most
});

Deno.test("tf.batchNorm with keepDims statistics differentiates (stock throws) and equals primitive ops", async () => {
  // Stock tfjs 4.22 reshapes the unreduced mean gradient [B, H, W, C] to [1, 1, 1, C].
  assert.match(stockKeepDimsError?.message ?? "no error", /must match the product of shape/);
  const grads = keepDimsBatchNormGrads();
  const values = await Promise.all(grads.map((g) => g.data()));
  tf.dispose(grads);
  for (let i = 0; i < 3; i++) {
    const err = relError(values[i]!, values[i + 3]!);
    assert.ok(err <= 1e-4, `input ${i}: relative error ${err}`);
  }
});

Deno.test("the FusedBatchNorm gradient runs no Tile kernel", async () => {
  const info = await tf.profile(() => {
    const [x, m, v, o, s] = [x4(), stat(8, false), stat(9, true), stat(10, false), stat(11, true)];
    const dy = weights(X4, 12);
    // dy given explicitly: no Sum on top, whose gradient broadcasts with Tile by design.
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.batchNorm(a, m, v, o, b))([x, s], dy);
    tf.dispose([x, m, v, o, s, dy, ...grads]);
    return [];
  });
  const names = info.kernels.map((k) => k.name);
  assert.ok(names.includes("FusedBatchNorm"), names.join(","));
  assert.ok(!names.includes("Tile"), names.join(","));
});

Deno.test("BatchNorm's gradient matches the closed form (float64) with the fast gradients", async () => {
  const [n, h, w, c] = X4;
  const m = n * h * w;
  const xv = normals(m * c, 1);
  const gv = Array.from(normals(c, 4), (v) => 0.5 + v * v);
  const dyv = normals(m * c, 6);
  const [dx, dgamma, dbeta] = await Promise.all(
    tf.tidy(() => {
      const x = tf.tensor4d(xv, X4);
      return tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]); // [C]
        return tf.sum(tf.mul(tf.batchNorm(a, mean, variance, b, g, 1e-5), tf.tensor4d(dyv, X4)));
      })([x, tf.tensor1d(gv), tf.zeros([c])]);
    }).map(async (t) => Float64Array.from(await t.data())),
  );
  // Closed form per channel: dx = rstd / M * (M dxhat - sum dxhat - xhat sum(dxhat xhat)).
  const want = new Float64Array(m * c);
  const wantGamma = new Float64Array(c);
  const wantBeta = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    let mu = 0;
    for (let i = 0; i < m; i++) mu += xv[i * c + k]! / m;
    let variance = 0;
    for (let i = 0; i < m; i++) variance += (xv[i * c + k]! - mu) ** 2 / m;
    const rstd = 1 / Math.sqrt(variance + 1e-5);
    let sumD = 0;
    let sumDX = 0;
    for (let i = 0; i < m; i++) {
      const xhat = (xv[i * c + k]! - mu) * rstd;
      const d = dyv[i * c + k]! * gv[k]!;
      sumD += d;
      sumDX += d * xhat;
      wantGamma[k]! += dyv[i * c + k]! * xhat;
      wantBeta[k]! += dyv[i * c + k]!;
    }
    for (let i = 0; i < m; i++) {
      const xhat = (xv[i * c + k]! - mu) * rstd;
      want[i * c + k] = (rstd / m) * (m * dyv[i * c + k]! * gv[k]! - sumD - xhat * sumDX);
    }
  }
  assert.ok(relError(dx!, want) <= 1e-4, `dx relative error ${relError(dx!, want)}`);
  assert.ok(relError(dgamma!, wantGamma) <= 1e-4, `dgamma ${relError(dgamma!, wantGamma)}`);
  assert.ok(relError(dbeta!, wantBeta) <= 1e-4, `dbeta ${relError(dbeta!, wantBeta)}`);
});

Deno.test("the fast gradients leave no tensors behind", () => {
  const run = () => tf.dispose(tf.tidy(() => CASES.flatMap((c) => tf.grads(c.loss)(c.inputs()))));
  run(); // warm-up
  const before = memorySnapshot();
  run();
  assert.deepEqual(memorySnapshot(), before);
});
