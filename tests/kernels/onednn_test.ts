import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { registerWasmTrainingKernels } from "../../lib/kernels/wasm_conv_grads.ts";
import { registerFastGradients } from "../../lib/kernels/gradients.ts";
import {
  type NativeConvolution,
  nativeConvolution,
  setNativeConvolution,
} from "../../lib/kernels/native_conv.ts";
import { formatBackend, initBackend } from "../../lib/backend.ts";
import { OneDnnConvolution } from "../../lib/kernels/onednn.ts";
import { convGeometry, directConvGrads, normals, relError, runOn } from "./_helpers.ts";

tf.enableProdMode();
registerWasmTrainingKernels();
registerFastGradients();

/** The tolerance of the task: relative error against an independent reference. */
const TOL = 1e-4;

/**
 * oneDNN, or why it is missing. Where it is missing the tests are ignored, except where
 * BN_REQUIRE_ONEDNN=1 (set by .ci/run, which installs libdnnl2): there it must load.
 */
const loaded: OneDnnConvolution | string = (() => {
  try {
    return OneDnnConvolution.open();
  } catch (error) {
    return (error as Error).message;
  }
})();
if (typeof loaded === "string" && Deno.env.get("BN_REQUIRE_ONEDNN") === "1") {
  throw new Error(`BN_REQUIRE_ONEDNN=1 but oneDNN cannot be used: ${loaded}`);
}
const ignore = typeof loaded === "string";
if (ignore) console.warn(`oneDNN tests ignored: ${loaded}`);
// The library stays open for the process: FFI symbols are not a leak between tests.
const options = { ignore, sanitizeResources: false, sanitizeOps: false };

/** Installs oneDNN behind a wrapper that counts the calls it accepted, per direction. */
function installCounting(
  native: NativeConvolution,
): Record<"forward" | "input" | "filter", number> {
  const calls = { forward: 0, input: 0, filter: 0 };
  const count = (key: keyof typeof calls, accepted: boolean) => {
    if (accepted) calls[key]++;
    return accepted;
  };
  setNativeConvolution({
    description: native.description,
    forward: (g, a, b, c) => count("forward", native.forward(g, a, b, c)),
    backwardInput: (g, a, b, c) => count("input", native.backwardInput(g, a, b, c)),
    backwardFilter: (g, a, b, c) => count("filter", native.backwardFilter(g, a, b, c)),
  });
  return calls;
}

/** Odd sizes, strides 1-3, SAME/VALID (with unread remainder rows), non-square filters. */
const CASES: {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number;
  pad: "same" | "valid";
}[] = [
  { x: [3, 5, 7, 3], k: [3, 3], co: 5, s: 1, pad: "same" },
  { x: [3, 5, 7, 3], k: [3, 3], co: 5, s: 2, pad: "same" },
  { x: [3, 5, 7, 5], k: [3, 3], co: 3, s: 2, pad: "valid" },
  { x: [2, 8, 8, 3], k: [3, 3], co: 4, s: 2, pad: "valid" },
  { x: [2, 6, 9, 5], k: [3, 3], co: 3, s: 1, pad: "valid" },
  { x: [2, 7, 7, 3], k: [2, 2], co: 4, s: 2, pad: "same" },
  { x: [1, 4, 5, 2], k: [5, 3], co: 2, s: 1, pad: "same" },
  { x: [2, 9, 6, 3], k: [3, 3], co: 2, s: 3, pad: "valid" },
  { x: [4, 8, 8, 64], k: [3, 3], co: 128, s: 1, pad: "same" }, // a VGG layer at batch 4
];

Deno.test({
  name: "oneDNN convolutions on the wasm heap match a direct convolution and the cpu backend",
  ...options,
  fn: async (t) => {
    try {
      for (const c of CASES) {
        await t.step(
          `x ${c.x.join("x")}, ${c.k.join("x")} -> ${c.co}, stride ${c.s}, ${c.pad}`,
          async () => {
            const [n, h, w, ci] = c.x;
            const wShape: [number, number, number, number] = [c.k[0], c.k[1], ci, c.co];
            const { outH, outW } = convGeometry(h, w, c.k[0], c.k[1], c.s, c.pad);
            const xv = normals(n * h * w * ci, 1);
            const wv = normals(wShape.reduce((a, b) => a * b), 2);
            const dyv = normals(n * outH * outW * c.co, 3);
            const run = () => {
              const x = tf.tensor4d(xv, c.x);
              const filter = tf.tensor4d(wv, wShape);
              const dy = tf.tensor4d(dyv, [n, outH, outW, c.co]);
              const conv = (a: tf.Tensor, b: tf.Tensor) =>
                tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad);
              const y = conv(x, filter);
              const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
                tf.sum(tf.mul(conv(a, b), dy))
              )(
                [x, filter],
              );
              tf.dispose([x, filter, dy]);
              return [y, dx!, dw!];
            };
            const cpu = await runOn("cpu", run);
            const calls = installCounting(loaded as OneDnnConvolution);
            const native = await runOn("wasm", run);
            // oneDNN computed all three, rather than declining and leaving them to XNNPACK.
            assert.deepEqual(calls, { forward: 2, input: 1, filter: 1 });
            const direct = directConvGrads(xv, c.x, wv, wShape, dyv, c.s, c.pad);
            assert.ok(
              relError(native[0]!, cpu[0]!) <= TOL,
              `y vs cpu ${relError(native[0]!, cpu[0]!)}`,
            );
            assert.ok(
              relError(native[1]!, direct.dx) <= TOL,
              `dx vs direct ${relError(native[1]!, direct.dx)}`,
            );
            assert.ok(
              relError(native[2]!, direct.dw) <= TOL,
              `dW vs direct ${relError(native[2]!, direct.dw)}`,
            );
          },
        );
      }
    } finally {
      setNativeConvolution(null);
    }
  },
});

Deno.test({
  name: "oneDNN convolutions give bitwise-identical results when repeated (resumed runs match)",
  ...options,
  fn: () => {
    const native = loaded as OneDnnConvolution;
    const g = {
      batch: 8,
      inHeight: 8,
      inWidth: 8,
      inChannels: 64,
      outHeight: 8,
      outWidth: 8,
      outChannels: 96,
      filterHeight: 3,
      filterWidth: 3,
      strideHeight: 1,
      strideWidth: 1,
      padTop: 1,
      padLeft: 1,
      padBottom: 1,
      padRight: 1,
    };
    const x = normals(8 * 8 * 8 * 64, 4);
    const w = normals(9 * 64 * 96, 5);
    const dy = normals(8 * 8 * 8 * 96, 6);
    const once = () => {
      const y = new Float32Array(dy.length);
      const dx = new Float32Array(x.length);
      const dw = new Float32Array(w.length);
      assert.ok(native.forward(g, x, w, y));
      assert.ok(native.backwardInput(g, dy, w, dx));
      assert.ok(native.backwardFilter(g, x, dy, dw));
      return [y, dx, dw];
    };
    const first = once();
    const second = once();
    first.forEach((a, i) => assert.deepEqual(a, second[i]));
    assert.match(native.implementation("forward", g) ?? "", /\S/);
  },
});

Deno.test({
  name: "initBackend() puts oneDNN under wasm, not with BN_ONEDNN=off, and names a bad library",
  ...options,
  fn: async () => {
    const info = await initBackend({ backend: "wasm" });
    assert.match(info.nativeConvolution ?? "", /^oneDNN 2\.\d+\.\d+ \(/);
    assert.match(formatBackend(info), /convolutions by oneDNN/);
    assert.notEqual(nativeConvolution(), null);
    assert.equal((await initBackend({ backend: "wasm", onednn: false })).nativeConvolution, null);
    assert.equal(nativeConvolution(), null);
    await assert.rejects(
      initBackend({ backend: "wasm", onednn: "/nonexistent/libdnnl.so.2" }),
      /Cannot use oneDNN: \/nonexistent\/libdnnl\.so\.2 did not load .*apt install libdnnl2/,
    );
    const cpu = await initBackend({ backend: "cpu" });
    assert.equal(cpu.nativeConvolution, null);
  },
});
