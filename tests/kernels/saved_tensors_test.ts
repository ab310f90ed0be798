import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { sharedView, shareSavedTensors } from "../../lib/kernels/saved_tensors.ts";
import { memorySnapshot, profiledVggGradients } from "./_helpers.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

/** Loss gradients of a small VGG with BatchNorm (saved inputs, outputs and customGrad saves). */
async function vggGradients(): Promise<{ grads: Float32Array[]; identityCalls: number }> {
  const { grads, kernels } = await profiledVggGradients("batchnorm", 1 / 32);
  return { grads, identityCalls: kernels.filter((k) => k === "Identity").length };
}

// Measured before sharing (tests in a file run in order, each file in its own isolate).
const stock = await vggGradients();
shareSavedTensors();
shareSavedTensors(); // idempotent

Deno.test("saved tensors shared by reference give the same gradients bitwise, without Identity calls", async () => {
  assert.ok(stock.identityCalls > 10, `stock clones: ${stock.identityCalls} Identity calls`);
  const before = memorySnapshot();
  const shared = await vggGradients();
  assert.deepEqual(memorySnapshot(), before, "no tensor or buffer left behind");
  // The one left is not a save: tfjs's own gradient of Cast clones dy.
  assert.ok(shared.identityCalls <= 1, `${shared.identityCalls} Identity calls`);
  assert.equal(shared.grads.length, stock.grads.length);
  shared.grads.forEach((g, k) => assert.deepEqual(g, stock.grads[k], `tensor ${k}`));
});

Deno.test("sharedView() keeps the data alive after the original is disposed, and differentiates", async () => {
  const a = tf.tensor2d([[1, 2], [3, 4]]);
  const before = memorySnapshot();
  const v = sharedView(a, [4])!;
  a.dispose();
  assert.deepEqual(Array.from(await v.data()), [1, 2, 3, 4]);
  v.dispose();
  assert.equal(memorySnapshot().tensors, before.tensors - 1);
  assert.equal(memorySnapshot().buffers, before.buffers - 1);

  const w = tf.tensor2d([[1, -1], [2, 0.5]]);
  const c = tf.tensor1d([10, 20, 30, 40]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(sharedView(t, [4])!, c)))(w);
  assert.deepEqual(g.shape, [2, 2]);
  assert.deepEqual(Array.from(await g.data()), [10, 20, 30, 40]);
  tf.dispose([w, c, g]);
});

Deno.test("sharedView() refuses a shape of another size", () => {
  const a = tf.zeros([2, 3]);
  assert.throws(() => sharedView(a, [5]), RangeError);
  a.dispose();
});
