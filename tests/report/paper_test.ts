import assert from "node:assert/strict";
import { blockNames, fillBlocks, markdownTable } from "../../lib/report/blocks.ts";
import {
  type CommittedFigure,
  dlnNumbers,
  figureTable,
  icsNumbers,
  icsPhases,
  landscapeNumbers,
  lpNormsNumbers,
  REPORT_BLOCKS,
  speedTable,
  trainingNumbers,
} from "../../lib/report/sections.ts";
import type { Scale } from "../../lib/scale.ts";
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
    provenance: { scale: "quick" } as CommittedFigure["provenance"],
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
  assert.match(
    table,
    /\| quick +\| 0\.5 +\| conv5 +\| none +\| - +\| - +\| - +\| seed 0 at step 12 \|/,
  );
  assert.match(
    table,
    /\| 0\.1 +\| conv5 +\| batchnorm +\| 0\.500 +\| 0\.0123 +\| 2\.0 +\| none +\|/,
  );
});

Deno.test("icsPhases() gives each third's medians per network, each scale, '-' where none", () => {
  // Steps 0-9 of one network; thirds of T = 9 are (0, 3], (3, 6], (6, 9]: steps 1-3, 4-6, 7-9.
  const rows = Array.from({ length: 10 }, (_, step) => ({
    normalization: "none",
    learningRate: "lr 0.1",
    layer: "conv5 (paper #5)",
    step,
    cosine: step === 2 ? null : 1 - step / 10, // a diverged step: no value
    l2: step * 100,
  }));
  // BatchNorm measured only early: its later thirds have nothing.
  const early = [1, 2].map((step) => ({
    ...rows[step]!,
    normalization: "batchnorm",
    cosine: 0.25,
  }));
  const version = (scale: Scale): CommittedFigure => ({
    stem: "ics",
    provenance: { scale } as CommittedFigure["provenance"],
    results: { rows: [...rows, ...early] },
  });
  const figure = { ...version("schedule"), otherScales: [version("quick")] };
  const table = icsPhases(new Map([["ics", figure]]));
  // none: cos medians of {0.9, 0.7}, {0.6, 0.5, 0.4}, {0.3, 0.2, 0.1}; l2 of {100..300} etc.
  const none =
    /\| (quick|schedule) +\| lr 0\.1 +\| conv5 \(paper #5\) +\| none +\| 3 \/ 6 \/ 9 +\| 0\.80 \/ 0\.50 \/ 0\.20 +\| 2\.0e\+2 \/ 5\.0e\+2 \/ 8\.0e\+2 +\|/g;
  assert.deepEqual([...table.matchAll(none)].map((m) => m[1]), ["quick", "schedule"]);
  assert.match(
    table,
    /\| batchnorm +\| 3 \/ 6 \/ 9 +\| 0\.25 \/ - \/ - +\| 1\.5e\+2 \/ - \/ - +\|/,
  );
  assert.equal(icsPhases(new Map()), "The `ics` figure has not been made yet.");
});

Deno.test("dln, lp-norms and landscape blocks print missing numbers as '-' instead of throwing", () => {
  const provenance = { scale: "long" } as CommittedFigure["provenance"];
  const dln = {
    stem: "dln",
    provenance,
    results: {
      keyNumbers: {
        ics: [{
          lr: "1e-6",
          layer: "layer 5",
          cosineStandard: null,
          cosineBatchnorm: 0.25,
          l2Ratio: null,
          relativeStandard: null,
        }],
        atFloorFraction: 0,
        landscapeRatios: { lossVariation: null, gradientPredictiveness: 3, betaSmoothness: null },
        finalLoss: [{ normalization: "none", lr: "1e-6", loss: null }],
        diverged: ["none at lr 1e-6"],
      },
    },
  };
  const dlnBlock = dlnNumbers(new Map([["dln", dln]]));
  assert.match(dlnBlock, /\| 1e-6 +\| layer 5 +\| - +\| 0\.250 +\| - +\|/);
  assert.match(dlnBlock, /none at lr 1e-6: -\. Diverged runs: 1\./);

  const lp = {
    stem: "lp-norms",
    provenance,
    results: {
      keyNumbers: [{
        normalization: "l_inf",
        vggFinalLoss: null,
        vggTestAccuracy: null,
        vggBetaVsBatchnorm: null,
        vggGradientVsBatchnorm: null,
        dlnFinalLoss: 2,
        dlnLossVsBatchnorm: 4,
        dlnBetaVsBatchnorm: null,
        dlnGradientVsBatchnorm: null,
        diverged: "diverged at step 3 (seed 0)",
      }],
    },
  };
  assert.match(
    lpNormsNumbers(new Map([["lp-norms", lp]])),
    /\| long +\| l_inf +\| - +\| - +\| - +\| - +\| 4\.0 +\| - +\| - +\| diverged at step 3 \(seed 0\) \|/,
  );
  const lpAtTwoScales = {
    ...lp,
    provenance: { scale: "schedule" } as CommittedFigure["provenance"],
    otherScales: [lp],
  };
  const lpBlock = lpNormsNumbers(new Map([["lp-norms", lpAtTwoScales]]));
  const lpLong = lpBlock.search(/\| long +\| l_inf /);
  assert.ok(lpLong > 0 && lpBlock.search(/\| schedule +\| l_inf /) > lpLong, lpBlock);

  const landscape = {
    stem: "loss-variation",
    provenance,
    results: {
      phaseRatios: [{
        phase: "late",
        fromStep: 200,
        toStep: 400,
        steps: 8,
        lossWidthRatio: 2,
        lossWidthRatioMin: 0.5,
        lossWidthRatioMax: 30,
        gradWidthRatio: null,
        gradWidthRatioMin: null,
        gradWidthRatioMax: null,
        betaRatio: 1.04,
        betaRatioMin: null,
        betaRatioMax: 1.2,
      }],
    },
  };
  assert.match(
    landscapeNumbers(new Map([["loss-variation", landscape]])),
    /\| long +\| late +\| 200-400 +\| 8 +\| 2\.0 \(0\.50-30\) +\| - +\| 1\.0 \(- ?-1\.2\) +\|/,
  );
});

Deno.test("landscape numbers and the figure table show each kept scale, the shorter first", () => {
  const provenanceAt = (scale: Scale) =>
    ({
      figure: "loss-variation",
      scale,
      scaleNote: `${scale} note`,
      backend: "wasm",
      adapter: null,
      wallTimeSeconds: 60,
      date: "2026-12-06T00:00:00Z",
      commit: "abcdef0123",
    }) as CommittedFigure["provenance"];
  const at = (scale: Scale, step: number): CommittedFigure => ({
    stem: "loss-variation",
    provenance: provenanceAt(scale),
    results: {
      phaseRatios: [{
        phase: "late",
        fromStep: step / 2,
        toStep: step,
        steps: 4,
        lossWidthRatio: step / 1000,
        lossWidthRatioMin: 1,
        lossWidthRatioMax: 100,
        gradWidthRatio: 1,
        gradWidthRatioMin: 1,
        gradWidthRatioMax: 1,
        betaRatio: 1,
        betaRatioMin: 1,
        betaRatioMax: 1,
      }],
    },
  });
  const figure = { ...at("schedule", 14750), otherScales: [at("long", 3750)] };
  const figures = new Map([["loss-variation", figure]]);
  const block = landscapeNumbers(figures);
  const long = block.search(/\| long +\| late +\| 1875-3750 +\| 4 +\| 3\.8 \(1\.0-1\.0e\+2\) +\|/);
  const schedule = block.search(
    /\| schedule +\| late +\| 7375-14750 +\| 4 +\| 15 \(1\.0-1\.0e\+2\)/,
  );
  assert.ok(long > 0 && schedule > long, block);
  const table = figureTable(figures);
  assert.match(table, /\[`loss-variation`\]\(figures\/loss-variation\.svg\) +\| schedule /);
  assert.match(
    table,
    /\[`loss-variation` \(long\)\]\(figures\/scales\/long\/loss-variation\.svg\) +\| long /,
  );
});

Deno.test("training numbers show each committed scale under its own line, the shorter first", () => {
  const at = (scale: Scale, accuracy: number): CommittedFigure => ({
    stem: "training",
    provenance: { scale } as CommittedFigure["provenance"],
    results: {
      results: {
        keyNumbers: {
          trainAccuracy: [{ configuration: "BatchNorm, lr 0.1", step: 100, mean: accuracy }],
          ratios: [],
        },
      },
    },
  });
  const single = trainingNumbers(new Map([["training", at("quick", 0.5)]]));
  assert.doesNotMatch(single, /At the/);
  assert.match(single, /BatchNorm, lr 0\.1 +step 100: 50\.0%/);
  const both = trainingNumbers(
    new Map([["training", { ...at("schedule", 0.75), otherScales: [at("quick", 0.5)] }]]),
  );
  const quick = both.indexOf("At the `quick` scale:");
  const schedule = both.indexOf("At the `schedule` scale:");
  assert.ok(quick >= 0 && schedule > quick, both);
  assert.ok(both.indexOf("50.0%") > quick && both.indexOf("75.0%") > schedule, both);
});
