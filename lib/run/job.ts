/**
 * A training job: one JSON-serialisable value that fully determines a run (network, data, SGD
 * settings, seeds, evaluation and measurement schedule, checkpoint interval), its validation
 * with clear messages, and its identity: the SHA-256 of a canonical JSON (sorted keys), whose
 * first 16 hex digits name the run's folder in the result store.
 *
 * Pure: no I/O, no tensors.
 *
 * @module
 */
import { createNetwork, type NetworkSpec } from "../models/mod.ts";
import { NORMALIZATIONS } from "../models/types.ts";

/** CIFAR-10 training data: the committed 1,000-image sample or the full set, maybe a subset. */
export interface Cifar10JobData {
  kind: "cifar10";
  /** "sample": `data/cifar10-sample` (1,000 train / 1,000 test); "full": `data/cifar10`. */
  source: "sample" | "full";
  /** Training subset: the first n images, or the first n images of each class. */
  subset?: { kind: "first" | "perClass"; n: number };
  /** Images per SGD step (B). */
  batchSize: number;
}

/** The deep linear network's regression problem (`dlnProblem`), trained full batch. */
export interface DlnJobData {
  kind: "dln";
  /** Number of samples x ~ N(0, I) (the paper: 1000), all in every step. */
  samples: number;
}

/** Where the training data come from. */
export type JobData = Cifar10JobData | DlnJobData;

/** Plain SGD settings (PROTOCOL.md: no momentum, no weight decay). */
export interface JobSgd {
  /** Number of SGD steps. */
  steps: number;
  /** eta: fixed learning rate (> 0). */
  learningRate: number;
  /** Running-moment momentum m in [0, 1] (running <- (1 - m) running + m batch). */
  bnMomentum: number;
}

/** One seed per purpose (see `lib/rng.ts` streams). */
export interface JobSeeds {
  /** Parameter initialisation. */
  init: number;
  /** Data order (CIFAR-10) or the regression problem (DLN). */
  data: number;
  /** Training noise of the noisy variants (Algorithm 1). */
  noise: number;
}

/** Gradient-view ICS (Def. 2.1) every `every` steps. */
export interface JobIcs {
  /** Steps between measurements (>= 1), measured at steps 0, every, 2 every, ... */
  every: number;
  /** 1-based layer numbers. */
  layers: number[];
  /** Step size of the earlier layers' update; default the training learning rate. */
  learningRate?: number;
}

/** The loss landscape along the gradient (Figures 4 and 10). */
export interface JobLandscape {
  /** Steps between measurements (>= 1). */
  every: number;
  /** Absolute step sizes eta (> 0), e.g. `etaGrid(learningRate, VGG_ETA_GRID)`. */
  etas: number[];
}

/** Activation distributions (Figures 2, 7, 8): moments and quantiles of chosen layers. */
export interface JobActivations {
  /** Steps between measurements (>= 1). */
  every: number;
  /** 1-based layer numbers. */
  layers: number[];
  /** Units described in full per layer (evenly spaced, `pickUnits`); capped at the layer width. */
  units: number;
}

/** Measurements taken before the update of every `every`-th step, on that step's batch. */
export interface JobMeasurements {
  ics?: JobIcs;
  landscape?: JobLandscape;
  activations?: JobActivations;
}

/** Everything that determines a run. Two equal jobs give bitwise equal runs on the cpu backend. */
export interface TrainingJob {
  network: NetworkSpec;
  data: JobData;
  sgd: JobSgd;
  seeds: JobSeeds;
  /** Test accuracy every N steps (CIFAR-10 only); 0 = at the end only. */
  evalEvery: number;
  measurements?: JobMeasurements;
  /** Steps between checkpoints (>= 1); the last step is always checkpointed. */
  checkpointEvery: number;
}

/** Architectures a job may name. */
export const JOB_ARCHS = ["vgg", "dln", "mlp"] as const;
/** Data kinds a job may name. */
export const JOB_DATA_KINDS = ["cifar10", "dln"] as const;
/** CIFAR-10 sources a job may name. */
export const JOB_CIFAR10_SOURCES = ["sample", "full"] as const;
/** CIFAR-10 subset kinds a job may name. */
export const JOB_SUBSET_KINDS = ["first", "perClass"] as const;

/** Digits of the hash that name a run's folder (64 bits). */
export const RUN_ID_LENGTH = 16;

const fail = (reason: string): never => {
  throw new RangeError(`Cannot use training job: ${reason}`);
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) {
    throw new TypeError(`Cannot use training job: ${path} must be an object, got ${show(value)}`);
  }
  return value;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function oneOf<T extends string>(value: unknown, valid: readonly T[], path: string): T {
  if (typeof value === "string" && (valid as readonly string[]).includes(value)) return value as T;
  return fail(`unknown ${path} ${show(value)}, expected one of ${valid.join(", ")}`);
}

function integer(value: unknown, path: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    const what = min === 1 ? "a positive integer" : `an integer >= ${min}`;
    return fail(`${path} must be ${what}, got ${show(value)}`);
  }
  return value;
}

function positive(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    return fail(`${path} must be a positive finite number, got ${show(value)}`);
  }
  return value;
}

function seed(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    return fail(`${path} must be an integer in 0..2^32-1, got ${show(value)}`);
  }
  return value;
}

function layerList(value: unknown, path: string, layerCount: number): number[] {
  if (!Array.isArray(value) || value.length === 0) {
    return fail(`${path} must be a non-empty list of layer numbers, got ${show(value)}`);
  }
  for (const layer of value) {
    if (typeof layer !== "number" || !Number.isInteger(layer) || layer < 1 || layer > layerCount) {
      fail(`${path} entries must be layer numbers in 1..${layerCount}, got ${show(layer)}`);
    }
  }
  return value as number[];
}

function noUnknownKeys(value: Record<string, unknown>, known: readonly string[], path: string) {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      fail(`unknown field ${path}.${key}, expected one of ${known.join(", ")}`);
    }
  }
}

/**
 * Checks a job (typically parsed from JSON) and returns it typed. Unknown names list the valid
 * ones; numbers out of range name the field and the value; layer numbers are checked against
 * the network's layer count. Unknown fields are refused too: a typo would otherwise change the
 * job's hash without changing the run.
 *
 * @param value The candidate job.
 * @returns The same value, typed.
 * @throws {RangeError} When a name is unknown or a number is out of range.
 * @throws {TypeError} When a part has the wrong type.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateJob } from "./job.ts";
 *
 * const job = {
 *   network: { arch: "dln", normalization: "none", depth: 3, dim: 2 },
 *   data: { kind: "dln", samples: 8 },
 *   sgd: { steps: 10, learningRate: 0, bnMomentum: 0.1 },
 *   seeds: { init: 1, data: 2, noise: 3 },
 *   evalEvery: 0,
 *   checkpointEvery: 5,
 * };
 * assert.throws(() => validateJob(job), /learningRate must be a positive finite number, got 0/);
 * ```
 */
export function validateJob(value: unknown): TrainingJob {
  const job = record(value, "job");
  noUnknownKeys(
    job,
    ["network", "data", "sgd", "seeds", "evalEvery", "measurements", "checkpointEvery"],
    "job",
  );

  const network = record(job.network, "network");
  const arch = oneOf(network.arch, JOB_ARCHS, "network.arch");
  oneOf(network.normalization, NORMALIZATIONS, "network.normalization");
  let layerCount: number;
  try {
    layerCount = createNetwork(network as unknown as NetworkSpec).layerNames.length;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RangeError(`Cannot use training job: invalid network (${reason})`, { cause: error });
  }

  const data = record(job.data, "data");
  const kind = oneOf(data.kind, JOB_DATA_KINDS, "data.kind");
  if (kind === "cifar10") {
    noUnknownKeys(data, ["kind", "source", "subset", "batchSize"], "data");
    if (arch === "dln") fail(`network.arch "dln" needs data.kind "dln", got "cifar10"`);
    oneOf(data.source, JOB_CIFAR10_SOURCES, "data.source");
    integer(data.batchSize, "data.batchSize", 1);
    if (data.subset !== undefined) {
      const subset = record(data.subset, "data.subset");
      noUnknownKeys(subset, ["kind", "n"], "data.subset");
      oneOf(subset.kind, JOB_SUBSET_KINDS, "data.subset.kind");
      integer(subset.n, "data.subset.n", 1);
      const images = subset.kind === "first" ? subset.n as number : 10 * (subset.n as number);
      if ((data.batchSize as number) > images) {
        fail(`data.batchSize must be at most the subset size ${images}, got ${data.batchSize}`);
      }
    }
  } else {
    noUnknownKeys(data, ["kind", "samples"], "data");
    if (arch !== "dln") fail(`data.kind "dln" needs network.arch "dln", got ${show(arch)}`);
    integer(data.samples, "data.samples", 1);
  }

  const sgd = record(job.sgd, "sgd");
  noUnknownKeys(sgd, ["steps", "learningRate", "bnMomentum"], "sgd");
  integer(sgd.steps, "sgd.steps", 1);
  positive(sgd.learningRate, "sgd.learningRate");
  const m = sgd.bnMomentum;
  if (typeof m !== "number" || !(m >= 0 && m <= 1)) {
    fail(`sgd.bnMomentum must be in [0, 1], got ${show(m)}`);
  }

  const seeds = record(job.seeds, "seeds");
  noUnknownKeys(seeds, ["init", "data", "noise"], "seeds");
  for (const key of ["init", "data", "noise"]) seed(seeds[key], `seeds.${key}`);

  integer(job.evalEvery, "evalEvery", 0);
  if (kind === "dln" && job.evalEvery !== 0) {
    fail(`evalEvery must be 0 for the DLN (no test set), got ${show(job.evalEvery)}`);
  }
  integer(job.checkpointEvery, "checkpointEvery", 1);

  if (job.measurements !== undefined) {
    const measurements = record(job.measurements, "measurements");
    noUnknownKeys(measurements, ["ics", "landscape", "activations"], "measurements");
    if (measurements.ics !== undefined) {
      const ics = record(measurements.ics, "measurements.ics");
      noUnknownKeys(ics, ["every", "layers", "learningRate"], "measurements.ics");
      integer(ics.every, "measurements.ics.every", 1);
      layerList(ics.layers, "measurements.ics.layers", layerCount);
      if (ics.learningRate !== undefined) {
        positive(ics.learningRate, "measurements.ics.learningRate");
      }
    }
    if (measurements.landscape !== undefined) {
      const landscape = record(measurements.landscape, "measurements.landscape");
      noUnknownKeys(landscape, ["every", "etas"], "measurements.landscape");
      integer(landscape.every, "measurements.landscape.every", 1);
      const etas = landscape.etas;
      if (!Array.isArray(etas) || etas.length === 0) {
        fail(`measurements.landscape.etas must be a non-empty list, got ${show(etas)}`);
      }
      for (const eta of etas as unknown[]) positive(eta, "measurements.landscape.etas entries");
    }
    if (measurements.activations !== undefined) {
      const activations = record(measurements.activations, "measurements.activations");
      noUnknownKeys(activations, ["every", "layers", "units"], "measurements.activations");
      integer(activations.every, "measurements.activations.every", 1);
      layerList(activations.layers, "measurements.activations.layers", layerCount);
      integer(activations.units, "measurements.activations.units", 1);
    }
  }
  return value as TrainingJob;
}

/**
 * JSON with object keys sorted at every level and no whitespace: equal values give equal
 * strings whatever the key order they were written in. Non-finite numbers are refused (JSON
 * would turn them into null silently).
 *
 * @param value A JSON value (objects, arrays, strings, finite numbers, booleans, null).
 * @returns The canonical JSON text.
 * @throws {TypeError} On a non-finite number or a value JSON cannot hold.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalJson } from "./job.ts";
 *
 * assert.equal(canonicalJson({ b: [1, { d: 2, c: 3 }], a: "x" }), '{"a":"x","b":[1,{"c":3,"d":2}]}');
 * ```
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TypeError(`Cannot write canonical JSON: numbers must be finite, got ${value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  throw new TypeError(`Cannot write canonical JSON: unsupported value, got ${typeof value}`);
}

/**
 * The job's identity: SHA-256 (WebCrypto) of its canonical JSON, as 64 hex digits. The first
 * {@link RUN_ID_LENGTH} name the run's folder (see {@link runFolderName}).
 *
 * @param job A job (validated or not: the hash covers whatever it holds).
 * @returns 64 lowercase hex digits.
 */
export async function jobId(job: TrainingJob): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(job));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The run folder's name: the first {@link RUN_ID_LENGTH} hex digits of the job's hash.
 *
 * @param id A full {@link jobId}.
 * @returns The folder name.
 */
export function runFolderName(id: string): string {
  if (!/^[0-9a-f]{64}$/.test(id)) {
    throw new TypeError(`Cannot name run folder: expected 64 hex digits, got ${show(id)}`);
  }
  return id.slice(0, RUN_ID_LENGTH);
}
