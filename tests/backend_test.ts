import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  type AdapterSummary,
  chooseBackend,
  describeAdapter,
  formatBackend,
  initBackend,
  parseBackendChoice,
  resolveBackend,
} from "../lib/backend.ts";

const llvmpipe: AdapterSummary = {
  description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  vendor: "65541",
  architecture: "",
  software: true,
};
const h100: AdapterSummary = {
  description: "NVIDIA H100 80GB HBM3",
  vendor: "nvidia",
  architecture: "hopper",
  software: false,
};

Deno.test("chooseBackend() takes webgpu only on a hardware adapter", () => {
  assert.equal(chooseBackend(null).backend, "wasm");
  assert.equal(chooseBackend(llvmpipe).backend, "wasm");
  assert.match(chooseBackend(llvmpipe).reason, /software rasteriser/);
  assert.equal(chooseBackend(h100).backend, "webgpu");
  assert.match(chooseBackend(h100).reason, /H100/);
});

Deno.test("describeAdapter() flags Mesa's software adapter as software", async () => {
  const adapter = await describeAdapter();
  if (adapter === null) return; // no WebGPU here: nothing to classify
  const raw = await navigator.gpu.requestAdapter();
  const info = raw!.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const expected = info.isFallbackAdapter === true || /llvmpipe|lavapipe/i.test(info.description);
  assert.equal(adapter.software, expected);
});

Deno.test("parseBackendChoice() accepts the known names and lists them otherwise", () => {
  assert.equal(parseBackendChoice("WebGPU", "--backend"), "webgpu");
  assert.equal(parseBackendChoice(" wasm ", "BN_BACKEND"), "wasm");
  assert.throws(
    () => parseBackendChoice("cuda", "--backend"),
    (e: Error) =>
      e instanceof RangeError && /--backend value "cuda"/.test(e.message) &&
      /auto, webgpu, wasm, cpu/.test(e.message),
  );
});

Deno.test("resolveBackend() refuses webgpu without an adapter and says what to do", () => {
  assert.throws(
    () => resolveBackend({ choice: "webgpu", source: "--backend" }, null),
    /no WebGPU adapter was found\. Use --backend wasm/,
  );
  assert.deepEqual(resolveBackend({ choice: "cpu", source: "--backend" }, h100), {
    backend: "cpu",
    reason: "requested by --backend",
  });
  assert.equal(resolveBackend({ choice: "auto", source: "default" }, h100).backend, "webgpu");
  // A software adapter may still be asked for explicitly (slow, but real WebGPU).
  assert.equal(resolveBackend({ choice: "webgpu", source: "x" }, llvmpipe).backend, "webgpu");
});

Deno.test("initBackend() sets the requested backend and reports it", async () => {
  const info = await initBackend({ backend: "cpu" });
  assert.equal(info.backend, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.match(formatBackend(info), /^cpu \(/);
});

async function runWithEnv(
  value: string,
  extra: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const code = `import { initBackend } from "${new URL("../lib/backend.ts", import.meta.url)}";
    const info = await initBackend();
    console.log("chosen:" + info.backend + ":" + info.reason + ":threads=" + info.threads);`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    env: { BN_BACKEND: value, NO_COLOR: "1", ...extra },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    out: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test("BN_BACKEND overrides the choice, and a bad value is a clear error", async () => {
  const good = await runWithEnv("cpu");
  assert.equal(good.code, 0, good.out);
  assert.match(good.out, /chosen:cpu:requested by BN_BACKEND=cpu/);
  const bad = await runWithEnv("tpu");
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /unknown BN_BACKEND value "tpu", expected one of auto, webgpu, wasm, cpu/);
});

Deno.test("BN_WASM_THREADS starts the threaded wasm backend, and a bad count is a clear error", async () => {
  const threaded = await runWithEnv("wasm", { BN_WASM_THREADS: "2" });
  assert.equal(threaded.code, 0, threaded.out);
  assert.match(threaded.out, /chosen:wasm:requested by BN_BACKEND=wasm:threads=2/);
  const single = await runWithEnv("wasm");
  assert.match(single.out, /threads=1/);
  const bad = await runWithEnv("wasm", { BN_WASM_THREADS: "0" });
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /BN_WASM_THREADS must be an integer in 1\.\.8, got "0"/);
});
