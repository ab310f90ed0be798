import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { createVgg, vggParameterCount } from "../../lib/models/vgg.ts";
import { Random } from "../../lib/rng.ts";
import { disposeParams, flattenParams, unflattenParams } from "./_reference.ts";

await tf.setBackend("cpu");
await tf.ready();

function images(batch: number, seed: number): tf.Tensor4D {
  const random = new Random(seed, 950);
  return tf.tensor4d(random.fillNormal(new Float32Array(batch * 32 * 32 * 3)), [batch, 32, 32, 3]);
}

Deno.test("createVgg() has the paper's layers, shapes and parameter count", async (t) => {
  await t.step("full width: the count of the 64-128-256-256-512x4 / 512-512-10 network", () => {
    const convs = [[3, 64], [64, 128], [128, 256], [256, 256], [256, 512], [512, 512], [
      512,
      512,
    ], [512, 512]];
    const conv = convs.reduce((n, [i, o]) => n + 9 * i! * o! + o!, 0);
    const dense = (512 * 512 + 512) * 2 + 512 * 10 + 10;
    assert.equal(vggParameterCount({ normalization: "none" }), conv + dense);
    assert.equal(conv + dense, 9_750_922);
    // BatchNorm adds gamma and beta to each conv layer: 2 x (64 + 128 + 2 x 256 + 4 x 512).
    assert.equal(vggParameterCount({ normalization: "batchnorm" }), conv + dense + 2 * 2752);
  });
  await t.step("width 1/32: layers, output and the counted parameters", async () => {
    const net = createVgg({ normalization: "batchnorm", width: 1 / 32 });
    assert.deepEqual(net.layerNames, [
      "conv1",
      "conv2",
      "conv3",
      "conv4",
      "conv5",
      "conv6",
      "conv7",
      "conv8",
      "dense9",
      "dense10",
      "dense11",
    ]);
    const params = net.init(1);
    assert.deepEqual(params.map((p) => p.kernel.shape[p.kernel.shape.length - 1]), [
      2,
      4,
      8,
      8,
      16,
      16,
      16,
      16,
      16,
      16,
      10,
    ]);
    assert.deepEqual(params[8]!.kernel.shape, [16, 16]);
    assert.ok(params.slice(0, 8).every((p) => p.gamma !== undefined && p.beta !== undefined));
    assert.ok(params.slice(8).every((p) => p.gamma === undefined && p.bias !== undefined));
    const counted = flattenParams(params).reduce((n, t) => n + t.size, 0);
    assert.equal(counted, vggParameterCount({ normalization: "batchnorm", width: 1 / 32 }));
    const x = images(3, 1);
    const result = net.forward(params, x, { training: true, capture: [1, 5, 10] });
    assert.deepEqual(result.output.shape, [3, 10]);
    assert.deepEqual(result.activations.get(1)!.preNorm.shape, [3, 32, 32, 2]);
    assert.deepEqual(result.activations.get(5)!.postNorm.shape, [3, 4, 4, 16]);
    // Dense layers have no normalisation: both are the pre-activation.
    const dense = result.activations.get(10)!;
    assert.deepEqual(await dense.preNorm.data(), await dense.postNorm.data());
    assert.deepEqual(
      result.batchMoments.map((m) => m?.mean.shape[0]),
      [2, 4, 8, 8, 16, 16, 16, 16, undefined, undefined, undefined],
    );
    const loss = net.loss(result.output, tf.tensor1d([0, 1, 2], "int32"));
    assert.equal(loss.rank, 0);
    assert.throws(
      () => net.forward(params, tf.zeros([2, 16, 16, 3]), { training: false }),
      TypeError,
    );
    assert.throws(() => net.forward(params, x, { training: false, capture: [12] }), RangeError);
    tf.dispose([x, loss, result.output]);
    disposeParams(params);
  });
});

Deno.test("createVgg().init() is a function of the seed", async () => {
  const net = createVgg({ normalization: "none", width: 1 / 16 });
  const a = net.init(5), b = net.init(5), c = net.init(6);
  for (let i = 0; i < a.length; i++) {
    assert.deepEqual(await a[i]!.kernel.data(), await b[i]!.kernel.data());
    assert.notDeepEqual(await a[i]!.kernel.data(), await c[i]!.kernel.data());
  }
  [a, b, c].forEach(disposeParams);
});

Deno.test("createVgg() loss is the mean softmax cross-entropy", async () => {
  const net = createVgg({ normalization: "none", classes: 3, width: 1 / 64 });
  const logits = tf.tensor2d([[1, 2, 3], [0, 0, 0]]);
  const loss = net.loss(logits, tf.tensor1d([2, 0], "int32"));
  const first = -Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)));
  const expected = (first + Math.log(3)) / 2;
  assert.ok(Math.abs((await loss.data())[0]! - expected) < 1e-6);
  assert.throws(() => net.loss(logits, tf.tensor1d([2, 0])), TypeError);
  tf.dispose([logits, loss]);
});

Deno.test("createVgg() evaluation mode uses the running moments", async () => {
  const net = createVgg({ normalization: "batchnorm", width: 1 / 32 });
  const params = net.init(2);
  const x = images(2, 3);
  const state = net.initState();
  // Running mean 0 and variance 1: evaluation normalises nothing, so conv1's postNorm equals
  // gamma * preNorm / sqrt(1 + eps) + beta, with gamma 1 and beta 0.
  const result = net.forward(params, x, { training: false, state, capture: [1] });
  assert.equal(result.batchMoments.every((m) => m === undefined), true);
  const { preNorm, postNorm } = result.activations.get(1)!;
  const pre = await preNorm.data(), post = await postNorm.data();
  for (let i = 0; i < pre.length; i += 97) {
    assert.ok(Math.abs(post[i]! - pre[i]! / Math.sqrt(1 + 1e-5)) < 1e-5);
  }
  tf.dispose([x, result.output, preNorm, postNorm]);
  tf.dispose(state.flatMap((m) => (m ? [m.mean, m.variance] : [])));
  disposeParams(params);
});

Deno.test("createVgg() gradients match central finite differences", async (t) => {
  const x = images(2, 9);
  const labels = tf.tensor1d([3, 7], "int32");
  const noiseKey = { seed: 1, step: 2 };
  for (const normalization of ["none", "batchnorm", "noisy-batchnorm"] as const) {
    await t.step(normalization, async () => {
      const net = createVgg({ normalization, width: 1 / 32 });
      const params = net.init(3);
      const flat = flattenParams(params);
      const lossOf = (ts: readonly tf.Tensor[]) =>
        net.loss(
          net.forward(unflattenParams(params, ts), x, { training: true, noiseKey }).output,
          labels,
        );
      const grads = tf.grads((...ts: tf.Tensor[]) => lossOf(ts))(flat);
      // The kernels of conv1, conv4, conv8, dense9, dense11: their largest-gradient entry.
      const kernels = [1, 4, 8, 9, 11].map((layer) => flat.indexOf(params[layer - 1]!.kernel));
      if (normalization !== "none") kernels.push(flat.indexOf(params[2]!.gamma!));
      for (const k of kernels) {
        const g = await grads[k]!.data();
        let i = 0;
        for (let j = 1; j < g.length; j++) if (Math.abs(g[j]!) > Math.abs(g[i]!)) i = j;
        const base = await flat[k]!.data();
        // float32 loss: eps 1e-3 keeps rounding below 1e-3 relative; ReLU and max-pool
        // switches inside +-eps account for the rest of the tolerance.
        const eps = 1e-3;
        const shifted = (delta: number) =>
          tf.tidy(() => {
            const values = base.slice();
            values[i]! += delta;
            return lossOf(flat.map((t, j) => (j === k ? tf.tensor(values, t.shape) : t)));
          });
        const plus = shifted(eps), minus = shifted(-eps);
        const numeric = ((await plus.data())[0]! - (await minus.data())[0]!) / (2 * eps);
        tf.dispose([plus, minus]);
        const error = Math.abs(numeric - g[i]!) / Math.abs(g[i]!);
        assert.ok(error < 5e-2, `tensor ${k}: ${g[i]} vs ${numeric}`);
      }
      tf.dispose(grads);
      disposeParams(params);
    });
  }
  tf.dispose([x, labels]);
});

Deno.test("createVgg() forward and gradient leave no tensors behind", () => {
  const net = createVgg({ normalization: "noisy-batchnorm", width: 1 / 32 });
  const params = net.init(1);
  const x = images(2, 4);
  const labels = tf.tensor1d([1, 2], "int32");
  const step = () =>
    tf.tidy(() =>
      tf.grads((...ts: tf.Tensor[]) =>
        net.loss(
          net.forward(unflattenParams(params, ts), x, {
            training: true,
            noiseKey: { seed: 1, step: 0 },
          })
            .output,
          labels,
        )
      )(flattenParams(params))
    );
  tf.dispose(step());
  const before = tf.memory().numTensors;
  tf.dispose(step());
  assert.equal(tf.memory().numTensors, before);
  // An untidied forward pass frees its intermediates once its results are disposed.
  const result = net.forward(params, x, {
    training: true,
    noiseKey: { seed: 1, step: 1 },
    capture: [2],
  });
  tf.dispose([
    result.output,
    ...result.batchMoments.flatMap((m) => (m ? [m.mean, m.variance] : [])),
    ...[...result.activations.values()].flatMap((a) => [a.preNorm, a.postNorm]),
  ]);
  assert.equal(tf.memory().numTensors, before);
  disposeParams(params);
  tf.dispose([x, labels]);
});
