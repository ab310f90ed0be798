import assert from "node:assert/strict";
import { blockNames, fillBlocks, markdownTable } from "../../lib/report/blocks.ts";
import {
  type CommittedFigure,
  icsNumbers,
  REPORT_BLOCKS,
  speedTable,
} from "../../lib/report/sections.ts";
import { regeneratePaper } from "../../scripts/paper.ts";

Deno.test("fillBlocks() rewrites only the text between matching markers", () => {
  const text = [
    "intro",
    "<!-- BEGIN generated:a -->",
    "old a",
    "<!-- END generated:a -->",
    "middle",
    "<!-- BEGIN generated:b-2 -->",
    "<!-- END generated:b-2 -->",
    "end",
  ].join("\n");
  assert.deepEqual(blockNames(text), ["a", "b-2"]);
  const filled = fillBlocks(text, { a: "new a", "b-2": "B\n\n" });
  assert.equal(
    filled,
    "intro\n<!-- BEGIN generated:a -->\nnew a\n<!-- END generated:a -->\nmiddle\n" +
      "<!-- BEGIN generated:b-2 -->\nB\n<!-- END generated:b-2 -->\nend",
  );
  assert.equal(fillBlocks(filled, { a: "new a", "b-2": "B" }), filled);
  assert.throws(() => fillBlocks(text, { a: "x" }), /no generator for block\(s\) b-2/);
  assert.throws(
    () => fillBlocks(text, { a: "x", "b-2": "y", c: "z" }),
    /no marker for block\(s\) c/,
  );
});

Deno.test("markdownTable() escapes pipes and aligns header and rows", () => {
  assert.equal(
    markdownTable(["a", "b"], [["1", "x|y"]]),
    "| a | b |\n| --- | --- |\n| 1 | x\\|y |",
  );
});

Deno.test("paper.md's generated blocks are up to date with the committed figures", async () => {
  const { current, next } = await regeneratePaper();
  assert.deepEqual(blockNames(current).sort(), Object.keys(REPORT_BLOCKS).sort());
  assert.equal(current, next, "paper.md is stale: run `deno task paper` and commit the result");
});

Deno.test("speedTable() reads single-value and interleaved-round bench results", () => {
  const backend = { backend: "wasm", threads: 1, adapter: null, nativeKernels: "oneDNN 2.6.3 (x)" };
  const old = speedTable(new Map(), {
    date: "2026-11-01T00:00:00Z",
    backend,
    step: [{
      width: 1,
      batch: 32,
      normalization: "none",
      imagesPerSecond: 100,
      torchImagesPerSecond: 125,
      ratio: 0.8,
    }],
  });
  assert.match(old, /\| 1 +\| 32 +\| none +\| 100\.0 +\| 125\.0 +\| 0\.800 +\|/);
  const rounds = speedTable(new Map(), {
    date: "2026-12-04T00:00:00Z",
    backend,
    step: [{
      width: 0.25,
      batch: 128,
      normalization: "batchnorm",
      kernels: "oneDNN 2.6.3 (x)",
      imagesPerSecond: 1604,
      torchImagesPerSecond: { median: 1429, min: 1000, max: 1500 },
      ratio: { median: 1.12, min: 1.07, max: 1.65 },
      profile: { kernelCalls: 470 },
    }],
  });
  assert.match(rounds, /ours \/ PyTorch \(range over rounds\) +\| kernel calls \/ step/);
  assert.match(
    rounds,
    /\| 1604\.0 +\| 1429\.0 \(1000\.0-1500\.0\) +\| 1\.12 \(1\.07-1\.65\) +\| 470 +\|/,
  );
  assert.equal(speedTable(new Map(), null), "No bench result has been committed yet.");
});

Deno.test("icsNumbers() prints a layer with no finite median as '-' instead of throwing", () => {
  const figure = {
    stem: "ics",
    provenance: {} as CommittedFigure["provenance"],
    results: {
      keyNumbers: [{
        learningRate: "0.5",
        layer: "conv5",
        normalization: "none",
        medianCosine: null,
        medianL2: null,
        l2RatioToStandard: null,
        diverged: "seed 0 at step 12",
      }, {
        learningRate: "0.1",
        layer: "conv5",
        normalization: "batchnorm",
        medianCosine: 0.5,
        medianL2: 0.0123,
        l2RatioToStandard: 2,
        diverged: null,
      }],
    },
  };
  const table = icsNumbers(new Map([["ics", figure]]));
  assert.match(table, /\| 0\.5 +\| conv5 +\| none +\| - +\| - +\| - +\| seed 0 at step 12 \|/);
  assert.match(
    table,
    /\| 0\.1 +\| conv5 +\| batchnorm +\| 0\.500 +\| 0\.0123 +\| 2\.0 +\| none +\|/,
  );
});
