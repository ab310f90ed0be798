import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  registerWasmSgdKernel,
  SGD_UPDATE,
  sgdUpdateAvailable,
} from "../../lib/kernels/wasm_sgd.ts";
import { sgdStep } from "../../lib/params.ts";
import type { Params } from "../../lib/models/types.ts";
import { memorySnapshot, normals } from "./_helpers.ts";

registerWasmSgdKernel();
tf.enableProdMode();

/** Parameters of odd sizes (SIMD body plus every tail length) and matching gradients. */
function params(seed: number): Params {
  const shapes = [[1], [3], [5], [2, 3, 3], [17, 9], [3, 3, 4, 6]];
  return shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = normals(size, seed + i).map((v, j) => j % 7 === 0 ? v * 1e-30 : v * 1e3);
    return { kernel: tf.tensor(values, shape), bias: tf.tensor1d(normals(shape.at(-1)!, 50 + i)) };
  });
}

async function values(p: Params): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const layer of p) {
    out.push(
      (await layer.kernel.data()) as Float32Array,
      (await layer.bias!.data()) as Float32Array,
    );
  }
  return out;
}

const dispose = (p: Params) => tf.dispose(p.flatMap((l) => [l.kernel, l.bias!]));

/** W - lr * g as stock ops on the current backend. */
function stock(w: Params, g: Params, lr: number): Params {
  return w.map((layer, i) => ({
    kernel: tf.tidy(() => tf.sub(layer.kernel, tf.mul(g[i]!.kernel, lr))),
    bias: tf.tidy(() => tf.sub(layer.bias!, tf.mul(g[i]!.bias!, lr))),
  }));
}

Deno.test("SgdUpdate on wasm equals W - lr * g of the stock ops and of the cpu backend, bitwise", async () => {
  for (const lr of [0.1, 1e-3, 3.7, 0.5]) {
    await tf.setBackend("cpu");
    const [wc, gc] = [params(1), params(20)];
    const cpu = await values(stock(wc, gc, lr));
    dispose(wc), dispose(gc);
    await tf.setBackend("wasm");
    assert.ok(sgdUpdateAvailable());
    const [w, g] = [params(1), params(20)];
    const before = memorySnapshot();
    const fused = sgdStep(w, g, lr);
    assert.equal(memorySnapshot().tensors, before.tensors + 12, "12 new tensors, nothing else");
    const reference = stock(w, g, lr);
    const [a, b] = [await values(fused), await values(reference)];
    a.forEach((v, k) => {
      assert.deepEqual(v, b[k], `lr ${lr}, tensor ${k}: fused vs stock wasm`);
      assert.deepEqual(v, cpu[k], `lr ${lr}, tensor ${k}: fused vs cpu`);
    });
    [w, g, fused, reference].forEach(dispose);
  }
});

Deno.test("sgdStep() on wasm is one SgdUpdate kernel call for all tensors", async () => {
  await tf.setBackend("wasm");
  const [w, g] = [params(3), params(4)];
  let updated: Params | undefined;
  const info = await tf.profile(() => {
    updated = sgdStep(w, g, 0.1);
  });
  assert.deepEqual(info.kernels.map((k) => k.name), [SGD_UPDATE]);
  [w, g, updated!].forEach(dispose);
});

Deno.test("SgdUpdate refuses weights and gradients of different shapes", async () => {
  await tf.setBackend("wasm");
  const w = tf.zeros([3]);
  const g = tf.zeros([4]);
  assert.throws(
    () => tf.engine().runKernel(SGD_UPDATE, { w0: w, g0: g }, { learningRate: 0.1 }),
    /w0 and g0 must be float32 tensors of one shape, got \[3\] float32 and \[4\] float32/,
  );
  tf.dispose([w, g]);
});
