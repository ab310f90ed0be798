import * as tf from "@tensorflow/tfjs";
import { createVgg } from "../lib/models/vgg.ts";
import { disposeState, evaluateAccuracy, initialState, SGD_DEFAULTS, train } from "../lib/train.ts";
import { imageBatchSource, uploadImageSet } from "../lib/data/device_set.ts";
import { CIFAR10_TRAIN_STATS, decodeCifar10 } from "../lib/data/cifar10.ts";
import { gunzip } from "../lib/data/gzip.ts";
await tf.setBackend(Deno.args[0] ?? "cpu");
await tf.ready();
const bytes = await gunzip(await Deno.readFile("../shared/data/cifar10/data_batch_1.bin.gz"));
const set = decodeCifar10(bytes.subarray(0, 3073 * 1000));
const dev = uploadImageSet(set, CIFAR10_TRAIN_STATS);
for (
  const norm of ["none", "batchnorm", "noisy-batchnorm", "noise-only", "l1", "l2", "linf"] as const
) {
  const net = createVgg({ normalization: norm, width: 1 / 16 });
  const src = imageBatchSource(dev, { seed: 1, batchSize: 32 });
  const t0 = performance.now();
  const before = tf.memory().numTensors;
  const out = await train(net, src, {
    ...SGD_DEFAULTS,
    steps: 40,
    learningRate: 0.05,
    seed: 1,
    metricsEvery: 10,
  }, initialState(net, 1));
  const acc = await evaluateAccuracy(net, out.state, dev.images, dev.labels);
  const l = out.metrics.loss;
  const first = l.slice(0, 10).reduce((a, b) => a + b) / 10,
    last = l.slice(-10).reduce((a, b) => a + b) / 10;
  console.log(
    norm,
    "first10",
    first.toFixed(3),
    "last10",
    last.toFixed(3),
    "acc",
    acc.toFixed(3),
    "div",
    out.divergedAt,
    "ms/step",
    ((performance.now() - t0) / 40).toFixed(1),
    "tensors",
    tf.memory().numTensors - before,
  );
  disposeState(out.state);
}
