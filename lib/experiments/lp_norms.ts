/**
 * Figure `lp-norms` (paper Figures 5, 12 and 13; claim 5): l1, l2 and linf normalisation against
 * BatchNorm and the standard network: training curves of the VGG (train loss, test accuracy)
 * and of the DLN (train loss), and the smoothness of the landscape along the gradient (effective
 * beta-smoothness, gradient predictiveness) for both; where the VGG runs measure activations
 * (the `schedule` scale), how stable the normalised layers' distributions are over training.
 *
 * The DLN runs are `dlnJob` of figure `dln` at its landscape learning rate (1e-6): the standard
 * and BatchNorm ones are the very same jobs (computed once, shared).
 *
 * Pure: no I/O.
 *
 * @module
 */
import type { Scale } from "../scale.ts";
import { groupRuns } from "./analysis.ts";
import {
  activationDrift,
  type ActivationDriftRow,
  type ActivationStabilityRow,
} from "./activation_drift.ts";
import { etaGrid, type EtaGridOptions, VGG_ETA_GRID } from "../measure/landscape.ts";
import type { Normalization } from "../models/types.ts";
import {
  DLN_CONFIGS,
  type DlnConfig,
  dlnJob,
  dlnScaleNote,
  type LandscapeRow,
  landscapeRows,
  type LossRow,
  lossRows,
  meanRatio,
} from "./dln.ts";
import type { TrainingJob } from "../run/job.ts";
import type { RunRecord } from "../run/run_job.ts";
import { type Experiment, formatKey, runEntries, seedRoles } from "./experiment.ts";
import {
  SCHEDULE_VGG_RUNS,
  sharedVggJob,
  type SharedVggRuns,
  vggRunBase,
  type VggRunSettings,
} from "./schedule.ts";

/** Settings of the VGG runs of figure `lp-norms` at one scale. */
export interface LpVggConfig extends VggRunSettings {
  /** eta (PROTOCOL.md: 0.1). */
  learningRate: number;
  /** Steps between test-accuracy evaluations; 0 = at the end only. */
  evalEvery: number;
  /** Steps between landscape measurements (open in the paper). */
  landscapeEvery: number;
  /** eta range in multiples of the lr (PROTOCOL.md: [1/2, 4] x lr, `VGG_ETA_GRID`). */
  etaGrid: EtaGridOptions;
  /** Steps between checkpoints. */
  checkpointEvery: number;
  /** Runs shared with the other VGG figures (`schedule`): the jobs are `sharedVggJob`s. */
  shared?: SharedVggRuns;
}

/** Settings of figure `lp-norms` at one scale. */
export interface LpNormsConfig {
  /** Networks compared (PROTOCOL.md "Normalisation variants"; claim 5). */
  normalizations: readonly Normalization[];
  /** One replicate per seed (init, data order, noise). */
  seeds: readonly number[];
  vgg: LpVggConfig;
  /** The DLN runs: figure `dln`'s settings of the same scale (at its landscape lr). */
  dln: DlnConfig;
  /** Moving-average window (steps) of the VGG train-loss curves (per-batch losses are noisy). */
  smoothVggLoss: number;
}

/** The networks of the l_p figure: standard, BatchNorm and the three l_p normalisations. */
const LP_NETWORKS = [
  "none",
  "batchnorm",
  "l1",
  "l2",
  "linf",
] as const satisfies readonly Normalization[];

/** Smoke: a 1/32-width VGG on the committed sample for 10 steps, one seed. */
export const LP_NORMS_SMOKE = {
  normalizations: LP_NETWORKS,
  seeds: [0], // one replicate: smoke checks the pipeline, not the claim
  vgg: {
    width: 1 / 32, // 2..16 channels
    source: "sample",
    batchSize: 32,
    steps: 10,
    learningRate: 0.1,
    bnMomentum: 0.1,
    evalEvery: 0,
    landscapeEvery: 5, // steps 0, 5
    etaGrid: { ...VGG_ETA_GRID, count: 3 }, // 3 etas in [1/2, 4] x lr
    checkpointEvery: 10,
  },
  dln: DLN_CONFIGS.smoke,
  smoothVggLoss: 1,
} as const satisfies LpNormsConfig;

/**
 * Quick: a 1/16-width VGG on all of CIFAR-10 for 100 steps and the DLN for 300 steps, 3 seeds.
 * Under load on the 2-core CPU (wasm) a VGG run takes ~25 s (6 s of it loading CIFAR-10, 6 s the
 * test accuracy) and an l_p DLN run ~20 s: about 8 minutes in all.
 */
export const LP_NORMS_QUICK = {
  normalizations: LP_NETWORKS,
  seeds: [0, 1, 2],
  vgg: {
    width: 1 / 16, // 4..32 channels, 32-wide dense layers
    source: "full", // all 50,000 training images
    batchSize: 64, // half the paper's 128: cheaper steps
    steps: 100, // the very start of training (0.7% of 15,000)
    learningRate: 0.1,
    bnMomentum: 0.1,
    evalEvery: 0, // test accuracy at step 100 only: one pass over 10,000 images costs ~6 s
    landscapeEvery: 25, // steps 0, 25, 50, 75; 9 gradients each
    etaGrid: VGG_ETA_GRID,
    checkpointEvery: 50,
  },
  dln: DLN_CONFIGS.quick,
  smoothVggLoss: 10,
} as const satisfies LpNormsConfig;

/** Long: quick's networks and data with 10x the steps and measurement intervals. */
export const LP_NORMS_LONG = {
  ...LP_NORMS_QUICK,
  vgg: { ...LP_NORMS_QUICK.vgg, steps: 1_000, landscapeEvery: 250, checkpointEvery: 500 },
  dln: DLN_CONFIGS.long,
  smoothVggLoss: 100,
} as const satisfies LpNormsConfig;

/**
 * Schedule: PROTOCOL.md's schedules (VGG 15,000 steps at batch 128, DLN 10,000 steps), the VGG
 * 1/4 wide; its standard and BatchNorm VGG runs are those of `training` and `ics`.
 */
export const LP_NORMS_SCHEDULE = {
  normalizations: LP_NETWORKS,
  seeds: SCHEDULE_VGG_RUNS.seeds,
  vgg: {
    width: SCHEDULE_VGG_RUNS.width,
    source: SCHEDULE_VGG_RUNS.source,
    batchSize: SCHEDULE_VGG_RUNS.batchSize,
    steps: SCHEDULE_VGG_RUNS.steps,
    learningRate: 0.1, // PROTOCOL.md
    bnMomentum: SCHEDULE_VGG_RUNS.bnMomentum,
    evalEvery: SCHEDULE_VGG_RUNS.evalEvery,
    landscapeEvery: SCHEDULE_VGG_RUNS.measureEvery,
    etaGrid: SCHEDULE_VGG_RUNS.etaGrid,
    checkpointEvery: SCHEDULE_VGG_RUNS.checkpointEvery,
    shared: SCHEDULE_VGG_RUNS,
  },
  dln: DLN_CONFIGS.schedule,
  smoothVggLoss: 100,
} as const satisfies LpNormsConfig;

/** Paper: PROTOCOL.md exactly (VGG 15,000 steps at batch 128, DLN 10,000 steps), 3 seeds. */
export const LP_NORMS_PAPER = {
  normalizations: LP_NETWORKS,
  seeds: [0, 1, 2],
  vgg: {
    width: 1, // PROTOCOL.md
    source: "full",
    batchSize: 128, // PROTOCOL.md
    steps: 15_000, // PROTOCOL.md
    learningRate: 0.1, // PROTOCOL.md
    bnMomentum: 0.1,
    evalEvery: 500, // our choice: 30 points of test accuracy
    landscapeEvery: 100, // our choice
    etaGrid: VGG_ETA_GRID, // 8 linear etas in [1/2, 4] x lr
    checkpointEvery: 500,
  },
  dln: DLN_CONFIGS.paper,
  smoothVggLoss: 50,
} as const satisfies LpNormsConfig;

/** The settings of each scale. */
export const LP_NORMS_CONFIGS = {
  smoke: LP_NORMS_SMOKE,
  quick: LP_NORMS_QUICK,
  long: LP_NORMS_LONG,
  schedule: LP_NORMS_SCHEDULE,
  paper: LP_NORMS_PAPER,
} as const satisfies Record<Scale, LpNormsConfig>;

/**
 * The VGG job of one (normalization, seed) run, with the landscape measurement.
 *
 * @param config The scale's settings.
 * @param run Network and seed.
 * @returns A job for `runJob`.
 */
export function lpVggJob(
  config: LpVggConfig,
  run: { normalization: Normalization; seed: number },
): TrainingJob {
  const withRate = { ...run, learningRate: config.learningRate };
  if (config.shared !== undefined) return sharedVggJob(config.shared, withRate);
  return {
    ...vggRunBase(config, withRate),
    evalEvery: config.evalEvery,
    measurements: {
      landscape: {
        every: config.landscapeEvery,
        etas: etaGrid(config.learningRate, config.etaGrid),
      },
    },
    checkpointEvery: config.checkpointEvery,
  };
}

/** The jobs of figure `lp-norms`, by model. */
export interface LpNormsJobs {
  /** normalizations x seeds. */
  vgg: TrainingJob[];
  /** normalizations x seeds, at the DLN's landscape lr (`dlnJob`). */
  dln: TrainingJob[];
}

/**
 * Every job of figure `lp-norms` at a scale.
 *
 * @param scale The run scale.
 * @returns VGG and DLN jobs.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lpNormsJobs } from "./lp_norms.ts";
 *
 * const jobs = lpNormsJobs("quick");
 * assert.equal(jobs.vgg.length, 15); // 5 networks x 3 seeds
 * assert.equal(jobs.dln[0]!.sgd.learningRate, 1e-6);
 * ```
 */
export function lpNormsJobs(scale: Scale): LpNormsJobs {
  const config: LpNormsConfig = LP_NORMS_CONFIGS[scale];
  const each = <T>(make: (normalization: Normalization, seed: number) => T): T[] =>
    config.normalizations.flatMap((n) => config.seeds.map((seed) => make(n, seed)));
  return {
    vgg: each((normalization, seed) => lpVggJob(config.vgg, { normalization, seed })),
    dln: each((normalization, seed) =>
      dlnJob(config.dln, { normalization, learningRate: config.dln.landscapeLearningRate, seed })
    ),
  };
}

function fraction(value: number): string {
  const inverse = 1 / value;
  return Number.isInteger(inverse) ? `1/${inverse}` : String(value);
}

/**
 * What a scale shrinks relative to PROTOCOL.md, for the subtitle.
 *
 * @param scale The run scale.
 * @returns One sentence for the VGG and one for the DLN.
 */
export function lpNormsScaleNote(scale: Scale): string {
  const c: LpNormsConfig = LP_NORMS_CONFIGS[scale];
  const v = c.vgg;
  const p = LP_NORMS_PAPER.vgg;
  const data = v.source === "full" ? "full CIFAR-10" : "the 1,000-image CIFAR-10 sample";
  const seeds = `${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`;
  const evals = v.evalEvery === 0 ? "test accuracy at the end" : `test every ${v.evalEvery}`;
  const vgg = `VGG width ${fraction(v.width)}${v.width === 1 ? "" : " instead of 1"}, batch ` +
    `${v.batchSize}, ${v.steps.toLocaleString("en-US")} of ${
      p.steps.toLocaleString("en-US")
    } steps, ${data}, ${seeds}, ${evals}, landscape every ${v.landscapeEvery} steps`;
  return `${vgg}; ${dlnScaleNote(scale).replace("PROTOCOL.md settings: ", "")}`;
}

/** The numbers the `lp-norms` notebook prints, per network, all computed from the rows. */
export interface LpNormsKeyRow {
  normalization: Normalization;
  /** VGG train loss at the last step (mean over seeds of the smoothed loss). */
  vggFinalLoss: number | null;
  /** VGG test accuracy at the last evaluation (mean over seeds). */
  vggTestAccuracy: number | null;
  /** Mean over measured steps of beta(this) / beta(BatchNorm), VGG. */
  vggBetaVsBatchnorm: number | null;
  /** Same for the top of the gradient-predictiveness band, VGG. */
  vggGradientVsBatchnorm: number | null;
  /** DLN training loss at the last step (mean over seeds). */
  dlnFinalLoss: number | null;
  /** dlnFinalLoss / BatchNorm's. */
  dlnLossVsBatchnorm: number | null;
  /** Mean over measured steps of beta(this) / beta(BatchNorm), DLN. */
  dlnBetaVsBatchnorm: number | null;
  /** Same for the top of the gradient-predictiveness band, DLN. */
  dlnGradientVsBatchnorm: number | null;
  /**
   * VGG, normalised layers: median step-to-step |d var| / var of the units (mean over the
   * layers; null where the runs measure no activations). See `activation_drift.ts`.
   */
  vggVarianceDrift: number | null;
  /** Same for |d mu| / sigma. */
  vggMeanDrift: number | null;
  /** Median |ln var| of the units at the end (mean over the layers): 0 is unit variance. */
  vggLogVarianceEnd: number | null;
  /** Diverged runs ("diverged at step k (seed s)"), or null. */
  diverged: string | null;
}

/** One test-accuracy point over seeds. */
export interface AccuracyRow {
  [field: string]: string | number | null;
  normalization: Normalization;
  step: number;
  accuracy: number | null;
  accuracyMin: number | null;
  accuracyMax: number | null;
  seeds: number;
}

/** Everything figure `lp-norms` plots, plus its key numbers. */
export interface LpNormsRows {
  vggLoss: LossRow[];
  vggAccuracy: AccuracyRow[];
  vggLandscape: LandscapeRow[];
  dlnLoss: LossRow[];
  dlnLandscape: LandscapeRow[];
  /** Per interval between activation measurements (empty where none were taken). */
  vggActivationDrift: ActivationDriftRow[];
  /** Per network and normalised layer, over the run. */
  activationStability: ActivationStabilityRow[];
  key: LpNormsKeyRow[];
}

function accuracyRows(records: readonly RunRecord[]): AccuracyRow[] {
  return groupRuns(records).flatMap((group) => {
    const steps = [...new Set(group.records.flatMap((r) => r.evals.step))].sort((a, b) => a - b);
    return steps.map((step) => {
      const values = group.records.map((r) => r.evals.accuracy[r.evals.step.indexOf(step)])
        .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
      return {
        normalization: group.normalization,
        step,
        accuracy: values.length === 0 ? null : values.reduce((s, v) => s + v, 0) / values.length,
        accuracyMin: values.length === 0 ? null : Math.min(...values),
        accuracyMax: values.length === 0 ? null : Math.max(...values),
        seeds: values.length,
      };
    });
  });
}

function lastOf<T>(rows: readonly T[]): T | undefined {
  return rows[rows.length - 1];
}

/**
 * Turns the `lp-norms` runs into the figure's rows and key numbers.
 *
 * @param vgg The runs of `lpNormsJobs(scale).vgg`.
 * @param dln The runs of `lpNormsJobs(scale).dln`.
 * @param options Moving-average window of the VGG loss (default 1).
 * @returns Rows per panel and one key row per network.
 */
export function lpNormsRows(
  vgg: readonly RunRecord[],
  dln: readonly RunRecord[],
  options: { smoothVggLoss?: number } = {},
): LpNormsRows {
  const vggLoss = lossRows(vgg, { smooth: options.smoothVggLoss ?? 1 });
  const vggAccuracy = accuracyRows(vgg);
  const vggLandscape = landscapeRows(vgg);
  const dlnLoss = lossRows(dln);
  const dlnLandscape = landscapeRows(dln);
  const drift = activationDrift(vgg);
  const layerMean = (n: Normalization, value: (r: ActivationStabilityRow) => number | null) => {
    const values = drift.stability.filter((r) => r.normalization === n).map(value)
      .filter((v): v is number => v !== null);
    return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  };
  const normalizations = [
    ...new Set([...vgg, ...dln].map((r) => r.job.network.normalization)),
  ];
  const of = <T extends { normalization: Normalization }>(rows: readonly T[], n: Normalization) =>
    rows.filter((r) => r.normalization === n);
  const steps = (rows: readonly LandscapeRow[], value: (r: LandscapeRow) => number | null) =>
    new Map(rows.map((r) => [r.step, value(r)]));
  const key = normalizations.map((n): LpNormsKeyRow => {
    const ratio = (rows: readonly LandscapeRow[], value: (r: LandscapeRow) => number | null) =>
      meanRatio(steps(of(rows, n), value), steps(of(rows, "batchnorm"), value));
    const dlnFinal = lastOf(of(dlnLoss, n))?.loss ?? null;
    const dlnBn = lastOf(of(dlnLoss, "batchnorm"))?.loss ?? null;
    const diverged = groupRuns([...vgg, ...dln]).filter((g) => g.normalization === n)
      .flatMap((g) => g.records).filter((r) => r.divergedAt !== null)
      .map((r) =>
        `${r.job.network.arch} diverged at step ${r.divergedAt} (seed ${r.job.seeds.init})`
      );
    return {
      normalization: n,
      vggFinalLoss: lastOf(of(vggLoss, n))?.loss ?? null,
      vggTestAccuracy: lastOf(of(vggAccuracy, n))?.accuracy ?? null,
      vggBetaVsBatchnorm: ratio(vggLandscape, (r) => r.beta),
      vggGradientVsBatchnorm: ratio(vggLandscape, (r) => r.gradientHigh),
      dlnFinalLoss: dlnFinal,
      dlnLossVsBatchnorm: dlnFinal !== null && dlnBn !== null && dlnBn > 0
        ? dlnFinal / dlnBn
        : null,
      dlnBetaVsBatchnorm: ratio(dlnLandscape, (r) => r.beta),
      dlnGradientVsBatchnorm: ratio(dlnLandscape, (r) => r.gradientHigh),
      vggVarianceDrift: layerMean(n, (r) => r.varianceDrift),
      vggMeanDrift: layerMean(n, (r) => r.meanDrift),
      vggLogVarianceEnd: layerMean(n, (r) => r.logVarianceEnd),
      diverged: diverged.length === 0 ? null : diverged.join("; "),
    };
  });
  return {
    vggLoss,
    vggAccuracy,
    vggLandscape,
    dlnLoss,
    dlnLandscape,
    vggActivationDrift: drift.rows,
    activationStability: drift.stability,
    key,
  };
}

/**
 * Figure 14's experiment: the l_p-normalised networks beside BatchNorm, VGG and DLN. Its jobs
 * are the VGG runs, then the DLN runs.
 */
export const LP_NORMS = {
  name: "lp-norms",
  config: (scale) => LP_NORMS_CONFIGS[scale],
  jobs: (scale) => {
    const { vgg, dln } = lpNormsJobs(scale);
    return [...vgg, ...dln];
  },
  scaleNote: lpNormsScaleNote,
  dataSubset: (scale) => {
    const c = LP_NORMS_CONFIGS[scale];
    return (c.vgg.source === "full"
      ? "CIFAR-10: all 50,000 training images (test accuracy on the 10,000 test images)"
      : "CIFAR-10 sample: the committed 1,000 training / 1,000 test images") +
      `; DLN: ${c.dln.samples} synthetic samples per seed`;
  },
  seeds: (scale) => seedRoles(LP_NORMS_CONFIGS[scale].seeds, (k) => `replicate ${k + 1}`),
  summarize: (records, scale) => {
    const vggCount = lpNormsJobs(scale).vgg.length;
    return lpNormsRows(records.slice(0, vggCount), records.slice(vggCount), {
      smoothVggLoss: LP_NORMS_CONFIGS[scale].smoothVggLoss,
    });
  },
  results: (rows, records) => ({
    runs: runEntries(records, ["arch"]),
    keyNumbers: rows.key,
    activationStability: rows.activationStability,
    rows: {
      vggLoss: rows.vggLoss,
      vggAccuracy: rows.vggAccuracy,
      vggLandscape: rows.vggLandscape,
      dlnLoss: rows.dlnLoss,
      dlnLandscape: rows.dlnLandscape,
      vggActivationDrift: rows.vggActivationDrift,
    },
  }),
  // Ratios: mean over measured steps of variant / BatchNorm.
  keyLines: (rows) =>
    rows.key.map((k) =>
      `${k.normalization.padEnd(9)} VGG: final loss ${formatKey(k.vggFinalLoss)}, test acc ${
        formatKey(k.vggTestAccuracy)
      }, beta / BN ${formatKey(k.vggBetaVsBatchnorm)}, grad-change / BN ${
        formatKey(k.vggGradientVsBatchnorm)
      } | DLN: final loss ${formatKey(k.dlnFinalLoss, 4)} (/ BN ${
        formatKey(k.dlnLossVsBatchnorm)
      }), beta / BN ${formatKey(k.dlnBetaVsBatchnorm)}, grad-change / BN ${
        formatKey(k.dlnGradientVsBatchnorm)
      }${
        k.vggVarianceDrift === null
          ? ""
          : ` | VGG activations: variance drift ${formatKey(k.vggVarianceDrift)}, mean drift ${
            formatKey(k.vggMeanDrift)
          }, |ln var| at the end ${formatKey(k.vggLogVarianceEnd)}`
      }${k.diverged === null ? "" : `; ${k.diverged}`}`
    ),
} satisfies Experiment<LpNormsConfig, LpNormsRows>;
