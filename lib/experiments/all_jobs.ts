/**
 * Every training job behind the figures at a scale, by figure, without running any notebook:
 * the work list of `scripts/jobs.ts`, which computes the runs (e.g. on a GPU machine) into the
 * result store so that `deno task figures` afterwards only replots.
 *
 * @module
 */
import type { Scale } from "../scale.ts";
import { dlnJobs } from "./dln.ts";
import { icsJobs } from "./ics.ts";
import { icsDefinitionsJobs } from "./ics_definitions.ts";
import { canonicalJson, type TrainingJob } from "../run/job.ts";
import { landscapeJobs } from "./landscape.ts";
import { lpNormsJobs } from "./lp_norms.ts";
import { trainingConfig, trainingJobs } from "./training.ts";

/** Figures whose runs go through the result store (`instrument` and `example` do not). */
export const STORED_FIGURES = [
  "training",
  "ics",
  "loss-variation",
  "gradient-predictiveness",
  "beta-smoothness",
  "dln",
  "lp-norms",
  "ics-definitions",
] as const;

/** A figure whose runs go through the store. */
export type StoredFigure = typeof STORED_FIGURES[number];

/**
 * The jobs of one figure at a scale, in the order its notebook runs them.
 *
 * @param figure The figure stem.
 * @param scale The run scale.
 * @returns Its jobs.
 */
export function figureJobs(figure: StoredFigure, scale: Scale): TrainingJob[] {
  switch (figure) {
    case "training":
      return trainingJobs(trainingConfig(scale)).map((entry) => entry.job);
    case "ics":
      return icsJobs(scale);
    case "loss-variation":
    case "gradient-predictiveness":
    case "beta-smoothness":
      return landscapeJobs(scale);
    case "dln":
      return dlnJobs(scale);
    case "lp-norms": {
      const { vgg, dln } = lpNormsJobs(scale);
      return [...vgg, ...dln];
    }
    case "ics-definitions":
      return icsDefinitionsJobs(scale).map((run) => run.job);
    default:
      throw new TypeError(`Cannot list jobs: unknown figure "${figure as string}"`);
  }
}

/**
 * The jobs of several figures, each job once (figures share runs: the landscape figures use
 * `ics`'s runs, `lp-norms` reuses `dln`'s), cheapest figures first so that a time-limited
 * session finishes whole figures before starting the long ones.
 *
 * @param figures Figure stems (default: all).
 * @param scale The run scale.
 * @returns Unique jobs (by canonical content) with the figures that use each.
 */
export function jobsFor(
  scale: Scale,
  figures: readonly StoredFigure[] = STORED_FIGURES,
): { job: TrainingJob; figures: StoredFigure[] }[] {
  const order: StoredFigure[] = [
    "dln",
    "ics-definitions",
    "lp-norms",
    "training",
    "ics",
    "loss-variation",
    "gradient-predictiveness",
    "beta-smoothness",
  ];
  const byKey = new Map<string, { job: TrainingJob; figures: StoredFigure[] }>();
  for (const figure of order.filter((f) => figures.includes(f))) {
    for (const job of figureJobs(figure, scale)) {
      const key = canonicalJson(job);
      const entry = byKey.get(key);
      if (entry === undefined) byKey.set(key, { job, figures: [figure] });
      else if (!entry.figures.includes(figure)) entry.figures.push(figure);
    }
  }
  return [...byKey.values()];
}
