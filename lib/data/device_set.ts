/**
 * CIFAR-10 resident on the device: the images are standardised and uploaded once, and each
 * step's batch is gathered there from a small index upload (B int32 values), so no pixels cross
 * the host-device boundary during training.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, BatchSource } from "./batch.ts";
import { batchesPerEpoch, batchOrder, type ChannelStats, type Cifar10Set } from "./cifar10.ts";

/** A labelled image set on the device. */
export interface DeviceImageSet {
  /** Standardised images, float32 [N, 32, 32, 3]. */
  images: tf.Tensor4D;
  /** int32 labels [N]. */
  labels: tf.Tensor1D;
  count: number;
}

/**
 * Standardises (per channel: (x - mean) / std) and uploads a set.
 *
 * @param set Decoded images (NHWC uint8) and labels.
 * @param stats Channel statistics to standardise with (the training set's, for every split).
 * @returns Tensors owned by the caller (see {@link disposeDeviceSet}).
 */
export function uploadImageSet(set: Cifar10Set, stats: Readonly<ChannelStats>): DeviceImageSet {
  const pixels = new Float32Array(set.images.length);
  const scale = stats.std.map((s) => 1 / s);
  for (let i = 0; i < pixels.length; i++) {
    const c = i % 3;
    pixels[i] = (set.images[i]! - stats.mean[c]!) * scale[c]!;
  }
  return {
    images: tf.tensor4d(pixels, [set.count, 32, 32, 3], "float32"),
    labels: tf.tensor1d(Int32Array.from(set.labels), "int32"),
    count: set.count,
  };
}

/** Frees the device copy. */
export function disposeDeviceSet(set: DeviceImageSet): void {
  tf.dispose([set.images, set.labels]);
}

/** Options of {@link imageBatchSource}. */
export interface ImageBatchSourceOptions {
  /** Data-order seed. */
  seed: number;
  /** Images per step. */
  batchSize: number;
}

/**
 * Seeded mini-batches over a device set (epoch permutations of `batchOrder`, last partial batch
 * dropped): the batch of step s depends only on (seed, s), so resumed runs see the same data.
 *
 * @param set The device set (not owned: dispose it yourself after training).
 * @param options Seed and batch size.
 * @returns A batch source for `train`.
 */
export function imageBatchSource(
  set: DeviceImageSet,
  options: ImageBatchSourceOptions,
): BatchSource {
  const perEpoch = batchesPerEpoch(set.count, options.batchSize);
  let cachedEpoch = -1;
  let order: Uint32Array = new Uint32Array(0);
  return {
    batch(step: number): Batch {
      const epoch = Math.floor(step / perEpoch);
      if (epoch !== cachedEpoch) {
        order = batchOrder(set.count, options.seed, epoch);
        cachedEpoch = epoch;
      }
      const start = (step % perEpoch) * options.batchSize;
      const indices = tf.tensor1d(
        Int32Array.from(order.subarray(start, start + options.batchSize)),
        "int32",
      );
      const batch = {
        x: tf.gather(set.images, indices), // [B, 32, 32, 3]
        targets: tf.gather(set.labels, indices), // [B]
      };
      indices.dispose();
      return batch;
    },
  };
}
