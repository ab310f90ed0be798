/**
 * Why an earlier shallow-network experiment saw BatchNorm remove covariate shift while the paper
 * sees none (PROTOCOL.md, claim 6; figure `ics-definitions`).
 *
 * The earlier experiment is not available; we reconstruct it as a fully connected network with
 * two hidden layers on CIFAR-10 (`createMlp`), whose layer-input moments are tracked over
 * training with and without BatchNorm (the "distribution view"). The grid then moves one factor
 * at a time towards the paper's setting:
 * - definition: moment drift |mu_{t+k} - mu_t| / sigma_t and |var_{t+k} - var_t| / var_t
 *   (distribution view) vs ||G - G'|| / ||G|| and 1 - cos(G, G') (Def. 2.1, gradient view);
 * - where the moments are taken: the normalisation's output (what the next layer's ReLU sees,
 *   the "layer input" of the earlier experiment) vs its input (the linear layer's output);
 * - depth: the shallow MLP vs the VGG;
 * - learning rate: 0.01 vs 0.1 (the paper's two ICS step sizes).
 *
 * Every run measures both definitions at both places, so the grid costs
 * depth x learning rate x normalisation x seeds runs. Scale-free forms (divided by sigma, var,
 * ||G||) make the shallow and deep networks comparable; the answer is read from the ratio
 * BatchNorm / standard of each measure in each setting (1 = no change, < 1/2 = a "large"
 * reduction).
 *
 * @module
 */
import type { MeasurementLine } from "../store/mod.ts";
import { aggregateSeeds, mean } from "./analysis.ts";
import type { Scale } from "../scale.ts";
import { type LayerMoments, momentDrift } from "../measure/activations.ts";
import type { IcsResult } from "../measure/ics.ts";
import { VGG_ACTIVATION_LAYERS, VGG_ICS_LAYERS } from "../models/layer_map.ts";
import type { TrainingJob } from "../run/job.ts";
import type { RunRecord } from "../run/run_job.ts";
import { type Experiment, seedRoles } from "./experiment.ts";

/** The two network depths of the grid. */
export type IcsDepth = "shallow" | "deep";
/** The two normalisations compared. */
export type IcsNormalization = "none" | "batchnorm";
/** Where the distribution view takes its moments. */
export type IcsWhere = "post-norm" | "pre-norm";
/** The four measures: two per definition. */
export type IcsMeasure = "mean drift" | "variance drift" | "gradient change" | "gradient angle";

/** The measures of each definition, in figure order. */
export const ICS_MEASURES: readonly IcsMeasure[] = [
  "mean drift",
  "variance drift",
  "gradient change",
  "gradient angle",
];

/**
 * Which definition a measure belongs to.
 *
 * @param measure One of {@link ICS_MEASURES}.
 * @returns "distribution" (moment drift) or "gradient" (Def. 2.1).
 * @throws {RangeError} On an unknown measure.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { measureDefinition } from "./ics_definitions.ts";
 *
 * assert.equal(measureDefinition("gradient angle"), "gradient");
 * ```
 */
export function measureDefinition(measure: IcsMeasure): "distribution" | "gradient" {
  switch (measure) {
    case "mean drift":
    case "variance drift":
      return "distribution";
    case "gradient change":
    case "gradient angle":
      return "gradient";
    default:
      throw new RangeError(`Cannot classify measure: unknown measure, got ${String(measure)}`);
  }
}

/** Settings of one scale of the experiment. */
export interface IcsDefinitionsConfig {
  /** Hidden widths of the shallow MLP (the reconstructed earlier experiment). */
  mlpHidden: readonly number[];
  /** Channel-width multiplier of the VGG (1 = 64..512 channels). */
  vggWidth: number;
  /** CIFAR-10 training data: the committed sample or the full set. */
  source: "sample" | "full";
  /** Images per SGD step (B). */
  batchSize: number;
  /** SGD steps of every run (both depths: equal lengths keep depth the only change). */
  steps: number;
  /** eta: the two step sizes (the paper's ICS figures use 0.1 and 0.01). */
  learningRates: readonly number[];
  /** The step size of the reconstructed earlier experiment (one of `learningRates`). */
  baselineLearningRate: number;
  /** BatchNorm running-moment momentum (only evaluation uses running moments). */
  bnMomentum: number;
  /** k: steps between activation-moment measurements; the drift is |mu_{t+k} - mu_t|. */
  activationsEvery: number;
  /** Steps between gradient-view ICS measurements (Def. 2.1). */
  icsEvery: number;
  /** Shallow layers whose moments are tracked (1-based: both hidden layers). */
  mlpActivationLayers: readonly number[];
  /** Shallow layers measured by Def. 2.1 (layer 1 has no earlier layer, so G' = G there). */
  mlpIcsLayers: readonly number[];
  /** Deep layers whose moments are tracked (paper #2, #9, #13 -> conv2, conv6, dense10). */
  vggActivationLayers: readonly number[];
  /** Deep layers measured by Def. 2.1 (paper #5, #10 -> conv5, dense10). */
  vggIcsLayers: readonly number[];
  /**
   * Deep layers averaged in the distribution view: the tracked layers that carry a norm (our
   * VGG normalises conv layers only, so dense10 = paper #13 is tracked but left out here: its
   * "post-norm" is its pre-norm, which would mix the two places).
   */
  vggDriftLayers: readonly number[];
  /** One seed per repeat, used for init, data order and noise alike. */
  seeds: readonly number[];
  /** Units described in full per captured layer (only the moments of all units are used). */
  units: number;
}

const VGG_ACT = VGG_ACTIVATION_LAYERS.map((m) => m.ours);
const VGG_ICS = VGG_ICS_LAYERS.map((m) => m.ours);
const VGG_DRIFT = [2, 6]; // conv2, conv6: the normalised ones of VGG_ACT

/** Quick: the grid on all of CIFAR-10 for 60 steps, 3 seeds (also the base of `long`). */
const ICS_DEFINITIONS_QUICK = {
  mlpHidden: [256, 256], // 3072-256-256-10
  vggWidth: 1 / 16, // 4..32 channels: a 2-core CPU
  source: "full", // all 50,000 training images
  batchSize: 128, // PROTOCOL.md
  steps: 60, // early training, where the moments move most
  learningRates: [0.01, 0.1],
  baselineLearningRate: 0.01,
  bnMomentum: 0.1,
  activationsEvery: 5,
  icsEvery: 10,
  mlpActivationLayers: [1, 2],
  mlpIcsLayers: [2, 3],
  vggActivationLayers: VGG_ACT,
  vggIcsLayers: VGG_ICS,
  vggDriftLayers: VGG_DRIFT,
  seeds: [0, 1, 2],
  units: 1,
} as const satisfies IcsDefinitionsConfig;

/** quick's networks and data, 10x the steps and measurement intervals. */
const ICS_DEFINITIONS_LONG = {
  ...ICS_DEFINITIONS_QUICK,
  steps: 600,
  activationsEvery: 50,
  icsEvery: 100,
} as const satisfies IcsDefinitionsConfig;

/** One config per scale. */
export const ICS_DEFINITIONS = {
  smoke: {
    mlpHidden: [32, 32], // 1/8 of the quick widths
    vggWidth: 1 / 32, // 2..16 channels
    source: "sample", // committed 1,000-image sample
    batchSize: 32,
    steps: 12,
    learningRates: [0.01, 0.1],
    baselineLearningRate: 0.01,
    bnMomentum: 0.1,
    activationsEvery: 2,
    icsEvery: 6,
    mlpActivationLayers: [1, 2],
    mlpIcsLayers: [2, 3],
    vggActivationLayers: VGG_ACT,
    vggIcsLayers: VGG_ICS,
    vggDriftLayers: VGG_DRIFT,
    seeds: [0],
    units: 1,
  },
  quick: ICS_DEFINITIONS_QUICK,
  // quick's networks and data, 10x the steps and measurement intervals
  long: ICS_DEFINITIONS_LONG,
  // Not a figure of the VGG schedule (its shallow networks are the seed's reconstruction): the
  // long runs, the same jobs.
  schedule: ICS_DEFINITIONS_LONG,
  paper: {
    mlpHidden: [256, 256], // our reconstruction; the earlier experiment's widths are unknown
    vggWidth: 1, // PROTOCOL.md: 64-128-256-256-512-512-512-512
    source: "full",
    batchSize: 128, // PROTOCOL.md
    steps: 15_000, // PROTOCOL.md
    learningRates: [0.01, 0.1], // PROTOCOL.md: the ICS figures' two step sizes
    baselineLearningRate: 0.01,
    bnMomentum: 0.1,
    activationsEvery: 10, // open in the paper: our choice
    icsEvery: 100, // open in the paper: our choice
    mlpActivationLayers: [1, 2],
    mlpIcsLayers: [2, 3],
    vggActivationLayers: VGG_ACT,
    vggIcsLayers: VGG_ICS,
    vggDriftLayers: VGG_DRIFT,
    seeds: [0, 1, 2],
    units: 4,
  },
} as const satisfies Record<Scale, IcsDefinitionsConfig>;

/** One run of the grid with the labels the figure needs. */
export interface IcsDefinitionsRun {
  depth: IcsDepth;
  normalization: IcsNormalization;
  learningRate: number;
  seed: number;
  /** Layers averaged in the distribution view (normalised layers among the tracked ones). */
  driftLayers: number[];
  job: TrainingJob;
}

/**
 * The grid of runs of one scale: depth x learning rate x normalisation x seed.
 *
 * @param scale `smoke`, `quick` or `paper`.
 * @returns The runs, each with its `TrainingJob`.
 */
export function icsDefinitionsRuns(scale: Scale): IcsDefinitionsRun[] {
  const config: IcsDefinitionsConfig = ICS_DEFINITIONS[scale];
  const runs: IcsDefinitionsRun[] = [];
  for (const depth of ["shallow", "deep"] as const) {
    for (const learningRate of config.learningRates) {
      for (const normalization of ["none", "batchnorm"] as const) {
        for (const seed of config.seeds) {
          const shallow = depth === "shallow";
          runs.push({
            depth,
            normalization,
            learningRate,
            seed,
            driftLayers: [...(shallow ? config.mlpActivationLayers : config.vggDriftLayers)],
            job: {
              network: shallow
                ? { arch: "mlp", normalization, hidden: [...config.mlpHidden] }
                : { arch: "vgg", normalization, width: config.vggWidth },
              data: { kind: "cifar10", source: config.source, batchSize: config.batchSize },
              sgd: { steps: config.steps, learningRate, bnMomentum: config.bnMomentum },
              seeds: { init: seed, data: seed, noise: seed },
              evalEvery: 0,
              measurements: {
                ics: {
                  every: config.icsEvery,
                  layers: [...(shallow ? config.mlpIcsLayers : config.vggIcsLayers)],
                },
                activations: {
                  every: config.activationsEvery,
                  layers: [...(shallow ? config.mlpActivationLayers : config.vggActivationLayers)],
                  units: config.units,
                },
              },
              checkpointEvery: config.steps,
            },
          });
        }
      }
    }
  }
  return runs;
}

/**
 * What a scale shrinks, for the figure's subtitle.
 *
 * @param scale The scale.
 * @returns One line.
 */
export function icsDefinitionsScaleNote(scale: Scale): string {
  const c: IcsDefinitionsConfig = ICS_DEFINITIONS[scale];
  const p: IcsDefinitionsConfig = ICS_DEFINITIONS.paper;
  const seeds = `${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`;
  if (scale === "paper") {
    return `PROTOCOL.md settings: VGG width 1, batch ${p.batchSize}, ${
      p.steps.toLocaleString("en-US")
    } steps, ${seeds}`;
  }
  const data = c.source === "sample"
    ? "the 1,000-image CIFAR-10 sample"
    : "all 50,000 CIFAR-10 training images";
  const mlp = c.mlpHidden.join("-") === p.mlpHidden.join("-")
    ? ""
    : `, MLP ${c.mlpHidden.join("-")} hidden instead of ${p.mlpHidden.join("-")}`;
  const steps = p.steps.toLocaleString("en-US");
  return `VGG width 1/${Math.round(1 / c.vggWidth)} instead of 1${mlp}, ` +
    `${c.steps} steps instead of ${steps}, batch ${c.batchSize}, ${data}, ${seeds}`;
}

/** One run's scalar summary of every measure (averages over measured steps and layers). */
export interface RunSummary {
  /** Mean over tracked layers and intervals of |mu_{t+k} - mu_t| / sigma_t, per place. */
  meanDrift: Record<IcsWhere, number>;
  /** Mean over tracked layers and intervals of |var_{t+k} - var_t| / var_t, per place. */
  varianceDrift: Record<IcsWhere, number>;
  /** Mean over ICS layers and measured steps of ||G - G'|| / ||G||. */
  gradientChange: number;
  /** Mean over ICS layers and measured steps of 1 - cos(G, G'). */
  gradientAngle: number;
}

/** Options of {@link summarizeRun}. */
export interface SummarizeRunOptions {
  /** Layers averaged in the distribution view (default: every tracked layer). */
  layers?: readonly number[];
}

interface ActivationValue {
  layer: number;
  preNorm: { moments: LayerMoments };
  postNorm: { moments: LayerMoments };
}

/**
 * Summarises one run's measurements: the distribution view from the `activations` lines (drift
 * between successive measurements, per layer, averaged over units, intervals and layers) and
 * the gradient view from the `ics` lines. A run that diverged gives NaN where its measurements
 * hold non-finite numbers.
 *
 * @param measurements The run's measurement lines, in step order.
 * @param options Which tracked layers enter the distribution view.
 * @returns The scalar summary.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeRun } from "./ics_definitions.ts";
 *
 * const summary = summarizeRun([
 *   { step: 0, kind: "ics", values: [{ layer: 2, l2: 1, cosine: 0.5, normG: 4, normGPrime: 4 }] },
 * ]);
 * assert.equal(summary.gradientChange, 0.25);
 * assert.equal(summary.gradientAngle, 0.5);
 * ```
 */
export function summarizeRun(
  measurements: readonly MeasurementLine[],
  options: SummarizeRunOptions = {},
): RunSummary {
  const series = new Map<number, Record<IcsWhere, LayerMoments[]>>();
  const change: number[] = [];
  const angle: number[] = [];
  for (const line of measurements) {
    if (line.kind === "activations") {
      for (const v of line.values as ActivationValue[]) {
        if (options.layers !== undefined && !options.layers.includes(v.layer)) continue;
        const entry = series.get(v.layer) ?? { "pre-norm": [], "post-norm": [] };
        entry["pre-norm"].push(v.preNorm.moments);
        entry["post-norm"].push(v.postNorm.moments);
        series.set(v.layer, entry);
      }
    } else if (line.kind === "ics") {
      for (const r of line.values as IcsResult[]) {
        // null in JSON = a non-finite value (a diverged step).
        change.push(r.normG > 0 ? (r.l2 ?? NaN) / r.normG : NaN);
        angle.push(1 - (r.cosine ?? NaN));
      }
    }
  }
  const drift = (where: IcsWhere, pick: "mean" | "variance") =>
    mean(
      [...series.values()].flatMap((entry) => {
        const d = momentDrift(entry[where]);
        return pick === "mean" ? d.meanChangeScaledAverage : d.varianceChangeRelativeAverage;
      }).map((v) => v ?? NaN),
    );
  return {
    meanDrift: { "post-norm": drift("post-norm", "mean"), "pre-norm": drift("pre-norm", "mean") },
    varianceDrift: {
      "post-norm": drift("post-norm", "variance"),
      "pre-norm": drift("pre-norm", "variance"),
    },
    gradientChange: mean(change),
    gradientAngle: mean(angle),
  };
}

/** A run with its labels and record, as the notebook collects them. */
export interface IcsDefinitionsResult {
  run: IcsDefinitionsRun;
  record: Pick<RunRecord, "measurements" | "divergedAt" | "wallTime">;
}

/** One point of the figure: the BatchNorm / standard ratio of a measure in one setting. */
export interface IcsRatioRow {
  [key: string]: string | number | null;
  /** "distribution" or "gradient". */
  definition: string;
  measure: IcsMeasure;
  /** Where the moments are taken; "G vs G′" for the gradient view. */
  where: string;
  depth: IcsDepth;
  /** "MLP" or "VGG". */
  network: string;
  learningRate: number;
  /** E.g. "MLP, η = 0.01": the y category of the figure. */
  setting: string;
  /** Mean over seeds of the per-seed ratio BatchNorm / standard (null: none finite). */
  ratio: number | null;
  /** Smallest and largest per-seed ratio. */
  ratioMin: number | null;
  ratioMax: number | null;
  /** The measure's mean over seeds, standard network and BatchNorm. */
  standard: number | null;
  batchnorm: number | null;
  /** Seeds with a finite ratio. */
  seeds: number;
  /** "" or e.g. "batchnorm seed 1 diverged at step 40". */
  diverged: string;
}

/** Reads one measure from a summary. */
function pickMeasure(summary: RunSummary, measure: IcsMeasure, where: IcsWhere): number {
  switch (measure) {
    case "mean drift":
      return summary.meanDrift[where];
    case "variance drift":
      return summary.varianceDrift[where];
    case "gradient change":
      return summary.gradientChange;
    case "gradient angle":
      return summary.gradientAngle;
    default:
      throw new RangeError(`Cannot read measure: unknown measure, got ${String(measure)}`);
  }
}

/**
 * Network name of a depth.
 *
 * @param depth "shallow" or "deep".
 * @returns "MLP" or "VGG".
 */
export function networkName(depth: IcsDepth): string {
  return depth === "shallow" ? "MLP" : "VGG";
}

/**
 * The y label of a setting.
 *
 * @param depth "shallow" or "deep".
 * @param learningRate eta.
 * @returns E.g. "MLP, η = 0.01".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settingLabel } from "./ics_definitions.ts";
 *
 * assert.equal(settingLabel("deep", 0.1), "VGG, η = 0.1");
 * ```
 */
export function settingLabel(depth: IcsDepth, learningRate: number): string {
  return `${networkName(depth)}, η = ${learningRate}`;
}

/**
 * Turns the grid's records into the figure's rows: per measure, place and setting, the ratio
 * BatchNorm / standard of the run summaries, seed by seed (same seed = same initialisation
 * seed and data order), then aggregated over seeds with `aggregateSeeds`. Diverged runs stay
 * in: their non-finite values drop out of the mean and the row names them in `diverged`.
 *
 * @param results Every run of the grid with its record.
 * @returns One row per (measure, place, depth, learning rate).
 */
export function icsDefinitionsRows(results: readonly IcsDefinitionsResult[]): IcsRatioRow[] {
  const summaries = results.map((r) => ({
    ...r,
    summary: summarizeRun(r.record.measurements, { layers: r.run.driftLayers }),
  }));
  const rows: IcsRatioRow[] = [];
  const depths = [...new Set(results.map((r) => r.run.depth))];
  const rates = [...new Set(results.map((r) => r.run.learningRate))].sort((a, b) => a - b);
  for (const measure of ICS_MEASURES) {
    const definition = measureDefinition(measure);
    const wheres: IcsWhere[] = definition === "distribution"
      ? ["post-norm", "pre-norm"]
      : ["post-norm"];
    for (const where of wheres) {
      for (const depth of depths) {
        for (const learningRate of rates) {
          const cell = summaries.filter((s) =>
            s.run.depth === depth && s.run.learningRate === learningRate
          );
          const seeds = [...new Set(cell.map((s) => s.run.seed))].sort((a, b) => a - b);
          const ratios: number[] = [];
          const values: Record<IcsNormalization, number[]> = { none: [], batchnorm: [] };
          const diverged: string[] = [];
          for (const seed of seeds) {
            const pair = (normalization: IcsNormalization) =>
              cell.find((s) => s.run.seed === seed && s.run.normalization === normalization);
            const std = pair("none");
            const bn = pair("batchnorm");
            for (const s of [std, bn]) {
              if (s?.record.divergedAt !== null && s?.record.divergedAt !== undefined) {
                diverged.push(
                  `${s.run.normalization} seed ${seed} diverged at step ${s.record.divergedAt}`,
                );
              }
            }
            const a = std === undefined ? NaN : pickMeasure(std.summary, measure, where);
            const b = bn === undefined ? NaN : pickMeasure(bn.summary, measure, where);
            values.none.push(a);
            values.batchnorm.push(b);
            ratios.push(a > 0 ? b / a : NaN);
          }
          const agg = aggregateSeeds(ratios.map((y) => ({ x: [0], y: [y] })))[0];
          const avg = (list: number[]) => aggregateSeeds(list.map((y) => ({ x: [0], y: [y] })))[0];
          rows.push({
            definition,
            measure,
            where: definition === "gradient" ? "G vs G′" : where,
            depth,
            network: networkName(depth),
            learningRate,
            setting: settingLabel(depth, learningRate),
            ratio: agg?.mean ?? null,
            ratioMin: agg?.min ?? null,
            ratioMax: agg?.max ?? null,
            standard: avg(values.none)?.mean ?? null,
            batchnorm: avg(values.batchnorm)?.mean ?? null,
            seeds: agg?.n ?? 0,
            diverged: [...new Set(diverged)].join("; "),
          });
        }
      }
    }
  }
  return rows;
}

/** A ratio below this is a "large reduction" of covariate shift by BatchNorm (2x). */
export const LARGE_REDUCTION = 0.5;

/** One step of the one-factor-at-a-time walk. */
export interface FactorStep {
  /** "baseline", "definition", "where", "depth", "learning rate" or "paper setting". */
  factor: string;
  /** The setting in words. */
  description: string;
  measure: IcsMeasure;
  ratio: number | null;
  /** ratio < LARGE_REDUCTION. */
  reduction: boolean | null;
  /** Whether the conclusion differs from the baseline's. */
  flips: boolean | null;
}

/** The key numbers: the walk from the baseline and a verdict paragraph. */
export interface IcsDefinitionsKeyNumbers {
  steps: FactorStep[];
  /** Factors whose single change flips the baseline's conclusion. */
  flipping: string[];
  verdict: string;
}

function findRow(
  rows: readonly IcsRatioRow[],
  measure: IcsMeasure,
  where: string,
  depth: IcsDepth,
  learningRate: number,
): IcsRatioRow | undefined {
  return rows.find((r) =>
    r.measure === measure && r.where === where && r.depth === depth &&
    r.learningRate === learningRate
  );
}

function fmt(ratio: number | null): string {
  return ratio === null ? "n/a" : `${ratio.toPrecision(2)}`;
}

/**
 * Walks from the reconstructed earlier experiment (shallow MLP, mean drift of the
 * normalisation's output, the baseline step size) one factor at a time, then to the paper's
 * setting (VGG, gradient view, the other step size), and writes the verdict from the numbers.
 *
 * @param rows Rows from {@link icsDefinitionsRows}.
 * @param options The baseline and the other learning rate.
 * @returns The walk, the flipping factors and a one-paragraph verdict.
 */
export function icsDefinitionsKeyNumbers(
  rows: readonly IcsRatioRow[],
  options: { baselineLearningRate: number; otherLearningRate: number },
): IcsDefinitionsKeyNumbers {
  const lr0 = options.baselineLearningRate;
  const lr1 = options.otherLearningRate;
  const plan: [string, string, IcsMeasure, string, IcsDepth, number][] = [
    [
      "baseline",
      `MLP, η = ${lr0}, mean drift of the norm output`,
      "mean drift",
      "post-norm",
      "shallow",
      lr0,
    ],
    [
      "definition",
      `MLP, η = ${lr0}, ||G − G′||/||G|| (Def. 2.1)`,
      "gradient change",
      "G vs G′",
      "shallow",
      lr0,
    ],
    [
      "definition (angle)",
      `MLP, η = ${lr0}, 1 − cos(G, G′) (Def. 2.1)`,
      "gradient angle",
      "G vs G′",
      "shallow",
      lr0,
    ],
    [
      "where",
      `MLP, η = ${lr0}, mean drift of the norm input`,
      "mean drift",
      "pre-norm",
      "shallow",
      lr0,
    ],
    [
      "depth",
      `VGG, η = ${lr0}, mean drift of the norm output`,
      "mean drift",
      "post-norm",
      "deep",
      lr0,
    ],
    [
      "learning rate",
      `MLP, η = ${lr1}, mean drift of the norm output`,
      "mean drift",
      "post-norm",
      "shallow",
      lr1,
    ],
    [
      "paper setting",
      `VGG, η = ${lr1}, ||G − G′||/||G|| (Def. 2.1)`,
      "gradient change",
      "G vs G′",
      "deep",
      lr1,
    ],
  ];
  let baseline: boolean | null = null;
  const steps: FactorStep[] = plan.map(([factor, description, measure, where, depth, lr]) => {
    const ratio = findRow(rows, measure, where, depth, lr)?.ratio ?? null;
    const reduction = ratio === null ? null : ratio < LARGE_REDUCTION;
    if (factor === "baseline") baseline = reduction;
    const flips = reduction === null || baseline === null ? null : reduction !== baseline;
    return { factor, description, measure, ratio, reduction, flips };
  });
  const flipping = steps.filter((s) => s.flips === true && s.factor !== "paper setting")
    .map((s) => s.factor);
  const base = steps[0]!;
  const says = (s: FactorStep) =>
    s.reduction === null
      ? "cannot be read (no finite ratio)"
      : s.reduction
      ? `shows a large reduction (BN/standard ${fmt(s.ratio)})`
      : `shows no large reduction (BN/standard ${fmt(s.ratio)})`;
  const moves = steps.slice(1, -1).map((s) =>
    `${s.factor} -> ${s.description}: ${says(s)}${s.flips === true ? " (flips)" : ""}`
  );
  const paper = steps[steps.length - 1]!;
  // Where reductions > 2x show up over the whole grid, per definition.
  const large = rows.filter((r) => r.ratio !== null && r.ratio < LARGE_REDUCTION);
  const byDefinition = (d: string) => {
    const hits = large.filter((r) => r.definition === d);
    return hits.length === 0
      ? `no setting of the ${d} view`
      : `the ${d} view in ${hits.length} of ${
        rows.filter((r) => r.definition === d).length
      } settings (${[...new Set(hits.map((r) => `${r.measure} ${r.where}`))].join(", ")})`;
  };
  const verdict = `Reconstructed earlier experiment (${base.description}): it ${says(base)}. ` +
    `Moving one factor at a time: ${moves.join("; ")}. ` +
    `The paper's setting (${paper.description}) ${says(paper)}. ` +
    (flipping.length === 0
      ? "No single factor flips the conclusion. "
      : `The conclusion flips when we change: ${flipping.join(", ")}. `) +
    `A reduction > 2x appears under ${byDefinition("distribution")} and under ${
      byDefinition("gradient")
    }.`;
  return { steps, flipping, verdict };
}

/** What the ICS-definitions experiment summarises to. */
export interface IcsDefinitionsSummary {
  rows: IcsRatioRow[];
  keyNumbers: IcsDefinitionsKeyNumbers;
}

/**
 * The explanation experiment: which change of definition, depth, learning rate or place of
 * measurement turns the earlier shallow experiment's large ICS reduction into the paper's none.
 */
export const ICS_DEFINITIONS_EXPERIMENT = {
  name: "ics-definitions",
  config: (scale) => ICS_DEFINITIONS[scale],
  jobs: (scale) => icsDefinitionsRuns(scale).map((run) => run.job),
  // Its schedule runs are the long ones (see ICS_DEFINITIONS): the figure is the long one.
  settingsScale: (scale) => scale === "schedule" ? "long" : scale,
  scaleNote: icsDefinitionsScaleNote,
  dataSubset: (scale) =>
    ICS_DEFINITIONS[scale].source === "sample"
      ? "CIFAR-10 sample: first 1,000 training images"
      : "CIFAR-10: all 50,000 training images",
  seeds: (scale) => seedRoles(ICS_DEFINITIONS[scale].seeds, (k) => `repeat${k}`),
  summarize: (records, scale) => {
    const config = ICS_DEFINITIONS[scale];
    const rows = icsDefinitionsRows(
      icsDefinitionsRuns(scale).map((run, i) => ({ run, record: records[i]! })),
    );
    const otherLearningRate = config.learningRates.find((lr) =>
      lr !== config.baselineLearningRate
    )!;
    return {
      rows,
      keyNumbers: icsDefinitionsKeyNumbers(rows, {
        baselineLearningRate: config.baselineLearningRate,
        otherLearningRate,
      }),
    };
  },
  results: (summary) => ({ rows: summary.rows, keyNumbers: summary.keyNumbers }),
  // The walk from the reconstructed experiment, then the verdict.
  keyLines: ({ keyNumbers }) => [
    ...keyNumbers.steps.map((s) =>
      `${s.factor.padEnd(18)} ${s.description.padEnd(48)} BN/standard ${
        s.ratio === null ? "n/a" : s.ratio.toFixed(3)
      }${s.reduction === true ? "  (reduction > 2x)" : ""}${s.flips === true ? "  FLIPS" : ""}`
    ),
    "",
    keyNumbers.verdict,
  ],
} satisfies Experiment<IcsDefinitionsConfig, IcsDefinitionsSummary>;
