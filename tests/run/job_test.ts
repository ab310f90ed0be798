import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  canonicalJson,
  jobId,
  runFolderName,
  type TrainingJob,
  validateJob,
} from "../../lib/run/job.ts";
import { tinyDlnJob, tinyMlpJob } from "../experiments/_jobs.ts";

/** A job with one field replaced along a dotted path. */
function withField(job: TrainingJob, path: string, value: unknown): unknown {
  const copy = structuredClone(job) as unknown as Record<string, unknown>;
  const keys = path.split(".");
  let node = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
  return copy;
}

Deno.test("validateJob() accepts the example jobs", () => {
  assert.equal(validateJob(tinyDlnJob()).sgd.steps, 40);
  assert.equal(validateJob(tinyMlpJob()).data.kind, "cifar10");
  const vgg = tinyMlpJob({ network: { arch: "vgg", normalization: "l1", width: 0.25 } });
  validateJob(withField(vgg, "measurements.ics.layers", [5, 10]));
});

Deno.test("validateJob() gives a clear error for each bad input", async (t) => {
  const mlp = tinyMlpJob();
  const dln = tinyDlnJob();
  const cases: [string, unknown, RegExp][] = [
    [
      "unknown arch",
      withField(mlp, "network.arch", "resnet"),
      /unknown network\.arch "resnet", expected one of vgg, dln, mlp$/,
    ],
    [
      "unknown normalization",
      withField(dln, "network.normalization", "ln"),
      /expected one of none, batchnorm, noisy-batchnorm, noise-only, l1, l2, linf$/,
    ],
    [
      "unknown data kind",
      withField(mlp, "data.kind", "mnist"),
      /unknown data\.kind "mnist", expected one of cifar10, dln$/,
    ],
    [
      "unknown source",
      withField(mlp, "data.source", "tiny"),
      /unknown data\.source "tiny", expected one of sample, full$/,
    ],
    [
      "unknown subset kind",
      withField(mlp, "data.subset.kind", "last"),
      /expected one of first, perClass$/,
    ],
    [
      "zero learning rate",
      withField(dln, "sgd.learningRate", 0),
      /sgd\.learningRate must be a positive finite number, got 0$/,
    ],
    ["negative learning rate", withField(dln, "sgd.learningRate", -0.1), /got -0\.1$/],
    ["zero steps", withField(dln, "sgd.steps", 0), /sgd\.steps must be a positive integer, got 0$/],
    [
      "fractional steps",
      withField(dln, "sgd.steps", 2.5),
      /sgd\.steps must be a positive integer, got 2\.5$/,
    ],
    [
      "zero batch size",
      withField(mlp, "data.batchSize", 0),
      /data\.batchSize must be a positive integer, got 0$/,
    ],
    [
      "batch above subset",
      withField(mlp, "data.batchSize", 500),
      /at most the subset size 200, got 500$/,
    ],
    [
      "momentum above 1",
      withField(dln, "sgd.bnMomentum", 2),
      /sgd\.bnMomentum must be in \[0, 1\], got 2$/,
    ],
    [
      "negative seed",
      withField(dln, "seeds.init", -1),
      /seeds\.init must be an integer in 0\.\.2\^32-1, got -1$/,
    ],
    [
      "zero checkpointEvery",
      withField(dln, "checkpointEvery", 0),
      /checkpointEvery must be a positive integer, got 0$/,
    ],
    [
      "negative evalEvery",
      withField(mlp, "evalEvery", -1),
      /evalEvery must be an integer >= 0, got -1$/,
    ],
    ["evals on the DLN", withField(dln, "evalEvery", 10), /evalEvery must be 0 for the DLN/],
    [
      "DLN on CIFAR",
      withField(mlp, "network", { arch: "dln", normalization: "none" }),
      /needs data\.kind "dln"/,
    ],
    [
      "ICS layer out of range",
      withField(mlp, "measurements.ics.layers", [3]),
      /measurements\.ics\.layers entries must be layer numbers in 1\.\.2, got 3$/,
    ],
    [
      "activation layer 0",
      withField(mlp, "measurements.activations.layers", [0]),
      /in 1\.\.2, got 0$/,
    ],
    ["no etas", withField(mlp, "measurements.landscape.etas", []), /etas must be a non-empty list/],
    [
      "bad eta",
      withField(mlp, "measurements.landscape.etas", [0.1, -1]),
      /etas entries must be a positive finite number, got -1$/,
    ],
    [
      "unknown field",
      withField(dln, "sgd.momentum", 0.9),
      /unknown field sgd\.momentum, expected one of steps, learningRate, bnMomentum$/,
    ],
    [
      "bad network option",
      withField(dln, "network.depth", 0),
      /invalid network \(Cannot build DLN: depth must be a positive integer, got 0\)$/,
    ],
  ];
  for (const [name, job, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => validateJob(job), (e: Error) => {
        assert.ok(e instanceof RangeError, `${name}: ${e.constructor.name}`);
        assert.match(e.message, /^Cannot use training job: /);
        assert.match(e.message, message);
        return true;
      });
    });
  }
  await t.step("not an object", () => {
    assert.throws(
      () => validateJob(null),
      /^TypeError: Cannot use training job: job must be an object, got null$/,
    );
  });
});

Deno.test("canonicalJson() sorts keys at every level and refuses non-finite numbers", () => {
  assert.equal(
    canonicalJson({ z: 1, a: { y: [2, { c: 1, b: 0 }], x: null } }),
    '{"a":{"x":null,"y":[2,{"b":0,"c":1}]},"z":1}',
  );
  assert.throws(() => canonicalJson({ a: NaN }), /numbers must be finite, got NaN/);
});

Deno.test("jobId() is the SHA-256 of the canonical JSON, independent of key order", async () => {
  const job = tinyDlnJob();
  const expected = createHash("sha256").update(canonicalJson(job)).digest("hex");
  assert.equal(await jobId(job), expected);
  // The same job with the keys of every object in reverse order.
  const reverse = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(reverse)
      : typeof v === "object" && v !== null
      ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)]))
      : v;
  const shuffled = reverse(job) as TrainingJob;
  assert.notEqual(JSON.stringify(shuffled), JSON.stringify(job));
  assert.equal(await jobId(shuffled), expected);
  assert.notEqual(await jobId(tinyDlnJob({ checkpointEvery: 11 })), expected);
  assert.equal(runFolderName(expected), expected.slice(0, 16));
  assert.throws(() => runFolderName("abc"), /expected 64 hex digits, got "abc"/);
});
