/**
 * runJob in one process: not recomputing finished runs, `force`, divergence, measurements
 * against direct calls, evaluations, resume after a crash (extra and torn log lines) and from
 * the previous checkpoint when the newest is corrupt, hash collisions, read-only stores and
 * tensor leaks. Kills across processes are in `resume_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { formatBackend, initBackend } from "../../lib/backend.ts";
import { jobId, runFolderName, type TrainingJob } from "../../lib/run/job.ts";
import { loadRun, runJob } from "../../lib/run/run_job.ts";
import { measureIcs } from "../../lib/measure/ics.ts";
import { measureLandscape } from "../../lib/measure/landscape.ts";
import { createNetwork, dlnProblem } from "../../lib/models/mod.ts";
import { openStore, type ResultStore } from "../../lib/store/mod.ts";
import {
  disposeState,
  evaluateAccuracy,
  initialState,
  SGD_DEFAULTS,
  train,
} from "../../lib/train.ts";
import { loadCifar10Sample } from "../../lib/data/cifar10_files.ts";
import { CIFAR10_TRAIN_STATS } from "../../lib/data/cifar10.ts";
import { disposeDeviceSet, uploadImageSet } from "../../lib/data/device_set.ts";
import { tinyDlnJob, tinyMlpJob } from "../experiments/_jobs.ts";

const cpuInfo = await initBackend({ backend: "cpu" });

const quiet = { onWarning: () => {} };

async function withStore(fn: (store: ResultStore, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir();
  const store = await openStore(root);
  try {
    await fn(store, root);
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
}

async function runDir(store: ResultStore, job: TrainingJob): Promise<string> {
  return store.runDir(await jobId(job));
}

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

Deno.test("runJob() computes a run once, then loads it; force recomputes", async () => {
  await withStore(async (store) => {
    const job = tinyDlnJob();
    const first = await runJob(job, store, quiet);
    assert.equal(first.computedSteps, 40);
    assert.equal(first.status.state, "finished");
    assert.deepEqual(first.metrics.step, Array.from({ length: 40 }, (_, i) => i));
    const dir = await runDir(store, job);
    const before = (await Deno.stat(join(dir, "metrics.ndjson"))).mtime!.getTime();
    const statusBefore = await Deno.readTextFile(join(dir, "status.json"));

    const again = await runJob(job, store, quiet);
    assert.equal(again.computedSteps, 0);
    assert.deepEqual(again.metrics, first.metrics);
    assert.equal((await Deno.stat(join(dir, "metrics.ndjson"))).mtime!.getTime(), before);
    assert.equal(await Deno.readTextFile(join(dir, "status.json")), statusBefore);

    const forced = await runJob(job, store, { ...quiet, force: true });
    assert.equal(forced.computedSteps, 40);
    assert.deepEqual(forced.metrics, first.metrics);
    assert.deepEqual(await listing(dir), [
      "ckpt-30.bin",
      "ckpt-40.bin",
      "job.json",
      "metrics.ndjson",
      "status.json",
    ]);
  });
});

Deno.test("runJob() records the backend as its line and as structured fields", async () => {
  await withStore(async (store) => {
    const job = tinyDlnJob();
    const record = await runJob(job, store, { ...quiet, backendInfo: cpuInfo });
    const stored = await store.readStatus(await jobId(job));
    assert.equal(record.status.backend, formatBackend(cpuInfo));
    assert.equal(stored?.backend, formatBackend(cpuInfo));
    assert.deepEqual(stored?.backendInfo, cpuInfo);
  });
});

Deno.test("runJob() metrics equal a plain train() run with the same seeds", async () => {
  await withStore(async (store) => {
    const job = tinyDlnJob();
    const record = await runJob(job, store, quiet);
    const network = createNetwork(job.network);
    const problem = dlnProblem(job.seeds.data, { samples: 16, dim: 3 });
    const source = {
      batch: () => ({ x: tf.clone(problem.inputs), targets: tf.clone(problem.targets) }),
    };
    const outcome = await train(network, source, {
      ...SGD_DEFAULTS,
      steps: 40,
      learningRate: 1e-3,
      seed: job.seeds.noise,
    }, initialState(network, job.seeds.init));
    disposeState(outcome.state);
    tf.dispose([problem.inputs, problem.targets, problem.matrix]);
    assert.deepEqual(record.metrics.loss, outcome.metrics.loss);
  });
});

Deno.test("runJob() records divergence with its step and does not retry unless forced", async () => {
  await withStore(async (store) => {
    // lr 0.5 on a summed squared loss: the DLN blows up within a few steps.
    const job = tinyDlnJob({ sgd: { steps: 40, learningRate: 0.5, bnMomentum: 0.1 } });
    const record = await runJob(job, store, quiet);
    assert.equal(record.status.state, "diverged");
    const k = record.divergedAt!;
    assert.ok(k > 0 && k < 40, `diverged at ${k}`);
    assert.equal(record.status.step, k);
    // Independent check: the first non-finite loss of the recorded metrics is step k, the last.
    assert.equal(record.metrics.step.length, k + 1);
    assert.ok(!Number.isFinite(record.metrics.loss[k]!));
    assert.ok(record.metrics.loss.slice(0, k).every(Number.isFinite));
    assert.equal((await runJob(job, store, quiet)).computedSteps, 0);
    const forced = await runJob(job, store, { ...quiet, force: true });
    assert.equal(forced.computedSteps, k + 1);
    assert.equal(forced.divergedAt, k);
  });
});

Deno.test("runJob() measurements match direct measureIcs/measureLandscape calls and do not change training", async () => {
  await withStore(async (store) => {
    const job = tinyDlnJob({
      measurements: {
        ics: { every: 15, layers: [2, 4] },
        landscape: { every: 20, etas: [1e-4, 1e-3] },
        activations: { every: 25, layers: [1, 3], units: 2 },
      },
    });
    const record = await runJob(job, store, quiet);
    const plain = await runJob(tinyDlnJob(), store, quiet);
    assert.deepEqual(record.metrics, plain.metrics);
    assert.deepEqual(
      record.measurements.map((m) => `${m.kind}@${m.step}`),
      [
        "ics@0",
        "landscape@0",
        "activations@0",
        "ics@15",
        "landscape@20",
        "activations@25",
        "ics@30",
      ],
    );

    // Step 0: the fresh network on the full batch (no noise in plain BatchNorm).
    const network = createNetwork(job.network);
    const state = initialState(network, job.seeds.init);
    const problem = dlnProblem(job.seeds.data, { samples: 16, dim: 3 });
    const lossFn = (params: typeof state.params) =>
      network.loss(
        network.forward(params, problem.inputs, { training: true, noiseKey: { seed: 3, step: 0 } })
          .output,
        problem.targets,
      );
    const ics = await measureIcs(lossFn, state.params, { learningRate: 1e-3, layers: [2, 4] });
    const landscape = await measureLandscape(lossFn, state.params, { etas: [1e-4, 1e-3] });
    assert.deepEqual(record.measurements[0]!.values, ics);
    assert.deepEqual(record.measurements[1]!.values, landscape);
    // Activations at step 0: layer 1's pre-norm moments from plain arithmetic on x W1.
    const kernel = await state.params[0]!.kernel.array() as number[][];
    const x = await problem.inputs.array() as number[][];
    const activations = record.measurements[2]!.values as {
      layer: number;
      preNorm: { moments: { mean: number[]; variance: number[] }; units: unknown[] };
    }[];
    assert.deepEqual(activations.map((a) => a.layer), [1, 3]);
    assert.equal(activations[0]!.preNorm.units.length, 2);
    for (let j = 0; j < 3; j++) {
      const column = x.map((row) => row.reduce((s, v, i) => s + v * kernel[i]![j]!, 0));
      const mean = column.reduce((a, b) => a + b, 0) / column.length;
      assert.ok(Math.abs(activations[0]!.preNorm.moments.mean[j]! - mean) < 1e-5);
    }
    disposeState(state);
    tf.dispose([problem.inputs, problem.targets, problem.matrix]);
  });
});

Deno.test("runJob() evaluates test accuracy every evalEvery steps and at the end", async () => {
  await withStore(async (store) => {
    const job = tinyMlpJob({
      sgd: { steps: 60, learningRate: 0.05, bnMomentum: 0.1 },
      evalEvery: 25,
    });
    const record = await runJob(job, store, quiet);
    assert.deepEqual(record.evals.step, [25, 50, 60]);
    // Oracle: the final accuracy from the final checkpoint, evaluated directly.
    const network = createNetwork(job.network);
    const template = initialState(network, 0);
    const state = (await store.loadCheckpoint(await jobId(job), template, () => {}))!;
    assert.equal(state.step, 60);
    const sample = await loadCifar10Sample();
    const test = uploadImageSet(sample.test, CIFAR10_TRAIN_STATS);
    const accuracy = await evaluateAccuracy(network, state, test.images, test.labels);
    assert.equal(record.evals.accuracy[2], accuracy);
    disposeDeviceSet(test);
    disposeState(state);
    disposeState(template);
  });
});

Deno.test("runJob() resumes after a crash: extra and torn log lines are dropped, files match an uninterrupted run", async () => {
  await withStore(async (store, root) => {
    const job = tinyDlnJob({ measurements: { ics: { every: 7, layers: [3] } } });
    await runJob(job, store, quiet);
    const id = await jobId(job);
    const reference = store.runDir(id);
    const otherRoot = join(root, "other");
    const crashed = join(otherRoot, runFolderName(id));
    await copyDir(reference, crashed);
    // A crash at step 37: ckpt-40 never written; metrics of steps 30..36, a torn line for 37,
    // and the measurement of step 35 already written.
    await Deno.remove(join(crashed, "ckpt-40.bin"));
    await Deno.writeTextFile(join(crashed, "status.json"), '{"state":"running","step":30}');
    const metrics = await Deno.readTextFile(join(reference, "metrics.ndjson"));
    await Deno.writeTextFile(
      join(crashed, "metrics.ndjson"),
      metrics.split("\n").slice(0, 37).join("\n") + '\n{"step":37,"lo',
    );

    const other = await openStore(otherRoot);
    try {
      const resumed = await runJob(job, other, quiet);
      assert.equal(resumed.computedSteps, 10);
    } finally {
      await other.close();
    }
    for (const file of ["metrics.ndjson", "measurements.ndjson", "ckpt-40.bin", "ckpt-30.bin"]) {
      assert.deepEqual(
        await Deno.readFile(join(crashed, file)),
        await Deno.readFile(join(reference, file)),
        file,
      );
    }
  });
});

Deno.test("runJob() refuses a corrupt checkpoint with a clear message and resumes from the previous one", async () => {
  await withStore(async (store, root) => {
    const job = tinyDlnJob();
    await runJob(job, store, quiet);
    const id = await jobId(job);
    const reference = store.runDir(id);
    const otherRoot = join(root, "other");
    const crashed = join(otherRoot, runFolderName(id));
    await copyDir(reference, crashed);
    await Deno.remove(join(crashed, "status.json")); // as if killed before the final status
    const bytes = await Deno.readFile(join(crashed, "ckpt-40.bin"));
    bytes[bytes.length - 5]! ^= 0x40; // one bit of the payload
    await Deno.writeFile(join(crashed, "ckpt-40.bin"), bytes);

    const warnings: string[] = [];
    const other = await openStore(otherRoot);
    try {
      const resumed = await runJob(job, other, { onWarning: (m) => warnings.push(m) });
      assert.equal(resumed.computedSteps, 10);
    } finally {
      await other.close();
    }
    assert.match(
      warnings[0]!,
      /^Cannot use checkpoint .*ckpt-40\.bin: checksum mismatch .*; falling back to ckpt-30\.bin$/,
    );
    for (const file of ["metrics.ndjson", "ckpt-40.bin"]) {
      assert.deepEqual(
        await Deno.readFile(join(crashed, file)),
        await Deno.readFile(join(reference, file)),
      );
    }
  });
});

Deno.test("runJob() detects a hash collision and writes nothing", async () => {
  await withStore(async (store) => {
    const job = tinyDlnJob();
    const dir = await runDir(store, job);
    // A different job stored under this job's folder name (as a 64-bit prefix collision would).
    await Deno.mkdir(dir, { recursive: true });
    const other = JSON.stringify(tinyDlnJob({ evalEvery: 0, checkpointEvery: 7 }));
    await Deno.writeTextFile(join(dir, "job.json"), other);
    await assert.rejects(() => runJob(job, store, quiet), /hash collision/);
    await assert.rejects(() => loadRun(job, store), /hash collision/);
    assert.deepEqual(await listing(dir), ["job.json"]);
    assert.equal(await Deno.readTextFile(join(dir, "job.json")), other);
  });
});

Deno.test("runJob() rejects bad jobs and read-only stores without writing; loadRun reads without a lock", async () => {
  await withStore(async (store, root) => {
    const bad = tinyDlnJob({ sgd: { steps: -5, learningRate: 1e-3, bnMomentum: 0.1 } });
    await assert.rejects(
      () => runJob(bad, store, quiet),
      /sgd\.steps must be a positive integer, got -5/,
    );
    assert.deepEqual(await listing(root), [".lock"]);

    const job = tinyDlnJob();
    const reader = await openStore(root, { readOnly: true });
    await assert.rejects(() => runJob(job, reader, quiet), /open read-only/);
    await assert.rejects(() => loadRun(job, reader), /has no results/);
    assert.deepEqual(await listing(root), [".lock"]);
    const record = await runJob(job, store, quiet);
    assert.deepEqual((await loadRun(job, reader)).metrics, record.metrics);
  });
});

Deno.test("runJob() leaves no tensors behind", async () => {
  await withStore(async (store) => {
    const job = tinyDlnJob({
      measurements: {
        ics: { every: 10, layers: [2] },
        landscape: { every: 10, etas: [1e-3] },
        activations: { every: 10, layers: [2], units: 1 },
      },
    });
    await runJob(job, store, { ...quiet, force: true }); // warm-up
    const before = tf.memory().numTensors;
    await runJob(job, store, { ...quiet, force: true });
    assert.equal(tf.memory().numTensors, before);
    const mlp = tinyMlpJob({ sgd: { steps: 20, learningRate: 0.05, bnMomentum: 0.1 } });
    await runJob(mlp, store, { ...quiet, force: true });
    const beforeMlp = tf.memory().numTensors;
    await runJob(mlp, store, { ...quiet, force: true });
    assert.equal(tf.memory().numTensors, beforeMlp);
  });
});
