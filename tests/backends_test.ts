import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { disposeDeviceSet, imageBatchSource, uploadImageSet } from "../lib/data/device_set.ts";
import type { Cifar10Set } from "../lib/data/cifar10.ts";
import { registerTrainingKernels } from "../lib/kernels/register.ts";
import { type NativeKernels, setNativeKernels } from "../lib/kernels/native.ts";
import { OneDnnKernels } from "../lib/kernels/onednn.ts";
import { createDln } from "../lib/models/dln.ts";
import type { Network, Normalization } from "../lib/models/types.ts";
import { createVgg } from "../lib/models/vgg.ts";
import { Random } from "../lib/rng.ts";
import type { BatchSource } from "../lib/data/batch.ts";
import { disposeState, initialState, type SgdConfig, train } from "../lib/train.ts";

// Any adapter counts, Mesa's llvmpipe included (slow, but the same WGSL runs on a real GPU).
const noWebGpu = (await navigator.gpu?.requestAdapter()) == null;
registerTrainingKernels();

/** oneDNN where it loads (tests/kernels/onednn_test.ts checks that it does on CI). */
const oneDnn: NativeKernels | null = (() => {
  try {
    return OneDnnKernels.open();
  } catch {
    return null;
  }
})();

/** Stream id of this file's data (not used by the library). */
const STREAM = 9002;

/**
 * Relative tolerance on each loss between backends (float32 rounding over a few steps; measured
 * differences are about 1e-7).
 */
const LOSS_TOLERANCE = 1e-4;

/** A fixed 16-image set: uniform random pixels, labels 0..9 in turn. */
function fixedImages(): Cifar10Set {
  const rng = new Random(11, STREAM);
  const images = new Uint8Array(16 * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = Uint8Array.from({ length: 16 }, (_, i) => i % 10);
  return { images, labels, count: 16 };
}

const STATS = { mean: [120, 115, 105], std: [60, 62, 66] } as {
  mean: [number, number, number];
  std: [number, number, number];
};

function sgd(steps: number, metricsEvery = steps): SgdConfig {
  return { steps, learningRate: 0.05, seed: 3, bnMomentum: 0.1, metricsEvery };
}

async function useBackend(name: string): Promise<void> {
  assert.ok(await tf.setBackend(name), `backend ${name} failed to start`);
  await tf.ready();
}

/**
 * Losses of 3 steps of a tiny VGG (width 1/32, batch 8) on the fixed images (3, not 5: the cpu
 * backend's convolution gradients take about 3 s per step here).
 */
async function vggLosses(normalization: Normalization): Promise<number[]> {
  const network = createVgg({ normalization, width: 1 / 32 });
  const set = uploadImageSet(fixedImages(), STATS);
  const source = imageBatchSource(set, { seed: 2, batchSize: 8 });
  const outcome = await train(network, source, sgd(3), initialState(network, 1));
  disposeState(outcome.state);
  disposeDeviceSet(set);
  return outcome.metrics.loss;
}

/** Losses of 5 steps of a 6-layer DLN (dim 4, BatchNorm) on one fixed batch of 8. */
async function dlnLosses(): Promise<number[]> {
  const network = createDln({ normalization: "batchnorm", depth: 6, dim: 4 });
  const rng = new Random(12, STREAM);
  const x = rng.fillNormal(new Float32Array(8 * 4));
  const y = rng.fillNormal(new Float32Array(8 * 4));
  const source: BatchSource = {
    batch: () => ({ x: tf.tensor2d(x, [8, 4]), targets: tf.tensor2d(y, [8, 4]) }),
  };
  const outcome = await train(network, source, sgd(5), initialState(network, 1));
  disposeState(outcome.state);
  return outcome.metrics.loss;
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => {
    const e = expected[i]!;
    const rel = Math.abs(v - e) / Math.max(Math.abs(e), 1e-12);
    assert.ok(rel <= LOSS_TOLERANCE, `${what}, step ${i}: ${v} vs ${e} (relative ${rel})`);
  });
}

Deno.test({
  name: "train() gives the same losses on cpu, wasm (with and without oneDNN) and webgpu",
  // The oneDNN library stays loaded for the process.
  sanitizeResources: false,
}, async (t) => {
  const backends = [
    { backend: "wasm", native: null },
    ...(oneDnn === null ? [] : [{ backend: "wasm", native: oneDnn }]),
    ...(noWebGpu ? [] : [{ backend: "webgpu", native: null }]),
  ];
  const cases: [string, () => Promise<number[]>][] = [
    ["tiny VGG with BatchNorm", () => vggLosses("batchnorm")],
    ["DLN with BatchNorm", dlnLosses],
  ];
  for (const [name, run] of cases) {
    await t.step(name, async () => {
      await useBackend("cpu");
      const expected = await run();
      assert.ok(expected.every(Number.isFinite));
      assert.ok(expected.at(-1)! !== expected[0]!, "the loss must change over the steps");
      for (const { backend, native } of backends) {
        await useBackend(backend);
        setNativeKernels(native);
        try {
          const what = `${name} on ${backend}${native === null ? "" : " with oneDNN"}`;
          assertClose(await run(), expected, what);
        } finally {
          setNativeKernels(null);
        }
      }
    });
  }
});

/** Bytes moved host -> device through the webgpu backend, split by purpose. */
interface UploadCount {
  /** Tensor values uploaded (`uploadToGPU` of host-resident data). */
  tensorBytes: number;
  /** `queue.writeBuffer` bytes: the per-dispatch uniform blocks (shapes, strides). */
  uniformBytes: number;
  /** Number of `writeBuffer` calls (about one per dispatched program). */
  writes: number;
  /** Largest single `writeBuffer`, bytes. */
  largestWrite: number;
}

/** The parts of tfjs-backend-webgpu's backend that carry host data to the device. */
interface WebGpuUploadPaths {
  device: GPUDevice;
  tensorMap: {
    get(id: tf.DataId): { values: ArrayLike<number> | null; resource: unknown; shape: number[] };
  };
  uploadToGPU(id: tf.DataId): void;
}

/** Counts uploads while `body` runs, then restores the backend's methods. */
async function countUploads(body: () => Promise<void>): Promise<UploadCount> {
  const backend = tf.backend() as unknown as WebGpuUploadPaths;
  const count: UploadCount = { tensorBytes: 0, uniformBytes: 0, writes: 0, largestWrite: 0 };
  // Every host -> device copy of tensor data goes through uploadToGPU (mappedAtCreation or a
  // staging buffer); uniforms go through queue.writeBuffer.
  const upload = backend.uploadToGPU;
  backend.uploadToGPU = function (id: tf.DataId): void {
    const data = backend.tensorMap.get(id);
    if (data.resource == null && data.values != null) count.tensorBytes += 4 * data.values.length;
    upload.call(backend, id);
  };
  const queue = backend.device.queue;
  const write = queue.writeBuffer;
  queue.writeBuffer = ((...args: Parameters<GPUQueue["writeBuffer"]>) => {
    const [, , data, , size] = args;
    count.writes++;
    const bytes = size ?? (data as ArrayBuffer).byteLength;
    count.uniformBytes += bytes;
    count.largestWrite = Math.max(count.largestWrite, bytes);
    return write.apply(queue, args);
  }) as GPUQueue["writeBuffer"];
  try {
    await body();
  } finally {
    backend.uploadToGPU = upload;
    queue.writeBuffer = write;
  }
  return count;
}

Deno.test({
  name: "a steady-state webgpu training step uploads only a few KB of tensor data",
  ignore: noWebGpu,
  async fn(t) {
    await useBackend("webgpu");
    const set = uploadImageSet(fixedImages(), STATS);
    for (const normalization of ["none", "batchnorm", "noisy-batchnorm"] as const) {
      await t.step(normalization, async () => {
        const network: Network = createVgg({ normalization, width: 1 / 32 });
        const source = imageBatchSource(set, { seed: 2, batchSize: 8 });
        // Warm-up: pipelines compiled, constants cached, buffers pooled.
        let { state } = await train(network, source, sgd(2), initialState(network, 1));
        const steps = 3;
        const count = await countUploads(async () => {
          state = (await train(network, source, sgd(2 + steps), state)).state;
        });
        disposeState(state);
        const perStep = count.tensorBytes / steps;
        console.log(
          `${normalization}: ${perStep.toFixed(0)} B of tensor data and ` +
            `${(count.uniformBytes / steps / 1024).toFixed(1)} KB of uniforms ` +
            `(${(count.writes / steps).toFixed(0)} writes) per step`,
        );
        // The batch's 8 int32 indices plus a few scalars; one activation would be 8 KB-32 KB.
        assert.ok(perStep <= 2048, `${perStep} bytes of tensor data per step`);
        // Uniform traffic grows with the number of dispatches, never with activation sizes.
        assert.ok(count.largestWrite <= 256, `a ${count.largestWrite}-byte writeBuffer`);
      });
    }
    disposeDeviceSet(set);
  },
});
