/**
 * How stable the distributions of a VGG's normalised activations are over training (claim 5's
 * "activation distributions far from stable"), from the runs' `activations` measurements: the
 * step-to-step drift of each unit's mean and variance at the normalisation's output (what the next
 * layer receives), and how far the units' variances sit from 1 at the end.
 *
 * Only the captured conv layers count: the dense layers are not normalised, so their output is
 * the same in every network and says nothing about the normalisation.
 *
 * Pure: no I/O.
 *
 * @module
 */
import { type LayerMoments, momentDrift } from "../measure/activations.ts";
import { VGG_ACTIVATION_LAYERS } from "../models/layer_map.ts";
import type { Normalization } from "../models/types.ts";
import type { RunRecord } from "../run/run_job.ts";
import { aggregateSeeds, finiteMean, finiteMedian, groupRuns, type Series } from "./analysis.ts";

/** The measured VGG layers that are normalised: the conv layers of `VGG_ACTIVATION_LAYERS`. */
export const NORMALISED_ACTIVATION_LAYERS = VGG_ACTIVATION_LAYERS.filter((m) =>
  m.name.startsWith("conv")
);

/** One interval between two activation measurements of one layer, over seeds. */
export interface ActivationDriftRow {
  [field: string]: string | number | null;
  normalization: Normalization;
  /** Our layer name, e.g. "conv6". */
  layer: string;
  /** The later step of the interval. */
  step: number;
  /** |var_{t+1} - var_t| / var_t averaged over units: mean over seeds, and its range. */
  varianceDrift: number | null;
  varianceDriftMin: number | null;
  varianceDriftMax: number | null;
  /** |mu_{t+1} - mu_t| / sqrt(var_t) averaged over units: mean over seeds, and its range. */
  meanDrift: number | null;
  meanDriftMin: number | null;
  meanDriftMax: number | null;
  seeds: number;
}

/** One layer of one network over the whole run. */
export interface ActivationStabilityRow {
  normalization: Normalization;
  layer: string;
  /** Median over intervals of `ActivationDriftRow.meanDrift`. */
  meanDrift: number | null;
  /** Median over intervals of `ActivationDriftRow.varianceDrift`. */
  varianceDrift: number | null;
  /** Median over units of |ln var| at the last measurement (0: unit variance), mean over seeds. */
  logVarianceEnd: number | null;
  /** Seeds with activation measurements of this layer. */
  seeds: number;
}

/** What `activations` measurement lines hold for one layer (the fields used here). */
interface ActivationValue {
  layer: number;
  postNorm: { moments: LayerMoments };
}

/** One run's post-normalisation moments of a layer at each measured step, in step order. */
function postNormSeries(
  record: RunRecord,
  layer: number,
): { steps: number[]; moments: LayerMoments[] } {
  const steps: number[] = [];
  const moments: LayerMoments[] = [];
  for (const line of record.measurements) {
    if (line.kind !== "activations") continue;
    const value = (line.values as ActivationValue[]).find((v) => v.layer === layer);
    if (value === undefined) continue;
    steps.push(line.step);
    moments.push(value.postNorm.moments);
  }
  return { steps, moments };
}

/** Median over units of |ln var| (units with var <= 0 left out). */
function logVarianceOffset(moments: LayerMoments): number | null {
  return finiteMedian(moments.variance.filter((v) => v > 0).map((v) => Math.abs(Math.log(v))));
}

/**
 * Drift rows per interval and a summary per network and normalised layer. Runs without
 * activation measurements (the shorter scales' l_p runs) give no rows.
 *
 * @param records VGG runs, any networks and seeds.
 * @returns Per-interval rows (for the figure) and per-layer summaries (for the key numbers).
 */
export function activationDrift(
  records: readonly RunRecord[],
): { rows: ActivationDriftRow[]; stability: ActivationStabilityRow[] } {
  const rows: ActivationDriftRow[] = [];
  const stability: ActivationStabilityRow[] = [];
  for (const group of groupRuns(records.filter((r) => r.job.network.arch === "vgg"))) {
    for (const { ours, name } of NORMALISED_ACTIVATION_LAYERS) {
      const variance: Series[] = [];
      const meanShift: Series[] = [];
      const offsets: (number | null)[] = [];
      for (const record of group.records) {
        const { steps, moments } = postNormSeries(record, ours);
        if (moments.length < 2) continue;
        const drift = momentDrift(moments);
        const x = steps.slice(1);
        variance.push({ x, y: drift.varianceChangeRelativeAverage });
        meanShift.push({ x, y: drift.meanChangeScaledAverage });
        offsets.push(logVarianceOffset(moments[moments.length - 1]!));
      }
      if (variance.length === 0) continue;
      const meanAt = new Map(aggregateSeeds(meanShift).map((r) => [r.x, r]));
      const layerRows = aggregateSeeds(variance).map((r): ActivationDriftRow => ({
        normalization: group.normalization,
        layer: name,
        step: r.x,
        varianceDrift: r.mean,
        varianceDriftMin: r.min,
        varianceDriftMax: r.max,
        meanDrift: meanAt.get(r.x)?.mean ?? null,
        meanDriftMin: meanAt.get(r.x)?.min ?? null,
        meanDriftMax: meanAt.get(r.x)?.max ?? null,
        seeds: r.n,
      }));
      rows.push(...layerRows);
      stability.push({
        normalization: group.normalization,
        layer: name,
        meanDrift: finiteMedian(layerRows.map((r) => r.meanDrift)),
        varianceDrift: finiteMedian(layerRows.map((r) => r.varianceDrift)),
        logVarianceEnd: finiteMean(offsets),
        seeds: variance.length,
      });
    }
  }
  return { rows, stability };
}
