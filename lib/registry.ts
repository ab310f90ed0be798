/**
 * Every figure and the experiment it is drawn from: the one list that `deno task jobs`,
 * `deno task figures`, `deno task paper`, the committed-results test and the notebooks
 * (through `runFigure`) read. A new figure with its own runs adds its experiment module, its
 * figure module, its notebook and one line here.
 *
 * The order is the job order of `deno task jobs`: cheapest experiments first, so a
 * time-limited session finishes whole figures before it starts the long ones.
 *
 * @module
 */
import type { Scale } from "./scale.ts";
import { DLN } from "./experiments/dln.ts";
import { EXAMPLE } from "./experiments/example.ts";
import type { Experiment } from "./experiments/experiment.ts";
import { ICS } from "./experiments/ics.ts";
import { ICS_DEFINITIONS_EXPERIMENT } from "./experiments/ics_definitions.ts";
import { INSTRUMENT_CHECK } from "./experiments/instrument.ts";
import { LANDSCAPE } from "./experiments/landscape.ts";
import { LP_NORMS } from "./experiments/lp_norms.ts";
import { TRAINING } from "./experiments/training.ts";
import { betaSmoothnessFigure } from "./figures/beta_smoothness.ts";
import { dlnFigure } from "./figures/dln.ts";
import { exampleFigure } from "./figures/example.ts";
import { gradientPredictivenessFigure } from "./figures/gradient_predictiveness.ts";
import { icsFigure } from "./figures/ics.ts";
import { icsDefinitionsFigure } from "./figures/ics_definitions.ts";
import { instrumentFigure } from "./figures/instrument.ts";
import { lossVariationFigure } from "./figures/loss_variation.ts";
import { lpNormsFigure } from "./figures/lp_norms.ts";
import { trainingFigure } from "./figures/training.ts";
import type { VegaLiteSpec } from "./figures/spec.ts";
import { canonicalJson, type TrainingJob } from "./run/job.ts";

/** A figure: the experiment it is drawn from and how. */
export interface RegisteredFigure {
  // deno-lint-ignore no-explicit-any
  readonly experiment: Experiment<any, any>;
  /** The chart from the experiment's summary and configuration (provenance is added later). */
  draw(summary: unknown, config: object): VegaLiteSpec;
}

/** Pairs an experiment with one of its figures, checking that the two types agree. */
function figure<C extends object, S>(
  experiment: Experiment<C, S>,
  draw: (summary: S, config: C) => VegaLiteSpec,
): RegisteredFigure {
  return { experiment, draw: draw as (summary: unknown, config: object) => VegaLiteSpec };
}

/** Figure stem -> experiment and drawing, in job order (cheapest first). */
export const EXPERIMENTS = {
  "dln": figure(DLN, (rows, c) => dlnFigure(rows, { networks: c.normalizations })),
  "ics-definitions": figure(ICS_DEFINITIONS_EXPERIMENT, (s) => icsDefinitionsFigure(s.rows)),
  "lp-norms": figure(
    LP_NORMS,
    (rows, c) =>
      lpNormsFigure(rows, { smoothVggLoss: c.smoothVggLoss, networks: c.normalizations }),
  ),
  "training": figure(TRAINING, (results) => trainingFigure(results)),
  "ics": figure(ICS, (s, c) => icsFigure(s.rows, { networks: c.normalizations })),
  "loss-variation": figure(
    LANDSCAPE,
    (s, c) => lossVariationFigure(s.rows, { networks: c.runs.landscape.normalizations }),
  ),
  "gradient-predictiveness": figure(
    LANDSCAPE,
    (s, c) => gradientPredictivenessFigure(s.rows, { networks: c.runs.landscape.normalizations }),
  ),
  "beta-smoothness": figure(
    LANDSCAPE,
    (s, c) => betaSmoothnessFigure(s.rows, { networks: c.runs.landscape.normalizations }),
  ),
  "example": figure(EXAMPLE, (rows) => exampleFigure(rows)),
  "instrument": figure(INSTRUMENT_CHECK, (result, c) => instrumentFigure(result, c)),
} as const satisfies Record<string, RegisteredFigure>;

/** A registered figure's stem. */
export type FigureStem = keyof typeof EXPERIMENTS;

/** Every figure stem, in job order. */
export const FIGURE_STEMS = Object.keys(EXPERIMENTS) as FigureStem[];

/** Figures whose runs go through the result store (`instrument` and `example` have none). */
export const STORED_FIGURES: readonly FigureStem[] = FIGURE_STEMS.filter((stem) =>
  EXPERIMENTS[stem].experiment.jobs("smoke").length > 0
);

/**
 * Whether a name is a registered figure stem.
 *
 * @param name Any string.
 * @returns True for a stem of {@link EXPERIMENTS}.
 */
export function isFigureStem(name: string): name is FigureStem {
  return Object.hasOwn(EXPERIMENTS, name);
}

/**
 * The registered figure of a stem.
 *
 * @param stem A figure stem.
 * @returns Its experiment and drawing.
 * @throws {RangeError} For an unknown stem; the message lists the known ones.
 */
export function registeredFigure(stem: string): RegisteredFigure {
  if (!isFigureStem(stem)) {
    throw new RangeError(
      `Unknown figure "${stem}": expected one of ${FIGURE_STEMS.join(", ")}`,
    );
  }
  return EXPERIMENTS[stem];
}

/**
 * The jobs of one figure at a scale, in the order its experiment summarises them.
 *
 * @param figure The figure stem.
 * @param scale The run scale.
 * @returns Its jobs.
 */
export function figureJobs(figure: FigureStem, scale: Scale): TrainingJob[] {
  return registeredFigure(figure).experiment.jobs(scale);
}

/**
 * The scale a figure made at `scale` is filed under: `scale` itself, or the scale whose
 * settings it borrows where it has none of its own (`Experiment.settingsScale`).
 *
 * @param figure The figure stem.
 * @param scale The requested scale.
 * @returns The scale its provenance and files name.
 */
export function filedScale(figure: FigureStem, scale: Scale): Scale {
  return registeredFigure(figure).experiment.settingsScale?.(scale) ?? scale;
}

/**
 * The jobs of {@link jobsFor} that belong to `scale` itself: those of at least one figure filed
 * under it. The others are another scale's runs that a figure borrows here (the DLN's paper runs
 * at `schedule`); they are exported and committed with that scale.
 *
 * @param scale The scale the entries were listed for.
 * @param entries Entries of {@link jobsFor} at that scale.
 * @returns The entries of jobs filed under `scale`, in order.
 */
export function jobsFiledUnder<E extends { figures: readonly FigureStem[] }>(
  scale: Scale,
  entries: readonly E[],
): E[] {
  return entries.filter(({ figures }) => figures.some((f) => filedScale(f, scale) === scale));
}

/**
 * The jobs of several figures, each job once (figures share runs: the landscape figures use
 * `ics`'s runs, `lp-norms` reuses `dln`'s), in registry order, cheapest first.
 *
 * @param scale The run scale.
 * @param figures Figure stems (default: all stored figures).
 * @returns Unique jobs (by canonical content) with the figures that use each.
 */
export function jobsFor(
  scale: Scale,
  figures: readonly FigureStem[] = STORED_FIGURES,
): { job: TrainingJob; figures: FigureStem[] }[] {
  const byKey = new Map<string, { job: TrainingJob; figures: FigureStem[] }>();
  for (const stem of FIGURE_STEMS.filter((f) => figures.includes(f))) {
    for (const job of figureJobs(stem, scale)) {
      const key = canonicalJson(job);
      const entry = byKey.get(key);
      if (entry === undefined) byKey.set(key, { job, figures: [stem] });
      else if (!entry.figures.includes(stem)) entry.figures.push(stem);
    }
  }
  return [...byKey.values()];
}

/**
 * The results file of a figure: its experiment's (the landscape's three figures share one).
 *
 * @param stem A figure stem (an unregistered one keeps `<stem>.results.json`).
 * @returns The file name, e.g. `landscape.results.json`.
 */
export function resultsFileName(stem: string): string {
  return `${isFigureStem(stem) ? EXPERIMENTS[stem].experiment.name : stem}.results.json`;
}
