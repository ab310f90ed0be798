import assert from "node:assert/strict";
import { REPO_ROOT } from "../../lib/paths.ts";
import { join } from "node:path";
import {
  channelStats,
  CIFAR10_SHA256,
  CIFAR10_TRAIN_STATS,
  classCounts,
  decodeCifar10,
  parseSha256Sums,
} from "../../lib/data/cifar10.ts";
import {
  loadCifar10,
  loadCifar10Sample,
  readCifar10File,
  readSampleManifest,
  resolveCifar10Dir,
  sampleDir,
  verifyCifar10Dir,
} from "../../lib/data/cifar10_files.ts";
import {
  FULL_DIR,
  fullDataTest,
  listDir,
  nodeGzip,
  nodeSha256,
  RECORD,
  REPO,
  run,
  sampleRaw,
  smallSet,
  writeSmallSet,
} from "./_helpers.ts";

const FIRST_TRAIN_LABELS = [6, 9, 9, 4, 1, 1, 2, 7, 8, 3];
const FIRST_TEST_LABELS = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1];

/** A temp folder holding a small set (two files gzipped), removed after `fn`. */
async function withSmallSet(
  fn: (dir: string, set: ReturnType<typeof smallSet>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cifar10-files-test-" });
  try {
    const set = smallSet();
    await writeSmallSet(dir, set, ["data_batch_2", "test_batch"]);
    await fn(dir, set);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("resolveCifar10Dir() takes CIFAR10_DIR from the repository root", () => {
  assert.equal(REPO_ROOT, REPO);
  assert.equal(resolveCifar10Dir(null), join(REPO, "data", "cifar10"));
  assert.equal(resolveCifar10Dir(""), join(REPO, "data", "cifar10"));
  assert.equal(resolveCifar10Dir("/abs/cifar"), "/abs/cifar");
  assert.equal(resolveCifar10Dir("../elsewhere/c10"), join(REPO, "..", "elsewhere", "c10"));
  assert.equal(sampleDir(), join(REPO, "data", "cifar10-sample"));
});

Deno.test("resolveCifar10Dir() reads the environment variable, from any working directory", async () => {
  const code = `import { resolveCifar10Dir } from "${
    join(REPO, "lib/data/cifar10_files.ts")
  }"; console.log(resolveCifar10Dir());`;
  const result = await run(Deno.execPath(), ["eval", code], {
    cwd: "/tmp",
    env: { CIFAR10_DIR: "data/other" },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), join(REPO, "data", "other"));
});

Deno.test("loadCifar10() loads .bin and .bin.gz files in order and verifies them", async () => {
  await withSmallSet(async (dir, set) => {
    const before = await listDir(dir);
    const lines: string[] = [];
    const data = await loadCifar10({
      dir,
      manifest: set.manifest,
      onProgress: (line) => lines.push(line),
    });
    const trainRaw = sampleRaw().train.subarray(0, 5 * 20 * RECORD);
    assert.deepEqual(data.train, decodeCifar10(trainRaw));
    assert.deepEqual(data.test, decodeCifar10(sampleRaw().test.subarray(0, 20 * RECORD)));
    assert.equal(lines.length, 6);
    assert.ok(lines[1]!.startsWith("verified ") && lines[1]!.endsWith("data_batch_2.bin.gz"));
    assert.deepEqual(await listDir(dir), before); // reading writes nothing
  });
});

Deno.test("loadCifar10() returns only the requested split", async () => {
  await withSmallSet(async (dir, set) => {
    const train = await loadCifar10({ dir, manifest: set.manifest, split: "train" });
    assert.deepEqual(Object.keys(train), ["train"]);
    assert.equal(train.train.count, 100);
    const test = await loadCifar10({ dir, manifest: set.manifest, split: "test" });
    assert.deepEqual(Object.keys(test), ["test"]);
    assert.equal(test.test.count, 20);
  });
});

Deno.test("loadCifar10() errors are clear and leave the folder untouched", async (t) => {
  await t.step("missing folder names CIFAR10_DIR and deno task data", async () => {
    await assert.rejects(
      loadCifar10({ dir: "/nonexistent/cifar10" }),
      (e: unknown) =>
        e instanceof Deno.errors.NotFound && e.message.includes("/nonexistent/cifar10") &&
        e.message.includes("CIFAR10_DIR") && e.message.includes("deno task data"),
    );
  });

  /** Damages one file with `damage`, then expects `check` to accept the load error. */
  const damaged = (
    name: string,
    damage: (dir: string, set: ReturnType<typeof smallSet>) => Promise<void>,
    check: (e: unknown) => boolean,
    verify = true,
  ) =>
    withSmallSet(async (dir, set) => {
      await damage(dir, set);
      const before = await listDir(dir);
      await assert.rejects(loadCifar10({ dir, manifest: set.manifest, verify }), check, name);
      assert.deepEqual(await listDir(dir), before);
    });

  await t.step("missing batch file", () =>
    damaged(
      "missing",
      (dir) => Deno.remove(join(dir, "data_batch_3.bin")),
      (e) =>
        e instanceof Deno.errors.NotFound && e.message.includes("data_batch_3.bin") &&
        e.message.includes("missing"),
    ));
  await t.step("truncated .bin", () =>
    damaged(
      "truncated",
      (dir, set) =>
        Deno.writeFile(
          join(dir, "data_batch_4.bin"),
          set.files.get("data_batch_4")!.subarray(0, 5000),
        ),
      (e) =>
        e instanceof RangeError && e.message.includes("data_batch_4.bin") &&
        e.message.includes(`must be ${20 * RECORD} bytes`) && e.message.includes("got 5000") &&
        e.message.includes("truncated"),
    ));
  await t.step("oversized .bin", () =>
    damaged(
      "oversized",
      (dir, set) =>
        Deno.writeFile(
          join(dir, "data_batch_1.bin"),
          new Uint8Array([...set.files.get("data_batch_1")!, ...new Uint8Array(RECORD)]),
        ),
      (e) => e instanceof RangeError && e.message.includes("oversized"),
    ));
  await t.step("truncated content inside a valid .bin.gz", () =>
    damaged(
      "short gz",
      (dir, set) =>
        Deno.writeFile(
          join(dir, "test_batch.bin.gz"),
          nodeGzip(set.files.get("test_batch")!.subarray(0, 19 * RECORD)),
        ),
      (e) =>
        e instanceof RangeError && e.message.includes("test_batch.bin.gz") &&
        e.message.includes(`got ${19 * RECORD} bytes`) && e.message.includes("truncated"),
    ));
  await t.step("oversized .bin.gz", () =>
    damaged(
      "long gz",
      (dir) => Deno.writeFile(join(dir, "test_batch.bin.gz"), nodeGzip(sampleRaw().test)),
      (e) =>
        e instanceof RangeError && e.message.includes("test_batch.bin.gz") &&
        e.message.includes("oversized"),
    ));
  await t.step("gzip stream that ends early", () =>
    damaged(
      "cut gz",
      async (dir) => {
        const path = join(dir, "data_batch_2.bin.gz");
        const bytes = await Deno.readFile(path);
        await Deno.writeFile(path, bytes.subarray(0, bytes.length - 500));
      },
      (e) =>
        e instanceof Error && e.message.includes("data_batch_2.bin.gz") &&
        e.message.includes("ends early"),
    ));
  await t.step("checksum mismatch names the file, expected and actual hash", () =>
    damaged(
      "checksum",
      async (dir, set) => {
        const bytes = set.files.get("data_batch_5")!.slice();
        bytes[100] = bytes[100]! ^ 0xff; // one pixel
        await Deno.writeFile(join(dir, "data_batch_5.bin"), bytes);
        set.files.set("data_batch_5", bytes);
      },
      (e) => {
        const bytes = sampleRaw().train.slice(4 * 20 * RECORD, 5 * 20 * RECORD);
        const expected = nodeSha256(bytes);
        bytes[100] = bytes[100]! ^ 0xff;
        return e instanceof Error && e.message.includes("data_batch_5.bin") &&
          e.message.includes("checksum mismatch") && e.message.includes(expected) &&
          e.message.includes(nodeSha256(bytes));
      },
    ));
  await t.step("label byte above 9 names the file, record and value", () =>
    damaged(
      "label",
      async (dir, set) => {
        const bytes = set.files.get("data_batch_1")!.slice();
        bytes[7 * RECORD] = 200;
        await Deno.writeFile(join(dir, "data_batch_1.bin"), bytes);
      },
      (e) =>
        e instanceof RangeError && e.message.includes("data_batch_1.bin") &&
        e.message.includes("record 7") && e.message.includes("got 200"),
      false, // with verification on, the checksum would catch it first
    ));
});

Deno.test("readCifar10File() prefers .bin over .bin.gz and reports what it read", async () => {
  await withSmallSet(async (dir, set) => {
    const gz = await readCifar10File("data_batch_2", { dir, manifest: set.manifest });
    assert.equal(gz.gzipped, true);
    assert.equal(gz.sha256, set.manifest.sha256["data_batch_2"]);
    assert.deepEqual(gz.bytes, set.files.get("data_batch_2"));
    const plain = await readCifar10File("data_batch_1", {
      dir,
      manifest: set.manifest,
      verify: false,
    });
    assert.equal(plain.gzipped, false);
    assert.equal(plain.sha256, null);
    assert.equal(plain.diskBytes, 20 * RECORD);
  });
});

Deno.test("verifyCifar10Dir() checks every file of the manifest", async () => {
  await withSmallSet(async (dir, set) => {
    const files = await verifyCifar10Dir({ dir, manifest: set.manifest });
    assert.deepEqual(files.map((f) => f.name), [...set.files.keys()]);
    assert.deepEqual(files.map((f) => f.sha256), [...set.files.values()].map(nodeSha256));
  });
});

Deno.test("loadCifar10Sample() loads the committed sample (known labels and pixels)", async () => {
  const sample = await loadCifar10Sample();
  assert.equal(sample.train.count, 1000);
  assert.equal(sample.test.count, 1000);
  assert.deepEqual([...sample.train.labels.subarray(0, 10)], FIRST_TRAIN_LABELS);
  assert.deepEqual([...sample.test.labels.subarray(0, 10)], FIRST_TEST_LABELS);
  // Published dump of the official data_batch_1: image 0 starts 59 43 50 (R of pixels 0..2)
  // and ends 140 84 72 (B of pixels 1021..1023).
  const image0 = sample.train.images.subarray(0, 3072);
  assert.deepEqual([image0[0], image0[3], image0[6]], [59, 43, 50]);
  assert.deepEqual([image0[1021 * 3 + 2], image0[1022 * 3 + 2], image0[1023 * 3 + 2]], [
    140,
    84,
    72,
  ]);
  assert.deepEqual(classCounts(sample.train.labels).reduce((a, b) => a + b), 1000);
  const manifest = await readSampleManifest();
  assert.equal(manifest.sha256["data_batch_1"], nodeSha256(sampleRaw().train));
  assert.equal(manifest.sha256["test_batch"], nodeSha256(sampleRaw().test));
});

Deno.test("loadCifar10Sample() refuses a sample that differs from its manifest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar10-sample-test-" });
  try {
    await Deno.copyFile(join(sampleDir(), "SHA256SUMS"), join(dir, "SHA256SUMS"));
    await Deno.copyFile(join(sampleDir(), "test_batch.bin.gz"), join(dir, "test_batch.bin.gz"));
    const train = sampleRaw().train.slice();
    train[RECORD * 999 + 5] = train[RECORD * 999 + 5]! ^ 1;
    await Deno.writeFile(join(dir, "data_batch_1.bin.gz"), nodeGzip(train));
    await assert.rejects(loadCifar10Sample({ dir }), /data_batch_1\.bin\.gz: checksum mismatch/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- Full data set (CIFAR10_DIR) ----

fullDataTest("loadCifar10() loads all 60,000 images with the known statistics", async () => {
  const { train, test } = await loadCifar10({ dir: FULL_DIR! });
  assert.equal(train.count, 50_000);
  assert.equal(test.count, 10_000);
  assert.deepEqual(classCounts(train.labels), new Array(10).fill(5000));
  assert.deepEqual(classCounts(test.labels), new Array(10).fill(1000));
  assert.deepEqual(
    classCounts(train.labels.subarray(0, 10_000)),
    [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981], // the official data_batch_1
  );
  assert.deepEqual([...train.labels.subarray(0, 10)], FIRST_TRAIN_LABELS);
  assert.deepEqual([...test.labels.subarray(0, 10)], FIRST_TEST_LABELS);
  const stats = channelStats(train.images);
  const close = (a: readonly number[], b: readonly number[], tol: number) =>
    a.every((v, i) => Math.abs(v - b[i]!) <= tol);
  assert.ok(close(stats.mean, [125.3, 123.0, 113.9], 0.1), `mean ${stats.mean}`);
  assert.ok(close(stats.std, [63.0, 62.1, 66.7], 0.1), `std ${stats.std}`);
  assert.ok(close(stats.mean, CIFAR10_TRAIN_STATS.mean, 1e-3));
  assert.ok(close(stats.std, CIFAR10_TRAIN_STATS.std, 1e-3));
  // The committed sample is the head of each file.
  const sample = await loadCifar10Sample();
  assert.deepEqual(sample.train.images, train.images.subarray(0, 1000 * 3072));
  assert.deepEqual(sample.test.labels, test.labels.subarray(0, 1000));
});

fullDataTest("CIFAR10_SHA256 matches the SHA256SUMS shipped with the data", async () => {
  const sums = parseSha256Sums(await Deno.readTextFile(join(FULL_DIR!, "SHA256SUMS")));
  for (const [name, hash] of Object.entries(CIFAR10_SHA256)) {
    assert.equal(sums.get(`${name}.bin`), hash, name);
  }
});
