/**
 * Small jobs shared by the experiment tests: a tiny deep linear network (fast, full batch) and
 * a tiny MLP on the committed CIFAR-10 sample (data order, noise, evaluations).
 *
 * @module
 */
import type { TrainingJob } from "../../lib/run/job.ts";

/** A 4-layer, 3-wide DLN with BatchNorm on 16 samples: 40 steps take well under a second. */
export function tinyDlnJob(overrides: Partial<TrainingJob> = {}): TrainingJob {
  return {
    network: { arch: "dln", normalization: "batchnorm", depth: 4, dim: 3 },
    data: { kind: "dln", samples: 16 },
    sgd: { steps: 40, learningRate: 1e-3, bnMomentum: 0.1 },
    seeds: { init: 1, data: 2, noise: 3 },
    evalEvery: 0,
    checkpointEvery: 10,
    ...overrides,
  };
}

/**
 * A noisy-BatchNorm MLP (3072-16-10) on the first 200 sample images, batch 20, with test
 * accuracy, ICS, landscape and activation measurements.
 */
export function tinyMlpJob(overrides: Partial<TrainingJob> = {}): TrainingJob {
  return {
    network: { arch: "mlp", normalization: "noisy-batchnorm", hidden: [16] },
    data: { kind: "cifar10", source: "sample", subset: { kind: "first", n: 200 }, batchSize: 20 },
    sgd: { steps: 120, learningRate: 0.05, bnMomentum: 0.1 },
    seeds: { init: 4, data: 5, noise: 6 },
    evalEvery: 50,
    checkpointEvery: 15,
    measurements: {
      ics: { every: 40, layers: [2] },
      landscape: { every: 60, etas: [0.025, 0.1] },
      activations: { every: 30, layers: [1], units: 3 },
    },
    ...overrides,
  };
}
