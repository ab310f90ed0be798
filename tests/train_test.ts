import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { createDln, createMlp, createVgg, dlnProblem } from "../lib/models/mod.ts";
import { NORMALIZATIONS } from "../lib/models/types.ts";
import type { Network } from "../lib/models/types.ts";
import type { BatchSource } from "../lib/data/batch.ts";
import {
  disposeState,
  evaluateAccuracy,
  initialState,
  SGD_DEFAULTS,
  type SgdConfig,
  train,
  type TrainState,
} from "../lib/train.ts";
import { measureIcs } from "../lib/measure/ics.ts";
import { loadCifar10Sample } from "../lib/data/cifar10_files.ts";
import { CIFAR10_TRAIN_STATS } from "../lib/data/cifar10.ts";
import { disposeDeviceSet, imageBatchSource, uploadImageSet } from "../lib/data/device_set.ts";
import { Random } from "../lib/rng.ts";

// The fastest CPU path, as `auto` picks it without a GPU (wasm with this project's kernels).
await initBackend({ backend: "wasm" });

const sample = await loadCifar10Sample();

function config(overrides: Partial<SgdConfig>): SgdConfig {
  return { ...SGD_DEFAULTS, steps: 10, learningRate: 0.05, seed: 3, ...overrides };
}

/** Loss on a fixed batch in training mode with a fixed noise sample. */
function fixedBatchLoss(network: Network, state: TrainState, x: tf.Tensor, y: tf.Tensor): number {
  return tf.tidy(() => {
    const { output } = network.forward(state.params, x, {
      training: true,
      noiseKey: { seed: 99, step: 0 },
    });
    return network.loss(output, y).dataSync()[0]!;
  });
}

Deno.test("train() lowers the loss of a narrow VGG on the committed sample, for every normalisation", async (t) => {
  const device = uploadImageSet(sample.train, CIFAR10_TRAIN_STATS);
  const probeX = tf.slice(device.images, 0, 128);
  const probeY = tf.slice(device.labels, 0, 128);
  for (const normalization of NORMALIZATIONS) {
    await t.step(normalization, async () => {
      const network = createVgg({ normalization, width: 1 / 16 });
      const source = imageBatchSource(device, { seed: 1, batchSize: 32 });
      let state = initialState(network, 1);
      const before = fixedBatchLoss(network, state, probeX, probeY);
      const outcome = await train(
        network,
        source,
        config({ steps: 40, learningRate: 0.05 }),
        state,
      );
      state = outcome.state;
      const after = fixedBatchLoss(network, state, probeX, probeY);
      assert.equal(outcome.divergedAt, null);
      assert.equal(outcome.metrics.loss.length, 40);
      assert.ok(after < before, `${normalization}: loss ${before} -> ${after}`);
      disposeState(state);
    });
  }
  tf.dispose([probeX, probeY]);
  disposeDeviceSet(device);
});

Deno.test("train() keeps the tensor count flat over 100 steps (noisy BatchNorm)", async () => {
  const device = uploadImageSet(sample.train, CIFAR10_TRAIN_STATS);
  const network = createVgg({ normalization: "noisy-batchnorm", width: 1 / 32 });
  const source = imageBatchSource(device, { seed: 2, batchSize: 8 });
  const counts: number[] = [];
  const outcome = await train(
    network,
    source,
    config({ steps: 100, metricsEvery: 10, learningRate: 0.01 }),
    initialState(network, 2),
    { onMetrics: () => void counts.push(tf.memory().numTensors) },
  );
  assert.equal(counts.length, 10);
  assert.deepEqual(counts.slice(1), Array(9).fill(counts[0]), `tensor counts ${counts}`);
  const before = tf.memory().numTensors;
  disposeState(outcome.state);
  assert.ok(tf.memory().numTensors < before);
  disposeDeviceSet(device);
});

function dlnSource(seed: number): { source: BatchSource; dispose: () => void } {
  const problem = dlnProblem(seed, { samples: 200 });
  return {
    source: { batch: () => ({ x: tf.clone(problem.inputs), targets: tf.clone(problem.targets) }) },
    dispose: () => tf.dispose([problem.inputs, problem.targets, problem.matrix]),
  };
}

Deno.test("train() stops at the first non-finite loss and reports its step", async () => {
  const network = createDln({ normalization: "none", depth: 6 });
  const { source, dispose } = dlnSource(4);
  const outcome = await train(
    network,
    source,
    config({ steps: 200, learningRate: 1, metricsEvery: 7 }),
    initialState(network, 4),
  );
  assert.notEqual(outcome.divergedAt, null);
  const k = outcome.divergedAt!;
  const index = outcome.metrics.step.indexOf(k);
  assert.ok(!Number.isFinite(outcome.metrics.loss[index]!));
  assert.ok(outcome.metrics.loss.slice(0, index).every(Number.isFinite));
  assert.ok(outcome.state.step < 200, "the run ended early");
  disposeState(outcome.state);
  dispose();
});

Deno.test("train() is deterministic and a run resumed from its state matches an uninterrupted one", async () => {
  const network = createDln({ normalization: "noisy-batchnorm", depth: 5 });
  const { source, dispose } = dlnSource(5);
  const cfg = config({ steps: 12, learningRate: 1e-4, metricsEvery: 4 });
  const whole = await train(network, source, cfg, initialState(network, 5));
  const firstHalf = await train(network, source, { ...cfg, steps: 6 }, initialState(network, 5));
  const secondHalf = await train(network, source, cfg, firstHalf.state);
  assert.deepEqual([...firstHalf.metrics.loss, ...secondHalf.metrics.loss], whole.metrics.loss);
  const a = await Promise.all(whole.state.params.map((p) => p.kernel.data()));
  const b = await Promise.all(secondHalf.state.params.map((p) => p.kernel.data()));
  assert.deepEqual(a, b);
  disposeState(whole.state);
  disposeState(secondHalf.state);
  dispose();
});

Deno.test("train() with an ICS measurement every 3 steps follows the same trajectory", async () => {
  const network = createMlp({ normalization: "batchnorm", hidden: [16], inputDim: 12 });
  const random = new Random(6, 77);
  const x = tf.tensor2d(random.fillNormal(new Float32Array(32 * 12)), [32, 12]);
  const y = tf.tensor1d(Int32Array.from({ length: 32 }, () => random.int(10)), "int32");
  const source: BatchSource = { batch: () => ({ x: tf.clone(x), targets: tf.clone(y) }) };
  const cfg = config({ steps: 9, learningRate: 0.1, metricsEvery: 3 });
  const plain = await train(network, source, cfg, initialState(network, 6));
  let measured = 0;
  const hooked = await train(network, source, cfg, initialState(network, 6), {
    measureAt: (step) => step % 3 === 0,
    beforeStep: async ({ state, batch, noiseKey }) => {
      const lossFn = (params: typeof state.params) =>
        network.loss(
          network.forward(params, batch.x, { training: true, noiseKey }).output,
          batch.targets,
        );
      const results = await measureIcs(lossFn, state.params, { learningRate: 0.1, layers: [2] });
      assert.ok(results[0]!.l2 > 0);
      measured++;
    },
  });
  assert.equal(measured, 3);
  assert.deepEqual(hooked.metrics.loss, plain.metrics.loss);
  disposeState(plain.state);
  disposeState(hooked.state);
  tf.dispose([x, y]);
});

Deno.test("train() updates BatchNorm running moments with momentum 0.1 from the batch moments", async () => {
  const network = createMlp({ normalization: "batchnorm", hidden: [5], inputDim: 4, classes: 3 });
  const random = new Random(8, 77);
  const xs = random.fillNormal(new Float32Array(16 * 4), 1, 2);
  const x = tf.tensor2d(xs, [16, 4]);
  const y = tf.tensor1d(Int32Array.from({ length: 16 }, () => random.int(3)), "int32");
  const state = initialState(network, 8);
  // The first layer's pre-normalisation activations, computed in plain TypeScript.
  const w = await state.params[0]!.kernel.data(); // [4, 5]
  const b = await state.params[0]!.bias!.data(); // [5]
  const mean = new Array(5).fill(0), sq = new Array(5).fill(0);
  for (let n = 0; n < 16; n++) {
    for (let j = 0; j < 5; j++) {
      let a = b[j]!;
      for (let i = 0; i < 4; i++) a += xs[n * 4 + i]! * w[i * 5 + j]!;
      mean[j] += a / 16;
      sq[j] += (a * a) / 16;
    }
  }
  const variance = mean.map((m, j) => sq[j] - m * m);
  const source: BatchSource = { batch: () => ({ x: tf.clone(x), targets: tf.clone(y) }) };
  const outcome = await train(network, source, config({ steps: 1, metricsEvery: 1 }), state);
  const running = outcome.state.normState[0]!;
  const runningMean = await running.mean.data();
  const runningVariance = await running.variance.data();
  for (let j = 0; j < 5; j++) {
    assert.ok(Math.abs(runningMean[j]! - 0.1 * mean[j]) < 1e-5, `mean ${j}`);
    assert.ok(Math.abs(runningVariance[j]! - (0.9 + 0.1 * variance[j]!)) < 1e-4, `variance ${j}`);
  }
  disposeState(outcome.state);
  tf.dispose([x, y]);
});

Deno.test("evaluateAccuracy() equals the plain count of correct argmax predictions", async () => {
  const network = createMlp({ normalization: "none", hidden: [8], inputDim: 6, classes: 4 });
  const random = new Random(9, 77);
  const x = tf.tensor2d(random.fillNormal(new Float32Array(37 * 6)), [37, 6]);
  const labels = Int32Array.from({ length: 37 }, () => random.int(4));
  const y = tf.tensor1d(labels, "int32");
  const state = initialState(network, 9);
  const logits = tf.tidy(() => network.forward(state.params, x, { training: false }).output);
  const values = await logits.data();
  let correct = 0;
  for (let n = 0; n < 37; n++) {
    const row = Array.from(values.subarray(n * 4, n * 4 + 4));
    if (row.indexOf(Math.max(...row)) === labels[n]) correct++;
  }
  assert.equal(await evaluateAccuracy(network, state, x, y, 10), correct / 37);
  tf.dispose([x, y, logits]);
  disposeState(state);
});

Deno.test("train() rejects bad settings before doing anything", async () => {
  const network = createDln({ normalization: "none", depth: 2 });
  const { source, dispose } = dlnSource(10);
  const state = initialState(network, 10);
  for (
    const [bad, pattern] of [
      [{ steps: 0 }, /steps must be a positive integer, got 0/],
      [{ learningRate: -0.1 }, /learningRate must be a positive finite number, got -0.1/],
      [{ learningRate: 0 }, /learningRate must be a positive finite number, got 0/],
      [{ metricsEvery: 1.5 }, /metricsEvery must be a positive integer, got 1.5/],
    ] as const
  ) {
    await assert.rejects(() => train(network, source, config(bad), state), pattern);
  }
  assert.equal(state.step, 0);
  disposeState(state);
  dispose();
});
