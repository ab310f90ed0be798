/**
 * Plain SGD training (PROTOCOL.md: no momentum, no weight decay, fixed learning rate) of a
 * functional {@link Network}. Per-step loss and accuracy stay on the device and are read back in
 * blocks of steps (one sync per block); a non-finite loss ends the run ("diverged at step k").
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, BatchSource } from "./data/batch.ts";
import { updateRunningMoments } from "./kernels/wasm_moments.ts";
import { batchAccuracy } from "./models/fused_loss.ts";
import type { Network, NoiseKey, NormState, Params } from "./models/types.ts";
import { flattenParams, sgdStep as applySgd, unflattenParams } from "./params.ts";

/** SGD settings. */
export interface SgdConfig {
  /** Number of SGD steps to reach (the run stops at this step count). */
  steps: number;
  /** eta: fixed learning rate. */
  learningRate: number;
  /** Seed of the training noise (Algorithm 1); init and data order take their own seeds. */
  seed: number;
  /**
   * Running-moment momentum m: running <- (1 - m) running + m batch (PyTorch's convention and
   * default 0.1). The batch variance enters biased; PyTorch's n/(n-1) correction would change it
   * by under 1% at batch 128 (n >= 512 values per unit in the VGG's conv layers).
   */
  bnMomentum: number;
  /** Steps per metrics read-back block (one GPU->host sync per block). */
  metricsEvery: number;
}

/** Default SGD settings of PROTOCOL.md (the step count and lr are set per experiment). */
export const SGD_DEFAULTS: Omit<SgdConfig, "steps" | "learningRate" | "seed"> = {
  bnMomentum: 0.1,
  metricsEvery: 50,
};

/** The state a run carries from step to step (and a checkpoint saves). */
export interface TrainState {
  /** Steps taken so far. */
  step: number;
  params: Params;
  normState: NormState;
}

/** Per-step training metrics (same length arrays). */
export interface StepMetrics {
  step: number[];
  loss: number[];
  /** Batch accuracy before the update; NaN for regression networks. */
  accuracy: number[];
}

/** Hooks called during {@link train}. */
export interface TrainHooks {
  /** After each metrics block was read back (for progress lines and appending to a store). */
  onMetrics?: (block: StepMetrics, state: TrainState) => void | Promise<void>;
  /**
   * Steps at which `beforeStep` runs, e.g. every k steps for ICS or landscape measurements.
   * It runs before the step's update, with the step's batch, and must not change the state.
   */
  measureAt?: (step: number) => boolean;
  beforeStep?: (context: StepContext) => void | Promise<void>;
}

/** What a measurement hook sees: the state before the update and the step's batch and noise. */
export interface StepContext {
  state: TrainState;
  batch: Batch;
  noiseKey: NoiseKey;
}

/** How a call to {@link train} ended. */
export interface TrainOutcome {
  state: TrainState;
  metrics: StepMetrics;
  /** First step whose loss was not finite, or null. */
  divergedAt: number | null;
}

/** Fresh state: parameters and running moments of a new network. */
export function initialState(network: Network, initSeed: number): TrainState {
  return { step: 0, params: network.init(initSeed), normState: network.initState() };
}

/** Disposes every tensor of a state. */
export function disposeState(state: TrainState): void {
  tf.dispose(flattenParams(state.params).tensors);
  for (const m of state.normState) if (m !== undefined) tf.dispose([m.mean, m.variance]);
}

function isClassifier(targets: tf.Tensor): boolean {
  return targets.dtype === "int32" && targets.rank === 1;
}

interface StepResult {
  state: TrainState;
  loss: tf.Scalar;
  accuracy: tf.Scalar;
}

/** One SGD step inside a single tidy: loss, gradients, update, running moments. */
function sgdStep(network: Network, state: TrainState, batch: Batch, config: SgdConfig): StepResult {
  const noiseKey: NoiseKey = { seed: config.seed, step: state.step };
  const { tensors: flat, slots } = flattenParams(state.params);
  // Tensors the loss closure keeps for use after the backward pass (disposed inside the tidy).
  let output: tf.Tensor2D | null = null;
  let moments: ReturnType<Network["forward"]>["batchMoments"] = [];
  const result = tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...tensors: tf.Tensor[]) => {
      const forward = network.forward(unflattenParams(tensors, slots), batch.x, {
        training: true,
        noiseKey,
      });
      output = tf.keep(forward.output);
      moments = forward.batchMoments;
      for (const m of moments) if (m !== undefined) tf.keep(m.mean), tf.keep(m.variance);
      return network.loss(forward.output, batch.targets);
    })(flat);
    const logits = output!;
    const accuracy: tf.Scalar = isClassifier(batch.targets)
      ? batchAccuracy(logits, batch.targets)
      : tf.scalar(NaN);
    // The same update the measurements apply (bitwise), so G' in ICS is this step's update.
    const updated = flattenParams(
      applySgd(state.params, unflattenParams(grads, slots), config.learningRate),
    ).tensors;
    const m = config.bnMomentum;
    // Running moments flattened as [mean, variance] per normalised layer, in layer order.
    const previousMoments: tf.Tensor[] = [];
    const batchMoments: tf.Tensor[] = [];
    state.normState.forEach((previous, i) => {
      const current = moments[i];
      if (previous === undefined || current === undefined) return;
      previousMoments.push(previous.mean, previous.variance);
      batchMoments.push(current.mean, current.variance);
    });
    // (1 - m) running + m batch, one kernel call for all of them on wasm.
    const running = updateRunningMoments(previousMoments, batchMoments, m);
    tf.dispose(logits);
    for (const bm of moments) if (bm !== undefined) tf.dispose([bm.mean, bm.variance]);
    return { updated, running, loss: value as tf.Scalar, accuracy };
  });
  let k = 0;
  const normState: NormState = state.normState.map((previous, i) => {
    if (previous === undefined) return undefined;
    // Kept moments (none measured this step) are copied: the old state is disposed below.
    if (moments[i] === undefined) {
      return { mean: tf.clone(previous.mean), variance: tf.clone(previous.variance) };
    }
    const next = {
      mean: result.running[k] as tf.Tensor1D,
      variance: result.running[k + 1] as tf.Tensor1D,
    };
    k += 2;
    return next;
  });
  return {
    state: { step: state.step + 1, params: unflattenParams(result.updated, slots), normState },
    loss: result.loss,
    accuracy: result.accuracy,
  };
}

function validateConfig(config: SgdConfig): void {
  const positiveInteger = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`Cannot train: ${name} must be a positive integer, got ${v}`);
    }
  };
  positiveInteger("steps", config.steps);
  positiveInteger("metricsEvery", config.metricsEvery);
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) {
    throw new RangeError(
      `Cannot train: learningRate must be a positive finite number, got ${config.learningRate}`,
    );
  }
  if (!(config.bnMomentum >= 0 && config.bnMomentum <= 1)) {
    throw new RangeError(`Cannot train: bnMomentum must be in [0, 1], got ${config.bnMomentum}`);
  }
}

/**
 * Trains from `state` until `config.steps` steps are done or the loss stops being finite.
 * Takes ownership of `state`: its tensors are replaced (and the old ones disposed) every step;
 * the returned state holds the live tensors.
 *
 * @param network The network.
 * @param source Deterministic batches.
 * @param config SGD settings.
 * @param state Where to start (a fresh {@link initialState} or a restored checkpoint).
 * @param hooks Metrics and measurement callbacks.
 * @returns The final state, the per-step metrics of this call, and the divergence step if any.
 */
export async function train(
  network: Network,
  source: BatchSource,
  config: SgdConfig,
  state: TrainState,
  hooks: TrainHooks = {},
): Promise<TrainOutcome> {
  validateConfig(config);
  const metrics: StepMetrics = { step: [], loss: [], accuracy: [] };
  let divergedAt: number | null = null;
  let pendingSteps: number[] = [];
  let pending: tf.Scalar[] = []; // loss, accuracy interleaved, still on the device

  const flush = async () => {
    if (pendingSteps.length === 0) return;
    const packed = tf.stack(pending); // [2 * block]
    tf.dispose(pending);
    const values = await packed.data(); // the block's only device->host sync
    packed.dispose();
    const block: StepMetrics = { step: pendingSteps, loss: [], accuracy: [] };
    for (let i = 0; i < pendingSteps.length; i++) {
      const loss = values[2 * i]!;
      block.loss.push(loss);
      block.accuracy.push(values[2 * i + 1]!);
      if (divergedAt === null && !Number.isFinite(loss)) divergedAt = pendingSteps[i]!;
    }
    metrics.step.push(...block.step);
    metrics.loss.push(...block.loss);
    metrics.accuracy.push(...block.accuracy);
    pendingSteps = [];
    pending = [];
    await hooks.onMetrics?.(block, state);
  };

  while (state.step < config.steps && divergedAt === null) {
    const batch = source.batch(state.step);
    if (hooks.measureAt?.(state.step) === true && hooks.beforeStep !== undefined) {
      await hooks.beforeStep({ state, batch, noiseKey: { seed: config.seed, step: state.step } });
    }
    const result = sgdStep(network, state, batch, config);
    tf.dispose([batch.x, batch.targets]);
    pendingSteps.push(state.step);
    pending.push(result.loss, result.accuracy);
    disposeState(state);
    state = result.state;
    if (pendingSteps.length >= config.metricsEvery) await flush();
  }
  await flush();
  return { state, metrics, divergedAt };
}

/**
 * Accuracy in evaluation mode (running moments, no noise) over a labelled set, in batches, with
 * one read-back at the end.
 *
 * @param network The network.
 * @param state Parameters and running moments.
 * @param x Inputs [N, ...] on the device.
 * @param labels int32 labels [N].
 * @param batchSize Evaluation batch size (memory only; the result does not depend on it).
 * @returns The fraction of correct predictions.
 */
export async function evaluateAccuracy(
  network: Network,
  state: TrainState,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  batchSize = 500,
): Promise<number> {
  const n = x.shape[0]!;
  let correct = tf.scalar(0);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const next = tf.tidy(() => {
      const xb = tf.slice(x, start, size);
      const yb = tf.slice(labels, start, size);
      const { output } = network.forward(state.params, xb, {
        training: false,
        state: state.normState,
      });
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(output, 1), yb), "float32"));
      return tf.add(correct, hits) as tf.Scalar;
    });
    correct.dispose();
    correct = next;
  }
  const total = (await correct.data())[0]!;
  correct.dispose();
  return total / n;
}
