/**
 * Figure `ics` (paper Figure 3a, claim 3 of PROTOCOL.md): internal covariate shift of the VGG in
 * the gradient view (Definition 2.1), ||G - G'|| and cos(G, G') of the layers standing for the
 * paper's #5 and #10 (conv5, dense10), for standard, BatchNorm and noisy BatchNorm networks at
 * learning rates 0.1 and 0.01.
 *
 * The same runs carry the loss-landscape measurement of Figure 4 (lib/experiments/landscape.ts):
 * the standard and BatchNorm runs at lr 0.1 measure it too, so the four figures `ics`,
 * `loss-variation`, `gradient-predictiveness` and `beta-smoothness` share one set of jobs (same
 * job, same hash, one run in the store).
 *
 * Pure: builds jobs and turns run records into rows; running is the notebook's (runJob).
 *
 * @module
 */
import {
  aggregateSeeds,
  divergedLabel,
  finiteMedian,
  groupRuns,
  learningRateLabel,
} from "./analysis.ts";
import type { Scale } from "../scale.ts";
import { etaGrid, type EtaGridOptions, VGG_ETA_GRID } from "../measure/landscape.ts";
import type { IcsResult } from "../measure/ics.ts";
import { VGG_ICS_LAYERS } from "../models/layer_map.ts";
import type { Normalization } from "../models/types.ts";
import type { RunRecord } from "../run/run_job.ts";
import type { TrainingJob } from "../run/job.ts";
import { type Experiment, formatKey, runEntries, seedRoles } from "./experiment.ts";
import {
  SCHEDULE_VGG_RUNS,
  sharedVggJob,
  type SharedVggRuns,
  vggRunBase,
  type VggRunSettings,
} from "./schedule.ts";

/** Settings of the VGG measurement runs at one scale (shared by `ics` and the landscape figures). */
export interface VggMeasureConfig extends VggRunSettings {
  /** Learning rates eta of the ICS figure (PROTOCOL.md, ICS: 0.1 and 0.01). */
  readonly learningRates: readonly number[];
  /** Networks compared (PROTOCOL.md "Normalisation variants"). */
  readonly normalizations: readonly Normalization[];
  /** One seed per replicate, used for init, data order and noise alike (distinct rng streams). */
  readonly seeds: readonly number[];
  /** k: ICS measured before the update of steps 0, k, 2k, ... (the paper is silent). */
  readonly icsEvery: number;
  /** Our layer numbers measured (VGG_ICS_LAYERS: paper #5 -> conv5, #10 -> dense10). */
  readonly icsLayers: readonly number[];
  /** Runs that also measure the loss landscape along the gradient (Figure 4). */
  readonly landscape: {
    /** Networks compared in Figure 4 (standard vs BatchNorm). */
    readonly normalizations: readonly Normalization[];
    /** The learning rate of Figure 4 (PROTOCOL.md: 0.1). */
    readonly learningRate: number;
    /** Steps between landscape measurements (the paper is silent). */
    readonly every: number;
    /** eta range in multiples of the lr (PROTOCOL.md: [1/2, 4] x lr). */
    readonly etaGrid: EtaGridOptions;
  };
  /** Test accuracy every N steps (0: at the end only; a 10,000-image pass is costly on a CPU). */
  readonly evalEvery: number;
  /** Steps between checkpoints (resumable runs). */
  readonly checkpointEvery: number;
  /** Runs shared with the other VGG figures (`schedule`): the jobs are `sharedVggJob`s. */
  readonly shared?: SharedVggRuns;
}

/** The networks of Figure 3a (ICS): standard, BatchNorm, and BatchNorm with Algorithm 1's noise. */
const ICS_NETWORKS = [
  "none",
  "batchnorm",
  "noisy-batchnorm",
] as const satisfies readonly Normalization[];

/** The networks of Figure 4 (landscape): standard and BatchNorm. */
const LANDSCAPE_NETWORKS = ["none", "batchnorm"] as const satisfies readonly Normalization[];

/**
 * The measurement config of a scale whose VGG runs are shared (`schedule`): the same numbers as
 * the shared runs, the figure's own networks and learning rates.
 */
function sharedMeasureConfig(runs: SharedVggRuns): VggMeasureConfig {
  return {
    width: runs.width,
    source: runs.source,
    batchSize: runs.batchSize,
    steps: runs.steps,
    learningRates: [0.1, 0.01], // PROTOCOL.md, ICS: Figure 3a
    normalizations: ICS_NETWORKS,
    seeds: runs.seeds,
    bnMomentum: runs.bnMomentum,
    icsEvery: runs.measureEvery,
    icsLayers: runs.icsLayers,
    landscape: {
      normalizations: LANDSCAPE_NETWORKS,
      learningRate: 0.1, // PROTOCOL.md, Figure 4
      every: runs.measureEvery,
      etaGrid: runs.etaGrid,
    },
    evalEvery: runs.evalEvery,
    checkpointEvery: runs.checkpointEvery,
    shared: runs,
  };
}

const ICS_LAYERS = VGG_ICS_LAYERS.map((m) => m.ours);

/** Quick: a 2-core CPU (see {@link VGG_MEASURE_CONFIGS}); also the base of `long`. */
const VGG_MEASURE_QUICK = {
  width: 1 / 8, // 8..64 channels, 64-wide dense layers
  source: "full", // all 50,000 training images
  batchSize: 64, // half the paper's 128: twice the steps for the same time
  // ~3% of 15,000. At 150 steps the standard network had not left its initial plateau
  // (loss 2.30), which made its landscape trivially flat; by 400 it has started to learn.
  steps: 400,
  learningRates: [0.1, 0.01],
  normalizations: ICS_NETWORKS,
  seeds: [0, 1, 2],
  bnMomentum: 0.1,
  icsEvery: 25, // 16 measurements per run
  icsLayers: ICS_LAYERS,
  landscape: {
    normalizations: LANDSCAPE_NETWORKS,
    learningRate: 0.1,
    every: 25, // 16 measurements, 8 etas each
    etaGrid: VGG_ETA_GRID,
  },
  evalEvery: 0,
  checkpointEvery: 100,
} as const satisfies VggMeasureConfig;

/**
 * The runs of the four VGG measurement figures, one config per scale. `paper` is PROTOCOL.md
 * exactly (a GPU job); `quick` fits the budget of a 2-core CPU (8 minutes for `ics` plus 10
 * for the landscape figures, whose runs are a subset of these): measured on wasm (1 thread),
 * the 150-step version took 10.4 min of CPU time for all 18 runs (19 min wall on a shared machine);
 * 25-35 s per run without the landscape, 45-105 s with it. `smoke` runs in seconds on the
 * committed sample (about 15 s for the ics notebook).
 */
export const VGG_MEASURE_CONFIGS = {
  smoke: {
    width: 1 / 32, // 2..16 channels
    source: "sample", // committed 1,000-image sample
    batchSize: 32,
    steps: 10,
    learningRates: [0.1, 0.01],
    normalizations: ICS_NETWORKS,
    seeds: [0], // one replicate: smoke checks the pipeline, not the claim
    bnMomentum: 0.1,
    icsEvery: 5, // steps 0, 5
    icsLayers: ICS_LAYERS,
    landscape: {
      normalizations: LANDSCAPE_NETWORKS,
      learningRate: 0.1,
      every: 5,
      etaGrid: { ...VGG_ETA_GRID, count: 4 }, // 4 etas in [1/2, 4] x lr: fewer passes
    },
    evalEvery: 0,
    checkpointEvery: 10,
  },
  quick: VGG_MEASURE_QUICK,
  long: {
    // quick's networks and data, 10x the steps and measurement intervals: does the landscape
    // gap of claim 4 open up once the standard network has trained for a few epochs?
    ...VGG_MEASURE_QUICK,
    steps: 4_000, // 5.1 epochs at batch 64 (paper: 15,000 x 128 = 38 epochs)
    icsEvery: 250, // 16 measurements per run
    landscape: { ...VGG_MEASURE_QUICK.landscape, every: 250 }, // 16 measurements, 8 etas each
    checkpointEvery: 500,
  },
  // PROTOCOL.md's schedule at width 1/4; every run measures ICS, landscape and activations
  schedule: sharedMeasureConfig(SCHEDULE_VGG_RUNS),
  paper: {
    width: 1, // PROTOCOL.md: 64-128-256-256-512-512-512-512, dense 512
    source: "full",
    batchSize: 128, // PROTOCOL.md
    steps: 15_000, // PROTOCOL.md
    learningRates: [0.1, 0.01], // PROTOCOL.md, ICS: Figure 3a
    normalizations: ICS_NETWORKS,
    seeds: [0, 1, 2],
    bnMomentum: 0.1,
    icsEvery: 100, // 150 measurements per run (our choice: the paper is silent)
    icsLayers: ICS_LAYERS, // conv5, dense10
    landscape: {
      normalizations: LANDSCAPE_NETWORKS,
      learningRate: 0.1, // PROTOCOL.md, Figure 4
      every: 100, // our choice: the paper is silent
      etaGrid: VGG_ETA_GRID, // 8 linear etas in [1/2, 4] x lr
    },
    evalEvery: 1_000,
    checkpointEvery: 500,
  },
} as const satisfies Record<Scale, VggMeasureConfig>;

/**
 * Whether a run of (normalization, learning rate) also measures the landscape (Figure 4).
 *
 * @param config The scale's settings.
 * @param run The network's normalization and the learning rate.
 * @returns True for the landscape figures' networks at their learning rate.
 */
export function carriesLandscape(
  config: VggMeasureConfig,
  run: { normalization: Normalization; learningRate: number },
): boolean {
  return run.learningRate === config.landscape.learningRate &&
    config.landscape.normalizations.includes(run.normalization);
}

/**
 * The job of one (normalization, learning rate, seed) run.
 *
 * @param config The scale's settings.
 * @param run Which network, learning rate and seed.
 * @returns A job for `runJob`.
 */
export function vggMeasureJob(
  config: VggMeasureConfig,
  run: { normalization: Normalization; learningRate: number; seed: number },
): TrainingJob {
  if (config.shared !== undefined) return sharedVggJob(config.shared, run);
  const landscape = carriesLandscape(config, run)
    ? {
      landscape: {
        every: config.landscape.every,
        etas: etaGrid(run.learningRate, config.landscape.etaGrid),
      },
    }
    : {};
  return {
    ...vggRunBase(config, run),
    evalEvery: config.evalEvery,
    measurements: {
      ics: { every: config.icsEvery, layers: [...config.icsLayers] },
      ...landscape,
    },
    checkpointEvery: config.checkpointEvery,
  };
}

/**
 * Every job of the `ics` figure at a scale: normalizations x learning rates x seeds, in that
 * order (the landscape figures use a subset of these same jobs).
 *
 * @param scale The run scale.
 * @returns The jobs.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { icsJobs } from "./ics.ts";
 *
 * // 2 learning rates x 3 networks x 3 seeds; G' taken at the training lr.
 * const jobs = icsJobs("paper");
 * assert.equal(jobs.length, 18);
 * assert.deepEqual(jobs[0]!.measurements!.ics, { every: 100, layers: [5, 10] });
 * ```
 */
export function icsJobs(scale: Scale): TrainingJob[] {
  const config: VggMeasureConfig = VGG_MEASURE_CONFIGS[scale];
  return config.learningRates.flatMap((learningRate) =>
    config.normalizations.flatMap((normalization) =>
      config.seeds.map((seed) => vggMeasureJob(config, { normalization, learningRate, seed }))
    )
  );
}

function fraction(value: number): string {
  const inverse = 1 / value;
  return Number.isInteger(inverse) ? `1/${inverse}` : String(value);
}

/**
 * What a scale shrinks relative to the paper, for the figure subtitle.
 *
 * @param scale The run scale.
 * @returns E.g. "VGG width 1/8, batch 64, 400 of 15,000 steps, full CIFAR-10, 3 seeds, ICS every 25 steps".
 */
export function icsScaleNote(scale: Scale): string {
  const c: VggMeasureConfig = VGG_MEASURE_CONFIGS[scale];
  const data = c.source === "full" ? "full CIFAR-10" : "the 1,000-image CIFAR-10 sample";
  const seeds = `${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`;
  if (scale === "paper") {
    return `PROTOCOL.md settings: VGG width 1, batch 128, 15,000 steps, ${data}, ${seeds}, ` +
      `ICS every ${c.icsEvery} steps`;
  }
  return `${vggShrinkNote(c)}, ${data}, ${seeds}, ICS every ${c.icsEvery} steps`;
}

/**
 * How a VGG measurement scale differs from the paper's network and schedule, naming only what
 * it changes: e.g. "VGG width 1/8 instead of 1, batch 64 instead of 128, 400 of 15,000 steps",
 * or "VGG width 1/4 instead of 1, batch 128, all 15,000 steps" where it keeps the schedule.
 *
 * @param c The scale's configuration.
 * @returns The note.
 */
export function vggShrinkNote(c: VggMeasureConfig): string {
  const p: VggMeasureConfig = VGG_MEASURE_CONFIGS.paper;
  const batch = c.batchSize === p.batchSize
    ? `batch ${c.batchSize}`
    : `batch ${c.batchSize} instead of ${p.batchSize}`;
  const steps = c.steps === p.steps
    ? `all ${p.steps.toLocaleString("en-US")} steps`
    : `${c.steps.toLocaleString("en-US")} of ${p.steps.toLocaleString("en-US")} steps`;
  return `VGG width ${fraction(c.width)} instead of 1, ${batch}, ${steps}`;
}

/**
 * Which data a scale uses, for the provenance.
 *
 * @param scale The run scale.
 * @returns A short description.
 */
export function dataSubset(scale: Scale): string {
  return VGG_MEASURE_CONFIGS[scale].source === "full"
    ? "CIFAR-10: all 50,000 training images (test accuracy on the 10,000 test images)"
    : "CIFAR-10 sample: the committed 1,000 training / 1,000 test images";
}

/**
 * The seeds of a scale by role, for the provenance: every replicate uses its seed for init,
 * data order and noise.
 *
 * @param scale The run scale.
 * @returns E.g. `{ "replicate 1": 0, "replicate 2": 1, "replicate 3": 2 }`.
 */
export function seedRecord(scale: Scale): Record<string, number> {
  return seedRoles(VGG_MEASURE_CONFIGS[scale].seeds, (k) => `replicate ${k + 1}`);
}

/**
 * Our layer's name with the paper's number, for legends and panel titles.
 *
 * @param layer Our 1-based layer number.
 * @returns E.g. "conv5 (paper #5)"; "layer 3" for a layer the paper does not plot.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { icsLayerLabel } from "./ics.ts";
 *
 * assert.equal(icsLayerLabel(10), "dense10 (paper #10)");
 * ```
 */
export function icsLayerLabel(layer: number): string {
  const mapping = VGG_ICS_LAYERS.find((m) => m.ours === layer);
  return mapping === undefined ? `layer ${layer}` : `${mapping.name} (paper #${mapping.paper})`;
}

/** One row of the ICS figure: a configuration, layer and step, aggregated over seeds. */
export interface IcsRow {
  [field: string]: string | number | null;
  normalization: Normalization;
  /** "lr 0.1". */
  learningRate: string;
  /** "conv5 (paper #5)". */
  layer: string;
  step: number;
  /** ||G - G'||: mean, min, max over seeds with a finite value. */
  l2: number | null;
  l2Min: number | null;
  l2Max: number | null;
  /** cos(G, G'): mean, min, max over seeds. */
  cosine: number | null;
  cosineMin: number | null;
  cosineMax: number | null;
  /** ||G|| mean over seeds (to read l2 relative to the gradient's size). */
  normG: number | null;
  /** Seeds with a finite cosine at this step. */
  seeds: number;
  /** Divergence of any seed of the configuration, or null. */
  diverged: string | null;
}

/** Key numbers of one (learning rate, layer): medians over measured steps of the seed means. */
export interface IcsKeyNumber {
  [field: string]: string | number | null;
  learningRate: string;
  layer: string;
  normalization: Normalization;
  /** Median over measured steps of the seed-mean cos(G, G'). */
  medianCosine: number | null;
  /** Median over measured steps of the seed-mean ||G - G'||. */
  medianL2: number | null;
  /** medianL2 / the standard network's medianL2 (null for standard or when missing). */
  l2RatioToStandard: number | null;
  /** Divergence of any seed, or null. */
  diverged: string | null;
}

/** Rows and key numbers of the ICS figure. */
export interface IcsSummary {
  rows: IcsRow[];
  keyNumbers: IcsKeyNumber[];
}

/** The ICS values of one run and layer as series over the measured steps. */
function icsSeries(record: RunRecord, layer: number, field: "l2" | "cosine" | "normG") {
  const x: number[] = [];
  const y: number[] = [];
  for (const line of record.measurements) {
    if (line.kind !== "ics") continue;
    const value = (line.values as IcsResult[]).find((v) => v.layer === layer);
    if (value === undefined) continue;
    x.push(line.step);
    // A NaN cosine (a zero gradient) was stored as the string "NaN" and read back as NaN.
    y.push(value[field] ?? NaN);
  }
  return { x, y };
}

/**
 * Turns the runs of the `ics` figure into rows (one per normalization, lr, layer and measured
 * step, aggregated over seeds) and key numbers. Diverged runs are kept: their measurements stop
 * at the divergence, and every row of their configuration names it in `diverged`.
 *
 * @param records One record per job of {@link icsJobs} (any order).
 * @returns Rows and key numbers.
 */
export function icsRows(records: readonly RunRecord[]): IcsSummary {
  const rows: IcsRow[] = [];
  const keyNumbers: IcsKeyNumber[] = [];
  const groups = groupRuns(records);
  const layers = [
    ...new Set(records.flatMap((r) => r.job.measurements?.ics?.layers ?? [])),
  ].sort((a, b) => a - b);
  for (const group of groups) {
    const diverged = divergedLabel(group.records);
    for (const layer of layers) {
      const of = (field: "l2" | "cosine" | "normG") =>
        aggregateSeeds(group.records.map((r) => icsSeries(r, layer, field)));
      const l2 = of("l2");
      const cosine = of("cosine");
      const normG = of("normG");
      l2.forEach((a, i) => {
        const c = cosine[i]!;
        rows.push({
          normalization: group.normalization,
          learningRate: learningRateLabel(group.learningRate),
          layer: icsLayerLabel(layer),
          step: a.x,
          l2: a.mean,
          l2Min: a.min,
          l2Max: a.max,
          cosine: c.mean,
          cosineMin: c.min,
          cosineMax: c.max,
          normG: normG[i]!.mean,
          seeds: c.n,
          diverged,
        });
      });
      keyNumbers.push({
        learningRate: learningRateLabel(group.learningRate),
        layer: icsLayerLabel(layer),
        normalization: group.normalization,
        medianCosine: finiteMedian(cosine.map((a) => a.mean)),
        medianL2: finiteMedian(l2.map((a) => a.mean)),
        l2RatioToStandard: null,
        diverged,
      });
    }
  }
  for (const key of keyNumbers) {
    if (key.normalization === "none") continue;
    const standard = keyNumbers.find((k) =>
      k.normalization === "none" && k.learningRate === key.learningRate && k.layer === key.layer
    );
    if (standard?.medianL2 != null && key.medianL2 !== null && standard.medianL2 > 0) {
      key.l2RatioToStandard = key.medianL2 / standard.medianL2;
    }
  }
  return { rows, keyNumbers };
}

/** Medians of one (learning rate, layer, network) over each third of training. */
export interface IcsPhaseMedians {
  learningRate: string;
  layer: string;
  normalization: Normalization;
  /** The thirds' step ranges (fromStep, toStep], in order early, middle, late. */
  phases: {
    fromStep: number;
    toStep: number;
    medianCosine: number | null;
    medianL2: number | null;
  }[];
}

/**
 * The seed-mean cos(G, G') and ||G - G'|| of the figure's rows, as medians over the steps of each
 * third of training: steps in `(0, T/3]`, `(T/3, 2T/3]` and `(2T/3, T]` of the last measured step
 * T of the figure (the thirds of the landscape's table; step 0, before any update, is in none).
 * Read from the committed rows, so it needs no rerun; whether ICS changes with training length is
 * in the difference between the thirds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { icsPhaseMedians, type IcsRow } from "./ics.ts";
 *
 * const row = (step: number, cosine: number): IcsRow => ({
 *   normalization: "none", learningRate: "lr 0.1", layer: "conv5", step, cosine, l2: 1 - cosine,
 *   l2Min: null, l2Max: null, cosineMin: null, cosineMax: null, normG: null, seeds: 1,
 *   diverged: null,
 * });
 * // Steps 0..6, cosine step / 8: the thirds (0, 2], (2, 4], (4, 6] hold steps 1-2, 3-4, 5-6.
 * const [only] = icsPhaseMedians([0, 1, 2, 3, 4, 5, 6].map((s) => row(s, s / 8)));
 * assert.deepEqual(only!.phases.map((p) => p.medianCosine), [0.1875, 0.4375, 0.6875]);
 * assert.deepEqual(only!.phases.map((p) => p.toStep), [2, 4, 6]);
 * ```
 *
 * @param rows The rows of {@link icsRows}.
 * @returns One entry per (learning rate, layer, network), in the rows' order.
 */
export function icsPhaseMedians(rows: readonly IcsRow[]): IcsPhaseMedians[] {
  const last = Math.max(0, ...rows.map((r) => r.step));
  const groups = new Map<string, IcsRow[]>();
  for (const row of rows) {
    const key = `${row.learningRate}\n${row.layer}\n${row.normalization}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [row]);
    else group.push(row);
  }
  return [...groups.values()].map((group) => ({
    learningRate: group[0]!.learningRate,
    layer: group[0]!.layer,
    normalization: group[0]!.normalization,
    phases: [0, 1, 2].map((third) => {
      const fromStep = Math.round((third * last) / 3);
      const toStep = Math.round(((third + 1) * last) / 3);
      const inside = group.filter((r) => r.step > fromStep && r.step <= toStep);
      return {
        fromStep,
        toStep,
        medianCosine: finiteMedian(inside.map((r) => r.cosine)),
        medianL2: finiteMedian(inside.map((r) => r.l2)),
      };
    }),
  }));
}

/** Figure 3a's experiment: gradient-view ICS of the VGG (Definition 2.1). */
export const ICS = {
  name: "ics",
  config: (scale) => VGG_MEASURE_CONFIGS[scale],
  jobs: icsJobs,
  scaleNote: icsScaleNote,
  dataSubset,
  seeds: seedRecord,
  summarize: (records) => icsRows(records),
  results: (summary, records) => ({
    runs: runEntries(records, ["learningRate", "finalTestAccuracy"]),
    keyNumbers: summary.keyNumbers,
    rows: summary.rows,
  }),
  // Medians over the measured steps of the seed means.
  keyLines: (summary) =>
    summary.keyNumbers.map((k) =>
      `${k.learningRate.padEnd(8)} ${k.layer.padEnd(19)} ${k.normalization.padEnd(16)} ` +
      `median cos(G,G') ${formatKey(k.medianCosine)}  median ||G-G'|| ${formatKey(k.medianL2)}` +
      (k.l2RatioToStandard === null ? "" : `  (x${formatKey(k.l2RatioToStandard)} of standard)`) +
      (k.diverged === null ? "" : `  [${k.diverged}]`)
    ),
} satisfies Experiment<VggMeasureConfig, IcsSummary>;
