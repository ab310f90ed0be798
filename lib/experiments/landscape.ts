/**
 * Figures `loss-variation`, `gradient-predictiveness` and `beta-smoothness` (paper Figure 4a-c,
 * claim 4 of PROTOCOL.md): the loss landscape of the VGG along the gradient, standard vs
 * BatchNorm at lr 0.1. At every measured step with gradient g, the loss and its gradient are
 * evaluated at W - eta g for eta in [1/2, 4] x lr, on the step's batch, BatchNorm in train mode
 * (PROTOCOL.md "Loss landscape along the gradient").
 *
 * The runs are the `ics` figure's standard and BatchNorm runs at lr 0.1 (they carry the
 * landscape measurement): {@link landscapeJobs} selects them from `icsJobs`, so every job, and
 * so every run in the store, is shared by the four figures.
 *
 * Pure: builds jobs and turns run records into rows.
 *
 * @module
 */
import {
  aggregateSeeds,
  divergedLabel,
  divergedRunsLine,
  finiteMedian,
  groupRuns,
  learningRateLabel,
  type Series,
} from "./analysis.ts";
import type { Scale } from "../scale.ts";
import type { LandscapeResult } from "../measure/landscape.ts";
import type { Normalization } from "../models/types.ts";
import {
  carriesLandscape,
  dataSubset,
  icsJobs,
  seedRecord,
  VGG_MEASURE_CONFIGS,
  type VggMeasureConfig,
  vggShrinkNote,
} from "./ics.ts";
import type { TrainingJob } from "../run/job.ts";
import type { RunRecord } from "../run/run_job.ts";
import { type Experiment, formatKey, runEntries } from "./experiment.ts";

/** What the landscape figures take from a scale's shared run settings. */
export interface LandscapeConfig {
  /** The shared runs (`VGG_MEASURE_CONFIGS[scale]`): width, batch, steps, seeds, every, etas. */
  readonly runs: VggMeasureConfig;
  /** Key numbers at these fractions of the last measured step (early, middle, late). */
  readonly keyFractions: readonly number[];
}

/**
 * The landscape figures' settings per scale: the shared runs plus where key numbers are read.
 * Early is 10% of training, not step 0: at step 0 both networks sit at their initialisation.
 */
export const LANDSCAPE_CONFIGS = {
  smoke: { runs: VGG_MEASURE_CONFIGS.smoke, keyFractions: [0, 1] }, // two measured steps only
  quick: { runs: VGG_MEASURE_CONFIGS.quick, keyFractions: [0.1, 0.5, 1] },
  long: { runs: VGG_MEASURE_CONFIGS.long, keyFractions: [0.1, 0.5, 1] },
  schedule: { runs: VGG_MEASURE_CONFIGS.schedule, keyFractions: [0.1, 0.5, 1] },
  paper: { runs: VGG_MEASURE_CONFIGS.paper, keyFractions: [0.1, 0.5, 1] },
} as const satisfies Record<Scale, LandscapeConfig>;

/**
 * The jobs of the landscape figures: the `ics` jobs of the landscape's networks at its learning
 * rate (standard and BatchNorm at lr 0.1, every seed), identical to those jobs. (Where runs are
 * shared, every `ics` job carries the landscape; the figure still compares these two.)
 *
 * @param scale The run scale.
 * @returns The jobs.
 */
export function landscapeJobs(scale: Scale): TrainingJob[] {
  const config: VggMeasureConfig = VGG_MEASURE_CONFIGS[scale];
  return icsJobs(scale).filter((job) =>
    job.measurements?.landscape !== undefined &&
    carriesLandscape(config, {
      normalization: job.network.normalization,
      learningRate: job.sgd.learningRate,
    })
  );
}

/**
 * What a scale shrinks relative to the paper, for the subtitles of the landscape figures.
 *
 * @param scale The run scale.
 * @returns E.g. "VGG width 1/8 instead of 1, batch 64 instead of 128, 400 of 15,000 steps, ...".
 */
export function landscapeScaleNote(scale: Scale): string {
  const c: VggMeasureConfig = VGG_MEASURE_CONFIGS[scale];
  const data = c.source === "full" ? "full CIFAR-10" : "the 1,000-image CIFAR-10 sample";
  const seeds = `${c.seeds.length} seed${c.seeds.length === 1 ? "" : "s"}`;
  const etas = `${c.landscape.etaGrid.count} etas, every ${c.landscape.every} steps`;
  if (scale === "paper") {
    return `PROTOCOL.md settings: VGG width 1, batch 128, 15,000 steps, ${data}, ${seeds}, ${etas}`;
  }
  return `${vggShrinkNote(c)}, ${data}, ${seeds}, ${etas}`;
}

/** One row of the landscape figures: a network and measured step, over seeds. */
export interface LandscapeRow {
  [field: string]: string | number | null;
  normalization: Normalization;
  /** "lr 0.1". */
  learningRate: string;
  step: number;
  /** (a) Loss at W - eta g: seed means of the min and max over the etas. */
  lossLow: number | null;
  lossHigh: number | null;
  /** Seed envelope of (a): the lowest min and the highest max over seeds. */
  lossLowest: number | null;
  lossHighest: number | null;
  /** Loss at W (seed mean), for reference in tooltips. */
  lossAtW: number | null;
  /** ||g|| = ||grad L(W)|| (seed mean): the scale the bands of (a) and (b) grow with. */
  gradNorm: number | null;
  /** (b) ||grad L(W) - grad L(W - eta g)||: seed means of the min and max over the etas. */
  gradLow: number | null;
  gradHigh: number | null;
  /** Seed envelope of (b): the lowest min and the highest max over seeds. */
  gradLowest: number | null;
  gradHighest: number | null;
  /** (c) Effective beta-smoothness: mean, min, max over seeds. */
  beta: number | null;
  betaMin: number | null;
  betaMax: number | null;
  /** Seeds with finite values at this step. */
  seeds: number;
  /** Divergence of any seed of the configuration, or null. */
  diverged: string | null;
}

/** Key numbers at one step: how much wider the standard network's bands are. */
export interface LandscapeKeyNumber {
  [field: string]: string | number | null;
  /** "early", "middle", "late" (or the fraction). */
  phase: string;
  /** The measured step. */
  step: number;
  /** Band widths (seed means of max - min) of the loss over eta, standard and BatchNorm. */
  lossWidthStandard: number | null;
  lossWidthBatchnorm: number | null;
  /** Standard / BatchNorm loss band width. */
  lossWidthRatio: number | null;
  /** The same for the gradient change ||grad L(W) - grad L(W - eta g)||. */
  gradWidthStandard: number | null;
  gradWidthBatchnorm: number | null;
  gradWidthRatio: number | null;
  /** Seed-mean upper edges of the gradient change band, and their ratio standard / BatchNorm. */
  gradHighRatio: number | null;
  /** Seed-mean ||g||, standard and BatchNorm: (a) and (b) grow with the step length ||eta g||. */
  gradNormStandard: number | null;
  gradNormBatchnorm: number | null;
  /** Seed-mean effective beta-smoothness, standard and BatchNorm, and their ratio. */
  betaStandard: number | null;
  betaBatchnorm: number | null;
  betaRatio: number | null;
}

/**
 * Standard / BatchNorm ratios over one third of training: the median, min and max over its
 * measured steps of the per-step ratio. A single step's ratio swings by 10x between neighbouring
 * measurements over a long run (one batch's loss spike in either network), so these, not the
 * single-step key numbers, carry the verdict.
 */
export interface LandscapePhaseRatios {
  [field: string]: string | number | null;
  /** "early", "middle", "late": the first, second and last third of the measured steps. */
  phase: string;
  /** The window, `(fromStep, toStep]`, and the number of measured steps in it. */
  fromStep: number;
  toStep: number;
  steps: number;
  lossWidthRatio: number | null;
  lossWidthRatioMin: number | null;
  lossWidthRatioMax: number | null;
  gradWidthRatio: number | null;
  gradWidthRatioMin: number | null;
  gradWidthRatioMax: number | null;
  betaRatio: number | null;
  betaRatioMin: number | null;
  betaRatioMax: number | null;
}

/** Rows and key numbers of the landscape figures. */
export interface LandscapeSummary {
  rows: LandscapeRow[];
  keyNumbers: LandscapeKeyNumber[];
  /** Ratios over the thirds of training (empty when no step has both networks). */
  phaseRatios: LandscapePhaseRatios[];
}

/** One number of a landscape measurement. */
type Quantity = (r: LandscapeResult) => number;

function landscapeSeries(record: RunRecord, pick: Quantity): Series {
  const x: number[] = [];
  const y: number[] = [];
  for (const line of record.measurements) {
    if (line.kind !== "landscape") continue;
    x.push(line.step);
    y.push(pick(line.values as LandscapeResult));
  }
  return { x, y };
}

/** Seed means at one measured step of one network, for the key numbers. */
interface StepWidths {
  step: number;
  loss: number | null;
  grad: number | null;
  gradHigh: number | null;
  gradNorm: number | null;
  beta: number | null;
}

const PHASES: Readonly<Record<number, string>> = {
  0: "start",
  0.1: "early",
  0.5: "middle",
  1: "late",
};

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/**
 * Turns the landscape runs into rows (one per network and measured step, over seeds) and key
 * numbers (standard / BatchNorm band-width ratios at the steps nearest to `keyFractions` of
 * the last measured step). A band's width is taken per run (max - min over the etas), then
 * averaged over seeds. Diverged runs are kept and named in `diverged`.
 *
 * @param records The runs of {@link landscapeJobs} (other runs are ignored).
 * @param keyFractions Where to read key numbers (default early, middle, late: 0.1, 0.5, 1).
 * @returns Rows and key numbers.
 */
export function landscapeRows(
  records: readonly RunRecord[],
  keyFractions: readonly number[] = [0.1, 0.5, 1],
): LandscapeSummary {
  const carrying = records.filter((r) => r.job.measurements?.landscape !== undefined);
  const rows: LandscapeRow[] = [];
  const widths = new Map<Normalization, StepWidths[]>();
  for (const group of groupRuns(carrying)) {
    const of = (pick: Quantity) =>
      aggregateSeeds(group.records.map((record) => landscapeSeries(record, pick)));
    const lossLow = of((r) => r.lossRange[0]);
    const lossHigh = of((r) => r.lossRange[1]);
    const lossAtW = of((r) => r.loss);
    const gradNorm = of((r) => r.gradientNorm);
    const gradLow = of((r) => r.gradientChange[0]);
    const gradHigh = of((r) => r.gradientChange[1]);
    const beta = of((r) => r.betaSmoothness);
    const lossWidth = of((r) => r.lossRange[1] - r.lossRange[0]);
    const gradWidth = of((r) => r.gradientChange[1] - r.gradientChange[0]);
    const diverged = divergedLabel(group.records);
    const perStep: StepWidths[] = [];
    for (const [i, a] of lossLow.entries()) {
      rows.push({
        normalization: group.normalization,
        learningRate: learningRateLabel(group.learningRate),
        step: a.x,
        lossLow: a.mean,
        lossHigh: lossHigh[i]!.mean,
        lossLowest: a.min,
        lossHighest: lossHigh[i]!.max,
        lossAtW: lossAtW[i]!.mean,
        gradNorm: gradNorm[i]!.mean,
        gradLow: gradLow[i]!.mean,
        gradHigh: gradHigh[i]!.mean,
        gradLowest: gradLow[i]!.min,
        gradHighest: gradHigh[i]!.max,
        beta: beta[i]!.mean,
        betaMin: beta[i]!.min,
        betaMax: beta[i]!.max,
        seeds: beta[i]!.n,
        diverged,
      });
      perStep.push({
        step: a.x,
        loss: lossWidth[i]!.mean,
        grad: gradWidth[i]!.mean,
        gradHigh: gradHigh[i]!.mean,
        gradNorm: gradNorm[i]!.mean,
        beta: beta[i]!.mean,
      });
    }
    widths.set(group.normalization, perStep);
  }

  const keyNumbers: LandscapeKeyNumber[] = [];
  const standard = widths.get("none") ?? [];
  const batchnorm = widths.get("batchnorm") ?? [];
  const steps = standard.map((s) => s.step).filter((s) => batchnorm.some((b) => b.step === s));
  if (steps.length > 0) {
    const last = steps[steps.length - 1]!;
    const chosen = keyFractions.map((f) => {
      const target = f * last;
      // The measured step nearest to the target (the earlier one on a tie).
      const step = steps.reduce((best, s) =>
        Math.abs(s - target) < Math.abs(best - target) ? s : best
      );
      return { phase: PHASES[f] ?? `${f} of training`, step };
    });
    for (const { phase, step } of chosen) {
      const s = standard.find((w) => w.step === step)!;
      const b = batchnorm.find((w) => w.step === step)!;
      keyNumbers.push({
        phase,
        step,
        lossWidthStandard: s.loss,
        lossWidthBatchnorm: b.loss,
        lossWidthRatio: ratio(s.loss, b.loss),
        gradWidthStandard: s.grad,
        gradWidthBatchnorm: b.grad,
        gradWidthRatio: ratio(s.grad, b.grad),
        gradHighRatio: ratio(s.gradHigh, b.gradHigh),
        gradNormStandard: s.gradNorm,
        gradNormBatchnorm: b.gradNorm,
        betaStandard: s.beta,
        betaBatchnorm: b.beta,
        betaRatio: ratio(s.beta, b.beta),
      });
    }
  }
  return { rows, keyNumbers, phaseRatios: phaseRatios(standard, batchnorm) };
}

/** The median, min and max of the finite values (all null when there are none). */
function spread(values: readonly (number | null)[]): [number | null, number | null, number | null] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0) return [null, null, null];
  return [finiteMedian(finite), Math.min(...finite), Math.max(...finite)];
}

/**
 * Per-step standard / BatchNorm ratios summarised over the thirds of training: steps in
 * `(0, T/3]`, `(T/3, 2T/3]` and `(2T/3, T]` of the last step T both networks were measured at
 * (step 0, before any update, is in none).
 */
function phaseRatios(
  standard: readonly StepWidths[],
  batchnorm: readonly StepWidths[],
): LandscapePhaseRatios[] {
  const paired = standard.flatMap((s) => {
    const b = batchnorm.find((w) => w.step === s.step);
    return b === undefined ? [] : [{ step: s.step, s, b }];
  });
  const last = paired.at(-1)?.step ?? 0;
  if (last === 0) return [];
  return ["early", "middle", "late"].map((phase, third) => {
    const fromStep = Math.round((third * last) / 3);
    const toStep = Math.round(((third + 1) * last) / 3);
    const inside = paired.filter((p) => p.step > fromStep && p.step <= toStep);
    const [lossWidthRatio, lossWidthRatioMin, lossWidthRatioMax] = spread(
      inside.map((p) => ratio(p.s.loss, p.b.loss)),
    );
    const [gradWidthRatio, gradWidthRatioMin, gradWidthRatioMax] = spread(
      inside.map((p) => ratio(p.s.grad, p.b.grad)),
    );
    const [betaRatio, betaRatioMin, betaRatioMax] = spread(
      inside.map((p) => ratio(p.s.beta, p.b.beta)),
    );
    return {
      phase,
      fromStep,
      toStep,
      steps: inside.length,
      lossWidthRatio,
      lossWidthRatioMin,
      lossWidthRatioMax,
      gradWidthRatio,
      gradWidthRatioMin,
      gradWidthRatioMax,
      betaRatio,
      betaRatioMin,
      betaRatioMax,
    };
  });
}

/** The key number line of one landscape figure, standard vs BatchNorm at one phase. */
function landscapeKeyLine(k: LandscapeKeyNumber, stem: string): string {
  const f = formatKey;
  const what = stem === "loss-variation"
    ? `loss band width: standard ${f(k.lossWidthStandard)}, BatchNorm ${
      f(k.lossWidthBatchnorm)
    }, standard / BatchNorm ${f(k.lossWidthRatio)}`
    : stem === "gradient-predictiveness"
    ? `gradient-change band width: standard ${f(k.gradWidthStandard)}, BatchNorm ${
      f(k.gradWidthBatchnorm)
    }, standard / BatchNorm ${f(k.gradWidthRatio)}; upper edges standard / BatchNorm ${
      f(k.gradHighRatio)
    }`
    : `effective beta-smoothness: standard ${f(k.betaStandard)}, BatchNorm ${
      f(k.betaBatchnorm)
    }, standard / BatchNorm ${f(k.betaRatio)}`;
  return `${k.phase.padEnd(6)} step ${String(k.step).padStart(5)}: ${what}` +
    `; ||g|| standard ${f(k.gradNormStandard)}, BatchNorm ${f(k.gradNormBatchnorm)}`;
}

/** The line of one third of training: the median (min..max) per-step ratio of one figure. */
function phaseRatiosLine(p: LandscapePhaseRatios, stem: string): string {
  const f = formatKey;
  const [median, min, max, what] = stem === "loss-variation"
    ? [p.lossWidthRatio, p.lossWidthRatioMin, p.lossWidthRatioMax, "loss band width"]
    : stem === "gradient-predictiveness"
    ? [p.gradWidthRatio, p.gradWidthRatioMin, p.gradWidthRatioMax, "gradient-change band width"]
    : [p.betaRatio, p.betaRatioMin, p.betaRatioMax, "effective beta-smoothness"];
  return `${p.phase.padEnd(6)} steps ${p.fromStep}-${p.toStep} (${p.steps} measured): ` +
    `${what} standard / BatchNorm median ${f(median)} (${f(min)}..${f(max)})`;
}

/**
 * Figure 4's experiment: the loss landscape along the gradient (loss variation, gradient
 * predictiveness, effective beta-smoothness), one results file for its three figures.
 */
export const LANDSCAPE = {
  name: "landscape",
  config: (scale) => LANDSCAPE_CONFIGS[scale],
  jobs: landscapeJobs,
  scaleNote: landscapeScaleNote,
  dataSubset,
  seeds: seedRecord,
  summarize: (records, scale) => landscapeRows(records, LANDSCAPE_CONFIGS[scale].keyFractions),
  results: (summary, records) => ({
    runs: runEntries(records, ["learningRate"]),
    keyNumbers: summary.keyNumbers,
    phaseRatios: summary.phaseRatios,
    rows: summary.rows,
  }),
  // Standard vs BatchNorm at early / middle / late steps, then over each third.
  keyLines: (summary, records, stem) => [
    ...summary.keyNumbers.map((k) => landscapeKeyLine(k, stem)),
    ...summary.phaseRatios.map((p) => phaseRatiosLine(p, stem)),
    divergedRunsLine(records),
  ],
} satisfies Experiment<LandscapeConfig, LandscapeSummary>;
