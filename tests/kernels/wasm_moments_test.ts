import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  registerWasmMomentsKernel,
  RUNNING_MOMENTS_UPDATE,
  updateRunningMoments,
} from "../../lib/kernels/wasm_moments.ts";
import { memorySnapshot, normals } from "./_helpers.ts";

registerWasmMomentsKernel();
registerWasmMomentsKernel(); // idempotent
tf.enableProdMode();

/** Running and batch statistics of odd sizes, over many orders of magnitude. */
function statistics(seed: number): { running: tf.Tensor[]; batch: tf.Tensor[] } {
  const sizes = [1, 3, 8, 17, 64, 129];
  const scaled = (n: number, s: number) =>
    normals(n, s).map((v, j) => j % 5 === 0 ? v * 1e-20 : j % 5 === 1 ? v * 1e20 : v);
  return {
    running: sizes.map((n, k) => tf.tensor1d(scaled(n, seed + k))),
    batch: sizes.map((n, k) => tf.tensor1d(scaled(n, seed + 100 + k))),
  };
}

const read = (ts: tf.Tensor[]) =>
  Promise.all(ts.map(async (t) => Float32Array.from(await t.data())));

for (const backend of ["wasm", "cpu"]) {
  Deno.test(`updateRunningMoments() on ${backend} is bitwise (1 - m) r + m c as stock ops`, async () => {
    await tf.setBackend(backend);
    for (const momentum of [0, 0.1, 0.3, 0.999, 1]) {
      const { running, batch } = statistics(7);
      const before = memorySnapshot();
      const fused = updateRunningMoments(running, batch, momentum);
      const stock = tf.tidy(() =>
        running.map((r, k) => tf.add(tf.mul(1 - momentum, r), tf.mul(momentum, batch[k]!)))
      );
      const [a, b] = [await read(fused), await read(stock)];
      a.forEach((v, k) => assert.deepEqual(v, b[k], `momentum ${momentum}, tensor ${k}`));
      tf.dispose([...fused, ...stock]);
      assert.deepEqual(memorySnapshot(), before);
      tf.dispose([...running, ...batch]);
    }
  });
}

Deno.test("updateRunningMoments() on wasm is one kernel call for every statistic", async () => {
  await tf.setBackend("wasm");
  const { running, batch } = statistics(3);
  let out: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    out = updateRunningMoments(running, batch, 0.1);
  });
  assert.deepEqual(info.kernels.map((k) => k.name), [RUNNING_MOMENTS_UPDATE]);
  assert.equal(out.length, running.length);
  tf.dispose([...out, ...running, ...batch]);
});

Deno.test("updateRunningMoments() refuses mismatched statistics", async () => {
  await tf.setBackend("wasm");
  const r = [tf.zeros([3])];
  assert.throws(() => updateRunningMoments(r, [], 0.1), TypeError);
  assert.throws(() => updateRunningMoments(r, [tf.zeros([4])], 0.1), TypeError);
  tf.dispose(r);
});
