import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { registerTrainingKernels } from "../../lib/kernels/register.ts";
import {
  BIAS_RELU,
  BIAS_RELU_GRAD,
  registerWasmReluKernels,
  RELU_GRAD,
} from "../../lib/kernels/wasm_relu.ts";
import { reluSimd } from "../../lib/kernels/wasm_relu_simd.ts";
import { heapMemory, type WasmModuleBackend } from "../../lib/kernels/wasm_heap.ts";
import { biasRelu, biasReluFused } from "../../lib/models/bias_relu.ts";
import { memorySnapshot, normals, profiledVggGradients } from "./_helpers.ts";

registerTrainingKernels();
registerWasmReluKernels(); // idempotent
tf.enableProdMode();
await tf.setBackend("wasm");

/** Normal values with the cases that decide bitwise equality mixed in. */
function awkward(n: number, seed: number): Float32Array {
  const v = normals(n, seed);
  const special = [NaN, Infinity, -Infinity, 0, -0, 1e-38, -1e-38, 3e38];
  for (let i = 0; i < n; i += 7) v[i] = special[(i / 7) % special.length]!;
  return v;
}

const bits = async (t: tf.Tensor) => new Uint32Array(Float32Array.from(await t.data()).buffer);

// C a multiple of 4 runs the SIMD loops, other C the JS ones: both must be the stock bits.
const SHAPES: number[][] = [
  [5, 3],
  [2, 3, 5, 7],
  [3, 4, 4, 16],
  [1, 1, 1, 1],
  [9, 33],
  [7, 12],
  [2, 3, 5, 8],
  [200, 20],
  [1, 4],
];

/** x, a bias that cancels some of x exactly, and dy. */
function operands(shape: number[], seed: number) {
  const size = shape.reduce((a, b) => a * b, 1);
  const c = shape[shape.length - 1]!;
  const xv = awkward(size, seed);
  const bv = normals(c, seed + 1);
  for (let i = 3; i < size; i += 11) xv[i] = -bv[i % c]!; // x + b is exactly 0 there
  return {
    x: tf.tensor(xv, shape),
    bias: tf.tensor1d(bv),
    dy: tf.tensor(awkward(size, seed + 2), shape),
  };
}

Deno.test("BiasRelu and BiasReluGrad on wasm are bitwise the stock add, relu and their gradients", async () => {
  for (const [k, shape] of SHAPES.entries()) {
    const { x, bias, dy } = operands(shape, 10 * k);
    const before = memorySnapshot();
    const f = (fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => fn(a, b));
        const [dx, db] = g([x, bias], dy);
        return [fn(x, bias), dx!, db!];
      });
    const fused = f(biasRelu);
    const stock = f((a, b) => tf.relu(tf.add(a, b)));
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await bits(fused[i]!), await bits(stock[i]!), `shape ${shape}, output ${i}`);
    }
    tf.dispose([...fused, ...stock]);
    assert.deepEqual(memorySnapshot(), before, "no tensor left behind");
    tf.dispose([x, bias, dy]);
  }
});

Deno.test("BiasRelu and BiasReluGrad match the closed form computed in float64", async () => {
  const shape = [4, 3, 3, 6];
  const size = 4 * 3 * 3 * 6;
  const xv = normals(size, 5), bv = normals(6, 6), dyv = normals(size, 7);
  const x = tf.tensor(xv, shape), bias = tf.tensor1d(bv), dy = tf.tensor(dyv, shape);
  const y = tf.engine().runKernel(BIAS_RELU, { x, bias }) as tf.Tensor;
  const [dx, db] = tf.engine().runKernel(BIAS_RELU_GRAD, { dy, y }) as tf.Tensor[];
  const read = async (t: tf.Tensor) => Float32Array.from(await t.data());
  const [yo, dxo, dbo] = [await read(y), await read(dx!), await read(db!)];
  const sums = new Float64Array(6);
  for (let i = 0; i < size; i++) {
    const z = xv[i]! + bv[i % 6]!;
    assert.ok(Math.abs(yo[i]! - Math.max(0, z)) <= 1e-6 * Math.abs(z), `y[${i}]`);
    const g = z > 0 ? dyv[i]! : dyv[i]! * 0; // -0 where dy < 0, as dy * step(x)
    assert.equal(dxo[i], g, `dx[${i}]`);
    sums[i % 6]! += g;
  }
  sums.forEach((s, j) => assert.ok(Math.abs(dbo[j]! - s) <= 1e-5 * (1 + Math.abs(s)), `db[${j}]`));
  tf.dispose([x, bias, dy, y, dx!, db!]);
});

Deno.test("ReluGrad on wasm is bitwise dy * step(x), and the Relu gradient uses it", async () => {
  const { x, dy } = operands([3, 5, 5, 8], 3);
  const fused = tf.engine().runKernel(RELU_GRAD, { dy, x }) as tf.Tensor;
  const stock = tf.mul(dy, tf.step(x));
  assert.deepEqual(await bits(fused), await bits(stock));
  let grad: tf.Tensor | null = null;
  const info = await tf.profile(() => {
    grad = tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy);
  });
  assert.deepEqual(await bits(grad!), await bits(stock));
  assert.ok(info.kernels.some((k) => k.name === RELU_GRAD), "Relu's gradient calls ReluGrad");
  assert.ok(!info.kernels.some((k) => k.name === "Step"), "and no Step");
  tf.dispose([x, dy, fused, stock, grad!]);
});

Deno.test("the kernels refuse mismatched inputs with a message", () => {
  const a = tf.zeros([2, 3]);
  assert.throws(
    () => tf.engine().runKernel(BIAS_RELU, { x: a, bias: tf.zeros([4]) }),
    /bias \[C\]/,
  );
  assert.throws(
    () => tf.engine().runKernel(RELU_GRAD, { dy: a, x: tf.zeros([3, 2]) }),
    /one shape/,
  );
  a.dispose();
});

/** Loss gradients of a small VGG without normalisation (bits), and the kernels they ran. */
async function vggGradients(): Promise<{ grads: Uint32Array[]; kernels: string[] }> {
  const { grads, kernels } = await profiledVggGradients("none", 1 / 16);
  return { grads: grads.map((g) => new Uint32Array(g.buffer)), kernels };
}

Deno.test("a VGG's gradients are bitwise the same with and without the fused ReLU kernels", async () => {
  assert.ok(biasReluFused());
  const fused = await vggGradients();
  for (const name of [BIAS_RELU, BIAS_RELU_GRAD, RELU_GRAD]) tf.unregisterKernel(name, "wasm");
  assert.ok(!biasReluFused());
  const stock = await vggGradients();
  registerWasmReluKernels();
  const count = (list: string[], name: string) => list.filter((k) => k === name).length;
  assert.equal(count(fused.kernels, BIAS_RELU), 10);
  assert.equal(count(fused.kernels, "Step") + count(fused.kernels, "Relu"), 0);
  assert.equal(count(stock.kernels, "Relu"), 10);
  assert.equal(fused.kernels.length, stock.kernels.length - 30, "three calls fewer per ReLU");
  fused.grads.forEach((g, k) => assert.deepEqual(g, stock.grads[k], `tensor ${k}`));
});

Deno.test("the SIMD ReLU loops assemble and instantiate on the wasm backend's heap", () => {
  const memory = heapMemory(tf.backend() as unknown as WasmModuleBackend);
  assert.ok(memory !== null, "the heap memory is reachable");
  assert.ok(reluSimd(memory) !== null, "WebAssembly SIMD is available, so the fast path runs");
});
