/**
 * Figure `dln` (paper Figures 3b and 10): the 25-layer, 10x10 deep linear network of
 * PROTOCOL.md, standard vs BatchNorm, trained by full-batch gradient descent on a summed
 * squared error. Two measurements:
 * - gradient-view ICS (Definition 2.1) of layers #9 and #17 at lr 1e-6 and 1e-7 (claim 3);
 * - the landscape along the gradient at lr 1e-6 with eta in [1/100, 30] x lr: loss variation,
 *   gradient predictiveness, effective beta-smoothness (claim 4).
 *
 * The job builder is shared with figure `lp-norms`, whose standard and BatchNorm DLN runs are
 * these very jobs (same hash: computed once). The row builders (`lossRows`, `landscapeRows`)
 * serve both figures.
 *
 * Float32 note: ICS differences below about 1e-6 of ||G|| are rounding, not signal (measured:
 * ||G - G'|| scales linearly with the step size down to ~1e-5 ||G||, then flattens). Rows whose
 * relative ICS falls under {@link ICS_FLOAT32_FLOOR} are flagged `atFloor`, never hidden.
 *
 * Pure: no I/O.
 *
 * @module
 */
import type { Scale } from "../scale.ts";
import {
  type AggregateRow,
  aggregateSeeds,
  divergedSeedsNote,
  finiteMean,
  groupRuns,
  learningRateExponent,
  type Series,
  storedNumber,
} from "./analysis.ts";
import type { IcsResult } from "../measure/ics.ts";
import { DLN_ETA_GRID, etaGrid, type EtaGridOptions } from "../measure/landscape.ts";
import { DLN_ICS_LAYERS } from "../models/layer_map.ts";
import type { Normalization } from "../models/types.ts";
import type { TrainingJob } from "../run/job.ts";
import type { RunRecord } from "../run/run_job.ts";
import { type Experiment, formatKey, runEntries, seedRoles } from "./experiment.ts";

/** Settings of the DLN runs at one scale. */
export interface DlnConfig {
  /** Number of 10x10 layers (PROTOCOL.md "Deep linear network": 25). */
  depth: number;
  /** Width of every layer, input and output (PROTOCOL.md: 10). */
  dim: number;
  /** Samples x ~ N(0, I), all of them in every step (PROTOCOL.md: 1000, full batch). */
  samples: number;
  /** Gradient-descent steps (PROTOCOL.md: 10,000). */
  steps: number;
  /** eta values of the ICS panels (PROTOCOL.md "Measurements": 1e-6 and 1e-7). */
  learningRates: readonly number[];
  /** eta of the landscape panels (Figure 10: 1e-6); its runs carry the landscape too. */
  landscapeLearningRate: number;
  /** Networks compared (claims 3 and 4: standard vs BatchNorm). */
  normalizations: readonly Normalization[];
  /** One replicate per seed: init, regression problem (A, x) and noise all use it. */
  seeds: readonly number[];
  /** Running-moment momentum of the normalised layers (unused by full-batch training). */
  bnMomentum: number;
  /** Steps between ICS measurements (PROTOCOL.md leaves k open). */
  icsEvery: number;
  /** 1-based layers of the ICS panels (`DLN_ICS_LAYERS`: #9 and #17). */
  icsLayers: readonly number[];
  /** Steps between landscape measurements (open in the paper). */
  landscapeEvery: number;
  /** eta range in multiples of the lr (PROTOCOL.md: [1/100, 30] x lr, `DLN_ETA_GRID`). */
  etaGrid: EtaGridOptions;
  /** Steps between checkpoints of a run. */
  checkpointEvery: number;
}

/** The paper's DLN ICS layers, #9 and #17 (ours have the same numbers). */
const ICS_LAYERS: readonly number[] = DLN_ICS_LAYERS.map((m) => m.ours);

/** The networks compared (PROTOCOL.md: standard and BatchNorm deep linear networks). */
const DLN_NETWORKS = ["none", "batchnorm"] as const satisfies readonly Normalization[];

/** Smoke: the full-size DLN for 20 steps, one seed; checks the pipeline in seconds. */
export const DLN_SMOKE = {
  depth: 25, // the layers #9 and #17 must exist
  dim: 10,
  samples: 200, // a fifth of the paper's 1000: cheaper steps
  steps: 20,
  learningRates: [1e-6, 1e-7],
  landscapeLearningRate: 1e-6,
  normalizations: DLN_NETWORKS,
  seeds: [0],
  bnMomentum: 0.1,
  icsEvery: 10, // steps 0, 10
  icsLayers: ICS_LAYERS,
  landscapeEvery: 10,
  etaGrid: { ...DLN_ETA_GRID, count: 4 }, // 4 log-spaced etas in [1/100, 30] x lr
  checkpointEvery: 20,
} as const satisfies DlnConfig;

/**
 * Quick: PROTOCOL.md's network and data, the first 300 of 10,000 steps, 3 seeds. On the 2-core
 * CPU (wasm) a step takes ~15 ms (standard) and ~55 ms (BatchNorm) under load; the 12 runs with
 * their measurements take about 3 minutes.
 */
export const DLN_QUICK = {
  depth: 25,
  dim: 10,
  samples: 1000,
  steps: 300, // 3% of 10,000: the loss still falls by ~4x (standard) and ~10x (BatchNorm)
  learningRates: [1e-6, 1e-7],
  landscapeLearningRate: 1e-6,
  normalizations: DLN_NETWORKS,
  seeds: [0, 1, 2],
  bnMomentum: 0.1,
  icsEvery: 20, // 15 measurements per run, 3 gradients each
  icsLayers: ICS_LAYERS,
  landscapeEvery: 30, // 10 measurements, 9 gradients each
  etaGrid: DLN_ETA_GRID,
  checkpointEvery: 100,
} as const satisfies DlnConfig;

/** Long: quick's settings with 10x the steps and measurement intervals (3,000 steps). */
export const DLN_LONG = {
  ...DLN_QUICK,
  steps: 3_000,
  icsEvery: 200,
  landscapeEvery: 300,
  checkpointEvery: 1_000,
} as const satisfies DlnConfig;

/** Paper: PROTOCOL.md exactly (10,000 full-batch steps), 3 seeds. */
export const DLN_PAPER = {
  depth: 25, // PROTOCOL.md
  dim: 10, // PROTOCOL.md
  samples: 1000, // PROTOCOL.md
  steps: 10_000, // PROTOCOL.md
  learningRates: [1e-6, 1e-7], // PROTOCOL.md, Figure 3b
  landscapeLearningRate: 1e-6, // PROTOCOL.md, Figure 10
  normalizations: DLN_NETWORKS,
  seeds: [0, 1, 2],
  bnMomentum: 0.1,
  icsEvery: 100, // our choice: 100 measurements per run
  icsLayers: ICS_LAYERS, // #9, #17
  landscapeEvery: 100, // our choice
  etaGrid: DLN_ETA_GRID, // 8 log-spaced etas in [1/100, 30] x lr
  checkpointEvery: 1_000,
} as const satisfies DlnConfig;

/** The DLN settings of each scale. */
export const DLN_CONFIGS = {
  smoke: DLN_SMOKE,
  quick: DLN_QUICK,
  long: DLN_LONG,
  schedule: DLN_PAPER, // PROTOCOL.md's schedule is the DLN's whole protocol: the same runs
  paper: DLN_PAPER,
} as const satisfies Record<Scale, DlnConfig>;

/**
 * Relative ICS ||G - G'|| / ||G|| under which float32 cannot resolve the difference (measured
 * on this DLN: linear in the step size down to ~1e-5, flat below ~1e-6).
 */
export const ICS_FLOAT32_FLOOR = 1e-5;

/**
 * The job of one DLN run. Every run measures ICS; runs at the landscape learning rate also
 * measure the landscape. `lp-norms` builds its DLN runs with this function too.
 *
 * @param config The scale's settings.
 * @param run Network, learning rate and seed.
 * @returns A job for `runJob`.
 */
export function dlnJob(
  config: DlnConfig,
  run: { normalization: Normalization; learningRate: number; seed: number },
): TrainingJob {
  const { normalization, learningRate, seed } = run;
  const landscape = learningRate === config.landscapeLearningRate
    ? { landscape: { every: config.landscapeEvery, etas: etaGrid(learningRate, config.etaGrid) } }
    : {};
  return {
    network: { arch: "dln", normalization, depth: config.depth, dim: config.dim },
    data: { kind: "dln", samples: config.samples },
    sgd: { steps: config.steps, learningRate, bnMomentum: config.bnMomentum },
    seeds: { init: seed, data: seed, noise: seed },
    evalEvery: 0,
    measurements: {
      ics: { every: config.icsEvery, layers: [...config.icsLayers] },
      ...landscape,
    },
    checkpointEvery: config.checkpointEvery,
  };
}

/**
 * Every job of figure `dln` at a scale: learning rates x normalizations x seeds.
 *
 * @param scale The run scale.
 * @returns The jobs.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dlnJobs } from "./dln.ts";
 *
 * const jobs = dlnJobs("paper");
 * assert.equal(jobs.length, 12); // 2 lrs x 2 networks x 3 seeds
 * assert.equal(jobs[0]!.sgd.steps, 10_000);
 * ```
 */
export function dlnJobs(scale: Scale): TrainingJob[] {
  const config: DlnConfig = DLN_CONFIGS[scale];
  return config.learningRates.flatMap((learningRate) =>
    config.normalizations.flatMap((normalization) =>
      config.seeds.map((seed) => dlnJob(config, { normalization, learningRate, seed }))
    )
  );
}

/**
 * What a scale shrinks relative to PROTOCOL.md, for the subtitle.
 *
 * @param scale The run scale.
 * @returns E.g. "DLN 25x10x10, 1000 samples, 300 of 10,000 steps, 3 seeds, ...".
 */
export function dlnScaleNote(scale: Scale): string {
  const c: DlnConfig = DLN_CONFIGS[scale];
  const seeds = `${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`;
  const what = `DLN ${c.depth} layers ${c.dim}x${c.dim}, ${c.samples} samples full batch, ` +
    `${c.steps.toLocaleString("en-US")} of ${DLN_PAPER.steps.toLocaleString("en-US")} steps, ` +
    `${seeds}, ICS every ${c.icsEvery} steps, landscape every ${c.landscapeEvery} steps ` +
    `(${c.etaGrid.count} etas)`;
  return scale === "paper" || scale === "schedule" ? `PROTOCOL.md settings: ${what}` : what;
}

/** Short label of a learning rate, e.g. "1e-6". */

/** A stored number: JSON turned NaN and infinities into null; they come back as NaN. */

/** One training-loss point over seeds. */
export interface LossRow {
  [field: string]: string | number | null;
  normalization: Normalization;
  /** lr label, e.g. "1e-6". */
  lr: string;
  step: number;
  /** Mean, min and max over seeds of the loss (null when no seed has a finite value). */
  loss: number | null;
  lossMin: number | null;
  lossMax: number | null;
  /** Seeds with a finite loss here. */
  seeds: number;
  /** "diverged at step k (seed s)", or null. */
  diverged: string | null;
}

/**
 * Training loss over seeds per group, thinned to at most `points` steps per curve (the last
 * step is always kept), optionally smoothed per run first (moving average of `smooth` steps).
 *
 * @param records Runs.
 * @param options Points per curve (default 300) and smoothing window (default 1: none).
 * @returns One row per group and kept step.
 */
export function lossRows(
  records: readonly RunRecord[],
  options: { points?: number; smooth?: number } = {},
): LossRow[] {
  const points = options.points ?? 300;
  const smooth = options.smooth ?? 1;
  return groupRuns(records).flatMap((group) => {
    const series: Series[] = group.records.map((r) => ({
      x: r.metrics.step,
      y: smoothed(r.metrics.loss.map(storedNumber), smooth),
    }));
    const rows = aggregateSeeds(series);
    const last = rows.length === 0 ? 0 : rows[rows.length - 1]!.x;
    const stride = Math.max(1, Math.ceil(rows.length / points));
    const diverged = divergedSeedsNote(group.records);
    return rows.filter((row, i) => i % stride === 0 || row.x === last).map((row) => ({
      normalization: group.normalization,
      lr: learningRateExponent(group.learningRate),
      step: row.x,
      loss: row.mean,
      lossMin: row.min,
      lossMax: row.max,
      seeds: row.n,
      diverged,
    }));
  });
}

/** Trailing moving average that lets a non-finite value through (a divergence stays visible). */
function smoothed(values: readonly number[], window: number): number[] {
  if (window <= 1) return [...values];
  return values.map((v, i) => {
    if (!Number.isFinite(v)) return v;
    const part = values.slice(Math.max(0, i - window + 1), i + 1).filter(Number.isFinite);
    return part.reduce((s, x) => s + x, 0) / part.length;
  });
}

/** One ICS point: a network, learning rate, layer and step, over seeds. */
export interface IcsRow {
  [field: string]: string | number | boolean | null;
  normalization: Normalization;
  lr: string;
  /** "#9", "#17": the paper's layer number (ours is the same). */
  layer: string;
  step: number;
  /** ||G - G'||: mean, min, max over seeds. */
  l2: number | null;
  l2Min: number | null;
  l2Max: number | null;
  /** cos(G, G'): mean, min, max over seeds. */
  cosine: number | null;
  cosineMin: number | null;
  cosineMax: number | null;
  /** Mean over seeds of ||G - G'|| / ||G||. */
  relative: number | null;
  /** {@link ICS_FLOAT32_FLOOR} x mean ||G||: differences below it are rounding. */
  floor: number | null;
  /** Whether the relative ICS is under the float32 floor (the l2 value is then unresolved). */
  atFloor: boolean;
  seeds: number;
  diverged: string | null;
}

function aggregateAt(
  records: readonly RunRecord[],
  pick: (record: RunRecord) => Series,
): AggregateRow[] {
  return aggregateSeeds(records.map(pick));
}

/**
 * ICS rows of every group (runs without ICS measurements give none).
 *
 * @param records Runs.
 * @returns One row per group, layer and measured step.
 */
export function icsRows(records: readonly RunRecord[]): IcsRow[] {
  return groupRuns(records).flatMap((group) => {
    const layers = [
      ...new Set(group.records.flatMap((r) => r.job.measurements?.ics?.layers ?? [])),
    ];
    const diverged = divergedSeedsNote(group.records);
    return layers.flatMap((layer) => {
      const series = (value: (r: IcsResult) => number) => (record: RunRecord): Series => {
        const lines = record.measurements.filter((m) => m.kind === "ics");
        return {
          x: lines.map((m) => m.step),
          y: lines.map((m) => {
            const found = (m.values as IcsResult[]).find((v) => v.layer === layer);
            return found === undefined ? NaN : value(found);
          }),
        };
      };
      const l2 = aggregateAt(group.records, series((v) => storedNumber(v.l2)));
      const cosine = aggregateAt(group.records, series((v) => storedNumber(v.cosine)));
      const relative = aggregateAt(
        group.records,
        series((v) => storedNumber(v.l2) / storedNumber(v.normG)),
      );
      const normG = aggregateAt(group.records, series((v) => storedNumber(v.normG)));
      return l2.map((row, i) => {
        const rel = relative[i]!.mean;
        const g = normG[i]!.mean;
        return {
          normalization: group.normalization,
          lr: learningRateExponent(group.learningRate),
          layer: `#${layer}`,
          step: row.x,
          l2: row.mean,
          l2Min: row.min,
          l2Max: row.max,
          cosine: cosine[i]!.mean,
          cosineMin: cosine[i]!.min,
          cosineMax: cosine[i]!.max,
          relative: rel,
          floor: g === null ? null : ICS_FLOAT32_FLOOR * g,
          atFloor: rel !== null && rel < ICS_FLOAT32_FLOOR,
          seeds: row.n,
          diverged,
        };
      });
    });
  });
}

/** One landscape point: a network and measured step, over seeds. */
export interface LandscapeRow {
  [field: string]: string | number | null;
  normalization: Normalization;
  lr: string;
  step: number;
  /** (a) Loss variation: mean over seeds of the min and max of L(W - eta g) over the etas. */
  lossLow: number | null;
  lossHigh: number | null;
  /** (b) Gradient predictiveness: mean over seeds of the min and max over the etas. */
  gradientLow: number | null;
  gradientHigh: number | null;
  /** (c) Effective beta-smoothness: mean, min, max over seeds. */
  beta: number | null;
  betaMin: number | null;
  betaMax: number | null;
  seeds: number;
  diverged: string | null;
}

interface StoredLandscape {
  lossRange: [unknown, unknown];
  gradientChange: [unknown, unknown];
  betaSmoothness: unknown;
}

/**
 * Landscape rows of every group (runs without landscape measurements give none).
 *
 * @param records Runs.
 * @returns One row per group and measured step.
 */
export function landscapeRows(records: readonly RunRecord[]): LandscapeRow[] {
  return groupRuns(records).flatMap((group) => {
    const series = (value: (v: StoredLandscape) => unknown) => (record: RunRecord): Series => {
      const lines = record.measurements.filter((m) => m.kind === "landscape");
      return {
        x: lines.map((m) => m.step),
        y: lines.map((m) => storedNumber(value(m.values as StoredLandscape))),
      };
    };
    const lossLow = aggregateAt(group.records, series((v) => v.lossRange[0]));
    if (lossLow.length === 0) return [];
    const lossHigh = aggregateAt(group.records, series((v) => v.lossRange[1]));
    const gradientLow = aggregateAt(group.records, series((v) => v.gradientChange[0]));
    const gradientHigh = aggregateAt(group.records, series((v) => v.gradientChange[1]));
    const beta = aggregateAt(group.records, series((v) => v.betaSmoothness));
    const diverged = divergedSeedsNote(group.records);
    return lossLow.map((row, i) => ({
      normalization: group.normalization,
      lr: learningRateExponent(group.learningRate),
      step: row.x,
      lossLow: row.mean,
      lossHigh: lossHigh[i]!.mean,
      gradientLow: gradientLow[i]!.mean,
      gradientHigh: gradientHigh[i]!.mean,
      beta: beta[i]!.mean,
      betaMin: beta[i]!.min,
      betaMax: beta[i]!.max,
      seeds: beta[i]!.n,
      diverged,
    }));
  });
}

/**
 * Mean over the steps where both have a finite positive value of a / b.
 *
 * @param a Values by step.
 * @param b Values by step.
 * @returns The mean ratio, or null when no step has both.
 */
export function meanRatio(
  a: ReadonlyMap<number, number | null>,
  b: ReadonlyMap<number, number | null>,
): number | null {
  const ratios: number[] = [];
  for (const [step, x] of a) {
    const y = b.get(step);
    if (x !== null && y !== null && y !== undefined && x > 0 && y > 0) ratios.push(x / y);
  }
  return ratios.length === 0 ? null : ratios.reduce((s, r) => s + r, 0) / ratios.length;
}

/** The numbers the `dln` notebook prints, all computed from the rows. */
export interface DlnKeyNumbers {
  /** Per lr and layer: mean over measured steps of cos(G, G'), standard and BatchNorm. */
  ics: {
    lr: string;
    layer: string;
    cosineStandard: number | null;
    cosineBatchnorm: number | null;
    /** Mean over steps of ||G - G'||_BN / ||G - G'||_standard. */
    l2Ratio: number | null;
    /** Mean relative ICS ||G - G'|| / ||G|| of the standard network. */
    relativeStandard: number | null;
  }[];
  /** Share of all ICS rows under the float32 floor. */
  atFloorFraction: number;
  /** Mean over steps of standard / BatchNorm: loss-variation width, gradient-change max, beta. */
  landscapeRatios: {
    lossVariation: number | null;
    gradientPredictiveness: number | null;
    betaSmoothness: number | null;
  };
  /** Final training loss (mean over seeds) per network and lr. */
  finalLoss: { normalization: Normalization; lr: string; loss: number | null }[];
  /** Diverged runs, by group. */
  diverged: string[];
}

/** Everything figure `dln` plots, plus its key numbers. */
export interface DlnFigureRows {
  ics: IcsRow[];
  landscape: LandscapeRow[];
  loss: LossRow[];
  key: DlnKeyNumbers;
}

function byStep<T extends { step: number }>(
  rows: readonly T[],
  value: (row: T) => number | null,
): Map<number, number | null> {
  return new Map(rows.map((row) => [row.step, value(row)]));
}

/**
 * Turns the `dln` runs into the figure's rows and key numbers.
 *
 * @param records The runs of `dlnJobs(scale)` (any order).
 * @returns ICS, landscape and loss rows, and the key numbers.
 */
export function dlnRows(records: readonly RunRecord[]): DlnFigureRows {
  const ics = icsRows(records);
  const landscape = landscapeRows(records);
  const loss = lossRows(records);
  const pairs = [...new Set(ics.map((r) => `${r.lr}|${r.layer}`))];
  const keyIcs = pairs.map((pair) => {
    const [lr, layer] = pair.split("|") as [string, string];
    const of = (n: Normalization) =>
      ics.filter((r) => r.lr === lr && r.layer === layer && r.normalization === n);
    const standard = of("none");
    const bn = of("batchnorm");
    return {
      lr,
      layer,
      cosineStandard: finiteMean(standard.map((r) => r.cosine)),
      cosineBatchnorm: finiteMean(bn.map((r) => r.cosine)),
      l2Ratio: meanRatio(byStep(bn, (r) => r.l2), byStep(standard, (r) => r.l2)),
      relativeStandard: finiteMean(standard.map((r) => r.relative)),
    };
  });
  const land = (n: Normalization) => landscape.filter((r) => r.normalization === n);
  const width = (r: LandscapeRow) =>
    r.lossLow === null || r.lossHigh === null ? null : r.lossHigh - r.lossLow;
  const finalLoss = groupRuns(records).map((g) => {
    const rows = loss.filter((r) =>
      r.normalization === g.normalization &&
      r.lr === learningRateExponent(g.learningRate)
    );
    return {
      normalization: g.normalization,
      lr: learningRateExponent(g.learningRate),
      loss: rows.length === 0 ? null : rows[rows.length - 1]!.loss,
    };
  });
  return {
    ics,
    landscape,
    loss,
    key: {
      ics: keyIcs,
      atFloorFraction: ics.length === 0 ? 0 : ics.filter((r) => r.atFloor).length / ics.length,
      landscapeRatios: {
        lossVariation: meanRatio(byStep(land("none"), width), byStep(land("batchnorm"), width)),
        gradientPredictiveness: meanRatio(
          byStep(land("none"), (r) => r.gradientHigh),
          byStep(land("batchnorm"), (r) => r.gradientHigh),
        ),
        betaSmoothness: meanRatio(
          byStep(land("none"), (r) => r.beta),
          byStep(land("batchnorm"), (r) => r.beta),
        ),
      },
      finalLoss,
      diverged: groupRuns(records).map((g) => divergedSeedsNote(g.records)).filter(
        (n): n is string => n !== null,
      ),
    },
  };
}

/** The key numbers of the DLN figure as lines of text. */
function dlnKeyLines(key: DlnKeyNumbers): string[] {
  const f = formatKey;
  const lr = key.landscapeRatios;
  return [
    ...key.ics.map((k) =>
      `ICS lr ${k.lr} layer ${k.layer}: mean cos(G, G') standard ${f(k.cosineStandard)}, ` +
      `BatchNorm ${f(k.cosineBatchnorm)}; ||G - G'|| BatchNorm / standard ${f(k.l2Ratio)}; ` +
      `standard ||G - G'|| / ||G|| ${f(k.relativeStandard)}`
    ),
    `ICS points under the float32 floor: ${(100 * key.atFloorFraction).toFixed(1)}%`,
    `standard / BatchNorm, mean over measured steps: loss-variation width ${
      f(lr.lossVariation)
    }, gradient predictiveness (max over eta) ${f(lr.gradientPredictiveness)}, ` +
    `beta-smoothness ${f(lr.betaSmoothness)}`,
    ...key.finalLoss.map((k) => `final loss ${k.normalization} lr ${k.lr}: ${f(k.loss, 4)}`),
    key.diverged.length === 0 ? "no run diverged" : key.diverged.join("\n"),
  ];
}

/** Figures 3b and 12's experiment: ICS and landscape of the deep linear network. */
export const DLN = {
  name: "dln",
  config: (scale) => DLN_CONFIGS[scale],
  jobs: dlnJobs,
  // The schedule's DLN runs are the paper protocol's: the figure is the paper one.
  settingsScale: (scale) => scale === "schedule" ? "paper" : scale,
  scaleNote: dlnScaleNote,
  dataSubset: (scale) =>
    `synthetic: ${DLN_CONFIGS[scale].samples} samples x ~ N(0, I), targets A x, one A per seed`,
  seeds: (scale) => seedRoles(DLN_CONFIGS[scale].seeds, (k) => `replicate ${k + 1}`),
  summarize: (records) => dlnRows(records),
  results: (rows, records) => ({
    runs: runEntries(records, ["learningRate"]),
    keyNumbers: rows.key,
    rows: { ics: rows.ics, landscape: rows.landscape, loss: rows.loss },
  }),
  keyLines: (rows) => dlnKeyLines(rows.key),
} satisfies Experiment<DlnConfig, DlnFigureRows>;
