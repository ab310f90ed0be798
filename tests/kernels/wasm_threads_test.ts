import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { enableWasmThreads } from "../../lib/kernels/wasm_threads.ts";
import { registerTrainingKernels } from "../../lib/kernels/register.ts";
import { normals, wasmVsCpu } from "./_helpers.ts";

tf.enableProdMode();
registerTrainingKernels();

// The pthread workers live as long as the backend (unref'd, so they do not hold the process).
const workerTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test("enableWasmThreads() rejects thread counts outside 1..8", async () => {
  for (const n of [0, 9, 1.5, NaN]) {
    await assert.rejects(enableWasmThreads(n), RangeError);
  }
});

Deno.test({
  name: "enableWasmThreads(2) starts the threaded binary, restores Worker, and matches cpu",
  ...workerTest,
  fn: async () => {
    const worker = globalThis.Worker;
    assert.equal(await enableWasmThreads(2), 2);
    assert.equal(tf.getBackend(), "wasm");
    assert.equal(globalThis.Worker, worker);
    // A conv layer's forward and both gradients, large enough for XNNPACK to split the work.
    const err = await wasmVsCpu(() => {
      const x = tf.tensor4d(normals(4 * 9 * 11 * 8, 1), [4, 9, 11, 8]);
      const w = tf.tensor4d(normals(3 * 3 * 8 * 16, 2), [3, 3, 8, 16]);
      const dy = tf.tensor4d(normals(4 * 9 * 11 * 16, 3), [4, 9, 11, 16]);
      const y = tf.conv2d(x, w, 1, "same");
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"), dy))
      )([x, w]);
      tf.dispose([x, w, dy]);
      return [y, ...grads];
    });
    assert.ok(err <= 1e-4, `relative error ${err}`);
  },
});

Deno.test({
  name: "enableWasmThreads() refuses an already initialised wasm backend",
  ...workerTest,
  fn: async () => {
    await assert.rejects(enableWasmThreads(2), /already initialised/);
  },
});
