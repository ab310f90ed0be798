/**
 * The runs of the `schedule` scale: PROTOCOL.md's VGG training schedule kept exactly (batch 128,
 * 15,000 SGD steps, full CIFAR-10, its learning rates, 3 seeds) with only the width reduced to
 * 1/4, so that a 2-core CPU can compute it.
 *
 * At this scale every VGG run measures everything any VGG figure plots (test accuracy, ICS,
 * the landscape along the gradient, activation distributions), at one cadence, so a run is fully
 * determined by (normalisation, learning rate, seed) and the figures `training`, `ics`, the three
 * landscape figures and the VGG half of `lp-norms` share their runs: 12 configurations x 3 seeds
 * = 36 runs instead of 60. The experiments' job builders call {@link sharedVggJob} when their
 * config carries `shared`.
 *
 * Pure: no I/O, no tensors.
 *
 * @module
 */
import { etaGrid, type EtaGridOptions, VGG_ETA_GRID } from "../measure/landscape.ts";
import { VGG_ACTIVATION_LAYERS, VGG_ICS_LAYERS } from "../models/layer_map.ts";
import type { Normalization } from "../models/types.ts";
import type { TrainingJob } from "../run/job.ts";

/** The network and schedule of a VGG run, as every VGG figure's config states them. */
export interface VggRunSettings {
  /** VGG channel-width multiplier (1 = PROTOCOL.md's 64..512 channels). */
  readonly width: number;
  /** CIFAR-10 training data: the committed 1,000-image sample or the full 50,000 images. */
  readonly source: "sample" | "full";
  /** B: images per SGD step (PROTOCOL.md: 128). */
  readonly batchSize: number;
  /** T: SGD steps per run (PROTOCOL.md: 15,000). */
  readonly steps: number;
  /** BatchNorm running-moment momentum (evaluation only). */
  readonly bnMomentum: number;
}

/** Settings of VGG runs that every figure of a scale shares. */
export interface SharedVggRuns extends VggRunSettings {
  /** Steps between test-accuracy evaluations of all 10,000 test images. */
  readonly evalEvery: number;
  /** Steps between checkpoints (resumable runs). */
  readonly checkpointEvery: number;
  /** Seeds; run k uses seed k for initialisation, data order and noise alike. */
  readonly seeds: readonly number[];
  /** Steps between the ICS, landscape and activation measurements (0, every, 2 every, ...). */
  readonly measureEvery: number;
  /** ICS layers (VGG_ICS_LAYERS: paper #5 -> conv5, #10 -> dense10). */
  readonly icsLayers: readonly number[];
  /** Activation layers (VGG_ACTIVATION_LAYERS: paper #2, #9, #13 -> conv2, conv6, dense10). */
  readonly activationLayers: readonly number[];
  /** Units described in full per activation layer. */
  readonly activationUnits: number;
  /** Landscape step sizes in multiples of the run's learning rate (PROTOCOL.md: [1/2, 4]). */
  readonly etaGrid: EtaGridOptions;
}

/**
 * The `schedule` scale's VGG runs. Width 1/4 (16-32-64-64-128-128-128-128 channels, dense
 * 128-128-10) trains at ~850 images/s per core with oneDNN: ~35-45 min a run on one core.
 */
export const SCHEDULE_VGG_RUNS = {
  width: 1 / 4,
  source: "full", // PROTOCOL.md: all 50,000 training images, test on all 10,000
  batchSize: 128, // PROTOCOL.md
  steps: 15_000, // PROTOCOL.md: 38.4 epochs
  bnMomentum: 0.1,
  evalEvery: 500, // the paper is silent: 30 test points per run
  checkpointEvery: 500,
  seeds: [0, 1, 2],
  measureEvery: 250, // the paper is silent: 61 measured steps per run
  icsLayers: VGG_ICS_LAYERS.map((m) => m.ours),
  activationLayers: VGG_ACTIVATION_LAYERS.map((m) => m.ours),
  activationUnits: 3,
  etaGrid: VGG_ETA_GRID, // 8 linear etas in [1/2, 4] x lr
} as const satisfies SharedVggRuns;

/** A VGG run's network, data, SGD settings and seeds: the part of a job every VGG figure shares. */
export type VggRunBase = Pick<TrainingJob, "network" | "data" | "sgd" | "seeds">;

/**
 * The network, data, SGD and seed fields of a VGG job (every VGG figure's job builder starts
 * from these; one seed serves initialisation, data order and noise alike).
 *
 * @param settings Width, data, batch, steps and momentum of the figure's config.
 * @param run Network, learning rate and seed.
 * @returns The four fields, for a job literal to spread.
 */
export function vggRunBase(
  settings: VggRunSettings,
  run: { normalization: Normalization; learningRate: number; seed: number },
): VggRunBase {
  const { normalization, learningRate, seed } = run;
  return {
    network: { arch: "vgg", normalization, width: settings.width },
    data: { kind: "cifar10", source: settings.source, batchSize: settings.batchSize },
    sgd: { steps: settings.steps, learningRate, bnMomentum: settings.bnMomentum },
    seeds: { init: seed, data: seed, noise: seed },
  };
}

/**
 * The job of one shared run: every measurement, at the shared cadence.
 *
 * @param runs The scale's shared settings.
 * @param run Network, learning rate and seed.
 * @returns A job for `runJob`; equal arguments give equal jobs (one run in the store).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULE_VGG_RUNS, sharedVggJob } from "./schedule.ts";
 *
 * const job = sharedVggJob(SCHEDULE_VGG_RUNS, { normalization: "batchnorm", learningRate: 0.1, seed: 0 });
 * assert.equal(job.sgd.steps, 15_000);
 * assert.deepEqual(Object.keys(job.measurements!).sort(), ["activations", "ics", "landscape"]);
 * ```
 */
export function sharedVggJob(
  runs: SharedVggRuns,
  run: { normalization: Normalization; learningRate: number; seed: number },
): TrainingJob {
  return {
    ...vggRunBase(runs, run),
    evalEvery: runs.evalEvery,
    measurements: {
      ics: { every: runs.measureEvery, layers: [...runs.icsLayers] },
      landscape: { every: runs.measureEvery, etas: etaGrid(run.learningRate, runs.etaGrid) },
      activations: {
        every: runs.measureEvery,
        layers: [...runs.activationLayers],
        units: runs.activationUnits,
      },
    },
    checkpointEvery: runs.checkpointEvery,
  };
}
