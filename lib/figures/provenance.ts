/**
 * A figure's provenance: what the notebook knows about its run (scale, config, seeds, backend,
 * wall time, the stored runs behind it) plus the environment (`git.ts`) and the date.
 *
 * @module
 */
import { type BackendInfo, computedOnLabel } from "../backend.ts";
import { runEnvironment } from "./git.ts";
import type { Provenance } from "./spec_provenance.ts";

/** What a notebook knows about its run; {@link collectProvenance} adds the environment. */
export interface ProvenanceInput {
  /** Figure stem. */
  figure: string;
  /** Run scale. */
  scale: Provenance["scale"];
  /** What the scale shrinks, in words. */
  scaleNote: string;
  /** Every hyperparameter. */
  config: object;
  /** Every seed, by role. */
  seeds: Readonly<Record<string, number>>;
  /** The backend from `initBackend()`, or a backend name (adapter then unknown: null). */
  backend: BackendInfo | string;
  /** Wall-clock time of the run, in seconds. */
  wallTimeSeconds: number;
  /** Which data was used. */
  dataSubset: string;
  /** The stored runs behind the figure (their recorded backends become `computedOn`). */
  runs?: readonly { status: ComputedBy }[];
}

/** The part of a stored run's status that says what computed it. */
export interface ComputedBy {
  /** The backend line (`formatBackend`), in every run. */
  backend: string;
  /** The structured backend, in runs written since it was recorded. */
  backendInfo?: BackendInfo;
}

/**
 * What computed a stored run, without why that backend was chosen; webgpu keeps its adapter.
 * Runs that recorded the structured backend are read from it; older runs from their line.
 *
 * @param status The run's status.
 * @returns e.g. "wasm, 1 thread", or "webgpu (NVIDIA H100 80GB HBM3)".
 */
export function computedOn(status: ComputedBy): string {
  return status.backendInfo === undefined
    ? computedBackend(status.backend)
    : computedOnLabel(status.backendInfo);
}

/**
 * A run's recorded backend line (`formatBackend`) without the trailing "(adapter; reason)",
 * for runs that stored the line only.
 *
 * @param line e.g. "wasm, 1 thread (no WebGPU adapter; default)".
 * @returns e.g. "wasm, 1 thread", or "webgpu (NVIDIA H100 80GB HBM3)".
 */
export function computedBackend(line: string): string {
  const match = /^(.*?) \((software adapter |adapter |no WebGPU adapter)(.*)\)$/.exec(line);
  if (match === null) return line;
  const [, what, kind, rest] = match as unknown as [string, string, string, string];
  if (!what.startsWith("webgpu") || kind === "no WebGPU adapter") return what;
  return `${what} (${rest.split("; ")[0]})`;
}

/** The backend in a few words: its name, wasm threads beyond one, native convolutions. */
function describeBackend(info: BackendInfo): string {
  const parts: string[] = [info.backend];
  if (info.backend === "wasm" && info.threads > 1) parts.push(`${info.threads} threads`);
  if (info.nativeKernels !== null) parts.push(`kernels by ${info.nativeKernels}`);
  return parts.join(", ");
}

/**
 * Builds a figure's provenance: the notebook's facts plus versions, git state and date.
 *
 * @param input What the run was.
 * @returns The complete provenance, for `withProvenance`.
 */
export async function collectProvenance(input: ProvenanceInput): Promise<Provenance> {
  const environment = await runEnvironment();
  // wasm records its thread count and native convolutions (e.g. "wasm, 2 threads, convolutions
  // by oneDNN 2.6.3 (libdnnl.so.2)"): they change the speed and the float32 rounding.
  const backend = typeof input.backend === "string"
    ? input.backend
    : describeBackend(input.backend);
  const adapter = typeof input.backend === "string"
    ? null
    : input.backend.adapter?.description ?? null;
  return {
    figure: input.figure,
    scale: input.scale,
    scaleNote: input.scaleNote,
    config: input.config,
    seeds: input.seeds,
    backend,
    adapter,
    deno: environment.deno,
    tfjs: environment.tfjs,
    commit: environment.commit,
    dirty: environment.dirty,
    date: environment.date,
    wallTimeSeconds: input.wallTimeSeconds,
    dataSubset: input.dataSubset,
    ...(input.runs === undefined || input.runs.length === 0 ? {} : {
      computedOn: [...new Set(input.runs.map((r) => computedOn(r.status)))].sort(),
    }),
  };
}
