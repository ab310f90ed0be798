import assert from "node:assert/strict";
import { TRAINING_CONFIGS, trainingJobEntries } from "../../lib/experiments/training.ts";
import { lpNormsJobs } from "../../lib/experiments/lp_norms.ts";
import { workOrder } from "../../lib/run/work_order.ts";
import type { TrainingJob } from "../../lib/run/job.ts";

const label = (job: TrainingJob) =>
  `${job.network.arch} ${job.network.normalization} seed ${job.seeds.init}`;

Deno.test("workOrder() puts the DLN first, then seed by seed, the noisy VGG runs last in a seed", () => {
  const { vgg, dln } = lpNormsJobs("quick");
  const training = trainingJobEntries(TRAINING_CONFIGS.quick).map((e) => e.job);
  const ordered = workOrder([...training, ...vgg, ...dln].map((job) => ({ job }))).map((e) =>
    e.job
  );
  assert.equal(ordered.length, training.length + vgg.length + dln.length);
  const firstVgg = ordered.findIndex((j) => j.network.arch === "vgg");
  assert.ok(ordered.slice(0, firstVgg).every((j) => j.network.arch === "dln"));
  assert.ok(ordered.slice(firstVgg).every((j) => j.network.arch === "vgg"));
  const seeds = ordered.slice(firstVgg).map((j) => j.seeds.init);
  assert.deepEqual(seeds, [...seeds].sort((a, b) => a - b), "seed by seed");
  for (const seed of new Set(seeds)) {
    const inSeed = ordered.slice(firstVgg).filter((j) => j.seeds.init === seed).map(label);
    const noisy = inSeed.findIndex((l) => / (noisy-batchnorm|noise-only) /.test(l));
    assert.ok(noisy > 0, `seed ${seed} has noisy runs after the others: ${inSeed.join(", ")}`);
    assert.ok(
      inSeed.slice(noisy).every((l) => / (noisy-batchnorm|noise-only) /.test(l)),
      inSeed.join(", "),
    );
  }
});

Deno.test("workOrder() keeps the order of equal runs and does not change its input", () => {
  const { dln } = lpNormsJobs("smoke");
  const input = dln.map((job, k) => ({ job, k }));
  const before = input.map((e) => e.k);
  assert.deepEqual(workOrder(input).map((e) => e.k), before);
  assert.deepEqual(input.map((e) => e.k), before);
});
