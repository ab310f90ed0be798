/**
 * Runs a {@link TrainingJob} into the result store, resumably: the run's folder gets its
 * metrics as they come, its test accuracy and measurements, and a checkpoint every
 * `checkpointEvery` steps. A run killed at any moment and started again continues from its last
 * good checkpoint, after cutting the logs back to that step, so the files end up exactly as an
 * uninterrupted run writes them (bitwise on the cpu backend). A finished or diverged run is
 * loaded, not recomputed, unless `force` is set.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendInfo, formatBackend } from "../backend.ts";
import { CIFAR10_TRAIN_STATS, type Cifar10Set, firstN, perClass } from "../data/cifar10.ts";
import { loadCifar10, loadCifar10Sample, resolveCifar10Dir } from "../data/cifar10_files.ts";
import {
  type DeviceImageSet,
  disposeDeviceSet,
  imageBatchSource,
  uploadImageSet,
} from "../data/device_set.ts";
import { activationSummary } from "../measure/activations.ts";
import { measureIcs } from "../measure/ics.ts";
import { measureLandscape } from "../measure/landscape.ts";
import type { LossFn } from "../measure/types.ts";
import { createNetwork, dlnProblem } from "../models/mod.ts";
import type { Network } from "../models/types.ts";
import { createProgress, type Progress, type ProgressOutput } from "../progress.ts";
import type {
  EvalLine,
  MeasurementLine,
  MetricsLine,
  ResultStore,
  RunStatus,
} from "../store/mod.ts";
import type { BatchSource } from "../data/batch.ts";
import {
  disposeState,
  evaluateAccuracy,
  initialState,
  SGD_DEFAULTS,
  type SgdConfig,
  type StepContext,
  type StepMetrics,
  train,
  type TrainHooks,
  type TrainState,
} from "../train.ts";
import { jobId, runFolderName, type TrainingJob, validateJob } from "./job.ts";

/** Options of {@link runJob}. */
export interface RunJobOptions {
  /** Recompute a finished or diverged run (its old results are deleted first). */
  force?: boolean;
  /** Where to show progress; omitted: silent. */
  progress?: ProgressOutput;
  /** The backend in use, recorded in `status.json` (default: `tf.getBackend()`). */
  backendInfo?: BackendInfo;
  /** Messages about refused checkpoints and resumes (default `console.warn`). */
  onWarning?: (message: string) => void;
}

/** Everything a run produced, as read from its folder. */
export interface RunRecord {
  /** The job's full hash. */
  id: string;
  /** The run's folder. */
  dir: string;
  job: TrainingJob;
  status: RunStatus;
  /** One entry per step taken (up to the divergence step included). */
  metrics: StepMetrics;
  /** Test accuracy after `step` steps. */
  evals: { step: number[]; accuracy: number[] };
  /** Measurements in the order taken. */
  measurements: MeasurementLine[];
  /** First step with a non-finite loss, or null. */
  divergedAt: number | null;
  /** Seconds spent computing the run, over all its sessions. */
  wallTime: number;
  /** SGD steps this call computed (0 when the run was loaded). */
  computedSteps: number;
}

/** Training data of a run on the device. */
interface RunData {
  source: BatchSource;
  /** Test images and labels (CIFAR-10 only). */
  test: DeviceImageSet | null;
  dispose(): void;
}

/**
 * The most recently loaded CIFAR-10 source, kept for the next job of the same process: a
 * notebook runs many jobs, and loading and verifying the full set takes seconds each time.
 * Host bytes only (no tensors), so nothing here needs disposing.
 */
let loadedSets: {
  key: string;
  sets: Promise<{ train: Cifar10Set; test: Cifar10Set }>;
} | null = null;

function loadSets(source: "sample" | "full"): Promise<{ train: Cifar10Set; test: Cifar10Set }> {
  // Keyed by folder too: CIFAR10_DIR may change between jobs (tests do that).
  const key = source === "sample" ? "sample" : `full:${resolveCifar10Dir()}`;
  if (loadedSets?.key !== key) {
    const sets = source === "sample" ? loadCifar10Sample() : loadCifar10();
    loadedSets = { key, sets };
    sets.catch(() => {
      if (loadedSets?.sets === sets) loadedSets = null; // a failed load is retried next time
    });
  }
  return loadedSets.sets;
}

/** Loads and uploads the job's data; throws before anything is written. */
async function buildData(job: TrainingJob): Promise<RunData> {
  const data = job.data;
  if (data.kind === "dln") {
    const dim = job.network.arch === "dln" ? job.network.dim ?? 10 : 10;
    const problem = dlnProblem(job.seeds.data, { samples: data.samples, dim });
    problem.matrix.dispose();
    return {
      // Full batch: every step sees all samples; train() disposes each batch, so hand out clones.
      source: {
        batch: () => ({ x: tf.clone(problem.inputs), targets: tf.clone(problem.targets) }),
      },
      test: null,
      dispose: () => tf.dispose([problem.inputs, problem.targets]),
    };
  }
  const sets = await loadSets(data.source);
  let trainSet: Cifar10Set = sets.train;
  if (data.subset !== undefined) {
    trainSet = data.subset.kind === "first"
      ? firstN(trainSet, data.subset.n)
      : perClass(trainSet, data.subset.n);
  }
  if (data.batchSize > trainSet.count) {
    throw new RangeError(
      `Cannot use training job: data.batchSize must be at most the ${trainSet.count} training ` +
        `images, got ${data.batchSize}`,
    );
  }
  // Standardised with the full training set's statistics, whatever the subset (PROTOCOL.md).
  const device = uploadImageSet(trainSet, CIFAR10_TRAIN_STATS);
  const test = uploadImageSet(sets.test, CIFAR10_TRAIN_STATS);
  return {
    source: imageBatchSource(device, { seed: job.seeds.data, batchSize: data.batchSize }),
    test,
    dispose: () => {
      disposeDeviceSet(device);
      disposeDeviceSet(test);
    },
  };
}

/** The measurements due before the update of `context.state.step`, as store lines. */
async function measure(
  job: TrainingJob,
  network: Network,
  context: StepContext,
): Promise<MeasurementLine[]> {
  const { state, batch, noiseKey } = context;
  const step = state.step;
  const due = (every: number | undefined) => every !== undefined && step % every === 0;
  // The step's loss on its own batch with its noise sample held fixed (ICS needs a
  // deterministic loss; the landscape is taken on the same batch, PROTOCOL.md).
  const lossFn: LossFn = (params) =>
    network.loss(
      network.forward(params, batch.x, { training: true, noiseKey }).output,
      batch.targets,
    );
  const lines: MeasurementLine[] = [];
  const m = job.measurements ?? {};
  if (m.ics !== undefined && due(m.ics.every)) {
    const values = await measureIcs(lossFn, state.params, {
      learningRate: m.ics.learningRate ?? job.sgd.learningRate,
      layers: m.ics.layers,
    });
    lines.push({ step, kind: "ics", values });
  }
  if (m.landscape !== undefined && due(m.landscape.every)) {
    const values = await measureLandscape(lossFn, state.params, { etas: m.landscape.etas });
    lines.push({ step, kind: "landscape", values });
  }
  if (m.activations !== undefined && due(m.activations.every)) {
    const { layers, units } = m.activations;
    // [preNorm, postNorm] per layer, each [B, (H, W,) C]; everything else freed by the tidy.
    const captured = tf.tidy(() => {
      const forward = network.forward(state.params, batch.x, {
        training: true,
        noiseKey,
        capture: layers,
      });
      return layers.flatMap((layer) => {
        const a = forward.activations.get(layer)!;
        return [a.preNorm, a.postNorm];
      });
    });
    try {
      const values = [];
      for (const [k, layer] of layers.entries()) {
        values.push({
          layer,
          preNorm: await activationSummary(captured[2 * k]!, { count: units }),
          postNorm: await activationSummary(captured[2 * k + 1]!, { count: units }),
        });
      }
      lines.push({ step, kind: "activations", values });
    } finally {
      tf.dispose(captured);
    }
  }
  return lines;
}

/** The smallest multiple of `every` above `step`. */
function nextMultiple(step: number, every: number): number {
  return (Math.floor(step / every) + 1) * every;
}

/**
 * Runs a job to its end (or its divergence) in the store, resuming from the last good
 * checkpoint, or loads it when it is already finished or diverged (unless `force`).
 *
 * Order of writes at a boundary step s: metrics lines (block by block, as they come), then the
 * test accuracy at s, then `ckpt-s.bin`, then `status.json`. On resume from checkpoint s, lines
 * of steps >= s (metrics, measurements) and evaluations after s are dropped first, so the logs
 * are exactly what an uninterrupted run writes.
 *
 * @param job The job (validated here first: a bad job changes nothing on disk).
 * @param store An open, writable store.
 * @param options Force, progress, backend and warnings.
 * @returns The run's record, read back from its folder.
 * @throws {RangeError} / {TypeError} When the job is invalid.
 * @throws {Error} When the store is read-only, on a hash collision, or when data are missing.
 */
export async function runJob(
  job: TrainingJob,
  store: ResultStore,
  options: RunJobOptions = {},
): Promise<RunRecord> {
  validateJob(job);
  if (store.readOnly) {
    throw new Error(`Cannot run job: the result store ${store.root} is open read-only`);
  }
  const id = await jobId(job);
  await store.checkJob(job, id);
  const previous = await store.readStatus(id);
  if (options.force !== true && previous !== null && previous.state !== "running") {
    return await loadRun(job, store);
  }
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  const network = createNetwork(job.network);
  const data = await buildData(job);
  let state: TrainState | null = null;
  try {
    state = initialState(network, job.seeds.init);
    await store.claimRun(job, id);
    if (options.force === true) await store.clearRun(id);
    const restored = await store.loadCheckpoint(id, state, warn);
    if (restored !== null) {
      disposeState(state);
      state = restored;
    }
    const start = state.step;
    for (const log of ["metrics", "measurements"] as const) {
      await store.truncateLog(id, log, (r) => r.step < start);
    }
    await store.truncateLog(id, "evals", (r) => r.step <= start);
    if (start > 0) warn(`Resuming run ${runFolderName(id)} from its checkpoint at step ${start}`);
    return await trainRun(job, store, id, network, data, state, {
      ...options,
      wallTimeBefore: restored !== null && previous !== null ? previous.wallTime : 0,
      setState: (s) => (state = s),
    });
  } finally {
    if (state !== null) disposeState(state);
    data.dispose();
  }
}

interface TrainRunOptions extends RunJobOptions {
  wallTimeBefore: number;
  /** Keeps the caller's reference on the live state (disposed by the caller). */
  setState: (state: TrainState) => void;
}

async function trainRun(
  job: TrainingJob,
  store: ResultStore,
  id: string,
  network: Network,
  data: RunData,
  initial: TrainState,
  options: TrainRunOptions,
): Promise<RunRecord> {
  const { steps, learningRate, bnMomentum } = job.sgd;
  const t0 = performance.now();
  const wallTime = () => options.wallTimeBefore + (performance.now() - t0) / 1000;
  const backend = options.backendInfo !== undefined
    ? formatBackend(options.backendInfo)
    : tf.getBackend();
  const status = (state: RunStatus["state"], step: number, divergedAt: number | null) =>
    store.writeStatus(id, {
      state,
      step,
      divergedAt,
      wallTime: wallTime(),
      backend,
      ...(options.backendInfo === undefined ? {} : { backendInfo: options.backendInfo }),
      updated: new Date().toISOString(),
    });
  const start = initial.step;
  const progress: Progress | null = options.progress === undefined ? null : createProgress({
    ...options.progress,
    total: steps,
    start,
    label: runFolderName(id),
  });

  const config: SgdConfig = {
    steps,
    learningRate,
    bnMomentum,
    seed: job.seeds.noise,
    metricsEvery: SGD_DEFAULTS.metricsEvery,
  };
  const m = job.measurements ?? {};
  const everies = [m.ics?.every, m.landscape?.every, m.activations?.every]
    .filter((e): e is number => e !== undefined);
  const hooks: TrainHooks = {
    onMetrics: async (block) => {
      const lines: MetricsLine[] = [];
      for (const [k, step] of block.step.entries()) {
        const loss = block.loss[k]!;
        lines.push({ step, loss, accuracy: block.accuracy[k]! });
        // Steps after a divergence inside the block are not part of the run.
        if (!Number.isFinite(loss)) break;
      }
      await store.append(id, "metrics", lines);
      const last = lines[lines.length - 1]!;
      progress?.update(last.step + 1, last.loss);
    },
    measureAt: (step) => everies.some((every) => step % every === 0),
    beforeStep: async (context) => {
      await store.append(id, "measurements", await measure(job, network, context));
    },
  };

  let state = initial;
  let divergedAt: number | null = null;
  await status("running", start, null);
  while (state.step < steps) {
    const boundary = Math.min(
      steps,
      nextMultiple(state.step, job.checkpointEvery),
      job.evalEvery > 0 ? nextMultiple(state.step, job.evalEvery) : Infinity,
    );
    const outcome = await train(network, data.source, { ...config, steps: boundary }, state, hooks);
    state = outcome.state;
    options.setState(state);
    if (outcome.divergedAt !== null) {
      divergedAt = outcome.divergedAt;
      break;
    }
    const evalDue = job.evalEvery > 0 ? state.step % job.evalEvery === 0 : false;
    if (data.test !== null && (evalDue || state.step === steps)) {
      const accuracy = await evaluateAccuracy(network, state, data.test.images, data.test.labels);
      const line: EvalLine = { step: state.step, accuracy };
      await store.append(id, "evals", [line]);
    }
    if (state.step % job.checkpointEvery === 0 || state.step === steps) {
      await store.writeCheckpoint(id, state);
      if (state.step < steps) await status("running", state.step, null);
    }
  }
  const computedSteps = (divergedAt ?? state.step - 1) + 1 - start;
  if (divergedAt !== null) {
    await status("diverged", divergedAt, divergedAt);
    progress?.finish(`${runFolderName(id)} diverged at step ${divergedAt}`);
  } else {
    await status("finished", steps, null);
    progress?.finish(
      `${runFolderName(id)} finished ${steps} steps in ${wallTime().toFixed(1)} s`,
    );
  }
  return { ...await readRecord(job, store, id), computedSteps };
}

async function readRecord(job: TrainingJob, store: ResultStore, id: string): Promise<RunRecord> {
  const status = await store.readStatus(id);
  if (status === null) {
    throw new Error(`Cannot load run ${runFolderName(id)}: it has no results in ${store.root}`);
  }
  const metricsLines = await store.readLog<MetricsLine>(id, "metrics");
  const evalLines = await store.readLog<EvalLine>(id, "evals");
  return {
    id,
    dir: store.runDir(id),
    job,
    status,
    metrics: {
      step: metricsLines.map((l) => l.step),
      loss: metricsLines.map((l) => l.loss),
      accuracy: metricsLines.map((l) => l.accuracy),
    },
    evals: { step: evalLines.map((l) => l.step), accuracy: evalLines.map((l) => l.accuracy) },
    measurements: await store.readLog<MeasurementLine>(id, "measurements"),
    divergedAt: status.divergedAt,
    wallTime: status.wallTime,
    computedSteps: 0,
  };
}

/**
 * Reads a finished (or diverged) run from the store without computing anything.
 *
 * @param job The job.
 * @param store An open store (read-only is enough).
 * @returns The run's record (`computedSteps` 0).
 * @throws {Error} When the run has no results, is not finished, or its folder holds another job.
 */
export async function loadRun(job: TrainingJob, store: ResultStore): Promise<RunRecord> {
  validateJob(job);
  const id = await jobId(job);
  await store.checkJob(job, id);
  const record = await readRecord(job, store, id);
  if (record.status.state === "running") {
    throw new Error(
      `Cannot load run ${runFolderName(id)}: it is not finished (stopped at step ` +
        `${record.status.step} of ${job.sgd.steps}); run it with runJob to resume it`,
    );
  }
  return record;
}
