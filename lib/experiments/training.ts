/**
 * Figure `training` (paper Figures 1, 2 and 7; claims 1 and 2 of docs/PROTOCOL.md): train loss,
 * train accuracy and test accuracy against the step for the standard VGG, BatchNorm, noisy
 * BatchNorm and the same noise without BatchNorm at lr 0.1, and standard vs BatchNorm at lr 0.5;
 * beside them, the distribution of a few units of one layer over training (quantile bands).
 *
 * This module holds the configs per scale, builds the {@link TrainingJob}s, and turns the
 * finished runs ({@link RunRecord}s) into compact rows for the figure, a final-accuracy table
 * for paper.md and the key numbers. Pure: no I/O, no tensors.
 *
 * @module
 */
import { type AggregateRow, aggregateSeeds, movingAverage } from "./analysis.ts";
import type { Scale } from "../scale.ts";
import { DEFAULT_QUANTILES, type UnitStats } from "../measure/activations.ts";
import { VGG_ACTIVATION_LAYERS } from "../models/layer_map.ts";
import type { Normalization } from "../models/types.ts";
import type { TrainingJob } from "../run/job.ts";
import type { RunRecord } from "../run/run_job.ts";
import { type Experiment, seedRoles } from "./experiment.ts";
import {
  SCHEDULE_VGG_RUNS,
  sharedVggJob,
  type SharedVggRuns,
  vggRunBase,
  type VggRunSettings,
} from "./schedule.ts";

/** One curve of the figure: a normalisation trained at one learning rate. */
export interface TrainingConfiguration {
  /** Normalisation of the VGG's conv blocks (PROTOCOL.md, "Normalisation variants"). */
  readonly normalization: Normalization;
  /** eta: fixed SGD learning rate. */
  readonly learningRate: number;
}

/** Settings of the `training` figure at one scale. */
export interface TrainingConfig extends VggRunSettings {
  /** Steps between test-accuracy evaluations (the last step is always evaluated). */
  readonly evalEvery: number;
  /** Steps between checkpoints of a run (resumability only). */
  readonly checkpointEvery: number;
  /** Seeds; run k uses seed k for initialisation, data order and noise alike. */
  readonly seeds: readonly number[];
  /** The curves: normalisation and learning rate. */
  readonly configurations: readonly TrainingConfiguration[];
  /** Activation distributions measured before the update of every `every`-th step. */
  readonly activations: {
    /** Steps between measurements. */
    readonly every: number;
    /** 1-based layers measured (PROTOCOL.md mapping: paper #2, #9, #13). */
    readonly layers: readonly number[];
    /** Units (channels) described per layer, evenly spaced. */
    readonly units: number;
  };
  /** Layer whose distributions the figure shows (one of `activations.layers`). */
  readonly plotLayer: number;
  /** Steps per moving-average window of the per-step train loss and accuracy curves. */
  readonly smoothWindow: number;
  /** Most points per plotted curve (longer curves are thinned evenly, after smoothing). */
  readonly maxPoints: number;
  /** Last steps whose batch accuracy is averaged into the final train accuracy. */
  readonly finalWindow: number;
  /** Runs shared with the other VGG figures (`schedule`): the jobs are `sharedVggJob`s. */
  readonly shared?: SharedVggRuns;
}

/** Standard network at lr 0.1 (PROTOCOL.md default). */
const NONE_01 = { normalization: "none", learningRate: 0.1 } as const;
/** The curves every scale trains: claims 1 and 2 of PROTOCOL.md. */
const CONFIGURATIONS = [
  NONE_01,
  { normalization: "batchnorm", learningRate: 0.1 },
  { normalization: "noisy-batchnorm", learningRate: 0.1 }, // Fig. 2, Alg. 1 noise after BN
  { normalization: "noise-only", learningRate: 0.1 }, // the same noise without BN ("stops training")
  { normalization: "none", learningRate: 0.5 }, // Fig. 1: the larger learning rate
  { normalization: "batchnorm", learningRate: 0.5 },
] as const satisfies readonly TrainingConfiguration[];

/** PROTOCOL.md's activation layers #2, #9, #13 -> conv2, conv6, dense10. */
const ACTIVATION_LAYERS = VGG_ACTIVATION_LAYERS.map((m) => m.ours);

/** Quick: a 2-core CPU in about 10 minutes with the wasm backend (docs: figure budget 12 min). */
const TRAINING_QUICK = {
  width: 1 / 8, // 8..64 channels: ~55 ms/step with or without BN, ~130 ms with noise (wasm)
  source: "full", // all 50,000 training images; test accuracy on all 10,000 test images
  batchSize: 32, // B (paper 128): more steps for the same compute
  steps: 200, // T (paper 15,000): 6,400 images, ~0.13 epoch
  bnMomentum: 0.1,
  evalEvery: 100, // each evaluation reads the full test set (~4-5 s)
  checkpointEvery: 100,
  seeds: [0, 1, 2],
  configurations: CONFIGURATIONS,
  activations: { every: 10, layers: ACTIVATION_LAYERS, units: 3 },
  plotLayer: 2, // conv2 = paper #2 (early layer)
  smoothWindow: 10, // steps
  maxPoints: 300,
  finalWindow: 40, // steps: the last 40 batches (1,280 images)
} as const satisfies TrainingConfig;

/** The settings of each scale. */
export const TRAINING_CONFIGS = {
  /** Seconds on the committed sample: checks the pipeline, not the claims. */
  smoke: {
    width: 1 / 32, // 2..16 channels
    source: "sample", // first 1,000 CIFAR-10 training images (data/cifar10-sample)
    batchSize: 16, // B
    steps: 12, // T
    bnMomentum: 0.1, // PyTorch's default (train.ts)
    evalEvery: 6, // on the sample's 1,000 test images
    checkpointEvery: 12,
    seeds: [0], // one seed: smoke supports no verdict
    configurations: CONFIGURATIONS,
    activations: { every: 3, layers: ACTIVATION_LAYERS, units: 2 },
    plotLayer: 2, // conv2 = paper #2
    smoothWindow: 3,
    maxPoints: 200,
    finalWindow: 4,
  },
  quick: TRAINING_QUICK,
  /** quick's network and data, 10x the steps and intervals (a CPU with oneDNN: ~1 hour). */
  long: {
    ...TRAINING_QUICK,
    steps: 2_000, // 64,000 images, 1.3 epochs
    evalEvery: 1_000,
    checkpointEvery: 500,
    activations: { ...TRAINING_QUICK.activations, every: 100 },
    smoothWindow: 100, // steps
    finalWindow: 400, // steps: the last 400 batches (12,800 images)
  },
  /** PROTOCOL.md's schedule with a VGG 1/4 wide; runs shared with the other VGG figures. */
  schedule: {
    width: SCHEDULE_VGG_RUNS.width,
    source: SCHEDULE_VGG_RUNS.source,
    batchSize: SCHEDULE_VGG_RUNS.batchSize,
    steps: SCHEDULE_VGG_RUNS.steps,
    bnMomentum: SCHEDULE_VGG_RUNS.bnMomentum,
    evalEvery: SCHEDULE_VGG_RUNS.evalEvery,
    checkpointEvery: SCHEDULE_VGG_RUNS.checkpointEvery,
    seeds: SCHEDULE_VGG_RUNS.seeds,
    configurations: CONFIGURATIONS,
    activations: {
      every: SCHEDULE_VGG_RUNS.measureEvery,
      layers: SCHEDULE_VGG_RUNS.activationLayers,
      units: SCHEDULE_VGG_RUNS.activationUnits,
    },
    plotLayer: 2, // conv2 = paper #2
    smoothWindow: 100,
    maxPoints: 300,
    finalWindow: 390, // steps: about one epoch (50,000 / 128)
    shared: SCHEDULE_VGG_RUNS,
  },
  /** PROTOCOL.md exactly (a GPU's job). */
  paper: {
    width: 1, // 64-128-256-256-512-512-512-512
    source: "full",
    batchSize: 128, // B
    steps: 15_000, // T
    bnMomentum: 0.1,
    evalEvery: 500, // not given by the paper: 30 test points
    checkpointEvery: 500,
    seeds: [0, 1, 2],
    configurations: CONFIGURATIONS,
    activations: { every: 100, layers: ACTIVATION_LAYERS, units: 3 },
    plotLayer: 2, // conv2 = paper #2
    smoothWindow: 100,
    maxPoints: 300,
    finalWindow: 390, // steps: about one epoch (50,000 / 128)
  },
} as const satisfies Record<Scale, TrainingConfig>;

/**
 * The settings of a scale.
 *
 * @param scale The run scale.
 * @returns That scale's config.
 */
export function trainingConfig(scale: Scale): TrainingConfig {
  switch (scale) {
    case "smoke":
    case "quick":
    case "long":
    case "schedule":
    case "paper":
      return TRAINING_CONFIGS[scale];
    default:
      throw new RangeError(`Cannot choose training config: unknown scale, got ${String(scale)}`);
  }
}

/**
 * What a scale shrinks from PROTOCOL.md, for the figure's subtitle.
 *
 * @param scale The run scale.
 * @returns E.g. "VGG width 1/8, batch 32, 300 steps (paper: width 1, batch 128, 15,000), 3 seeds".
 */
export function trainingScaleNote(scale: Scale): string {
  const c = trainingConfig(scale);
  const seeds = `${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`;
  if (scale === "paper") return `PROTOCOL.md settings, ${seeds}`;
  const data = c.source === "sample"
    ? "the 1,000-image CIFAR-10 sample"
    : "full CIFAR-10 (50,000 train, 10,000 test)";
  return `VGG width 1/${Math.round(1 / c.width)}, batch ${c.batchSize}, ` +
    `${c.steps.toLocaleString("en-US")} steps (paper: width 1, batch 128, 15,000), ${seeds}, ` +
    `${data}`;
}

/**
 * The label of a configuration in legends and tables, e.g. "batchnorm, lr 0.1".
 *
 * @param configuration Normalisation and learning rate.
 * @returns The label.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configurationLabel } from "./training.ts";
 *
 * assert.equal(configurationLabel({ normalization: "batchnorm", learningRate: 0.5 }), "batchnorm, lr 0.5");
 * ```
 */
export function configurationLabel(configuration: TrainingConfiguration): string {
  return `${configuration.normalization}, lr ${configuration.learningRate}`;
}

/** One job of the figure, with what it stands for. */
export interface TrainingJobEntry {
  /** {@link configurationLabel} of its configuration. */
  label: string;
  configuration: TrainingConfiguration;
  seed: number;
  job: TrainingJob;
}

/**
 * Every job of a scale: each configuration with each seed, configurations in figure order.
 *
 * @param config A scale's config ({@link trainingConfig}).
 * @returns One entry per (configuration, seed).
 */
export function trainingJobEntries(config: TrainingConfig): TrainingJobEntry[] {
  const shared = config.shared;
  return config.configurations.flatMap((configuration) =>
    config.seeds.map((seed) => ({
      label: configurationLabel(configuration),
      configuration,
      seed,
      job: shared !== undefined ? sharedVggJob(shared, { ...configuration, seed }) : {
        ...vggRunBase(config, { ...configuration, seed }),
        evalEvery: config.evalEvery,
        checkpointEvery: config.checkpointEvery,
        measurements: {
          activations: {
            every: config.activations.every,
            layers: [...config.activations.layers],
            units: config.activations.units,
          },
        },
      },
    }))
  );
}

/** The metrics plotted against the step. */
export type TrainingMetric = "train loss" | "train accuracy" | "test accuracy";

/** One point of a curve: mean and spread over seeds. */
export interface CurveRow {
  configuration: string;
  metric: TrainingMetric;
  step: number;
  /** Mean over the seeds with a finite value (null when none). */
  mean: number | null;
  min: number | null;
  max: number | null;
  /** Seeds with a finite value here. */
  n: number;
}

/** Where a run diverged (first non-finite loss). */
export interface DivergenceRow {
  configuration: string;
  seed: number;
  step: number;
  /** E.g. "diverged at step 41". */
  label: string;
}

/** One quantile band of one unit at one step. */
export interface ActivationRow {
  configuration: string;
  /** 0-based channel of the plotted layer, e.g. "unit 5". */
  unit: string;
  step: number;
  /** E.g. "15.9–84.1%". */
  band: string;
  low: number | null;
  high: number | null;
  median: number | null;
}

/** Train and test accuracy at the end of training, over seeds. */
export interface FinalAccuracyRow {
  configuration: string;
  normalization: Normalization;
  learningRate: number;
  /** Seeds run. */
  seeds: number;
  /** Steps at which runs diverged (one entry per diverged seed). */
  divergedAt: number[];
  /** Mean batch accuracy of the last `finalWindow` steps, over the finished seeds. */
  trainAccuracy: Spread | null;
  /** Test accuracy after the last step, over the finished seeds. */
  testAccuracy: Spread | null;
  /** The paper's test accuracy for this network (lr 0.1), or null where it reports none. */
  paperTestAccuracy: number | null;
}

/** Mean and range over seeds. */
export interface Spread {
  mean: number;
  min: number;
  max: number;
  n: number;
}

/** A ratio between two configurations at one step. */
export interface RatioNumber {
  step: number;
  /** E.g. "train loss". */
  metric: TrainingMetric;
  numerator: string;
  denominator: string;
  /** numerator mean / denominator mean, or null when either is missing. */
  ratio: number | null;
}

/** The numbers the notebook prints and paper.md cites. */
export interface TrainingKeyNumbers {
  /** Steps the numbers are taken at (a quarter, half and all of training). */
  steps: number[];
  /** Smoothed train accuracy (mean over seeds) of every configuration at those steps. */
  trainAccuracy: { configuration: string; step: number; mean: number | null }[];
  /** BatchNorm / standard train loss (lr 0.1 and 0.5) and noisy / plain BatchNorm at lr 0.1. */
  ratios: RatioNumber[];
}

/** Everything the figure and the report need, compact. */
export interface TrainingResults {
  /** Configuration labels in figure order. */
  configurations: string[];
  curves: CurveRow[];
  divergences: DivergenceRow[];
  /** Distributions of the plotted layer's units, first seed of each configuration. */
  activations: ActivationRow[];
  /** Layer shown in `activations` (1-based) and its paper number. */
  plotLayer: { ours: number; paper: number | null };
  finalAccuracy: FinalAccuracyRow[];
  keyNumbers: TrainingKeyNumbers;
}

/** The paper's reported test accuracies (PROTOCOL.md): 83% with BatchNorm, 80% without. */
export const PAPER_TEST_ACCURACY: Readonly<Partial<Record<Normalization, number>>> = {
  batchnorm: 0.83,
  none: 0.8,
};

/** Quantile bands drawn for each unit: [low, high] probabilities, widest first. */
export const ACTIVATION_BANDS: readonly (readonly [number, number])[] = [
  [0, 1],
  [0.0668, 0.9332],
  [0.1587, 0.8413],
  [0.3085, 0.6915],
];

/**
 * Band label, e.g. "15.9–84.1%" or "min–max".
 *
 * @param band [low, high] probabilities.
 * @returns The label, in percent with one decimal.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bandLabel } from "./training.ts";
 *
 * assert.equal(bandLabel([0.3085, 0.6915]), "30.9–69.1%");
 * assert.equal(bandLabel([0, 1]), "min–max");
 * ```
 */
export function bandLabel(band: readonly [number, number]): string {
  if (band[0] === 0 && band[1] === 1) return "min–max";
  const tenths = (p: number) => (Math.round(p * 1000) / 10).toFixed(1);
  // A symmetric band's upper end is 100% minus its lower end: 0.6915 would round to 69.2%
  // beside 30.9% (its true complement is 0.6915 = 1 - 0.3085).
  const symmetric = Math.abs(band[0] + band[1] - 1) < 1e-9;
  const high = symmetric ? (100 - Number(tenths(band[0]))).toFixed(1) : tenths(band[1]);
  return `${tenths(band[0])}–${high}%`;
}

function finite(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}

function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  return {
    mean: values.reduce((s, v) => s + v, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

function configurationOf(record: RunRecord): TrainingConfiguration {
  const { network, sgd } = record.job;
  return { normalization: network.normalization, learningRate: sgd.learningRate };
}

/** Records grouped by configuration label, in the config's order (unknown ones after). */
function groupRecords(
  records: readonly RunRecord[],
  config: TrainingConfig,
): Map<string, RunRecord[]> {
  const groups = new Map<string, RunRecord[]>();
  for (const c of config.configurations) groups.set(configurationLabel(c), []);
  for (const record of records) {
    const label = configurationLabel(configurationOf(record));
    const group = groups.get(label) ?? [];
    group.push(record);
    groups.set(label, group);
  }
  for (const [label, group] of groups) {
    if (group.length === 0) groups.delete(label);
    else group.sort((a, b) => a.job.seeds.init - b.job.seeds.init);
  }
  return groups;
}

/** Keeps at most `maxPoints` evenly spaced x values of aggregated rows (always the last). */
function thin(rows: readonly AggregateRow[], maxPoints: number): AggregateRow[] {
  if (rows.length <= maxPoints) return [...rows];
  const stride = Math.ceil(rows.length / maxPoints);
  return rows.filter((_, i) => i % stride === 0 || i === rows.length - 1);
}

function curveRows(
  configuration: string,
  metric: TrainingMetric,
  rows: readonly AggregateRow[],
): CurveRow[] {
  return rows.map((r) => ({
    configuration,
    metric,
    step: r.x,
    mean: r.mean,
    min: r.min,
    max: r.max,
    n: r.n,
  }));
}

/**
 * Final train and test accuracy per configuration, over seeds, beside the paper's reported test
 * accuracy (83% BatchNorm, 80% standard, at lr 0.1). Train accuracy is the mean batch accuracy
 * of each run's last `finalWindow` steps (the runs log no full-training-set accuracy); diverged
 * runs are listed in `divergedAt` and left out of both means.
 *
 * @param records Finished or diverged runs of the figure's jobs.
 * @param config The scale's config (configuration order, `finalWindow`).
 * @returns One row per configuration with at least one run, in figure order.
 */
export function finalAccuracyTable(
  records: readonly RunRecord[],
  config: TrainingConfig,
): FinalAccuracyRow[] {
  const rows: FinalAccuracyRow[] = [];
  for (const [label, group] of groupRecords(records, config)) {
    const { normalization, learningRate } = configurationOf(group[0]!);
    const train: number[] = [];
    const test: number[] = [];
    const divergedAt: number[] = [];
    for (const record of group) {
      if (record.divergedAt !== null) {
        divergedAt.push(record.divergedAt);
        continue;
      }
      const last = record.metrics.accuracy.slice(-config.finalWindow);
      if (last.length > 0) train.push(last.reduce((s, v) => s + v, 0) / last.length);
      const k = record.evals.step.lastIndexOf(record.job.sgd.steps);
      if (k >= 0) test.push(record.evals.accuracy[k]!);
    }
    rows.push({
      configuration: label,
      normalization,
      learningRate,
      seeds: group.length,
      divergedAt,
      trainAccuracy: spread(train),
      testAccuracy: spread(test),
      paperTestAccuracy: learningRate === 0.1 ? PAPER_TEST_ACCURACY[normalization] ?? null : null,
    });
  }
  return rows;
}

function formatSpread(s: Spread | null): string {
  if (s === null) return "—";
  const pct = (v: number) => (100 * v).toFixed(1);
  return s.n === 1 ? `${pct(s.mean)}%` : `${pct(s.mean)}% (${pct(s.min)}–${pct(s.max)})`;
}

/**
 * The final-accuracy table as Markdown, for the notebook and paper.md.
 *
 * @param rows From {@link finalAccuracyTable}.
 * @returns A Markdown table: configuration, train and test accuracy (mean, min–max over
 *   seeds), the paper's test accuracy and the diverged runs.
 */
export function formatFinalAccuracyTable(rows: readonly FinalAccuracyRow[]): string {
  const lines = [
    "| configuration | seeds | train accuracy | test accuracy | paper test | diverged |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const paper = r.paperTestAccuracy === null ? "—" : `${(100 * r.paperTestAccuracy).toFixed(0)}%`;
    const diverged = r.divergedAt.length === 0
      ? "none"
      : `${r.divergedAt.length}/${r.seeds} (at step ${r.divergedAt.join(", ")})`;
    lines.push(
      `| ${r.configuration} | ${r.seeds} | ${formatSpread(r.trainAccuracy)} | ` +
        `${formatSpread(r.testAccuracy)} | ${paper} | ${diverged} |`,
    );
  }
  return lines.join("\n");
}

interface ActivationValue {
  layer: number;
  postNorm: { units: UnitStats[] };
}

/** Quantile bands of the plotted layer's units (after the normalisation and noise). */
function activationRows(label: string, record: RunRecord, layer: number): ActivationRow[] {
  const index = (p: number) => DEFAULT_QUANTILES.indexOf(p);
  const rows: ActivationRow[] = [];
  for (const line of record.measurements) {
    if (line.kind !== "activations") continue;
    const value = (line.values as ActivationValue[]).find((v) => v.layer === layer);
    if (value === undefined) continue;
    for (const unit of value.postNorm.units) {
      const q = unit.quantiles;
      for (const band of ACTIVATION_BANDS) {
        rows.push({
          configuration: label,
          unit: `unit ${unit.unit}`,
          step: line.step,
          band: bandLabel(band),
          low: finite(q[index(band[0])]),
          high: finite(q[index(band[1])]),
          median: finite(q[index(0.5)]),
        });
      }
    }
  }
  return rows;
}

/** The smoothed curves' mean of one configuration and metric at a step (null if absent). */
function curveMean(
  curves: readonly CurveRow[],
  configuration: string,
  metric: TrainingMetric,
  step: number,
): number | null {
  return curves.find((r) =>
    r.configuration === configuration && r.metric === metric && r.step === step
  )?.mean ?? null;
}

/**
 * Turns the runs of the figure into its rows: smoothed train loss and accuracy (moving average
 * over `smoothWindow` steps per seed, then mean/min/max over seeds, thinned to `maxPoints`),
 * test accuracy at each evaluation, where runs diverged, the plotted layer's quantile bands
 * (first seed of each configuration: units differ between initialisations, so their quantiles
 * are not averaged), the final-accuracy table and the key numbers.
 *
 * @param records Finished or diverged runs of {@link trainingJobEntries}.
 * @param config The scale's config.
 * @returns Compact results.
 */
export function trainingResults(
  records: readonly RunRecord[],
  config: TrainingConfig,
): TrainingResults {
  if (!config.activations.layers.includes(config.plotLayer)) {
    throw new RangeError(
      `Cannot build training results: plotLayer must be a measured layer ` +
        `(${config.activations.layers.join(", ")}), got ${config.plotLayer}`,
    );
  }
  const groups = groupRecords(records, config);
  const curves: CurveRow[] = [];
  const divergences: DivergenceRow[] = [];
  const activations: ActivationRow[] = [];
  for (const [label, group] of groups) {
    for (const [metric, key] of [["train loss", "loss"], ["train accuracy", "accuracy"]] as const) {
      const series = group.map((r) => ({
        x: r.metrics.step,
        y: movingAverage(r.metrics[key], config.smoothWindow),
      }));
      curves.push(...curveRows(label, metric, thin(aggregateSeeds(series), config.maxPoints)));
    }
    const tests = aggregateSeeds(group.map((r) => ({ x: r.evals.step, y: r.evals.accuracy })));
    curves.push(...curveRows(label, "test accuracy", tests));
    for (const record of group) {
      if (record.divergedAt === null) continue;
      divergences.push({
        configuration: label,
        seed: record.job.seeds.init,
        step: record.divergedAt,
        label: `diverged at step ${record.divergedAt}`,
      });
    }
    activations.push(...activationRows(label, group[0]!, config.plotLayer));
  }

  const steps = [...new Set([config.steps / 4, config.steps / 2, config.steps].map(Math.round))];
  // The thinned curves keep every stride-th step: take the last kept step at or before each.
  const kept = [...new Set(curves.filter((r) => r.metric === "train loss").map((r) => r.step))]
    .sort((a, b) => a - b);
  const at = (step: number) => kept.filter((s) => s <= step).at(-1) ?? step;
  const labels = [...groups.keys()];
  const trainAccuracy = labels.flatMap((configuration) =>
    steps.map((step) => ({
      configuration,
      step: at(step - 1),
      mean: curveMean(curves, configuration, "train accuracy", at(step - 1)),
    }))
  );
  const pairs: [TrainingConfiguration, TrainingConfiguration][] = [
    [{ normalization: "batchnorm", learningRate: 0.1 }, NONE_01],
    [{ normalization: "batchnorm", learningRate: 0.5 }, {
      normalization: "none",
      learningRate: 0.5,
    }],
    [{ normalization: "noisy-batchnorm", learningRate: 0.1 }, {
      normalization: "batchnorm",
      learningRate: 0.1,
    }],
  ];
  const ratios: RatioNumber[] = pairs.flatMap(([a, b]) =>
    steps.map((step) => {
      const s = at(step - 1);
      const numerator = configurationLabel(a);
      const denominator = configurationLabel(b);
      const top = curveMean(curves, numerator, "train loss", s);
      const bottom = curveMean(curves, denominator, "train loss", s);
      return {
        step: s,
        metric: "train loss" as const,
        numerator,
        denominator,
        ratio: top === null || bottom === null || bottom === 0 ? null : top / bottom,
      };
    })
  );
  const plotted = VGG_ACTIVATION_LAYERS.find((m) => m.ours === config.plotLayer);
  return {
    configurations: labels,
    curves,
    divergences,
    activations,
    plotLayer: { ours: config.plotLayer, paper: plotted?.paper ?? null },
    finalAccuracy: finalAccuracyTable(records, config),
    keyNumbers: { steps: steps.map((s) => at(s - 1)), trainAccuracy, ratios },
  };
}

/**
 * The key numbers as printable lines: smoothed train accuracy per configuration at a quarter,
 * half and all of training, and the train-loss ratios.
 *
 * @param numbers From {@link trainingResults}.
 * @returns One line per configuration and per ratio.
 */
export function formatKeyNumbers(numbers: TrainingKeyNumbers): string[] {
  const show = (v: number | null, digits: number) => v === null ? "—" : v.toFixed(digits);
  const lines: string[] = [];
  const labels = [...new Set(numbers.trainAccuracy.map((r) => r.configuration))];
  for (const label of labels) {
    const values = numbers.trainAccuracy.filter((r) => r.configuration === label)
      .map((r) => `step ${r.step}: ${show(r.mean === null ? null : 100 * r.mean, 1)}%`);
    lines.push(`train accuracy ${label.padEnd(24)} ${values.join("; ")}`);
  }
  const pairs = [...new Set(numbers.ratios.map((r) => `${r.numerator} / ${r.denominator}`))];
  for (const pair of pairs) {
    const values = numbers.ratios.filter((r) => `${r.numerator} / ${r.denominator}` === pair)
      .map((r) => `step ${r.step}: ${show(r.ratio, 3)}`);
    lines.push(`train loss ratio ${pair}: ${values.join("; ")}`);
  }
  return lines;
}

/** Figure 1's experiment: training curves and final accuracies of every configuration. */
export const TRAINING = {
  name: "training",
  config: trainingConfig,
  jobs: (scale) => trainingJobEntries(trainingConfig(scale)).map((entry) => entry.job),
  scaleNote: trainingScaleNote,
  dataSubset: (scale) =>
    trainingConfig(scale).source === "sample"
      ? "CIFAR-10 sample: 1,000 train / 1,000 test images"
      : "CIFAR-10: all 50,000 train / 10,000 test images",
  seeds: (scale) => seedRoles(trainingConfig(scale).seeds, (k) => `run${k}`),
  summarize: (records, scale) => trainingResults(records, trainingConfig(scale)),
  results: (results) => ({ results }),
  keyLines: (results) => [
    ...formatKeyNumbers(results.keyNumbers),
    formatFinalAccuracyTable(results.finalAccuracy),
  ],
} satisfies Experiment<TrainingConfig, TrainingResults>;
