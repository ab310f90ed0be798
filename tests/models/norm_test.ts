import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { algorithm1Noise } from "../../lib/models/noise.ts";
import { hasAffine, hasNoise, normalize, unitMean } from "../../lib/models/norm.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { Random } from "../../lib/rng.ts";
import { maxRelativeError, normalizeColumns } from "./_reference.ts";

await tf.setBackend("cpu");
await tf.ready();

/** A conv-shaped activation [N, H, W, C] with per-channel offsets and scales. */
const SHAPE = [4, 3, 3, 5];
const UNITS = 5;
const ROWS = 36;

function convInput(seed: number): Float64Array {
  const random = new Random(seed, 900);
  const data = new Float64Array(ROWS * UNITS);
  for (let i = 0; i < data.length; i++) {
    const c = i % UNITS;
    // float32-exact values, so tf and the float64 reference see the same input.
    data[i] = Math.fround(0.5 * c - 1 + (1 + c) * random.normal());
  }
  return data;
}

function columnStats(data: ArrayLike<number>): { mean: number[]; variance: number[] } {
  const mean = new Array<number>(UNITS).fill(0);
  const variance = new Array<number>(UNITS).fill(0);
  for (let i = 0; i < data.length; i++) mean[i % UNITS]! += data[i]! / ROWS;
  for (let i = 0; i < data.length; i++) {
    variance[i % UNITS]! += (data[i]! - mean[i % UNITS]!) ** 2 / ROWS;
  }
  return { mean, variance };
}

const ALL: Normalization[] = [
  "none",
  "batchnorm",
  "noisy-batchnorm",
  "noise-only",
  "l1",
  "l2",
  "linf",
];

Deno.test("normalize() batchnorm gives per-channel mean 0 and variance 1", async () => {
  const host = convInput(1);
  const x = tf.tensor(Float32Array.from(host), SHAPE);
  const { output, batchMoments } = normalize(x, "batchnorm", { training: true, layer: 1 });
  const y = await output.data();
  const stats = columnStats(y);
  const inputStats = columnStats(host);
  for (let c = 0; c < UNITS; c++) {
    assert.ok(Math.abs(stats.mean[c]!) < 1e-5, `mean ${stats.mean[c]}`);
    const expected = inputStats.variance[c]! / (inputStats.variance[c]! + 1e-5);
    assert.ok(Math.abs(stats.variance[c]! - expected) < 1e-4, `variance ${stats.variance[c]}`);
  }
  assert.ok(batchMoments !== undefined);
  assert.ok(maxRelativeError(await batchMoments.mean.data(), inputStats.mean, 1) < 1e-5);
  // Biased variance (divided by N H W, not N H W - 1).
  assert.ok(maxRelativeError(await batchMoments.variance.data(), inputStats.variance, 1) < 1e-5);
  tf.dispose([x, output, batchMoments.mean, batchMoments.variance]);
});

Deno.test("normalize() applies gamma and beta after normalising", async () => {
  const x = tf.tensor(Float32Array.from(convInput(2)), SHAPE);
  const gamma = tf.tensor1d([1, 2, 0.5, 3, -1]);
  const beta = tf.tensor1d([0, -1, 4, 0.25, 2]);
  const { output } = normalize(x, "batchnorm", { training: true, layer: 1, gamma, beta });
  const stats = columnStats(await output.data());
  const g = [1, 2, 0.5, 3, -1], b = [0, -1, 4, 0.25, 2];
  for (let c = 0; c < UNITS; c++) {
    assert.ok(Math.abs(stats.mean[c]! - b[c]!) < 1e-4);
    assert.ok(Math.abs(Math.sqrt(stats.variance[c]!) - Math.abs(g[c]!)) < 1e-3);
  }
  tf.dispose([x, gamma, beta, output]);
});

Deno.test("normalize() l_p variants match the definition", async (t) => {
  await t.step("closed form on one unit [1, 3]", async () => {
    const x = tf.tensor2d([[1], [3]]);
    const expected: Record<string, number> = { l1: 2, l2: Math.sqrt(5), linf: 3 };
    for (const p of ["l1", "l2", "linf"] as const) {
      const { output, batchMoments } = normalize(x, p, { training: true, layer: 1 });
      const [a, b] = await output.data();
      // Mean 2 subtracted, divided by the norm of [1, 3] (not of the centred [-1, 1]).
      assert.ok(Math.abs(a! + 1 / expected[p]!) < 1e-5, `${p}: ${a}`);
      assert.ok(Math.abs(b! - 1 / expected[p]!) < 1e-5, `${p}: ${b}`);
      assert.deepEqual(Array.from(await batchMoments!.mean.data()), [2]);
      assert.ok(Math.abs((await batchMoments!.variance.data())[0]! - expected[p]!) < 1e-6);
      tf.dispose([output, batchMoments!.mean, batchMoments!.variance]);
    }
    x.dispose();
  });
  for (const p of ["l1", "l2", "linf"] as const) {
    await t.step(`${p} on a conv-shaped input`, async () => {
      const host = convInput(3);
      const x = tf.tensor(Float32Array.from(host), SHAPE);
      const { output } = normalize(x, p, { training: true, layer: 1 });
      const expected = normalizeColumns(
        { rows: ROWS, cols: UNITS, data: host },
        p,
        undefined,
        undefined,
      );
      assert.ok(maxRelativeError(await output.data(), expected.data, 1) < 1e-5);
      tf.dispose([x, output]);
    });
  }
});

Deno.test("normalize() evaluation mode uses running statistics when given", async () => {
  const host = convInput(4);
  const x = tf.tensor(Float32Array.from(host), SHAPE);
  const m = [0.5, -1, 0, 2, 1], v = [1, 4, 0.25, 9, 2];
  const running = { mean: tf.tensor1d(m), variance: tf.tensor1d(v) };
  for (const variant of ["batchnorm", "noisy-batchnorm", "l1", "linf"] as const) {
    const result = normalize(x, variant, { training: false, layer: 1, running });
    assert.equal(result.batchMoments, undefined);
    const y = await result.output.data();
    const isBn = variant === "batchnorm" || variant === "noisy-batchnorm";
    for (let i = 0; i < y.length; i++) {
      const c = i % UNITS;
      // l_p variants keep the running l_p norm in the variance slot.
      const divisor = isBn ? Math.sqrt(v[c]! + 1e-5) : v[c]! + 1e-5;
      assert.ok(Math.abs(y[i]! - (host[i]! - m[c]!) / divisor) < 1e-5);
    }
    result.output.dispose();
    // Without running statistics, evaluation falls back to batch statistics.
    const batch = normalize(x, variant, { training: false, layer: 1 });
    const ref = normalizeColumns(
      { rows: ROWS, cols: UNITS, data: host },
      variant,
      undefined,
      undefined,
    );
    assert.ok(maxRelativeError(await batch.output.data(), ref.data, 1) < 1e-5);
    batch.output.dispose();
  }
  tf.dispose([x, running.mean, running.variance]);
});

Deno.test("normalize() adds Algorithm 1 noise in training mode only", async () => {
  const host = convInput(5);
  const x = tf.tensor(Float32Array.from(host), SHAPE);
  const noiseKey = { seed: 8, step: 3 };
  const { scale, shift } = algorithm1Noise(SHAPE, noiseKey, 4);
  const s = await scale.data(), m = await shift.data();
  const bn = normalizeColumns(
    { rows: ROWS, cols: UNITS, data: host },
    "batchnorm",
    undefined,
    undefined,
  );
  const noisy = normalize(x, "noisy-batchnorm", { training: true, layer: 4, noiseKey });
  const noisyData = await noisy.output.data();
  const noiseOnly = normalize(x, "noise-only", { training: true, layer: 4, noiseKey });
  const noiseOnlyData = await noiseOnly.output.data();
  for (let i = 0; i < host.length; i++) {
    assert.ok(Math.abs(noisyData[i]! - (s[i]! * bn.data[i]! + m[i]!)) < 1e-4);
    assert.ok(Math.abs(noiseOnlyData[i]! - (s[i]! * host[i]! + m[i]!)) < 1e-4);
  }
  assert.equal(noiseOnly.batchMoments, undefined);
  assert.ok(noisy.batchMoments !== undefined);
  // Evaluation: no noise. noise-only is the identity, noisy-batchnorm plain BatchNorm.
  const evalNoisy = normalize(x, "noisy-batchnorm", { training: false, layer: 4, noiseKey });
  assert.ok(maxRelativeError(await evalNoisy.output.data(), bn.data, 1) < 1e-5);
  const evalNoiseOnly = normalize(x, "noise-only", { training: false, layer: 4 });
  assert.deepEqual(await evalNoiseOnly.output.data(), Float32Array.from(host));
  assert.throws(() => normalize(x, "noisy-batchnorm", { training: true, layer: 4 }), TypeError);
  tf.dispose([
    x,
    scale,
    shift,
    noisy.output,
    noiseOnly.output,
    evalNoisy.output,
    evalNoiseOnly.output,
  ]);
  tf.dispose([noisy.batchMoments!.mean, noisy.batchMoments!.variance]);
});

Deno.test("normalize() gradients match float64 finite differences", async (t) => {
  const shape = [3, 2, 2, 4];
  const rows = 12, units = 4;
  const random = new Random(6, 901);
  const xHost = Float64Array.from(
    { length: rows * units },
    () => Math.fround(random.normal() + 0.3),
  );
  const weights = Float64Array.from({ length: rows * units }, () => Math.fround(random.normal()));
  const gammaHost = Float64Array.from([1.5, 0.5, -1, 2]);
  const betaHost = Float64Array.from([0.1, -0.2, 0.3, 0]);
  const noiseKey = { seed: 3, step: 1 };
  for (const variant of ALL) {
    await t.step(variant, async () => {
      const affine = hasAffine(variant);
      // Noise is a constant of the key: fold its scale into the weights, drop its shift.
      let w = weights;
      if (hasNoise(variant)) {
        const { scale, shift } = algorithm1Noise(shape, noiseKey, 2);
        const s = await scale.data();
        w = weights.map((v, i) => v * s[i]!);
        tf.dispose([scale, shift]);
      }
      const reference = (xs: Float64Array, g: Float64Array, b: Float64Array): number => {
        const y = normalizeColumns(
          { rows, cols: units, data: xs },
          variant,
          affine ? g : undefined,
          affine ? b : undefined,
        );
        return y.data.reduce((acc, v, i) => acc + v * w[i]!, 0);
      };
      const wTensor = tf.tensor(Float32Array.from(weights), shape);
      const inputs = [
        tf.tensor(Float32Array.from(xHost), shape),
        tf.tensor1d(Float32Array.from(gammaHost)),
        tf.tensor1d(Float32Array.from(betaHost)),
      ];
      const grads = tf.grads((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
        const { output, batchMoments } = normalize(x, variant, {
          training: true,
          layer: 2,
          noiseKey,
          ...(affine ? { gamma, beta } : {}),
        });
        if (batchMoments !== undefined) tf.dispose([batchMoments.mean, batchMoments.variance]);
        // Keep gamma and beta on the tape for the variants without them.
        return tf.add(
          tf.sum(tf.mul(output, wTensor)),
          tf.mul(0, tf.add(tf.sum(gamma), tf.sum(beta))),
        );
      })(inputs);
      const hostArgs = [xHost, gammaHost, betaHost];
      for (let k = 0; k < (affine ? 3 : 1); k++) {
        const analytic = await grads[k]!.data();
        const numeric = hostArgs[k]!.map((_, i) => {
          const h = 1e-6;
          const plus = hostArgs.map((a) => a.slice());
          const minus = hostArgs.map((a) => a.slice());
          plus[k]![i]! += h;
          minus[k]![i]! -= h;
          return (reference(plus[0]!, plus[1]!, plus[2]!) -
            reference(minus[0]!, minus[1]!, minus[2]!)) /
            (2 * h);
        });
        const scaleOf = Math.max(...numeric.map(Math.abs));
        const error = maxRelativeError(analytic, numeric, 0.01 * scaleOf);
        assert.ok(error < 2e-3, `${variant} argument ${k}: relative error ${error}`);
      }
      tf.dispose([wTensor, ...inputs, ...grads]);
    });
  }
});

Deno.test("unitMean() gradient is 1 / (N H W) per element", async () => {
  const x = tf.tensor(Float32Array.from(convInput(7)), SHAPE);
  const w = [1, -2, 3, 0.5, 0];
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(unitMean(t), tf.tensor1d(w))))(x);
  const data = await g.data();
  for (let i = 0; i < data.length; i++) assert.ok(Math.abs(data[i]! - w[i % UNITS]! / ROWS) < 1e-7);
  tf.dispose([x, g]);
});

Deno.test("normalize() with its gradient leaves no tensors behind", () => {
  const x = tf.tensor(Float32Array.from(convInput(8)), SHAPE);
  const gamma = tf.ones([UNITS]);
  const run = () =>
    tf.tidy(() =>
      tf.grads((input: tf.Tensor, g: tf.Tensor) =>
        tf.sum(
          normalize(input, "noisy-batchnorm", {
            training: true,
            layer: 1,
            gamma: g,
            noiseKey: { seed: 1, step: 0 },
          })
            .output,
        )
      )([x, gamma])
    );
  tf.dispose(run());
  const before = tf.memory().numTensors;
  tf.dispose(run());
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, gamma]);
});

Deno.test("normalize() batchnorm closed-form backward matches float64 (1e-4) on cpu", async () => {
  const host = convInput(9);
  const dyHost = Float64Array.from(convInput(10), (v, i) => Math.fround(v * (i % 3 - 1)));
  const gammaHost = [1.5, 0.5, -1, 2, 0.25];
  const betaHost = [0.1, -0.2, 0.3, 0, 1];
  const { mean, variance } = columnStats(host);
  const rstd = variance.map((v) => 1 / Math.sqrt(v + 1e-5));
  const xhat = Array.from(host, (v, i) => (v - mean[i % UNITS]!) * rstd[i % UNITS]!);
  const dBeta = new Array<number>(UNITS).fill(0);
  const dGamma = new Array<number>(UNITS).fill(0);
  xhat.forEach((v, i) => {
    dBeta[i % UNITS]! += dyHost[i]!;
    dGamma[i % UNITS]! += dyHost[i]! * v;
  });
  const dx = xhat.map((v, i) => {
    const j = i % UNITS;
    return gammaHost[j]! * rstd[j]! * (dyHost[i]! - dBeta[j]! / ROWS - v * dGamma[j]! / ROWS);
  });
  const y = xhat.map((v, i) => v * gammaHost[i % UNITS]! + betaHost[i % UNITS]!);
  const x = tf.tensor(Float32Array.from(host), SHAPE);
  const dy = tf.tensor(Float32Array.from(dyHost), SHAPE);
  const gamma = tf.tensor1d(gammaHost);
  const beta = tf.tensor1d(betaHost);
  let output: tf.Tensor | undefined;
  const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const result = normalize(a, "batchnorm", { training: true, layer: 1, gamma: g, beta: b });
    output = tf.keep(result.output);
    tf.dispose([result.batchMoments!.mean, result.batchMoments!.variance]);
    return tf.sum(tf.mul(result.output, dy));
  })([x, gamma, beta]);
  const checks: [string, tf.Tensor, number[]][] = [
    ["y", output!, y],
    ["dx", grads[0]!, dx],
    ["dgamma", grads[1]!, dGamma],
    ["dbeta", grads[2]!, dBeta],
  ];
  for (const [name, tensor, want] of checks) {
    const got = await tensor.data();
    const error = maxRelativeError(got, want, Math.max(...want.map(Math.abs)));
    assert.ok(error <= 1e-4, `${name}: relative error ${error}`);
  }
  tf.dispose([x, dy, gamma, beta, output!, ...grads]);
});
