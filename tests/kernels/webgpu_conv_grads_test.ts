import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {
  planFilterGrad,
  registerWebGpuTrainingKernels,
} from "../../lib/kernels/webgpu_conv_grads.ts";
import { directConvGrads, normals, relError } from "./_helpers.ts";

// Any adapter counts, Mesa's llvmpipe included: the kernels are checked, not timed.
const ignore = (await navigator.gpu?.requestAdapter()) == null;

type Shape4 = [number, number, number, number];

/** One filter-gradient case: input [N, H, W, Ci], filter [KH, KW, Ci, Co], stride, padding. */
interface Case {
  name: string;
  x: Shape4;
  filter: Shape4;
  stride: number;
  pad: "same" | "valid";
}

const CASES: readonly Case[] = [
  {
    name: "5x7 image, 3 -> 5 channels, batch 3, SAME",
    x: [3, 5, 7, 3],
    filter: [3, 3, 3, 5],
    stride: 1,
    pad: "same",
  },
  {
    name: "odd 7x9 input, stride 2, VALID",
    x: [3, 7, 9, 5],
    filter: [3, 3, 5, 3],
    stride: 2,
    pad: "valid",
  },
  {
    name: "odd 9x9 input, stride 2, SAME, vec4 loads",
    x: [2, 9, 9, 8],
    filter: [3, 3, 8, 4],
    stride: 2,
    pad: "same",
  },
  {
    name: "1x1 filter, VALID, 4 -> 12 channels",
    x: [3, 5, 7, 4],
    filter: [1, 1, 4, 12],
    stride: 1,
    pad: "valid",
  },
  // K = 8 * 16 * 16 = 2048: split-K (two partials summed by the second program).
  {
    name: "16x16, batch 8, split-K",
    x: [8, 16, 16, 16],
    filter: [3, 3, 16, 32],
    stride: 1,
    pad: "same",
  },
  // M = 9 * 12 = 108 > 64 and Co = 70 > 64: several output tiles, partial edge tiles.
  {
    name: "several tiles with ragged edges",
    x: [2, 6, 6, 12],
    filter: [3, 3, 12, 70],
    stride: 1,
    pad: "same",
  },
];

function filterGrad(x: tf.Tensor, dy: tf.Tensor, c: Case): tf.Tensor {
  const attrs = {
    strides: [c.stride, c.stride],
    pad: c.pad,
    dataFormat: "NHWC",
    filterShape: c.filter,
  };
  return tf.engine().runKernel(
    "Conv2DBackpropFilter",
    { x, dy },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/** The output shape of the forward convolution of a case. */
function outShape(c: Case): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
  return info.outShape as Shape4;
}

Deno.test("planFilterGrad() splits a long reduction and covers it exactly", () => {
  const vggFirst = planFilterGrad({ m: 27, n: 64, k: 128 * 32 * 32, ci: 3 });
  assert.ok(vggFirst.splits > 1);
  assert.equal(vggFirst.chunk % 16, 0);
  assert.ok(vggFirst.splits * vggFirst.chunk >= vggFirst.k);
  assert.ok((vggFirst.splits - 1) * vggFirst.chunk < vggFirst.k); // no empty chunk
  assert.equal(vggFirst.vecX, false);
  assert.equal(vggFirst.vecDy, true);
  const short = planFilterGrad({ m: 45, n: 3, k: 60, ci: 5 });
  assert.equal(short.splits, 1);
  assert.equal(short.vecDy, false);
});

Deno.test({
  name: "Conv2DBackpropFilter on webgpu matches a direct loop and the cpu backend on odd shapes",
  ignore,
  async fn(t) {
    registerWebGpuTrainingKernels();
    for (const [i, c] of CASES.entries()) {
      await t.step(c.name, async () => {
        const dyShape = outShape(c);
        const xValues = normals(c.x.reduce((a, b) => a * b), 100 + i);
        const dyValues = normals(dyShape.reduce((a, b) => a * b), 200 + i);
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          await tf.ready();
          const x = tf.tensor(xValues, c.x);
          const dy = tf.tensor(dyValues, dyShape);
          const dw = filterGrad(x, dy, c);
          const values = await dw.data();
          assert.deepEqual(dw.shape, c.filter);
          tf.dispose([x, dy, dw]);
          return values;
        };
        // Oracle: the float64 direct loop in plain TypeScript (the filter is not needed for dW).
        const zeroFilter = new Float32Array(c.filter.reduce((a, b) => a * b));
        const exact = directConvGrads(
          xValues,
          c.x,
          zeroFilter,
          c.filter,
          dyValues,
          c.stride,
          c.pad,
        );
        const actual = await run("webgpu");
        const error = relError(actual, exact.dw);
        // The cpu backend's filter gradient takes seconds beyond ~1e6 multiply-adds: small only.
        if (dyValues.length * c.filter[0] * c.filter[1] * c.filter[2] < 1e5) {
          const cpuError = relError(actual, await run("cpu"));
          assert.ok(cpuError <= 1e-4, `relative error vs cpu ${cpuError}`);
        }
        assert.ok(error <= 1e-4, `relative error ${error}`);
      });
    }
  },
});

Deno.test({
  name: "Conv2DBackpropFilter on webgpu leaks no tensors or GPU buffers",
  ignore,
  async fn() {
    registerWebGpuTrainingKernels();
    await tf.setBackend("webgpu");
    await tf.ready();
    const c = CASES[4]!; // the split-K case: its partials must be freed too
    const x = tf.tensor(normals(8 * 16 * 16 * 16, 1), c.x);
    const dy = tf.tensor(normals(8 * 16 * 16 * 32, 2), outShape(c));
    const once = async () => {
      const dw = filterGrad(x, dy, c);
      await dw.data(); // flushes the queue, so deferred disposals complete
      dw.dispose();
    };
    await once();
    const tensors = tf.memory().numTensors;
    const bytes = (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU;
    await once();
    await once();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal((tf.memory() as { numBytesInGPU?: number }).numBytesInGPU, bytes);
    tf.dispose([x, dy]);
  },
});

Deno.test({
  name: "Conv2DBackpropFilter on webgpu refuses unsupported strides with a RangeError",
  ignore,
  async fn() {
    registerWebGpuTrainingKernels();
    await tf.setBackend("webgpu");
    await tf.ready();
    const x = tf.zeros([1, 7, 7, 2]);
    const dy = tf.zeros([1, 3, 3, 2]);
    const c: Case = { name: "", x: [1, 7, 7, 2], filter: [3, 3, 2, 2], stride: 3, pad: "same" };
    assert.throws(
      () => filterGrad(x, dy, c),
      (e: Error) => e instanceof RangeError && /strides must be 1 or 2, got 3,3/.test(e.message),
    );
    tf.dispose([x, dy]);
  },
});
