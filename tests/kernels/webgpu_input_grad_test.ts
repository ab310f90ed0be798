import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {
  planInputGrad,
  registerWebGpuTrainingKernels,
} from "../../lib/kernels/webgpu_conv_grads.ts";
import { directConvGrads, normals, relError } from "./_helpers.ts";

// Any adapter counts, Mesa's llvmpipe included: the kernel is checked, not timed.
const ignore = (await navigator.gpu?.requestAdapter()) == null;

type Shape4 = [number, number, number, number];

/** One input-gradient case: input [N, H, W, Ci], filter [KH, KW, Ci, Co], stride, padding. */
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
    name: "5x7 image, 5 -> 3 channels, batch 3, VALID",
    x: [3, 5, 7, 5],
    filter: [3, 3, 5, 3],
    stride: 1,
    pad: "valid",
  },
  {
    name: "odd 7x9 input, stride 2, VALID",
    x: [3, 7, 9, 5],
    filter: [3, 3, 5, 3],
    stride: 2,
    pad: "valid",
  },
  {
    name: "odd 5x7 input, stride 2, SAME, vec4 loads",
    x: [3, 5, 7, 3],
    filter: [3, 3, 3, 8],
    stride: 2,
    pad: "same",
  },
  // Even padding offsets: the classes' first taps differ from the odd-size case above.
  {
    name: "even 8x6 input, 5x5 filter, stride 2, SAME",
    x: [2, 8, 6, 5],
    filter: [5, 5, 5, 4],
    stride: 2,
    pad: "same",
  },
  // Classes with odd (row, column) parity use no tap at all: their dx must be written as 0.
  {
    name: "1x1 filter, stride 2, VALID (pixels no tap reaches)",
    x: [3, 5, 7, 4],
    filter: [1, 1, 4, 12],
    stride: 2,
    pad: "valid",
  },
  // Ci = 70 > 64 and M = 2 * 6 * 6 = 72 > 64: several output tiles, partial edge tiles.
  {
    name: "several tiles with ragged edges",
    x: [2, 6, 6, 70],
    filter: [3, 3, 70, 12],
    stride: 1,
    pad: "same",
  },
  // Ci = 24: the 128x32 tile; M = 4 * 8 * 8 = 256, two row tiles.
  {
    name: "128x32 tiles, 8x8, batch 4",
    x: [4, 8, 8, 24],
    filter: [3, 3, 24, 16],
    stride: 1,
    pad: "same",
  },
  // K = 9 * 256 = 2304 over 1 tile: split-K (two partials summed by the second program).
  {
    name: "2x2 image, 256 output channels, split-K",
    x: [1, 2, 2, 8],
    filter: [3, 3, 8, 256],
    stride: 1,
    pad: "same",
  },
];

function inputGrad(dy: tf.Tensor, filter: tf.Tensor, c: Case): tf.Tensor {
  const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: "NHWC", inputShape: c.x };
  return tf.engine().runKernel(
    "Conv2DBackpropInput",
    { dy, filter },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
}

/** The output shape of the forward convolution of a case. */
function outShape(c: Case): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, c.pad);
  return info.outShape as Shape4;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The conv sizes planInputGrad reads, for a case. */
function planShape(c: Case) {
  const [batchSize, inHeight, inWidth, inChannels] = c.x;
  const [filterHeight, filterWidth, , outChannels] = c.filter;
  return {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outChannels,
    filterHeight,
    filterWidth,
    strideHeight: c.stride,
    strideWidth: c.stride,
  };
}

Deno.test("planInputGrad() sizes stride classes, tiles and split-K from the conv shape", () => {
  // 5x7 at stride 2: 3 x 4 pixels in the largest class, 2 x 2 taps of 3x3.
  const odd = planInputGrad(planShape(CASES[3]!));
  assert.equal(odd.classes, 4);
  assert.equal(odd.m, 3 * 3 * 4);
  assert.equal(odd.k, 2 * 2 * 8);
  assert.deepEqual(odd.strides, [2, 2]);
  assert.equal(odd.vec, true);
  assert.equal(odd.splits, 1);
  assert.deepEqual([odd.tileM, odd.tileN], [128, 16]);
  const ragged = planInputGrad(planShape(CASES[6]!));
  assert.deepEqual([ragged.classes, ragged.tileM, ragged.tileN, ragged.k], [1, 64, 64, 9 * 12]);
  const split = planInputGrad(planShape(CASES[8]!));
  assert.equal(split.taps, 9);
  assert.equal(split.splits, 2);
  assert.ok(split.splits * split.tapsPerSplit >= split.taps);
  assert.ok((split.splits - 1) * split.tapsPerSplit < split.taps); // no empty chunk
  assert.equal(planInputGrad(planShape(CASES[0]!)).vec, false);
});

Deno.test({
  name: "Conv2DBackpropInput on webgpu matches a direct loop and the cpu backend on odd shapes",
  ignore,
  async fn(t) {
    registerWebGpuTrainingKernels();
    for (const [i, c] of CASES.entries()) {
      await t.step(c.name, async () => {
        const dyShape = outShape(c);
        const filterValues = normals(size(c.filter), 300 + i);
        const dyValues = normals(size(dyShape), 400 + i);
        const run = async (backend: string) => {
          await tf.setBackend(backend);
          await tf.ready();
          const filter = tf.tensor(filterValues, c.filter);
          const dy = tf.tensor(dyValues, dyShape);
          const dx = inputGrad(dy, filter, c);
          const values = await dx.data();
          assert.deepEqual(dx.shape, c.x);
          tf.dispose([filter, dy, dx]);
          return values;
        };
        // Oracle: the float64 direct loop in plain TypeScript (x is not needed for dx).
        const exact = directConvGrads(
          new Float32Array(size(c.x)),
          c.x,
          filterValues,
          c.filter,
          dyValues,
          c.stride,
          c.pad,
        );
        const actual = await run("webgpu");
        assert.ok(actual.every(Number.isFinite), "every dx value is finite");
        const error = relError(actual, exact.dx);
        assert.ok(error <= 1e-4, `relative error ${error}`);
        const cpuError = relError(actual, await run("cpu"));
        assert.ok(cpuError <= 1e-4, `relative error vs cpu ${cpuError}`);
      });
    }
  },
});

Deno.test({
  name: "tf.grad of conv2d on webgpu uses the input gradient and matches a direct loop",
  ignore,
  async fn() {
    registerWebGpuTrainingKernels();
    await tf.setBackend("webgpu");
    await tf.ready();
    const c = CASES[2]!; // stride 2, VALID
    const filterValues = normals(size(c.filter), 500);
    const dyValues = normals(size(outShape(c)), 501);
    const filter = tf.tensor4d(filterValues, c.filter);
    const dy = tf.tensor4d(dyValues, outShape(c));
    const x = tf.zeros(c.x) as tf.Tensor4D;
    // The vector-Jacobian product of x -> conv2d(x, w) with dy is dx.
    const conv = (input: tf.Tensor) => tf.conv2d(input as tf.Tensor4D, filter, c.stride, c.pad);
    const dx = tf.grad(conv)(x, dy);
    const exact = directConvGrads(
      new Float32Array(size(c.x)),
      c.x,
      filterValues,
      c.filter,
      dyValues,
      c.stride,
      c.pad,
    );
    const error = relError(await dx.data(), exact.dx);
    tf.dispose([filter, dy, x, dx]);
    assert.ok(error <= 1e-4, `relative error ${error}`);
  },
});

Deno.test({
  name: "Conv2DBackpropInput on webgpu leaks no tensors or GPU buffers",
  ignore,
  async fn() {
    registerWebGpuTrainingKernels();
    await tf.setBackend("webgpu");
    await tf.ready();
    for (const c of [CASES[3]!, CASES[8]!]) { // stride classes; split-K, whose partials must go
      const filter = tf.tensor(normals(size(c.filter), 1), c.filter);
      const dy = tf.tensor(normals(size(outShape(c)), 2), outShape(c));
      const once = async () => {
        const dx = inputGrad(dy, filter, c);
        await dx.data(); // flushes the queue, so deferred disposals complete
        dx.dispose();
      };
      await once();
      const tensors = tf.memory().numTensors;
      const bytes = (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU;
      await once();
      await once();
      assert.equal(tf.memory().numTensors, tensors);
      assert.equal((tf.memory() as { numBytesInGPU?: number }).numBytesInGPU, bytes);
      tf.dispose([filter, dy]);
    }
  },
});

Deno.test({
  name: "Conv2DBackpropInput on webgpu refuses what it does not support with a RangeError",
  ignore,
  async fn(t) {
    registerWebGpuTrainingKernels();
    await tf.setBackend("webgpu");
    await tf.ready();
    const filter = tf.zeros([3, 3, 2, 2]);
    const dy = tf.zeros([1, 3, 3, 2]);
    const refuse = (attrs: Record<string, unknown>, pattern: RegExp) =>
      assert.throws(
        () =>
          tf.engine().runKernel(
            "Conv2DBackpropInput",
            { dy, filter },
            { dataFormat: "NHWC", inputShape: [1, 7, 7, 2], ...attrs } as tf.NamedAttrMap,
          ),
        (e: Error) => e instanceof RangeError && pattern.test(e.message),
      );
    await t.step("stride 3", () => {
      refuse({ strides: [3, 3], pad: "same" }, /strides must be 1 or 2, got 3,3/);
    });
    await t.step("explicit padding", () => {
      refuse(
        { strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
        /pad must be "same" or "valid"/,
      );
    });
    await t.step("dilation 2", () => {
      refuse({ strides: [2, 2], pad: "same", dilations: [2, 2] }, /dilation must be 1, got 2,2/);
    });
    await t.step("NCHW", () => {
      refuse(
        { strides: [2, 2], pad: "same", dataFormat: "NCHW" },
        /only the NHWC data format is supported, got NCHW/,
      );
    });
    tf.dispose([filter, dy]);
  },
});
