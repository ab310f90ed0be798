import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  registerWasmBatchNormKernels,
} from "../../lib/kernels/wasm_batchnorm.ts";
import { normalize } from "../../lib/models/norm.ts";
import { batchNormReference, normals, relError, runOn } from "./_helpers.ts";

registerWasmBatchNormKernels();

const SHAPE = [4, 3, 5, 6]; // [N, H, W, C]
const ROWS = 60;
const UNITS = 6;
const EPS = 1e-5;

/** Conv-shaped float32 input with per-unit offsets and scales (BatchNorm's interesting case). */
function activation(seed: number): Float32Array {
  const z = normals(ROWS * UNITS, seed);
  return z.map((v, i) => (i % UNITS) - 2 + (1 + (i % UNITS)) * v);
}

const X = activation(1);
const DY = normals(ROWS * UNITS, 2);
const GAMMA = Float32Array.from([1.5, 0.5, -1, 2, 0.25, 1]);
const BETA = Float32Array.from([0.1, -0.2, 0.3, 0, 1, -1]);
const REF = batchNormReference(X, DY, GAMMA, BETA, UNITS, EPS);

Deno.test("BatchNormTraining kernels on wasm match the float64 closed form", async () => {
  const [y, mean, variance, dx, dGamma, dBeta] = await runOn("wasm", () => {
    const x = tf.tensor(X, SHAPE);
    const gamma = tf.tensor1d(GAMMA);
    const beta = tf.tensor1d(BETA);
    const dy = tf.tensor(DY, SHAPE);
    const attrs = { epsilon: EPS } as unknown as tf.NamedAttrMap;
    const forward = tf.engine().runKernel(
      BATCH_NORM_TRAINING_FORWARD,
      { x, gamma, beta },
      attrs,
    ) as tf.Tensor[];
    const backward = tf.engine().runKernel(
      BATCH_NORM_TRAINING_BACKWARD,
      { dy, x, mean: forward[1]!, variance: forward[2]!, gamma },
      attrs,
    ) as tf.Tensor[];
    assert.deepEqual(forward[1]!.shape, [1, 1, 1, UNITS]);
    tf.dispose([x, gamma, beta, dy]);
    return [...forward, ...backward];
  });
  const checks: [string, Float32Array, number[]][] = [
    ["y", y!, REF.y],
    ["mean", mean!, REF.mean],
    ["variance", variance!, REF.variance],
    ["dx", dx!, REF.dx],
    ["dgamma", dGamma!, REF.dGamma],
    ["dbeta", dBeta!, REF.dBeta],
  ];
  for (const [name, got, want] of checks) {
    const error = relError(got, want);
    assert.ok(error <= 1e-4, `${name}: relative error ${error}`);
  }
});

Deno.test("normalize() batchnorm on wasm (fused) matches the closed form and cpu, no leaks", async (t) => {
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor(X, SHAPE);
      const gamma = tf.tensor1d(GAMMA);
      const beta = tf.tensor1d(BETA);
      const dy = tf.tensor(DY, SHAPE);
      let moments: tf.Tensor[] = [];
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const result = normalize(a, "batchnorm", { training: true, layer: 1, gamma: g, beta: b });
        moments = [result.batchMoments!.mean, result.batchMoments!.variance].map((m) => tf.keep(m));
        // Loss whose output gradient is dy.
        return tf.sum(tf.mul(result.output, dy));
      })([x, gamma, beta]);
      // The kept moments are outside this tidy: return copies and free them.
      const out = [value, ...grads, ...moments.map((m) => tf.clone(m))];
      tf.dispose(moments);
      return out;
    });
  const cpu = await runOn("cpu", run);
  const wasm = await runOn("wasm", run);
  await t.step("gradients and moments match the closed form (1e-4)", () => {
    const want = [REF.dx, REF.dGamma, REF.dBeta, REF.mean, REF.variance];
    want.forEach((w, k) => {
      const error = relError(wasm[k + 1]!, w);
      assert.ok(error <= 1e-4, `output ${k}: relative error ${error}`);
    });
  });
  await t.step("wasm and cpu agree (1e-5)", () => {
    cpu.forEach((c, k) => {
      const error = relError(wasm[k]!, c);
      assert.ok(error <= 1e-5, `output ${k}: relative error ${error}`);
    });
  });
  await t.step("leaves no tensors behind on wasm", async () => {
    await tf.setBackend("wasm");
    tf.dispose(run());
    const before = tf.memory().numTensors;
    tf.dispose(run());
    assert.equal(tf.memory().numTensors, before);
  });
});

Deno.test("BatchNormTrainingBackward on wasm rejects a dy of another size with a TypeError", async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  const x = tf.tensor(X, SHAPE);
  const dy = tf.zeros([2, UNITS]);
  const stat = tf.zeros([UNITS]);
  assert.throws(
    () =>
      tf.engine().runKernel(
        BATCH_NORM_TRAINING_BACKWARD,
        { dy, x, mean: stat, variance: stat },
        { epsilon: EPS } as unknown as tf.NamedAttrMap,
      ),
    TypeError,
  );
  tf.dispose([x, dy, stat]);
});
