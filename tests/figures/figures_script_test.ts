import assert from "node:assert/strict";
import { join } from "node:path";
import { provenanceOf } from "../../lib/figures/spec_provenance.ts";

const SCRIPT = new URL("../../scripts/figures.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno task figures` (the script itself) with extra environment variables. */
async function figures(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, SCRIPT, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source) => ({ cell_type: "code", metadata: {}, outputs: [], source })),
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

Deno.test("scripts/figures.ts rejects bad arguments with exit 2 and lists the valid values", async (t) => {
  await t.step("unknown figure", async () => {
    const run = await figures(["--only", "nope"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /Cannot select figures: unknown "nope", expected one of .*\bexample\b/,
    );
  });
  await t.step("unknown scale", async () => {
    const run = await figures(["--scale", "huge", "--only", "example"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /unknown --scale value "huge", expected one of smoke, quick, long, schedule, paper/,
    );
  });
  await t.step("unknown backend", async () => {
    const run = await figures(["--backend", "tpu"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /unknown --backend value "tpu", expected one of auto, webgpu, wasm, cpu/,
    );
  });
  await t.step("unknown option", async () => {
    const run = await figures(["--sclae", "smoke"]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /Cannot parse arguments/);
  });
  await t.step("--help", async () => {
    const run = await figures(["--help"]);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--scale S +smoke \| quick \| long \| schedule \| paper/);
  });
});

Deno.test("scripts/figures.ts runs notebooks/00-example.ipynb headless at smoke scale", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = await figures(["--scale", "smoke", "--only", "example"], {
      FIGURE_DIR: dir,
      BN_BACKEND: "cpu",
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^ok {5}00-example\.ipynb \d+\.\d s$/m);
    assert.match(run.stdout, /figures: 1 ok, 0 failed/);
    const spec = JSON.parse(await Deno.readTextFile(join(dir, "example.vl.json")));
    const provenance = provenanceOf(spec);
    assert.equal(provenance?.figure, "example");
    assert.equal(provenance?.scale, "smoke");
    assert.equal(provenance?.backend, "cpu");
    assert.match(await Deno.readTextFile(join(dir, "example.svg")), /^<svg/);
    const results = JSON.parse(await Deno.readTextFile(join(dir, "example.results.json")));
    assert.equal(results.config.steps, 20, "the smoke scale shrinks the example to 20 steps");
    const gallery = await Deno.readTextFile(join(dir, "index.html"));
    assert.match(gallery, /data-figure="example"/, "the gallery shows the new figure");
    await Deno.stat(join(dir, "vendor", "vega-embed.min.js"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scripts/figures.ts runs every notebook, reports failures and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const marker = join(dir, "marker.json");
    await Deno.writeTextFile(
      join(dir, "01-bad.ipynb"),
      notebook(["const n = 1;", 'throw new Error("bad notebook " + n);']),
    );
    await Deno.writeTextFile(
      join(dir, "02-good.ipynb"),
      notebook([
        "const seen = {\n" +
        '  scale: Deno.env.get("FIGURE_SCALE"),\n' +
        '  force: Deno.env.get("FIGURE_FORCE"),\n' +
        '  backend: Deno.env.get("BN_BACKEND"),\n' +
        "  cwd: Deno.cwd(),\n" +
        "};",
        `await Deno.writeTextFile(${JSON.stringify(marker)}, JSON.stringify(seen));`,
      ]),
    );
    await Deno.writeTextFile(join(dir, "notes.ipynb"), notebook(["throw 1;"])); // not NN-name
    const figureDir = join(dir, "figures");
    await Deno.mkdir(figureDir);
    const run = await figures([
      "--notebooks",
      dir,
      "--scale",
      "smoke",
      "--force",
      "--backend",
      "CPU",
    ], { FIGURE_DIR: figureDir });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /gallery: not written \(no figure in /);
    assert.match(run.stderr, /bad notebook 1/);
    assert.match(run.stdout, /^FAILED 01-bad\.ipynb \d+\.\d s: exit status 1$/m);
    assert.match(run.stdout, /^ok {5}02-good\.ipynb \d+\.\d s$/m);
    assert.match(run.stdout, /figures: 1 ok, 1 failed \(bad\)/);
    assert.doesNotMatch(run.stdout, /notes/);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(marker)), {
      scale: "smoke",
      force: "1",
      backend: "cpu",
      cwd: await Deno.realPath(dir),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
