import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { formatBackend, initBackend } from "../../lib/backend.ts";
import { registerFastGradients } from "../../lib/kernels/gradients.ts";
import { type NativeKernels, nativeKernels, setNativeKernels } from "../../lib/kernels/native.ts";
import { OneDnnKernels } from "../../lib/kernels/onednn.ts";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  registerWasmBatchNormKernels,
} from "../../lib/kernels/wasm_batchnorm.ts";
import { registerWasmTrainingKernels } from "../../lib/kernels/wasm_conv_grads.ts";
import {
  batchNormReference,
  caseName,
  CONV_CASES,
  type ConvCase,
  convGeometry,
  directConvGrads,
  normals,
  relError,
  runOn,
} from "./_helpers.ts";

tf.enableProdMode();
registerWasmTrainingKernels();
registerWasmBatchNormKernels();
registerFastGradients();

/** The tolerance of the task: relative error against an independent reference. */
const TOL = 1e-4;

/**
 * oneDNN, or why it is missing. Where it is missing the tests are ignored, except where
 * BN_REQUIRE_ONEDNN=1 (set by .ci/run, which installs libdnnl2): there it must load.
 */
const loaded: OneDnnKernels | string = (() => {
  try {
    return OneDnnKernels.open();
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

/** Installs oneDNN behind a proxy that counts, per method, the calls it accepted. */
function installCounting(native: NativeKernels): Map<string, number> {
  const calls = new Map<string, number>();
  setNativeKernels(
    new Proxy(native, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          const accepted = value.apply(target, args);
          if (accepted === true) {
            calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
          }
          return accepted;
        };
      },
    }),
  );
  return calls;
}

/** Runs `fn` on wasm with oneDNN installed (counting), then uninstalls it. */
async function onWasmWithOneDnn(
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<{ values: Float32Array[]; calls: Map<string, number> }> {
  await tf.setBackend("wasm");
  const calls = installCounting(loaded as OneDnnKernels);
  try {
    return { values: await runOn("wasm", fn), calls };
  } finally {
    setNativeKernels(null);
  }
}

/** The wasm kernels' cases plus a VGG layer at batch 4. */
const CASES: ConvCase[] = [
  ...CONV_CASES,
  { x: [4, 8, 8, 64], k: [3, 3], co: 128, s: 1, pad: "same" },
];

Deno.test({
  name: "oneDNN convolutions on the wasm heap match a direct convolution and the cpu backend",
  ...options,
  fn: async (t) => {
    for (const c of CASES) {
      await t.step(caseName(c), async () => {
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
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), dy)))(
            [x, filter],
          );
          tf.dispose([x, filter, dy]);
          return [y, dx!, dw!];
        };
        const cpu = await runOn("cpu", run);
        const { values, calls } = await onWasmWithOneDnn(run);
        // oneDNN computed all three, rather than declining and leaving them to XNNPACK.
        assert.deepEqual(Object.fromEntries(calls), {
          convForward: 2,
          convBackwardInput: 1,
          convBackwardFilter: 1,
        });
        const direct = directConvGrads(xv, c.x, wv, wShape, dyv, c.s, c.pad);
        const [y, dx, dw] = values;
        assert.ok(relError(y!, cpu[0]!) <= TOL, `y vs cpu ${relError(y!, cpu[0]!)}`);
        assert.ok(relError(dx!, direct.dx) <= TOL, `dx vs direct ${relError(dx!, direct.dx)}`);
        assert.ok(relError(dw!, direct.dw) <= TOL, `dW vs direct ${relError(dw!, direct.dw)}`);
      });
    }
  },
});

Deno.test({
  name: "oneDNN BatchNorm (training) matches the float64 closed form, with and without gamma/beta",
  ...options,
  fn: async (t) => {
    const cases: [number[], boolean][] = [
      [[4, 3, 5, 6], true],
      [[4, 3, 5, 6], false],
      [[16, 8, 8, 32], true], // 1,024 rows: float32 sums over many rows
      [[7, 10], true], // a dense layer's [N, C]
    ];
    const eps = 1e-5;
    for (const [shape, affine] of cases) {
      await t.step(`[${shape}] ${affine ? "with" : "without"} gamma and beta`, async () => {
        const units = shape.at(-1)!;
        const size = shape.reduce((a, b) => a * b);
        // Per-unit offsets and scales: the interesting case for the variance's rounding.
        const xv = normals(size, 1).map((v, i) => (i % units) % 5 - 2 + (1 + (i % 3)) * v);
        const dyv = normals(size, 2);
        const gammaV = affine ? normals(units, 3) : new Float32Array(units).fill(1);
        const betaV = affine ? normals(units, 4) : new Float32Array(units);
        const want = batchNormReference(xv, dyv, gammaV, betaV, units, eps);
        const { values, calls } = await onWasmWithOneDnn(() => {
          const x = tf.tensor(xv, shape);
          const dy = tf.tensor(dyv, shape);
          const affineInputs = affine
            ? { gamma: tf.tensor1d(gammaV), beta: tf.tensor1d(betaV) }
            : {};
          const attrs = { epsilon: eps } as unknown as tf.NamedAttrMap;
          const forward = tf.engine().runKernel(
            BATCH_NORM_TRAINING_FORWARD,
            { x, ...affineInputs },
            attrs,
          ) as tf.Tensor[];
          const backward = tf.engine().runKernel(
            BATCH_NORM_TRAINING_BACKWARD,
            {
              dy,
              x,
              mean: forward[1]!,
              variance: forward[2]!,
              ...(affine ? { gamma: affineInputs.gamma! } : {}),
            },
            attrs,
          ) as tf.Tensor[];
          tf.dispose([x, dy, ...Object.values(affineInputs)]);
          return [...forward, ...backward];
        });
        assert.deepEqual(Object.fromEntries(calls), { batchNormForward: 1, batchNormBackward: 1 });
        const names = ["y", "mean", "variance", "dx", "dGamma", "dBeta"] as const;
        names.forEach((name, i) => {
          const error = relError(values[i]!, want[name]);
          assert.ok(error <= TOL, `${name}: relative error ${error}`);
        });
      });
    }
  },
});

Deno.test({
  name: "oneDNN max-pool gradient matches cpu, overlapping windows and padding included",
  ...options,
  fn: async (t) => {
    const cases: [[number, number, number, number], number, number, "same" | "valid"][] = [
      [[3, 5, 7, 4], 2, 2, "valid"],
      [[3, 5, 7, 4], 2, 2, "same"],
      [[2, 7, 6, 3], 3, 2, "same"], // overlapping windows
      [[2, 7, 6, 3], 3, 1, "valid"],
      [[4, 8, 8, 64], 2, 2, "same"], // a VGG pool at batch 4
    ];
    for (const [shape, f, s, pad] of cases) {
      await t.step(`${shape.join("x")} window ${f} stride ${s} ${pad}`, async () => {
        // Distinct values (no ties): every backend agrees on the arg-max.
        const xv = normals(shape.reduce((a, b) => a * b), 15);
        const run = () =>
          tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, f, s, pad), 1.5)))(
            tf.tensor4d(xv, shape),
          );
        const cpu = await runOn("cpu", run);
        const { values, calls } = await onWasmWithOneDnn(run);
        assert.equal(calls.get("maxPoolBackward"), 1);
        assert.ok(relError(values[0]!, cpu[0]!) <= 1e-6, `relative error`);
      });
    }
  },
});

Deno.test({
  name: "oneDNN kernels give bitwise-identical results when repeated (resumed runs match)",
  ...options,
  fn: () => {
    const native = loaded as OneDnnKernels;
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
      const bn = {
        y: new Float32Array(dy.length),
        mean: new Float32Array(96),
        variance: new Float32Array(96),
      };
      const bnGrads = {
        dx: new Float32Array(dy.length),
        dGamma: new Float32Array(96),
        dBeta: new Float32Array(96),
      };
      assert.ok(native.convForward(g, x, w, y));
      assert.ok(native.convBackwardInput(g, dy, w, dx));
      assert.ok(native.convBackwardFilter(g, x, dy, dw));
      assert.ok(native.batchNormForward(512, 96, 1e-5, y, null, null, bn));
      assert.ok(
        native.batchNormBackward(512, 96, 1e-5, { dy, x: y, ...bn, gamma: null }, bnGrads),
      );
      return [y, dx, dw, ...Object.values(bn), ...Object.values(bnGrads)];
    };
    const first = once();
    const second = once();
    first.forEach((a, i) => assert.deepEqual(a, second[i]));
    assert.match(native.convImplementation("forward", g) ?? "", /\S/);
  },
});

Deno.test({
  name: "initBackend() puts oneDNN under wasm, not with BN_ONEDNN=off, and names a bad library",
  ...options,
  fn: async () => {
    const info = await initBackend({ backend: "wasm" });
    assert.match(info.nativeKernels ?? "", /^oneDNN 2\.\d+\.\d+ \(/);
    assert.match(formatBackend(info), /kernels by oneDNN/);
    assert.notEqual(nativeKernels(), null);
    assert.equal((await initBackend({ backend: "wasm", onednn: false })).nativeKernels, null);
    assert.equal(nativeKernels(), null);
    await assert.rejects(
      initBackend({ backend: "wasm", onednn: "/nonexistent/libdnnl.so.2" }),
      /Cannot use oneDNN: \/nonexistent\/libdnnl\.so\.2 did not load .*apt install libdnnl2/,
    );
    const cpu = await initBackend({ backend: "cpu" });
    assert.equal(cpu.nativeKernels, null);
  },
});
