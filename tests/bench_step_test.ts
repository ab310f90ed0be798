import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { spread } from "../scripts/bench/step.ts";
import { countGpuTraffic } from "../scripts/bench/gpu_counters.ts";

Deno.test("spread() gives the median and range of odd and even counts, and refuses none", () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assert.deepEqual(spread([4, 1, 3, 10]), { median: 3.5, min: 1, max: 10 });
  assert.deepEqual(spread([7]), { median: 7, min: 7, max: 7 });
  assert.throws(() => spread([]), /no measurements/);
});

// Any adapter counts, Mesa's llvmpipe included: the counting is checked, not the speed.
const ignore = (await navigator.gpu?.requestAdapter()) == null;

Deno.test({
  name: "countGpuTraffic() counts a webgpu op's dispatch, its uploads and its read-back",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.ok(await tf.setBackend("webgpu"));
    const n = 4096;
    const before = GPUComputePassEncoder.prototype.dispatchWorkgroups;
    const traffic = countGpuTraffic();
    const a = tf.tensor1d(new Float32Array(n).fill(1));
    const b = tf.tensor1d(new Float32Array(n).fill(2));
    const c = tf.add(a, b);
    const values = await c.data();
    const counts = traffic.stop();
    tf.dispose([a, b, c]);
    assert.equal(values[n - 1], 3);
    assert.ok(counts.dispatches >= 1, `dispatches ${counts.dispatches}`);
    assert.ok(counts.uploadBytes >= 2 * 4 * n, `uploads ${counts.uploadBytes} B`);
    assert.ok(counts.downloadBytes >= 4 * n, `downloads ${counts.downloadBytes} B`);
    // stop() puts the prototypes back.
    assert.equal(GPUComputePassEncoder.prototype.dispatchWorkgroups, before);
  },
});
