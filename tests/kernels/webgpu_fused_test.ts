import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { registerTrainingKernels } from "../../lib/kernels/register.ts";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
} from "../../lib/kernels/wasm_batchnorm.ts";
import { updateRunningMoments } from "../../lib/kernels/wasm_moments.ts";
import { WEBGPU_FUSED_KERNELS } from "../../lib/kernels/webgpu_fused.ts";
import { flatWorkgroups } from "../../lib/kernels/webgpu_dispatch.ts";
import { biasRelu } from "../../lib/models/bias_relu.ts";
import { batchAccuracy } from "../../lib/models/fused_loss.ts";
import { softmaxCrossEntropy } from "../../lib/models/_stack.ts";
import type { Normalization } from "../../lib/models/types.ts";
import { flattenParams, sgdStep } from "../../lib/params.ts";
import { countGpuTraffic } from "../../scripts/bench/gpu_counters.ts";
import {
  batchNormReference,
  memorySnapshot,
  normals,
  profiledVggGradients,
  relError,
} from "./_helpers.ts";

// Any adapter counts, Mesa's llvmpipe included: the kernels are checked, not timed.
const ignore = (await navigator.gpu?.requestAdapter()) == null;
registerTrainingKernels();
tf.enableProdMode();

type Backend = "cpu" | "webgpu";

/** Runs `fn` on a backend and reads every returned tensor back (then disposes them). */
async function on(backend: Backend, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  await tf.ready();
  const before = memorySnapshot();
  const out = fn();
  const values = await Promise.all(out.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(out);
  assert.deepEqual(memorySnapshot(), before, `no tensor left behind on ${backend}`);
  return values;
}

/** Worst relative error of webgpu against cpu over every output of `fn`. */
async function webgpuVsCpu(fn: () => tf.Tensor[]): Promise<number[]> {
  const cpu = await on("cpu", fn);
  const gpu = await on("webgpu", fn);
  assert.equal(gpu.length, cpu.length);
  return gpu.map((g, k) => relError(g, cpu[k]!));
}

const SHAPES: number[][] = [[5, 3], [2, 3, 5, 7], [3, 4, 4, 16], [200, 20], [2, 8, 8, 33]];
const TOLERANCE = 1e-5;

const tensor = (shape: number[], seed: number) =>
  tf.tensor(normals(shape.reduce((a, b) => a * b, 1), seed), shape);

Deno.test({
  name: "flatWorkgroups() covers a count in at most 65,535 per dimension",
  fn() {
    assert.deepEqual(flatWorkgroups(0), [1, 1, 1]);
    assert.deepEqual(flatWorkgroups(300), [300, 1, 1]);
    const [x, y] = flatWorkgroups(200_000);
    assert.ok(x <= 65535 && x * y >= 200_000 && x * (y - 1) < 200_000);
  },
});

Deno.test({
  name: "BiasRelu, BiasReluGrad and ReluGrad on webgpu match the cpu backend's stock ops",
  ignore,
  async fn() {
    for (const [k, shape] of SHAPES.entries()) {
      const c = shape.at(-1)!;
      const errors = await webgpuVsCpu(() => {
        const x = tensor(shape, k), b = tensor([c], k + 1), dy = tensor(shape, k + 2);
        const out = tf.tidy(() => {
          const [dx, db] = tf.grads((a: tf.Tensor, bias: tf.Tensor) => biasRelu(a, bias))(
            [x, b],
            dy,
          );
          const dRelu = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
          return [biasRelu(x, b), dx!, db!, dRelu];
        });
        tf.dispose([x, b, dy]);
        return out;
      });
      errors.forEach((e, i) => assert.ok(e <= TOLERANCE, `shape ${shape}, output ${i}: ${e}`));
    }
  },
});

Deno.test({
  name: "BatchNorm's fused kernels on webgpu match the float64 closed form",
  ignore,
  async fn() {
    await tf.setBackend("webgpu");
    for (const [k, shape] of SHAPES.entries()) {
      const c = shape.at(-1)!;
      const size = shape.reduce((a, b) => a * b, 1);
      // An offset mean and a spread scale, as activations have.
      const xv = normals(size, k).map((v, i) => 3 + v * (1 + (i % c)));
      const dyv = normals(size, k + 1), gv = normals(c, k + 2), bv = normals(c, k + 3);
      const ref = batchNormReference(xv, dyv, gv, bv, c, 1e-5);
      const x = tf.tensor(xv, shape), dy = tf.tensor(dyv, shape);
      const gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv);
      const attrs = { epsilon: 1e-5 } as unknown as tf.NamedAttrMap;
      const [y, mean, variance] = tf.engine().runKernel(
        BATCH_NORM_TRAINING_FORWARD,
        { x, gamma, beta },
        attrs,
      ) as tf.Tensor[];
      const [dx, dGamma, dBeta] = tf.engine().runKernel(
        BATCH_NORM_TRAINING_BACKWARD,
        { dy, x, mean: mean!, variance: variance!, gamma },
        attrs,
      ) as tf.Tensor[];
      const outputs = { y, mean, variance, dx, dGamma, dBeta };
      for (const [name, t] of Object.entries(outputs)) {
        const e = relError(await t!.data(), ref[name as keyof typeof ref]);
        assert.ok(e <= 1e-4, `shape ${shape}, ${name}: ${e}`);
      }
      assert.deepEqual(mean!.shape, [...shape.slice(0, -1).map(() => 1), c]);
      tf.dispose([x, dy, gamma, beta, ...Object.values(outputs) as tf.Tensor[]]);
    }
  },
});

Deno.test({
  name:
    "SgdUpdate and RunningMomentsUpdate on webgpu match the cpu backend, two tensors a dispatch",
  ignore,
  async fn() {
    const shapes = [[3, 3, 3, 8], [8], [70, 5], [1], [300]]; // odd count: a single pair at the end
    const errors = await webgpuVsCpu(() => {
      const w = shapes.map((s, k) => tensor(s, k));
      const g = shapes.map((s, k) => tensor(s, 10 + k));
      const params = w.map((kernel) => ({ kernel }));
      const grads = g.map((kernel) => ({ kernel }));
      const stepped = flattenParams(sgdStep(params, grads, 0.37)).tensors;
      const moments = updateRunningMoments(w, g, 0.1);
      tf.dispose([...w, ...g]);
      return [...stepped, ...moments];
    });
    errors.forEach((e, i) => assert.ok(e <= TOLERANCE, `output ${i}: ${e}`));
    const w = shapes.map((s, k) => tensor(s, k));
    const traffic = countGpuTraffic();
    const out =
      flattenParams(sgdStep(w.map((kernel) => ({ kernel })), w.map((kernel) => ({ kernel })), 1))
        .tensors;
    await out[0]!.data();
    assert.equal(traffic.stop().dispatches, 3, "five tensors in three dispatches");
    tf.dispose([...w, ...out]);
  },
});

Deno.test({
  name: "the fused loss, its gradient and the batch accuracy on webgpu match the stock ops on cpu",
  ignore,
  async fn() {
    for (const [n, k] of [[1, 2], [7, 10], [300, 10], [33, 5]] as const) {
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % k);
      const logitValues = normals(n * k, n).map((v) => 3 * v);
      logitValues.set([2, 2], 0); // a tie: the first maximum counts
      const errors = await webgpuVsCpu(() => {
        const logits = tf.tensor2d(logitValues, [n, k]);
        const y = tf.tensor1d(labels, "int32");
        const out = tf.tidy(() => {
          const { value, grad } = tf.valueAndGrad((l: tf.Tensor) =>
            softmaxCrossEntropy(l as tf.Tensor2D, y)
          )(logits, tf.scalar(1.5));
          return [value, grad, batchAccuracy(logits, y)];
        });
        tf.dispose([logits, y]);
        return out;
      });
      errors.forEach((e, i) => assert.ok(e <= TOLERANCE, `[${n}, ${k}], output ${i}: ${e}`));
    }
  },
});

/** A VGG's loss gradients on a backend, and the kernels they ran. */
async function vggStep(backend: Backend, normalization: Normalization) {
  await tf.setBackend(backend);
  const { grads, kernels } = await profiledVggGradients(normalization, 1 / 16);
  return { grads, kernels: new Set(kernels) };
}

for (const normalization of ["none", "batchnorm"] as const) {
  Deno.test({
    name:
      `a VGG (${normalization}) gets the cpu backend's gradients on webgpu through the fused kernels`,
    ignore,
    async fn() {
      const cpu = await vggStep("cpu", normalization);
      const gpu = await vggStep("webgpu", normalization);
      const joint = (gs: Float32Array[]) => Float32Array.from(gs.flatMap((g) => Array.from(g)));
      const e = relError(joint(gpu.grads), joint(cpu.grads));
      assert.ok(e <= 1e-4, `relative error ${e}`);
      const expected = normalization === "none"
        ? ["BiasRelu", "BiasReluGrad", "SoftmaxCrossEntropy", "SoftmaxCrossEntropyGrad"]
        : [BATCH_NORM_TRAINING_FORWARD, BATCH_NORM_TRAINING_BACKWARD, "ReluGrad"];
      for (const name of expected) assert.ok(gpu.kernels.has(name), `${name} runs`);
      for (const name of ["Step", "LogSoftmax", "Rsqrt"]) assert.ok(!gpu.kernels.has(name), name);
      assert.ok(WEBGPU_FUSED_KERNELS.every((k) => tf.getKernel(k, "webgpu") !== undefined));
    },
  });
}
