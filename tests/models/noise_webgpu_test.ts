/**
 * The WGSL Philox program against the host computation, on the webgpu backend (here Mesa's
 * llvmpipe software adapter; skipped where there is no adapter).
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "node:assert/strict";
import { algorithm1Noise, philoxUniformField, philoxUniformHost } from "../../lib/models/noise.ts";
import { philox4x32, STREAMS, wordToUniform } from "../../lib/rng.ts";

const ignore = (await navigator.gpu?.requestAdapter()) == null;

async function useWebGpu(): Promise<void> {
  assert.ok(await tf.setBackend("webgpu"), "the webgpu backend did not start");
  await tf.ready();
}

Deno.test({
  name: "philoxUniformField() on webgpu equals the host computation bitwise",
  ignore,
  // The backend keeps its device (and pipeline cache) for the whole process.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await useWebGpu();
    const cases: [number[], number, [number, number, number]][] = [
      [[3, 5, 7], 12345, [0, 1, 2]],
      [[3, 5, 7], 12345, [0, 1, 3]],
      [[1], 0, [0, 0, 0]],
      [[2, 3], 0xffffffff, [0xffffffff, 0x80000000, 7]],
      [[5, 1, 13, 3], 99, [15000, 8, 3]],
    ];
    for (const [shape, seed, counter] of cases) {
      await t.step(`shape [${shape}], seed ${seed}, counter [${counter}]`, async () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const key = { seed, stream: STREAMS.noise };
        const field = philoxUniformField(shape, key, counter);
        assert.deepEqual(field.shape, shape);
        assert.deepEqual(await field.data(), philoxUniformHost(size, key, counter));
        field.dispose();
      });
    }
    await t.step("past 65535 workgroups (the backend folds the dispatch to 2-D)", async () => {
      // 64 threads x 4 elements per workgroup: this size needs 65537 workgroups.
      const size = 64 * 4 * 65536 + 13;
      const key = { seed: 5, stream: STREAMS.noise };
      const field = philoxUniformField([size], key, [1, 2, 3]);
      const data = await field.data();
      field.dispose();
      const block = new Uint32Array(4);
      const checked = [0, 1, 2, 3, 4, 12345, 64 * 4 * 65535, 64 * 4 * 65535 + 255, size - 13];
      for (let e = size - 13; e < size; e++) checked.push(e);
      for (const e of checked) {
        philox4x32([Math.floor(e / 4), 1, 2, 3], [5, STREAMS.noise], block);
        assert.equal(data[e], wordToUniform(block[e % 4]!), `element ${e}`);
      }
    });
    await t.step("algorithm1Noise() agrees with the cpu backend", async () => {
      const shape = [4, 3, 3, 5];
      const gpu = algorithm1Noise(shape, { seed: 3, step: 9 }, 2);
      const gpuData = [await gpu.scale.data(), await gpu.shift.data()];
      tf.dispose([gpu.scale, gpu.shift]);
      await tf.setBackend("cpu");
      const cpu = algorithm1Noise(shape, { seed: 3, step: 9 }, 2);
      const cpuData = [await cpu.scale.data(), await cpu.shift.data()];
      tf.dispose([cpu.scale, cpu.shift]);
      for (let k = 0; k < 2; k++) {
        for (let i = 0; i < cpuData[k]!.length; i++) {
          // Box-Muller's log and cos may round differently on the two backends.
          assert.ok(Math.abs(gpuData[k]![i]! - cpuData[k]![i]!) < 1e-5, `field ${k}, ${i}`);
        }
      }
      await useWebGpu();
    });
    await t.step("leaves no tensors behind", () => {
      philoxUniformField([100], { seed: 1, stream: 3 }, [0, 1, 2]).dispose();
      const before = tf.memory();
      philoxUniformField([100], { seed: 1, stream: 3 }, [0, 1, 3]).dispose();
      assert.equal(tf.memory().numTensors, before.numTensors);
      // The program's output buffer is released too, not only the tensor wrapping it.
      assert.equal(tf.memory().numDataBuffers, before.numDataBuffers);
    });
    tf.removeBackend("webgpu");
  },
});
