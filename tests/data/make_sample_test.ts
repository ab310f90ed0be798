import assert from "node:assert/strict";
import { join } from "node:path";
import { sampleDir } from "../../lib/data/cifar10_files.ts";
import { makeSample } from "../../scripts/make_sample.ts";
import { FULL_DIR, fullDataTest, listDir } from "./_helpers.ts";

Deno.test("makeSample() refuses a bad count before touching anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar10-sample-test-" });
  try {
    for (const count of [0, 10_001, 2.5]) {
      await assert.rejects(
        makeSample({ sourceDir: "/nonexistent", outDir: join(dir, "out"), count }),
        RangeError,
      );
    }
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

fullDataTest("makeSample() reproduces the committed sample byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cifar10-sample-test-" });
  try {
    await makeSample({ sourceDir: FULL_DIR!, outDir: dir });
    const names = ["SHA256SUMS", "data_batch_1.bin.gz", "test_batch.bin.gz"];
    assert.deepEqual(await listDir(dir), names);
    for (const name of names) {
      assert.deepEqual(
        await Deno.readFile(join(dir, name)),
        await Deno.readFile(join(sampleDir(), name)),
        name,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
