/**
 * What the training loop consumes: one batch on the device, and a source that gives the batch of
 * any step deterministically (so a resumed run sees the batches an uninterrupted one would).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** One training batch on the device. */
export interface Batch {
  /** Network input, e.g. [B, 32, 32, 3]. */
  x: tf.Tensor;
  /** int32 labels [B] (classifiers) or float32 targets [B, out] (regression). */
  targets: tf.Tensor;
}

/**
 * Deterministic batches: the batch of a step depends only on the step (and the source's seed),
 * so a resumed run sees exactly the batches an uninterrupted one would.
 */
export interface BatchSource {
  /** The batch of `step` (0-based). The caller disposes the tensors. */
  batch(step: number): Batch;
}
