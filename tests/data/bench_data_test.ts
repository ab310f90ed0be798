import assert from "node:assert/strict";
import { benchData } from "../../scripts/bench/data.ts";
import { fullDataTest } from "./_helpers.ts";

fullDataTest("benchData() times every stage over all 60,000 images", async () => {
  const result = await benchData();
  assert.equal(result.images, 60_000);
  assert.equal(result.files.length, 6);
  for (const [name, stage] of Object.entries(result.stages)) {
    if (name === "gunzip" && !result.gzipped) continue;
    assert.ok(stage.seconds > 0 && stage.megabytes > 0, name);
    assert.ok(Math.abs(stage.megabytesPerSecond - stage.megabytes / stage.seconds) < 1e-6, name);
  }
  assert.equal(result.stages.sha256.megabytes, 6 * 30.73);
  // The result is plain data: it survives JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(result)), result);
});
