/**
 * The generated blocks of paper.md, each a pure function of the committed figures (their
 * Vega-Lite specs' provenance and their compact results).
 *
 * @module
 */
import type { DLN } from "../experiments/dln.ts";
import type { Experiment, ResultsOf } from "../experiments/experiment.ts";
import { type ICS, icsPhaseMedians } from "../experiments/ics.ts";
import type { ICS_DEFINITIONS_EXPERIMENT } from "../experiments/ics_definitions.ts";
import type { INSTRUMENT_CHECK } from "../experiments/instrument.ts";
import type { LANDSCAPE } from "../experiments/landscape.ts";
import type { LP_NORMS } from "../experiments/lp_norms.ts";
import {
  formatFinalAccuracyTable,
  formatKeyNumbers,
  type TRAINING,
} from "../experiments/training.ts";
import type { Provenance } from "../figures/spec_provenance.ts";
import { scaleRank } from "../scale.ts";
import { markdownTable } from "./blocks.ts";

/** One committed figure as the report sees it. */
export interface CommittedFigure {
  stem: string;
  provenance: Provenance;
  /** Contents of `figures/<stem>.results.json`. */
  results: Record<string, unknown>;
  /**
   * The same figure at the other kept scales (`figures/scales/<scale>/`), smallest first: the
   * shorter runs a larger scale replaced in `figures/`, whose numbers the report shows beside.
   */
  otherScales?: readonly CommittedFigure[];
}

/** A figure at every scale it was committed at, smallest scale first. */
export function atEveryScale(figure: CommittedFigure): CommittedFigure[] {
  return [...(figure.otherScales ?? []), figure].sort((a, b) =>
    scaleRank(a.provenance.scale) - scaleRank(b.provenance.scale)
  );
}

/** The figures, by stem. */
export type CommittedFigures = ReadonlyMap<string, CommittedFigure>;

/**
 * A committed figure's results, typed as its experiment's `results` returns them. The one cast
 * of the report: the file is that object written as JSON by `writeFigure` (non-finite numbers
 * became null, which the result types allow).
 */
// deno-lint-ignore no-explicit-any
function resultsOf<E extends Experiment<any, any>>(figure: CommittedFigure): ResultsOf<E> {
  return figure.results as ResultsOf<E>;
}

/** A bench figure: one value (older results) or the median and range over interleaved rounds. */
export type BenchMeasure = number | { median: number; min: number; max: number };

/** One committed `deno task bench` result (`data/bench/*.json`). */
export interface BenchReport {
  date: string;
  backend?: {
    backend: string;
    threads?: number;
    adapter: { description: string } | null;
    /** The native library under wasm (e.g. "oneDNN 2.6.3 (libdnnl.so.2)"), where one ran. */
    nativeKernels?: string | null;
  };
  step?: {
    width: number;
    batch: number;
    normalization: string;
    /** What ran the heavy kernels: a native library's description or "wasm" (older results: absent). */
    kernels?: string;
    imagesPerSecond: number;
    torchImagesPerSecond: BenchMeasure | null;
    ratio: BenchMeasure | null;
    /** Where a profiled step's time goes (newer results). */
    profile?: { kernelCalls: number };
  }[];
}

/** A block generator: committed figures, and the latest committed bench result. */
export type BlockGenerator = (figures: CommittedFigures, bench: BenchReport | null) => string;

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}

/** Table of every committed figure with its scale, hardware, wall time and commit. */
export function figureTable(figures: CommittedFigures): string {
  const shown = [...figures.values()].sort((a, b) => a.stem.localeCompare(b.stem))
    .flatMap((f) =>
      atEveryScale(f).reverse().map((version) => ({ version, current: version === f }))
    );
  const rows = shown.map(({ version: f, current }) => {
    const p = f.provenance;
    // The backends that computed the runs where recorded, else the one that made the figure.
    const hardware = p.computedOn !== undefined
      ? [...new Set(p.computedOn.map((b) => b.replace(/, kernels by (oneDNN) [^,]*$/, " + $1")))]
        .join("; ")
      : p.backend === "webgpu" && p.adapter !== null
      ? `webgpu (${p.adapter})`
      : p.backend;
    // A shorter scale's copy, replaced in figures/ by a larger one, is linked in figures/scales/.
    const svg = current ? `figures/${f.stem}.svg` : `figures/scales/${p.scale}/${f.stem}.svg`;
    return [
      current ? `[\`${f.stem}\`](${svg})` : `[\`${f.stem}\` (${p.scale})](${svg})`,
      p.scale,
      p.scaleNote,
      hardware,
      formatSeconds(p.wallTimeSeconds),
      p.date.slice(0, 10),
      p.commit === null ? "-" : `${p.commit.slice(0, 7)}${p.dirty === true ? " (+ changes)" : ""}`,
    ];
  });
  if (rows.length === 0) return "No figure has been committed yet.";
  return markdownTable(
    ["figure", "scale", "what the scale shrinks", "backend", "wall time", "date", "commit"],
    rows,
  );
}

/** Key numbers of the instrument check. */
export function instrumentNumbers(figures: CommittedFigures): string {
  const figure = figures.get("instrument");
  if (figure === undefined) return "The `instrument` figure has not been made yet.";
  const { result } = resultsOf<typeof INSTRUMENT_CHECK>(figure);
  const normalizations = [...new Set(result.ics.map((r) => r.normalization))];
  const rows = normalizations.map((n) => {
    const at = (layer: number) =>
      result.ics.find((r) => r.normalization === n && r.layer === layer);
    const beta = result.betaSmoothness.find((r) => r.normalization === n)?.betaSmoothness;
    return [
      n,
      at(5)?.cosine.toFixed(3) ?? "-",
      at(10)?.cosine.toFixed(3) ?? "-",
      beta?.toFixed(2) ?? "-",
    ];
  });
  return markdownTable([
    "normalization",
    "cos(G, G') conv5",
    "cos(G, G') dense10",
    "beta-smoothness",
  ], rows);
}

function missing(stem: string): string {
  return `The \`${stem}\` figure has not been made yet.`;
}

/** A number as `format` writes it, or "-" where there is none (a diverged run, a missing group). */
function shown(value: number | null | undefined, format: (v: number) => string): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "-" : format(value);
}

/** Significant digits for ratios that span many orders of magnitude. */
function ratio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "-";
  return value >= 1000 || value < 0.01 ? value.toExponential(1) : value.toPrecision(2);
}

/**
 * One block per committed scale of a figure, the smallest first, each under a line naming its
 * scale; just the block where the figure has one scale.
 */
function atEachScale(figure: CommittedFigure, block: (version: CommittedFigure) => string): string {
  const versions = atEveryScale(figure);
  if (versions.length === 1) return block(figure);
  return versions.map((v) => `At the \`${v.provenance.scale}\` scale:\n\n${block(v)}`).join("\n\n");
}

/** Final train and test accuracy per configuration, beside the paper's (claims 1-2). */
export function trainingAccuracy(figures: CommittedFigures): string {
  const figure = figures.get("training");
  if (figure === undefined) return missing("training");
  return atEachScale(
    figure,
    (v) => formatFinalAccuracyTable(resultsOf<typeof TRAINING>(v).results.finalAccuracy),
  );
}

/** Accuracy and loss-ratio lines of the training figure. */
export function trainingNumbers(figures: CommittedFigures): string {
  const figure = figures.get("training");
  if (figure === undefined) return missing("training");
  return atEachScale(figure, (v) =>
    [
      "```",
      ...formatKeyNumbers(resultsOf<typeof TRAINING>(v).results.keyNumbers),
      "```",
    ].join("\n"));
}

/** ICS and landscape numbers of the deep linear network (claims 3-4). */
export function dlnNumbers(figures: CommittedFigures): string {
  const figure = figures.get("dln");
  if (figure === undefined) return missing("dln");
  const keys = resultsOf<typeof DLN>(figure).keyNumbers;
  const ics = markdownTable(
    [
      "lr",
      "layer",
      "cos(G, G') standard",
      "cos(G, G') BatchNorm",
      "||G - G'|| BatchNorm / standard",
    ],
    keys.ics.map((r) => [
      r.lr,
      r.layer,
      shown(r.cosineStandard, (v) => v.toFixed(3)),
      shown(r.cosineBatchnorm, (v) => v.toFixed(3)),
      ratio(r.l2Ratio),
    ]),
  );
  const l = keys.landscapeRatios;
  const loss = keys.finalLoss.map((r) =>
    `${r.normalization} at lr ${r.lr}: ${shown(r.loss, (v) => v.toExponential(2))}`
  );
  return [
    ics,
    "",
    `Landscape, standard / BatchNorm (mean over measured steps, lr 1e-6): loss variation ` +
    `${ratio(l.lossVariation)}, gradient predictiveness ${ratio(l.gradientPredictiveness)}, ` +
    `beta-smoothness ${ratio(l.betaSmoothness)}.`,
    "",
    `Final training loss (summed): ${loss.join("; ")}. Diverged runs: ${keys.diverged.length}.`,
  ].join("\n");
}

/** The one-factor-at-a-time table and verdict of the seed's question (claim 6). */
export function icsDefinitionsNumbers(figures: CommittedFigures): string {
  const figure = figures.get("ics-definitions");
  if (figure === undefined) return missing("ics-definitions");
  const keys = resultsOf<typeof ICS_DEFINITIONS_EXPERIMENT>(figure).keyNumbers;
  return [
    markdownTable(
      [
        "factor moved",
        "setting and measure",
        "BatchNorm / standard",
        "large reduction (< 0.5)?",
        "flips?",
      ],
      keys.steps.map((s) => [
        s.factor,
        s.description,
        ratio(s.ratio),
        s.reduction ? "yes" : "no",
        s.factor === "baseline" ? "-" : s.flips ? "yes" : "no",
      ]),
    ),
    "",
    `Verdict computed from these numbers: ${keys.verdict}`,
  ].join("\n");
}

/** The artifact's speed beside PyTorch, from the committed bench result. */
export function speedTable(_figures: CommittedFigures, bench: BenchReport | null): string {
  if (bench?.step === undefined) return "No bench result has been committed yet.";
  const backend = bench.backend === undefined
    ? "unknown backend"
    : `${bench.backend.backend}${
      bench.backend.threads === undefined ? "" : `, ${bench.backend.threads} thread(s)`
    }${bench.backend.nativeKernels == null ? "" : ` with ${bench.backend.nativeKernels}`}`;
  const withKernels = bench.step.some((r) => r.kernels !== undefined);
  const withCalls = bench.step.some((r) => r.profile !== undefined);
  const measure = (m: BenchMeasure | null, digits: number) =>
    m === null
      ? "-"
      : typeof m === "number"
      ? m.toFixed(digits)
      : `${m.median.toFixed(digits)} (${m.min.toFixed(digits)}-${m.max.toFixed(digits)})`;
  const rounds = bench.step.some((r) => typeof r.ratio === "object" && r.ratio !== null);
  return [
    `Measured ${bench.date.slice(0, 10)} on ${backend}, against PyTorch fp32 on the same device ` +
    "in the same run:",
    "",
    markdownTable(
      [
        "width",
        "batch",
        "normalisation",
        ...(withKernels ? ["kernels"] : []),
        "ours (images/s)",
        "PyTorch (images/s)",
        rounds ? "ours / PyTorch (range over rounds)" : "ours / PyTorch",
        ...(withCalls ? ["kernel calls / step"] : []),
      ],
      bench.step.map((r) => [
        String(r.width),
        String(r.batch),
        r.normalization,
        ...(withKernels ? [r.kernels?.split(" ")[0] ?? "-"] : []),
        r.imagesPerSecond.toFixed(1),
        measure(r.torchImagesPerSecond, 1),
        measure(r.ratio, rounds ? 2 : 3),
        ...(withCalls ? [r.profile === undefined ? "-" : String(r.profile.kernelCalls)] : []),
      ]),
    ),
  ].join("\n");
}

/**
 * Final losses and smoothness relative to BatchNorm per l_p variant (claim 5), at every committed
 * scale.
 */
export function lpNormsNumbers(figures: CommittedFigures): string {
  const figure = figures.get("lp-norms");
  if (figure === undefined) return missing("lp-norms");
  const rows = atEveryScale(figure).flatMap((version) =>
    resultsOf<typeof LP_NORMS>(version).keyNumbers.map((k) => ({
      scale: version.provenance.scale,
      k,
    }))
  );
  return markdownTable(
    [
      "scale",
      "normalisation",
      "VGG final loss",
      "VGG test acc.",
      "VGG beta / BN",
      "VGG grad. change / BN",
      "DLN final loss / BN",
      "DLN beta / BN",
      "DLN grad. change / BN",
      "diverged",
    ],
    rows.map(({ scale, k }) => [
      scale,
      k.normalization,
      shown(k.vggFinalLoss, (v) => v.toFixed(3)),
      shown(k.vggTestAccuracy, (v) => `${(100 * v).toFixed(1)}%`),
      ratio(k.vggBetaVsBatchnorm),
      ratio(k.vggGradientVsBatchnorm),
      ratio(k.dlnLossVsBatchnorm),
      ratio(k.dlnBetaVsBatchnorm),
      ratio(k.dlnGradientVsBatchnorm),
      k.diverged ?? "none",
    ]),
  );
}

/**
 * How stable the VGG's normalised activations are per l_p variant (claim 5's second half), at
 * every committed scale whose runs measured activations.
 */
export function lpNormsActivations(figures: CommittedFigures): string {
  const figure = figures.get("lp-norms");
  if (figure === undefined) return missing("lp-norms");
  const rows = atEveryScale(figure).flatMap((version) => {
    const stability = resultsOf<typeof LP_NORMS>(version).activationStability ?? [];
    const batchnorm = (layer: string) =>
      stability.find((r) => r.normalization === "batchnorm" && r.layer === layer)?.varianceDrift;
    return stability.map((r) => {
      const bn = batchnorm(r.layer);
      return [
        version.provenance.scale,
        r.normalization,
        r.layer,
        shown(r.varianceDrift, (v) => v.toFixed(3)),
        ratio(
          r.varianceDrift !== null && bn !== undefined && bn !== null && bn > 0
            ? r.varianceDrift / bn
            : null,
        ),
        shown(r.meanDrift, (v) => v.toFixed(3)),
        shown(r.logVarianceEnd, (v) => v.toFixed(2)),
        String(r.seeds),
      ];
    });
  });
  if (rows.length === 0) return "No committed `lp-norms` runs measured activations.";
  return markdownTable(
    [
      "scale",
      "normalisation",
      "layer",
      "variance drift, relative",
      "/ BN",
      "mean drift, in sigmas",
      "median abs(ln var) at the end",
      "seeds",
    ],
    rows,
  );
}

/** Median ICS over measured steps per network, layer and lr (claim 3, VGG). */
export function icsNumbers(figures: CommittedFigures): string {
  const figure = figures.get("ics");
  if (figure === undefined) return missing("ics");
  const rows = atEveryScale(figure).flatMap((version) =>
    resultsOf<typeof ICS>(version).keyNumbers.map((k) => ({ scale: version.provenance.scale, k }))
  );
  return markdownTable(
    [
      "scale",
      "lr",
      "layer",
      "network",
      "median cos(G, G')",
      "median ||G - G'||",
      "||G - G'|| / standard",
      "diverged",
    ],
    rows.map(({ scale, k }) => [
      scale,
      k.learningRate,
      k.layer,
      k.normalization,
      // A layer whose measurements all stopped (a diverged run) has no median.
      shown(k.medianCosine, (v) => v.toFixed(3)),
      shown(k.medianL2, (v) => v.toPrecision(3)),
      ratio(k.l2RatioToStandard),
      k.diverged ?? "none",
    ]),
  );
}

/**
 * The ICS medians over each third of training, at every committed scale (claim 3, VGG): how the
 * gap between the networks changes with training length.
 */
export function icsPhases(figures: CommittedFigures): string {
  const figure = figures.get("ics");
  if (figure === undefined) return missing("ics");
  const cos = (v: number | null) => shown(v, (x) => x.toFixed(2));
  const l2 = (v: number | null) => shown(v, (x) => x.toPrecision(2));
  const rows = atEveryScale(figure).flatMap((version) =>
    icsPhaseMedians(resultsOf<typeof ICS>(version).rows).map((g) => {
      const [early, middle, late] = g.phases;
      return [
        version.provenance.scale,
        g.learningRate,
        g.layer,
        g.normalization,
        `${early!.toStep} / ${middle!.toStep} / ${late!.toStep}`,
        g.phases.map((p) => cos(p.medianCosine)).join(" / "),
        g.phases.map((p) => l2(p.medianL2)).join(" / "),
      ];
    })
  );
  return markdownTable([
    "scale",
    "lr",
    "layer",
    "network",
    "thirds end at step",
    "median cos(G, G'): early / middle / late",
    "median ||G - G'||: early / middle / late",
  ], rows);
}

/** A median with its range, e.g. `7.2 (3.5-130)`. */
function ratioRange(
  median: number | null | undefined,
  min: number | null | undefined,
  max: number | null | undefined,
): string {
  return median === null || median === undefined
    ? "-"
    : `${ratio(median)} (${ratio(min)}-${ratio(max)})`;
}

/**
 * Standard / BatchNorm ratios of the three landscape measures over each third of training, at
 * every committed scale (claim 4, VGG): the median and range of the per-step ratios.
 */
export function landscapeNumbers(figures: CommittedFigures): string {
  const figure = figures.get("loss-variation");
  if (figure === undefined) return missing("loss-variation");
  return markdownTable(
    [
      "scale",
      "third",
      "steps",
      "measured",
      "loss variation: standard / BN",
      "gradient predictiveness: standard / BN",
      "beta-smoothness: standard / BN",
    ],
    atEveryScale(figure).flatMap((version) =>
      (resultsOf<typeof LANDSCAPE>(version).phaseRatios ?? []).map((p) => [
        version.provenance.scale,
        p.phase,
        `${p.fromStep}-${p.toStep}`,
        String(p.steps),
        ratioRange(p.lossWidthRatio, p.lossWidthRatioMin, p.lossWidthRatioMax),
        ratioRange(p.gradWidthRatio, p.gradWidthRatioMin, p.gradWidthRatioMax),
        ratioRange(p.betaRatio, p.betaRatioMin, p.betaRatioMax),
      ])
    ),
  );
}

/** Every generated block of paper.md. */
export const REPORT_BLOCKS: Readonly<Record<string, BlockGenerator>> = {
  figures: figureTable,
  instrument: instrumentNumbers,
  "training-accuracy": trainingAccuracy,
  "training-numbers": trainingNumbers,
  "dln-numbers": dlnNumbers,
  "ics-definitions-numbers": icsDefinitionsNumbers,
  speed: speedTable,
  "lp-norms-numbers": lpNormsNumbers,
  "lp-norms-activations": lpNormsActivations,
  "ics-numbers": icsNumbers,
  "ics-phases": icsPhases,
  "landscape-numbers": landscapeNumbers,
};
