import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { join } from "node:path";
import { type BackendInfo, formatBackend } from "../../lib/backend.ts";
import { display, inJupyter } from "../../lib/figures/display.ts";
import { gitState } from "../../lib/figures/git.ts";
import { collectProvenance, computedBackend, computedOn } from "../../lib/figures/provenance.ts";
import { figurePaths, scaleFolder, writeFigure } from "../../lib/figures/write_figure.ts";
import { REPO_ROOT } from "../../lib/paths.ts";
import type { Scale } from "../../lib/scale.ts";
import { lineChart, type VegaLiteSpec } from "../../lib/figures/spec.ts";
import {
  type Provenance,
  provenanceOf,
  withProvenance,
} from "../../lib/figures/spec_provenance.ts";

const ROWS = [0, 1, 2].map((step) => ({ step, loss: 3 - step }));

function provenance(scale: Scale, figure = "demo"): Provenance {
  return {
    figure,
    scale,
    scaleNote: `${scale} run`,
    config: { steps: 3 },
    seeds: { init: 0 },
    backend: "cpu",
    adapter: null,
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    commit: null,
    dirty: null,
    date: new Date(0).toISOString(),
    wallTimeSeconds: 0.5,
    dataSubset: "none",
  };
}

function figure(scale: Scale, figureName = "demo"): VegaLiteSpec {
  return withProvenance(lineChart(ROWS, { x: "step", y: "loss" }), provenance(scale, figureName));
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function scaleOnDisk(path: string): Promise<Scale | undefined> {
  return provenanceOf(JSON.parse(await Deno.readTextFile(path)))?.scale;
}

Deno.test("writeFigure() writes the spec, its SVG and the results, which read back equal", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spec = figure("smoke");
    const results = { config: { steps: 3 }, series: ROWS, nested: [[1, 2], [3, 4]] };
    const outcome = await writeFigure("demo", spec, results, { dir, quiet: true });
    assert.equal(outcome.written, true);
    assert.deepEqual(await listDir(dir), ["demo.results.json", "demo.svg", "demo.vl.json"]);
    const paths = figurePaths("demo", dir);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.spec)), spec);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.results)), results);
    assert.match(await Deno.readTextFile(paths.svg), /^<svg[\s\S]*>Scale: smoke \(smoke run\)</);
    // Compact layout: one line per data row, not one per number.
    const lines = (await Deno.readTextFile(paths.results)).split("\n");
    assert.ok(lines.includes('    {"step":1,"loss":2},'), lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFigure() never replaces a larger-scale figure unless forced", async (t) => {
  const dir = await Deno.makeTempDir();
  const shadowDir = join(dir, "shadow");
  const paths = figurePaths("demo", dir);
  const write = (scale: Scale, force = false) =>
    writeFigure("demo", figure(scale), { scale }, { dir, shadowDir, force, quiet: true });
  try {
    await t.step("quick over nothing: written", async () => {
      assert.equal((await write("quick")).written, true);
      assert.equal(await scaleOnDisk(paths.spec), "quick");
    });
    await t.step("smoke over quick: kept, the smoke figure goes to the shadow folder", async () => {
      const outcome = await write("smoke");
      assert.equal(outcome.written, false);
      assert.match(outcome.reason ?? "", /has scale quick, larger than smoke/);
      assert.equal(await scaleOnDisk(paths.spec), "quick");
      assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.results)), { scale: "quick" });
      assert.equal(await scaleOnDisk(figurePaths("demo", shadowDir).spec), "smoke");
    });
    await t.step("quick over quick and paper over quick: written", async () => {
      assert.equal((await write("quick")).written, true);
      assert.equal((await write("paper")).written, true);
      assert.equal(await scaleOnDisk(paths.spec), "paper");
    });
    await t.step("quick over paper with force: written", async () => {
      assert.equal((await write("quick")).written, false);
      assert.equal((await write("quick", true)).written, true);
      assert.equal(await scaleOnDisk(paths.spec), "quick");
    });
    await t.step("an existing spec without readable provenance is kept", async () => {
      await Deno.writeTextFile(paths.spec, '{"mark": "point"}');
      const outcome = await writeFigure("demo", figure("paper"), {}, {
        dir,
        shadowDir: null,
        quiet: true,
      });
      assert.equal(outcome.written, false);
      assert.match(outcome.reason ?? "", /no readable provenance scale/);
      await Deno.writeTextFile(paths.spec, "{ not json");
      assert.equal((await write("paper")).written, false);
      assert.equal(await Deno.readTextFile(paths.spec), "{ not json");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFigure() keeps a copy of each long, schedule and paper figure in scales/<scale>/", async () => {
  const dir = await Deno.makeTempDir();
  const write = (scale: Scale) =>
    writeFigure("demo", figure(scale), { scale }, { dir, shadowDir: null, quiet: true });
  try {
    assert.equal((await write("quick")).scalePaths, undefined);
    const schedule = await write("schedule");
    assert.equal(schedule.written, true);
    assert.deepEqual(schedule.scalePaths, figurePaths("demo", scaleFolder(dir, "schedule")));
    // The main slot keeps the schedule figure; the long one still gets its own copy.
    const long = await write("long");
    assert.equal(long.written, false);
    assert.equal(await scaleOnDisk(figurePaths("demo", dir).spec), "schedule");
    assert.equal(await scaleOnDisk(figurePaths("demo", scaleFolder(dir, "long")).spec), "long");
    assert.deepEqual(
      JSON.parse(await Deno.readTextFile(figurePaths("demo", scaleFolder(dir, "long")).results)),
      { scale: "long" },
    );
    // quick: the figure the schedule one replaced in the main slot (see the next test).
    assert.deepEqual(await listDir(join(dir, "scales")), ["long", "quick", "schedule"]);
    await write("smoke");
    assert.deepEqual(await listDir(join(dir, "scales")), ["long", "quick", "schedule"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFigure() moves a quick figure that a larger scale replaces to scales/quick/", async () => {
  const dir = await Deno.makeTempDir();
  const write = (stem: string, scale: Scale, resultsName = "shared") =>
    writeFigure(stem, figure(scale, stem), { provenance: { scale }, stem }, {
      dir,
      shadowDir: null,
      quiet: true,
      resultsName,
    });
  const quickDir = scaleFolder(dir, "quick");
  try {
    // Two stems share one results file, as the landscape figures do.
    await write("first", "quick");
    await write("second", "quick");
    const quickResults = await Deno.readTextFile(figurePaths("first", dir, "shared").results);
    const first = await write("first", "schedule");
    assert.deepEqual(first.displacedPaths, figurePaths("first", quickDir, "shared"));
    assert.equal(await scaleOnDisk(figurePaths("first", quickDir).spec), "quick");
    assert.equal(await scaleOnDisk(figurePaths("first", dir).spec), "schedule");
    // The second stem's move must not take the results file the first stem just replaced.
    await write("second", "schedule");
    assert.equal(await scaleOnDisk(figurePaths("second", quickDir).spec), "quick");
    assert.equal(
      await Deno.readTextFile(figurePaths("x", quickDir, "shared").results),
      quickResults,
    );
    assert.ok((await Deno.stat(figurePaths("second", quickDir).svg)).isFile);
    // A later replot of the same scale moves nothing again, and smoke figures are never kept.
    assert.equal((await write("first", "schedule")).displacedPaths, undefined);
    await write("third", "smoke", "third");
    assert.equal((await write("third", "quick", "third")).displacedPaths, undefined);
    assert.deepEqual(await listDir(quickDir), [
      "first.svg",
      "first.vl.json",
      "second.svg",
      "second.vl.json",
      "shared.results.json",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFigure() is all or nothing: a failure leaves old files whole and no temporaries", async (t) => {
  const dir = await Deno.makeTempDir();
  const paths = figurePaths("demo", dir);
  try {
    await writeFigure("demo", figure("smoke"), { version: 1 }, { dir, quiet: true });
    const before = {
      spec: await Deno.readTextFile(paths.spec),
      svg: await Deno.readTextFile(paths.svg),
      results: await Deno.readTextFile(paths.results),
    };
    const unchanged = async () => {
      assert.equal(await Deno.readTextFile(paths.spec), before.spec);
      assert.equal(await Deno.readTextFile(paths.svg), before.svg);
      assert.equal(await Deno.readTextFile(paths.results), before.results);
      assert.deepEqual(await listDir(dir), ["demo.results.json", "demo.svg", "demo.vl.json"]);
    };
    const newer = withProvenance(
      lineChart([{ step: 0, loss: 9 }, { step: 1, loss: 8 }], { x: "step", y: "loss" }),
      provenance("smoke"),
    );
    await t.step("invalid spec: nothing written", async () => {
      const broken = withProvenance(
        lineChart([{ step: 0, loss: NaN }], { x: "step", y: "loss" }),
        provenance("smoke"),
      );
      await assert.rejects(
        () => writeFigure("demo", broken, {}, { dir, quiet: true }),
        TypeError,
      );
      await unchanged();
    });
    await t.step("results JSON cannot hold: nothing written", async () => {
      await assert.rejects(
        () => writeFigure("demo", newer, { loss: Infinity }, { dir, quiet: true }),
        /results\.loss is Infinity/,
      );
      await unchanged();
    });
    await t.step("a rename fails after the SVG was replaced: the SVG is restored", async () => {
      // The results path becomes a folder, so renaming onto it fails after the SVG's rename.
      await Deno.remove(paths.results);
      await Deno.mkdir(join(paths.results, "blocker"), { recursive: true });
      await assert.rejects(() => writeFigure("demo", newer, { version: 2 }, { dir, quiet: true }));
      assert.equal(await Deno.readTextFile(paths.svg), before.svg);
      assert.equal(await Deno.readTextFile(paths.spec), before.spec);
      assert.deepEqual(await listDir(dir), ["demo.results.json", "demo.svg", "demo.vl.json"]);
      await Deno.remove(paths.results, { recursive: true });
    });
    await t.step("after the blocker is gone the same call succeeds", async () => {
      const outcome = await writeFigure("demo", newer, { version: 2 }, { dir, quiet: true });
      assert.equal(outcome.written, true);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.results)), { version: 2 });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFigure() checks the stem and the provenance before writing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => writeFigure("Bad_Stem", figure("smoke"), {}, { dir, quiet: true }),
      RangeError,
    );
    await assert.rejects(
      () => writeFigure("other", figure("smoke"), {}, { dir, quiet: true }),
      /provenance names figure "demo"/,
    );
    await assert.rejects(
      () =>
        writeFigure("demo", lineChart(ROWS, { x: "step", y: "loss" }), {}, { dir, quiet: true }),
      /provenance is incomplete[\s\S]*usermeta\.provenance is missing/,
    );
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gitState() gives nulls outside a repository and a full hash (or null) inside", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await gitState(dir), { commit: null, dirty: null });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const state = await gitState(REPO_ROOT);
  assert.ok(state.commit === null || /^[0-9a-f]{40}$/.test(state.commit), String(state.commit));
  assert.ok(state.dirty === null || typeof state.dirty === "boolean");
});

Deno.test("collectProvenance() adds versions, git state and date to the run's facts", async () => {
  const backend: BackendInfo = {
    backend: "webgpu",
    adapter: { description: "Test GPU", vendor: "v", architecture: "a", software: false },
    reason: "test",
    threads: 1,
    nativeKernels: null,
  };
  const before = Date.now();
  const collected = await collectProvenance({
    figure: "demo",
    scale: "paper",
    scaleNote: "as in the paper",
    config: { lr: 0.1 },
    seeds: { init: 3 },
    backend,
    wallTimeSeconds: 2,
    dataSubset: "CIFAR-10",
  });
  assert.equal(collected.backend, "webgpu");
  assert.equal(collected.adapter, "Test GPU");
  assert.equal(collected.deno, Deno.version.deno);
  assert.equal(collected.tfjs, tf.version_core);
  const date = Date.parse(collected.date);
  assert.ok(date >= before - 1000 && date <= Date.now() + 1000, collected.date);
  const git = await gitState();
  assert.equal(collected.commit, git.commit);
  const byName = await collectProvenance({ ...collected, backend: "cpu" });
  assert.equal(byName.backend, "cpu");
  assert.equal(byName.adapter, null);
});

Deno.test("display() outside Jupyter renders and prints one line instead of failing", async () => {
  assert.equal(inJupyter(), false);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await display(figure("smoke"));
  } finally {
    console.log = log;
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? "", /^figure demo: rendered \(\d+ bytes of SVG\); not in Jupyter$/);
});

Deno.test("computedBackend() keeps what computed a run and drops why it was chosen", () => {
  const cases: [string, string][] = [
    ["cpu", "cpu"],
    ["wasm, 1 thread (no WebGPU adapter; default)", "wasm, 1 thread"],
    [
      'wasm, 1 thread, kernels by oneDNN 2.6.3 (libdnnl.so.2) (software adapter llvmpipe (LLVM 15.0.6, 256 bits); WebGPU adapter "llvmpipe (LLVM 15.0.6, 256 bits)" is a software rasteriser: using wasm, the fastest CPU path)',
      "wasm, 1 thread, kernels by oneDNN 2.6.3 (libdnnl.so.2)",
    ],
    [
      'webgpu (adapter NVIDIA H100 80GB HBM3; hardware WebGPU adapter "NVIDIA H100 80GB HBM3")',
      "webgpu (NVIDIA H100 80GB HBM3)",
    ],
  ];
  for (const [line, expected] of cases) assert.equal(computedBackend(line), expected);
});

Deno.test("computedOn() reads the structured backend as computedBackend() reads its line", () => {
  const software = {
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    vendor: "mesa",
    architecture: "",
    software: true,
  };
  const hardware = {
    description: "NVIDIA H100 80GB HBM3",
    vendor: "nvidia",
    architecture: "hopper",
    software: false,
  };
  const infos: BackendInfo[] = [
    {
      backend: "cpu",
      adapter: null,
      reason: "requested by --backend",
      threads: 1,
      nativeKernels: null,
    },
    {
      backend: "wasm",
      adapter: software,
      reason: "software adapter",
      threads: 2,
      nativeKernels: "oneDNN 2.6.3 (libdnnl.so.2)",
    },
    {
      backend: "wasm",
      adapter: null,
      reason: "no WebGPU adapter",
      threads: 1,
      nativeKernels: null,
    },
    {
      backend: "webgpu",
      adapter: hardware,
      reason: "hardware WebGPU adapter",
      threads: 1,
      nativeKernels: null,
    },
  ];
  const expected = [
    "cpu",
    "wasm, 2 threads, kernels by oneDNN 2.6.3 (libdnnl.so.2)",
    "wasm, 1 thread",
    "webgpu (NVIDIA H100 80GB HBM3)",
  ];
  infos.forEach((info, k) => {
    const line = formatBackend(info);
    assert.equal(computedOn({ backend: line, backendInfo: info }), expected[k]);
    // A run written before the structured field was stored reads the same from its line.
    assert.equal(computedOn({ backend: line }), expected[k]);
  });
});

Deno.test("collectProvenance() lists the distinct backends that computed the runs", async () => {
  const runs = [
    { status: { backend: "wasm, 1 thread (no WebGPU adapter; default)" } },
    { status: { backend: "cpu" } },
    { status: { backend: "wasm, 1 thread (no WebGPU adapter; requested by BN_BACKEND=wasm)" } },
  ];
  const input = {
    figure: "demo",
    scale: "quick" as const,
    scaleNote: "n",
    config: {},
    seeds: {},
    backend: "cpu",
    wallTimeSeconds: 1,
    dataSubset: "none",
  };
  const withRuns = await collectProvenance({ ...input, runs });
  assert.deepEqual(withRuns.computedOn, ["cpu", "wasm, 1 thread"]);
  assert.equal("computedOn" in (await collectProvenance(input)), false);
});
