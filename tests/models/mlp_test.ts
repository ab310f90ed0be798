import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { createMlp } from "../../lib/models/mlp.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { Random } from "../../lib/rng.ts";
import {
  disposeParams,
  flattenParams,
  matmul,
  type Matrix,
  maxRelativeError,
  normalizeColumns,
  unflattenParams,
} from "./_reference.ts";

await tf.setBackend("cpu");
await tf.ready();

Deno.test("createMlp() flattens CIFAR-shaped input and has one layer per width", async () => {
  const net = createMlp({ normalization: "batchnorm", hidden: [256, 256] });
  assert.deepEqual(net.layerNames, ["dense1", "dense2", "dense3"]);
  const params = net.init(1);
  assert.deepEqual(params.map((p) => p.kernel.shape), [[3072, 256], [256, 256], [256, 10]]);
  assert.deepEqual(params.map((p) => p.gamma !== undefined), [true, true, false]);
  const random = new Random(1, 960);
  const values = random.fillNormal(new Float32Array(2 * 3072));
  const images = tf.tensor4d(values, [2, 32, 32, 3]);
  const flat = tf.tensor2d(values, [2, 3072]);
  const a = net.forward(params, images, { training: true });
  const b = net.forward(params, flat, { training: true });
  assert.deepEqual(a.output.shape, [2, 10]);
  assert.deepEqual(await a.output.data(), await b.output.data());
  assert.throws(() => net.forward(params, tf.zeros([2, 100]), { training: true }), TypeError);
  assert.throws(() => createMlp({ normalization: "none", hidden: [0] }), RangeError);
  tf.dispose([images, flat, a.output, b.output]);
  tf.dispose(
    [...a.batchMoments, ...b.batchMoments].flatMap((m) => (m ? [m.mean, m.variance] : [])),
  );
  disposeParams(params);
});

/** Float64 forward pass and mean cross-entropy of an MLP with one hidden layer. */
function referenceLoss(
  normalization: Normalization,
  x: Matrix,
  labels: readonly number[],
  flat: readonly Float64Array[],
  dims: readonly [number, number, number],
): number {
  const [inDim, hidden, classes] = dims;
  const affine = normalization !== "none";
  let k = 0;
  const w1 = flat[k++]!, b1 = flat[k++]!;
  const gamma = affine ? flat[k++] : undefined, beta = affine ? flat[k++] : undefined;
  const w2 = flat[k++]!, b2 = flat[k++]!;
  const z = matmul(x, { rows: inDim, cols: hidden, data: w1 });
  z.data.forEach((v, i) => (z.data[i] = v + b1[i % hidden]!));
  const a = normalizeColumns(z, normalization, gamma, beta);
  a.data.forEach((v, i) => (a.data[i] = Math.max(0, v)));
  const logits = matmul(a, { rows: hidden, cols: classes, data: w2 });
  let loss = 0;
  for (let n = 0; n < x.rows; n++) {
    const row = Array.from({ length: classes }, (_, c) => logits.data[n * classes + c]! + b2[c]!);
    const max = Math.max(...row);
    const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    loss += logSum - row[labels[n]!]!;
  }
  return loss / x.rows;
}

Deno.test("createMlp() loss and gradients match a float64 reference", async (t) => {
  const dims = [6, 5, 3] as const;
  const random = new Random(2, 961);
  const xs = Float64Array.from({ length: 8 * 6 }, () => Math.fround(random.normal()));
  const labels = [0, 1, 2, 0, 1, 2, 2, 1];
  const x = tf.tensor2d(Float32Array.from(xs), [8, 6]);
  const y = tf.tensor1d(labels, "int32");
  for (const normalization of ["none", "batchnorm", "l2"] as const) {
    await t.step(normalization, async () => {
      const net = createMlp({ normalization, hidden: [5], inputDim: 6, classes: 3 });
      const params = net.init(4);
      // Non-zero biases and shifts, so their gradients are exercised too.
      const flat = flattenParams(params).map((p, i) => tf.add(p, tf.mul(0.1 * i, tf.onesLike(p))));
      const host = await Promise.all(flat.map(async (p) => Float64Array.from(await p.data())));
      const ref = (f: Float64Array[]) =>
        referenceLoss(normalization, { rows: 8, cols: 6, data: xs }, labels, f, dims);
      const lossOf = (ts: readonly tf.Tensor[]) =>
        net.loss(net.forward(unflattenParams(params, ts), x, { training: true }).output, y);
      const loss = lossOf(flat);
      assert.ok(Math.abs((await loss.data())[0]! - ref(host)) < 1e-5);
      const grads = tf.grads((...ts: tf.Tensor[]) => lossOf(ts))(flat);
      const analytic: number[] = [], numeric: number[] = [];
      for (let k = 0; k < host.length; k++) {
        analytic.push(...await grads[k]!.data());
        for (let i = 0; i < host[k]!.length; i++) {
          const plus = host.map((a) => a.slice()), minus = host.map((a) => a.slice());
          plus[k]![i]! += 1e-6;
          minus[k]![i]! -= 1e-6;
          numeric.push((ref(plus) - ref(minus)) / 2e-6);
        }
      }
      const error = maxRelativeError(analytic, numeric, 1e-3 * Math.max(...numeric.map(Math.abs)));
      assert.ok(error < 1e-3, `relative error ${error}`);
      tf.dispose([loss, ...grads, ...flat]);
      disposeParams(params);
    });
  }
  tf.dispose([x, y]);
});

Deno.test("createMlp() forward and gradient leave no tensors behind", () => {
  const net = createMlp({ normalization: "noisy-batchnorm", hidden: [8, 8], inputDim: 12 });
  const params = net.init(1);
  const x = tf.ones([4, 12]);
  const y = tf.tensor1d([1, 2, 3, 4], "int32");
  const step = () =>
    tf.tidy(() =>
      tf.grads((...ts: tf.Tensor[]) =>
        net.loss(
          net.forward(unflattenParams(params, ts), x, {
            training: true,
            noiseKey: { seed: 1, step: 0 },
          })
            .output,
          y,
        )
      )(flattenParams(params))
    );
  tf.dispose(step());
  const before = tf.memory().numTensors;
  tf.dispose(step());
  assert.equal(tf.memory().numTensors, before);
  disposeParams(params);
  tf.dispose([x, y]);
});
