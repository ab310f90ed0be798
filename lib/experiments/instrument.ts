/**
 * A one-look check of the measuring instrument on a tiny VGG, with and without BatchNorm: a few
 * SGD steps on the committed CIFAR-10 sample, then at one step G vs G' for every layer
 * (Definition 2.1), the loss and gradient change along the gradient (the landscape band), and the
 * step-to-step drift of one layer's activation moments. It runs in seconds and is the first thing
 * to look at when the instrument changes (notebook `00-instrument`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Cifar10Set } from "../data/cifar10.ts";
import { CIFAR10_TRAIN_STATS } from "../data/cifar10.ts";
import { loadCifar10Sample } from "../data/cifar10_files.ts";
import { type Experiment } from "./experiment.ts";
import { disposeDeviceSet, imageBatchSource, uploadImageSet } from "../data/device_set.ts";
import { createVgg } from "../models/vgg.ts";
import type { Normalization, Params } from "../models/types.ts";
import { measureIcs } from "../measure/ics.ts";
import { etaGrid, measureLandscape, VGG_ETA_GRID } from "../measure/landscape.ts";
import { type LayerMoments, layerMoments, momentDrift } from "../measure/activations.ts";
import { disposeState, initialState, SGD_DEFAULTS, train } from "../train.ts";

/** Settings of the instrument check. */
export interface InstrumentConfig {
  /** Channel-width multiplier of the VGG. */
  width: number;
  /** Images per SGD step. */
  batchSize: number;
  /** eta of the SGD steps (and of G' in ICS). */
  learningRate: number;
  /** SGD steps taken; moment drift is recorded over all of them. */
  steps: number;
  /** The step (0-based) at which ICS and the landscape are measured. */
  measureStep: number;
  /** Layer whose activation moments drift is tracked (1-based; the paper's #2 is conv2). */
  driftLayer: number;
  normalizations: readonly Normalization[];
  seeds: { init: number; data: number; noise: number };
}

/** The default check: small enough for seconds on a CPU. */
export const INSTRUMENT: InstrumentConfig = {
  width: 1 / 16, // 4..32 channels
  batchSize: 64,
  learningRate: 0.1, // eta, PROTOCOL.md's VGG default
  steps: 20,
  measureStep: 10,
  driftLayer: 2, // conv2 = the paper's activation layer #2
  normalizations: ["none", "batchnorm"],
  seeds: { init: 0, data: 0, noise: 0 },
};

/** Rows for the figure, one array per panel. */
export interface InstrumentResult {
  /** One row per (normalization, layer): ||G - G'||, cos(G, G'). */
  ics: { normalization: Normalization; layer: number; l2: number; cosine: number }[];
  /** One row per (normalization, eta): loss at W - eta g and ||grad L(W) - grad L(W - eta g)||. */
  landscape: {
    normalization: Normalization;
    eta: number;
    loss: number;
    gradientChange: number;
  }[];
  /** Effective beta-smoothness per normalization. */
  betaSmoothness: { normalization: Normalization; betaSmoothness: number }[];
  /**
   * One row per (normalization, step, where): mean over units of |mu_{t+1} - mu_t| / sd_t, for
   * the layer's normalisation input (`pre-norm`) and output (`post-norm`).
   */
  drift: { normalization: Normalization; step: number; where: string; meanShift: number }[];
  /** Training loss per step. */
  loss: { normalization: Normalization; step: number; loss: number }[];
}

/**
 * Runs the check.
 *
 * @param train The training images (the committed sample is enough).
 * @param config Settings (default {@link INSTRUMENT}).
 * @returns The rows of each panel.
 */
export async function runInstrumentCheck(
  trainSet: Cifar10Set,
  config: InstrumentConfig = INSTRUMENT,
): Promise<InstrumentResult> {
  const result: InstrumentResult = {
    ics: [],
    landscape: [],
    betaSmoothness: [],
    drift: [],
    loss: [],
  };
  const device = uploadImageSet(trainSet, CIFAR10_TRAIN_STATS);
  try {
    for (const normalization of config.normalizations) {
      const network = createVgg({ normalization, width: config.width });
      const source = imageBatchSource(device, {
        seed: config.seeds.data,
        batchSize: config.batchSize,
      });
      const pre: LayerMoments[] = [];
      const post: LayerMoments[] = [];
      const layers = network.layerNames.map((_, i) => i + 1);
      const outcome = await train(
        network,
        source,
        {
          ...SGD_DEFAULTS,
          steps: config.steps,
          learningRate: config.learningRate,
          seed: config.seeds.noise,
          metricsEvery: config.steps,
        },
        initialState(network, config.seeds.init),
        {
          measureAt: () => true,
          beforeStep: async ({ state, batch, noiseKey }) => {
            const captured = network.forward(state.params, batch.x, {
              training: true,
              noiseKey,
              capture: [config.driftLayer],
            });
            const activations = captured.activations.get(config.driftLayer)!;
            pre.push(await layerMoments(activations.preNorm));
            post.push(await layerMoments(activations.postNorm));
            tf.dispose(captured.output);
            tf.dispose([activations.preNorm, activations.postNorm]);
            for (const m of captured.batchMoments) {
              if (m !== undefined) tf.dispose([m.mean, m.variance]);
            }
            if (state.step !== config.measureStep) return;
            // The step's batch and noise sample, held fixed for G, G' and every eta.
            const lossFn = (params: Params) =>
              tf.tidy(() =>
                network.loss(
                  network.forward(params, batch.x, { training: true, noiseKey }).output,
                  batch.targets,
                )
              );
            for (
              const r of await measureIcs(lossFn, state.params, {
                learningRate: config.learningRate,
                layers,
              })
            ) {
              result.ics.push({ normalization, layer: r.layer, l2: r.l2, cosine: r.cosine });
            }
            const landscape = await measureLandscape(lossFn, state.params, {
              etas: etaGrid(config.learningRate, VGG_ETA_GRID),
            });
            for (const p of landscape.points) {
              result.landscape.push({
                normalization,
                eta: p.eta,
                loss: p.loss,
                gradientChange: p.gradientChange,
              });
            }
            result.betaSmoothness.push({ normalization, betaSmoothness: landscape.betaSmoothness });
          },
        },
      );
      outcome.metrics.step.forEach((step, i) =>
        result.loss.push({ normalization, step, loss: outcome.metrics.loss[i]! })
      );
      for (const [where, series] of [["pre-norm", pre], ["post-norm", post]] as const) {
        momentDrift(series).meanChangeScaledAverage.forEach((meanShift, step) =>
          result.drift.push({ normalization, step, where, meanShift })
        );
      }
      disposeState(outcome.state);
    }
  } finally {
    disposeDeviceSet(device);
  }
  return result;
}

/**
 * The instrument check: every measurement on one tiny run per network, the same at every
 * scale, so a reader can see the instruments work before trusting a long run.
 */
export const INSTRUMENT_CHECK = {
  name: "instrument",
  config: () => INSTRUMENT,
  jobs: () => [],
  // The same run at every scale: filed as quick (smoke stays smoke, the tests' scale).
  settingsScale: (scale) => scale === "smoke" ? "smoke" : "quick",
  scaleNote: () => "tiny VGG (width 1/16), 20 steps, batch 64, one seed, at every scale",
  dataSubset: () => "CIFAR-10 sample: first 1,000 training images",
  seeds: () => ({ ...INSTRUMENT.seeds }),
  summarize: async () => runInstrumentCheck((await loadCifar10Sample()).train, INSTRUMENT),
  results: (result) => ({ result }),
  keyLines: (result) =>
    INSTRUMENT.normalizations.map((normalization) => {
      const ics = result.ics.filter((r) => r.normalization === normalization);
      const beta = result.betaSmoothness.find((r) => r.normalization === normalization)!;
      const losses = result.landscape.filter((r) => r.normalization === normalization)
        .map((r) => r.loss);
      return `${normalization.padEnd(10)} cos(G,G') layer 5: ${ics[4]!.cosine.toFixed(4)}, ` +
        `layer 10: ${ics[9]!.cosine.toFixed(4)}; loss range over eta ${
          Math.min(...losses).toFixed(3)
        }..${Math.max(...losses).toFixed(3)}; beta-smoothness ${beta.betaSmoothness.toFixed(3)}`;
    }),
} satisfies Experiment<InstrumentConfig, InstrumentResult>;
