/**
 * The generated blocks of paper.md, each a pure function of the committed figures (their
 * Vega-Lite specs' provenance and their compact results).
 *
 * @module
 */
import type { Provenance } from "../figures/spec.ts";
import { markdownTable } from "./blocks.ts";

/** One committed figure as the report sees it. */
export interface CommittedFigure {
  stem: string;
  provenance: Provenance;
  /** Contents of `figures/<stem>.results.json`. */
  results: Record<string, unknown>;
}

/** The figures, by stem. */
export type CommittedFigures = ReadonlyMap<string, CommittedFigure>;

/** A block generator. */
export type BlockGenerator = (figures: CommittedFigures) => string;

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}

/** Table of every committed figure with its scale, hardware, wall time and commit. */
export function figureTable(figures: CommittedFigures): string {
  const rows = [...figures.values()].sort((a, b) => a.stem.localeCompare(b.stem)).map((f) => {
    const p = f.provenance;
    const hardware = p.backend === "webgpu" && p.adapter !== null
      ? `webgpu (${p.adapter})`
      : p.backend;
    return [
      `[\`${f.stem}\`](figures/${f.stem}.svg)`,
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

interface InstrumentResults {
  result: {
    ics: { normalization: string; layer: number; cosine: number; l2: number }[];
    betaSmoothness: { normalization: string; betaSmoothness: number }[];
  };
}

/** Key numbers of the instrument check. */
export function instrumentNumbers(figures: CommittedFigures): string {
  const figure = figures.get("instrument");
  if (figure === undefined) return "The `instrument` figure has not been made yet.";
  const { result } = figure.results as unknown as InstrumentResults;
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

/** Every generated block of paper.md. */
export const REPORT_BLOCKS: Readonly<Record<string, BlockGenerator>> = {
  figures: figureTable,
  instrument: instrumentNumbers,
};
