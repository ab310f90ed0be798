/**
 * The one driver behind every figure notebook: `runFigure("ics")` selects the backend, runs
 * or loads the experiment's jobs from the result store (with progress), summarises them,
 * records the provenance, draws the figure and writes its spec, SVG and results file.
 *
 * @module
 */
import { type BackendChoice, type BackendInfo, formatBackend, initBackend } from "./backend.ts";
import { collectProvenance } from "./figures/provenance.ts";
import { writeFigure, type WriteFigureResult } from "./figures/write_figure.ts";
import { type VegaLiteSpec } from "./figures/spec.ts";
import { type Provenance, withProvenance } from "./figures/spec_provenance.ts";
import { figureSettings } from "./notebook/config.ts";
import type { ProgressOutput } from "./progress.ts";
import { type FigureStem, filedScale, registeredFigure } from "./registry.ts";
import { committedRunFolders, CommittedRuns } from "./run/committed_runs.ts";
import type { TrainingJob } from "./run/job.ts";
import { runJob, type RunRecord } from "./run/run_job.ts";
import type { Scale } from "./scale.ts";
import { openStore } from "./store/mod.ts";

/** Options of {@link runFigure}; unset ones come from the environment (`figureSettings`). */
export interface RunFigureOptions {
  /**
   * Run scale (default `FIGURE_SCALE`, else quick). A figure without settings of its own there
   * is made and filed at the scale it borrows them from (`Experiment.settingsScale`).
   */
  scale?: Scale;
  /** Backend (default `BN_BACKEND`, else auto). */
  backend?: BackendChoice;
  /** Replace a figure of a larger scale (default `FIGURE_FORCE`). */
  force?: boolean;
  /** Folder of the figure files (default `FIGURE_DIR`, else `figures/`). */
  figureDir?: string;
  /** Write the figure files (default true); false only computes and draws. */
  write?: boolean;
  /** Folder of the result store (default `BN_RUNS_DIR`, else `data/runs/`). */
  runsDir?: string;
  /**
   * Folders of committed runs, read (never written) for a run the result store has not
   * finished: default `data/results/<scale>/`, then the other kept scales' folders
   * ({@link committedRunFolders}).
   */
  committedRuns?: readonly string[];
  /** Compute runs the committed folders hold, reading none of them (default `FIGURE_RECOMPUTE`). */
  recompute?: boolean;
  /** Where progress and per-run lines go (default `console.log`). */
  log?: (line: string) => void;
}

/** What {@link runFigure} made. */
export interface FigureOutput<S = unknown> {
  stem: string;
  /** The scale it was made and filed at (see {@link RunFigureOptions.scale}). */
  scale: Scale;
  backend: BackendInfo;
  /** The spec, provenance included. */
  spec: VegaLiteSpec;
  provenance: Provenance;
  /** The experiment's rows and key numbers. */
  summary: S;
  /** The key numbers as lines of text. */
  keyLines: string[];
  /** The runs behind the figure, in job order. */
  records: RunRecord[];
  /** What was written where (null with `write: false`). */
  written: WriteFigureResult | null;
}

/** One line per run: what it is, and whether it was loaded or computed. */
function runLine(job: TrainingJob, record: RunRecord): string {
  const network = job.network;
  const what = network.arch === "vgg"
    ? network.normalization
    : `${network.arch} ${network.normalization}`;
  const done = record.computedSteps === 0 ? "loaded" : `${record.computedSteps} steps`;
  const diverged = record.divergedAt === null ? "" : `, diverged at step ${record.divergedAt}`;
  return `${what} lr ${job.sgd.learningRate} seed ${job.seeds.init}: ${done}, ` +
    `${record.wallTime.toFixed(1)} s${diverged}`;
}

/**
 * Runs (or loads) a figure's experiment and draws the figure.
 *
 * @param stem A registered figure stem, e.g. `ics`.
 * @param options Scale, backend, folders; unset ones from the environment.
 * @returns The spec, summary, key numbers and runs.
 * @throws {RangeError} For an unknown stem or a bad setting (the message lists valid ones).
 */
export async function runFigure(
  stem: string,
  options: RunFigureOptions = {},
): Promise<FigureOutput> {
  const figure = registeredFigure(stem);
  const experiment = figure.experiment;
  const settings = figureSettings();
  const requested = options.scale ?? settings.scale;
  // A scale without settings of its own for this figure is filed under the one it borrows.
  const scale = filedScale(stem as FigureStem, requested);
  const log = options.log ?? ((line: string) => console.log(line));
  if (scale !== requested) {
    log(
      `${stem}: has no ${requested} settings of its own; uses its ${scale} ones, filed as ${scale}`,
    );
  }
  const config = experiment.config(scale);
  const jobs = experiment.jobs(scale);
  const backend = await initBackend({ backend: options.backend ?? settings.backend });
  log(`${stem}: scale ${scale}; backend ${formatBackend(backend)}; ${jobs.length} runs`);
  const started = performance.now();
  const records: RunRecord[] = [];
  if (jobs.length > 0) {
    // Finished runs are loaded from the store, not recomputed; a cut run resumes.
    const progress: ProgressOutput = { write: (text) => log(text.trimEnd()), isTerminal: false };
    const store = await openStore(options.runsDir);
    const recompute = options.recompute ?? settings.recompute;
    const committed = await CommittedRuns.open(
      recompute ? [] : options.committedRuns ?? committedRunFolders(scale),
    );
    try {
      for (const job of jobs) {
        // A committed run unless the store has finished its own (runJob then loads that).
        const found = await committed.find(job, store);
        const record = found?.record ??
          await runJob(job, store, { progress, backendInfo: backend });
        records.push(record);
        log(runLine(job, record) + (found ? ` (committed, ${found.folder})` : ""));
      }
    } finally {
      await store.close();
    }
  }
  const summary = await experiment.summarize(records, scale);
  const provenance = await collectProvenance({
    figure: stem,
    scale,
    scaleNote: experiment.scaleNote(scale),
    config,
    seeds: experiment.seeds(scale),
    backend,
    ...(records.length > 0 ? { runs: records } : {}),
    // Compute time of the runs behind the figure (loaded ones: the time they took when run).
    wallTimeSeconds: records.length > 0
      ? records.reduce((sum, r) => sum + r.wallTime, 0)
      : (performance.now() - started) / 1000,
    dataSubset: experiment.dataSubset(scale),
  });
  const spec = withProvenance(figure.draw(summary, config), provenance);
  const written = options.write === false ? null : await writeFigure(stem, spec, {
    config,
    provenance,
    ...experiment.results(summary, records),
  }, {
    resultsName: experiment.name,
    ...(options.figureDir === undefined ? {} : { dir: options.figureDir }),
    ...(options.force === undefined ? {} : { force: options.force }),
  });
  return {
    stem,
    scale,
    backend,
    spec,
    provenance,
    summary,
    keyLines: experiment.keyLines(summary, records, stem),
    records,
    written,
  };
}
