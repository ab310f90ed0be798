import assert from "node:assert/strict";
import { FIGURE_DIR_ENV, FORCE_ENV, RECOMPUTE_ENV, SCALE_ENV } from "../../lib/env.ts";
import { figureSettings, parseFlag } from "../../lib/notebook/config.ts";

Deno.test("figureSettings() defaults to quick, auto backend, no force, the repository's figures/", () => {
  assert.deepEqual(figureSettings({ env: {} }), {
    scale: "quick",
    backend: "auto",
    force: false,
    recompute: false,
    figureDir: null,
  });
  // Empty values count as unset (a CI matrix often exports VAR="").
  assert.deepEqual(
    figureSettings({
      env: {
        [SCALE_ENV]: "",
        BN_BACKEND: "",
        [FORCE_ENV]: "",
        [RECOMPUTE_ENV]: "",
        [FIGURE_DIR_ENV]: "",
      },
    }),
    figureSettings({ env: {} }),
  );
});

Deno.test("figureSettings() reads FIGURE_SCALE, BN_BACKEND, FIGURE_FORCE and FIGURE_DIR", () => {
  assert.deepEqual(
    figureSettings({
      env: {
        FIGURE_SCALE: "Smoke",
        BN_BACKEND: "cpu",
        FIGURE_FORCE: "yes",
        FIGURE_RECOMPUTE: "1",
        FIGURE_DIR: "/tmp/f",
      },
    }),
    { scale: "smoke", backend: "cpu", force: true, recompute: true, figureDir: "/tmp/f" },
  );
  assert.equal(figureSettings({ env: { FIGURE_SCALE: "paper" } }).scale, "paper");
});

Deno.test("figureSettings() rejects unknown values and lists the valid ones", () => {
  assert.throws(
    () => figureSettings({ env: { FIGURE_SCALE: "huge" } }),
    (error: unknown) =>
      error instanceof RangeError &&
      error.message === 'Cannot select scale: unknown FIGURE_SCALE value "huge", expected one of ' +
          "smoke, quick, long, schedule, paper",
  );
  assert.throws(() => figureSettings({ env: { BN_BACKEND: "tpu" } }), /BN_BACKEND.*auto, webgpu/);
  assert.throws(() => figureSettings({ env: { FIGURE_FORCE: "maybe" } }), RangeError);
});

Deno.test("parseFlag() accepts the usual spellings of yes and no", () => {
  for (const yes of ["1", "true", "TRUE", " yes ", "on"]) assert.equal(parseFlag(yes, "X"), true);
  for (const no of [undefined, "", "0", "false", "No", "off"]) {
    assert.equal(parseFlag(no, "X"), false);
  }
});

Deno.test("figureSettings() reads the process environment by default", async () => {
  // A child process, so this test does not change the environment other tests see.
  const code = `import { figureSettings } from ${
    JSON.stringify(new URL("../../lib/notebook/config.ts", import.meta.url).href)
  }; console.log(JSON.stringify(figureSettings()));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../../deno.json", import.meta.url).pathname, code],
    env: {
      FIGURE_SCALE: "paper",
      BN_BACKEND: "wasm",
      FIGURE_FORCE: "1",
      FIGURE_RECOMPUTE: "on",
      FIGURE_DIR: "out",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), {
    scale: "paper",
    backend: "wasm",
    force: true,
    recompute: true,
    figureDir: "out",
  });
});
