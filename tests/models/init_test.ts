import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { fans, glorotUniformValues, initParams, initStream } from "../../lib/models/init.ts";
import { Random, STREAMS } from "../../lib/rng.ts";
import { disposeParams } from "./_reference.ts";

await tf.setBackend("cpu");
await tf.ready();

Deno.test("fans() counts the receptive field for conv kernels", () => {
  assert.deepEqual(fans([3, 3, 16, 32]), [144, 288]);
  assert.deepEqual(fans([10, 20]), [10, 20]);
  assert.throws(() => fans([3, 3, 3]), TypeError);
});

Deno.test("glorotUniformValues() has the Glorot-uniform range and moments", () => {
  const shape = [3, 3, 64, 64];
  const values = glorotUniformValues(shape, 7, 2);
  const limit = Math.sqrt(6 / (9 * 64 + 9 * 64));
  let mean = 0, m2 = 0, lo = Infinity, hi = -Infinity;
  for (const v of values) {
    mean += v;
    m2 += v * v;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  mean /= values.length;
  const variance = m2 / values.length - mean * mean;
  assert.equal(values.length, 36864);
  assert.ok(lo >= -limit && hi < limit);
  // Nearly reaches both ends; variance l^2 / 3 = 2 / (fanIn + fanOut).
  assert.ok(lo < -0.99 * limit && hi > 0.99 * limit);
  assert.ok(Math.abs(mean) < 0.02 * limit, `mean ${mean}`);
  assert.ok(Math.abs(variance / (2 / 1152) - 1) < 0.03, `variance ${variance}`);
});

Deno.test("initParams() draws layer i from its own stream", async () => {
  assert.equal(initStream(1), STREAMS.init + 1000);
  const layers = [
    { kernelShape: [3, 4], bias: true, affine: true },
    { kernelShape: [4, 2], bias: false, affine: false },
  ];
  const params = initParams(layers, 9);
  // Layer 2 equals a direct draw from Random(seed, STREAMS.init + 2000).
  const limit = Math.sqrt(6 / 6);
  const direct = new Random(9, STREAMS.init + 2000).fillUniform(new Float32Array(8), -limit, limit);
  assert.deepEqual(await params[1]!.kernel.data(), direct);
  assert.deepEqual(Array.from(await params[0]!.bias!.data()), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(await params[0]!.gamma!.data()), [1, 1, 1, 1]);
  assert.deepEqual(Array.from(await params[0]!.beta!.data()), [0, 0, 0, 0]);
  assert.equal(params[1]!.bias, undefined);
  assert.equal(params[1]!.gamma, undefined);
  // Another first layer leaves layer 2 unchanged; another seed changes it.
  const wider = initParams([{ kernelShape: [7, 4], bias: true, affine: false }, layers[1]!], 9);
  assert.deepEqual(await wider[1]!.kernel.data(), await params[1]!.kernel.data());
  const reseeded = initParams(layers, 10);
  assert.notDeepEqual(await reseeded[1]!.kernel.data(), await params[1]!.kernel.data());
  [params, wider, reseeded].forEach(disposeParams);
});
