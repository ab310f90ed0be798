import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  registerWasmTrainingKernels,
  tileInto,
  WASM_TRAINING_KERNELS,
} from "../../lib/kernels/wasm_conv_grads.ts";
import { registerFastGradients } from "../../lib/kernels/gradients.ts";
import { createVgg } from "../../lib/models/vgg.ts";
import type { LayerParams } from "../../lib/models/types.ts";
import {
  caseName,
  CONV_CASES,
  convGeometry,
  directConvGrads,
  memorySnapshot,
  normals,
  relError,
  runOn,
  wasmVsCpu,
} from "./_helpers.ts";

tf.enableProdMode();
registerWasmTrainingKernels();
registerWasmTrainingKernels(); // idempotent: a second call must not wrap our kernels in themselves
registerFastGradients();

/** The tolerance of the task: relative error of wasm against the cpu backend. */
const TOL = 1e-4;

Deno.test("registerWasmTrainingKernels() registers every listed kernel on wasm only", () => {
  for (const name of WASM_TRAINING_KERNELS) {
    assert.ok(tf.getKernel(name, "wasm") !== undefined, name);
  }
  // The cpu backend keeps its stock kernels (ours are registered for wasm only).
  assert.notEqual(
    tf.getKernel("Conv2DBackpropFilter", "cpu")?.kernelFunc,
    tf.getKernel("Conv2DBackpropFilter", "wasm")?.kernelFunc,
  );
});

Deno.test("Conv2DBackpropFilter and Conv2DBackpropInput on wasm match cpu and a direct convolution", async (t) => {
  for (const c of CONV_CASES) {
    await t.step(caseName(c), async () => {
      const [n, h, w, ci] = c.x;
      const wShape: [number, number, number, number] = [c.k[0], c.k[1], ci, c.co];
      const { outH, outW } = convGeometry(h, w, c.k[0], c.k[1], c.s, c.pad);
      const xv = normals(n * h * w * ci, 1);
      const wv = normals(wShape.reduce((a, b) => a * b), 2);
      const dyv = normals(n * outH * outW * c.co, 3);
      const grads = () => {
        const x = tf.tensor4d(xv, c.x);
        const filter = tf.tensor4d(wv, wShape);
        const dy = tf.tensor4d(dyv, [n, outH, outW, c.co]);
        // d/dtheta sum(conv(x, w) * dy): Conv2D's registered gradient runs both kernels.
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), dy))
        )([x, filter]);
        tf.dispose([x, filter, dy]);
        return [dx!, dw!];
      };
      const cpu = await runOn("cpu", grads);
      const wasm = await runOn("wasm", grads);
      const direct = directConvGrads(xv, c.x, wv, wShape, dyv, c.s, c.pad);
      assert.ok(relError(wasm[0]!, cpu[0]!) <= TOL, `dx vs cpu ${relError(wasm[0]!, cpu[0]!)}`);
      assert.ok(relError(wasm[1]!, cpu[1]!) <= TOL, `dW vs cpu ${relError(wasm[1]!, cpu[1]!)}`);
      assert.ok(relError(wasm[0]!, direct.dx) <= TOL, `dx vs direct`);
      assert.ok(relError(wasm[1]!, direct.dw) <= TOL, `dW vs direct`);
    });
  }
});

Deno.test("Conv2DBackpropInput on wasm handles explicit padding larger than the filter reach", async () => {
  // Top padding 3 > kh - 1 = 2: the input gradient must crop dy instead of padding it.
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [3, 0],
    [1, 2],
    [0, 0],
  ];
  const err = await wasmVsCpu(() => {
    const x = tf.tensor4d(normals(2 * 5 * 5 * 3, 4), [2, 5, 5, 3]);
    const w = tf.tensor4d(normals(3 * 3 * 3 * 2, 5), [3, 3, 3, 2]);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad)))
    )([x, w]);
    tf.dispose([x, w]);
    return g;
  });
  assert.ok(err <= TOL, `relative error ${err}`);
});

Deno.test("conv gradient kernels on wasm reject NCHW and dilation with a RangeError", async () => {
  await tf.setBackend("wasm");
  const x = tf.zeros([1, 4, 4, 2]);
  const dy = tf.zeros([1, 4, 4, 2]);
  const w = tf.zeros([3, 3, 2, 2]);
  const attrs = { strides: 1, pad: "same", dataFormat: "NHWC" };
  const filterGrad = (extra: Record<string, unknown>) => () =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      ...attrs,
      filterShape: [3, 3, 2, 2],
      ...extra,
    } as unknown as tf.NamedAttrMap);
  const inputGrad = (extra: Record<string, unknown>) => () =>
    tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: w }, {
      ...attrs,
      inputShape: [1, 4, 4, 2],
      ...extra,
    } as unknown as tf.NamedAttrMap);
  for (const kernel of [filterGrad, inputGrad]) {
    assert.throws(
      kernel({ dataFormat: "NCHW" }),
      (e: unknown) =>
        e instanceof RangeError &&
        /only the NHWC data format is supported, got NCHW/.test(e.message),
    );
    assert.throws(
      kernel({ dilations: [1, 2] }),
      (e: unknown) => e instanceof RangeError && /dilation must be 1, got 1,2/.test(e.message),
    );
  }
  tf.dispose([x, dy, w]);
});

Deno.test("BatchMatMul on wasm matches cpu with transposed and batched operands", async (t) => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [5, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[2, 4, 3], [2, 5, 4], true, true],
    [[2, 3, 4], [1, 4, 5], false, false], // broadcast batch, stock path
  ];
  for (const [as, bs, ta, tb] of cases) {
    await t.step(
      `${as.join("x")} ${ta ? "T" : "N"} x ${bs.join("x")} ${tb ? "T" : "N"}`,
      async () => {
        const err = await wasmVsCpu(() =>
          tf.matMul(
            tf.tensor(normals(as.reduce((a, b) => a * b), 6), as),
            tf.tensor(normals(bs.reduce((a, b) => a * b), 7), bs),
            ta,
            tb,
          )
        );
        assert.ok(err <= TOL, `relative error ${err}`);
      },
    );
  }
});

Deno.test("BatchMatMul on wasm does not reuse XNNPACK weights packed under another shape", async () => {
  // One buffer used as weights [4, 6], then as [6, 4] (a reshape shares the buffer), then
  // summed over leading axes: the stock cache keyed by buffer id alone would reuse [4, 6].
  const err = await wasmVsCpu(() => {
    const w = tf.tensor2d(normals(24, 8), [4, 6]);
    const a = tf.matMul(tf.tensor2d(normals(8, 9), [2, 4]), w);
    const b = tf.matMul(tf.tensor2d(normals(12, 10), [2, 6]), tf.reshape(w, [6, 4]));
    return [a, b, tf.sum(w, 0), tf.sum(tf.reshape(w, [6, 4]), 0), tf.sum(w)];
  });
  assert.ok(err <= TOL, `relative error ${err}`);
});

Deno.test("Tile on wasm matches cpu for float32, int32 and bool, any rank", async (t) => {
  const cases: [number[], number[], "float32" | "int32" | "bool"][] = [
    [[], [], "float32"],
    [[3], [4], "float32"],
    [[2, 3], [3, 1], "int32"],
    [[2, 1, 3], [1, 5, 2], "float32"],
    [[1, 1, 1, 5], [3, 5, 7, 1], "float32"],
    [[2, 3, 1, 2, 1], [2, 1, 3, 1, 4], "bool"],
    [[2, 3], [0, 2], "float32"], // empty output
    [[0, 3], [2, 2], "int32"], // empty input
  ];
  for (const [shape, reps, dtype] of cases) {
    await t.step(`[${shape}] x [${reps}] ${dtype}`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from(normals(size, 11), (v) => dtype === "float32" ? v : +(v > 0));
      const err = await wasmVsCpu(() =>
        tf.cast(tf.tile(tf.tensor(values, shape, dtype), reps), "float32")
      );
      assert.equal(err, 0);
    });
  }
});

Deno.test("tileInto() writes the row-major tiling, checked element by element", () => {
  const src = Int32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
  const dst = new Int32Array(2 * 2 * 3 * 3);
  tileInto(src, [2, 3], [2, 3], dst);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 9; c++) assert.equal(dst[r * 9 + c], src[(r % 2) * 3 + (c % 3)]);
  }
  assert.throws(() => tileInto(src, [2, 3], [2], dst), RangeError);
});

Deno.test("UnsortedSegmentSum on wasm matches cpu and drops out-of-range ids", async () => {
  const err = await wasmVsCpu(() =>
    tf.unsortedSegmentSum(
      tf.tensor3d(normals(6 * 2 * 3, 12), [6, 2, 3]),
      tf.tensor1d([0, 2, 2, -1, 4, 0], "int32"),
      4,
    )
  );
  assert.ok(err <= TOL, `relative error ${err}`);
  // The gradient of gather, the op that needs the kernel.
  const gatherErr = await wasmVsCpu(() => {
    const x = tf.tensor2d(normals(10, 13), [5, 2]);
    return tf.grad((a: tf.Tensor) =>
      tf.sum(
        tf.mul(
          tf.gather(a, tf.tensor1d([1, 1, 0, 3], "int32")),
          tf.tensor2d(normals(8, 14), [4, 2]),
        ),
      )
    )(x);
  });
  assert.ok(gatherErr <= TOL, `gather gradient relative error ${gatherErr}`);
});

Deno.test("MaxPoolGrad on wasm matches cpu, ties included", async (t) => {
  const cases: [[number, number, number, number], number, number, "same" | "valid"][] = [
    [[3, 5, 7, 4], 2, 2, "valid"],
    [[3, 5, 7, 4], 2, 2, "same"],
    [[2, 7, 6, 3], 3, 2, "same"], // overlapping windows
    [[2, 7, 6, 3], 3, 1, "valid"],
  ];
  for (const [shape, f, s, pad] of cases) {
    await t.step(`${shape.join("x")} window ${f} stride ${s} ${pad}`, async () => {
      const err = await wasmVsCpu(() => {
        // relu makes many windows all-zero: the gradient must go to the first maximum, as on cpu.
        const x = tf.relu(tf.tensor4d(normals(shape.reduce((a, b) => a * b), 15), shape));
        return tf.grad((a: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, f, s, pad), 1.5))
        )(x);
      });
      assert.equal(err, 0);
    });
  }
});

Deno.test("Sum and Mean on wasm match cpu over leading and other axes", async (t) => {
  const cases: [number[], number[], boolean][] = [
    [[3, 5, 7, 4], [0, 1, 2], false],
    [[3, 5, 7, 4], [2, 0, 1], true],
    [[3, 5, 7, 4], [0], false],
    [[3, 5, 7, 4], [0, 1, 2, 3], false],
    [[3, 5, 7, 4], [1, 2], true], // not leading: stock kernel
    [[6, 5], [1], false],
  ];
  for (const [shape, axes, keepDims] of cases) {
    await t.step(`[${shape}] over [${axes}] keepDims ${keepDims}`, async () => {
      const err = await wasmVsCpu(() => {
        const x = tf.tensor(normals(shape.reduce((a, b) => a * b), 16), shape);
        const sum = tf.sum(x, axes, keepDims);
        const mean = tf.mean(x, axes, keepDims);
        return [sum, mean, tf.tensor1d(sum.shape), tf.tensor1d(mean.shape)];
      });
      assert.ok(err <= TOL, `relative error ${err}`);
    });
  }
});

Deno.test("Identity and same-dtype Cast on wasm share the buffer and keep values", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const before = memorySnapshot();
  const y = tf.clone(x);
  const z = tf.cast(x, "float32");
  assert.equal(memorySnapshot().buffers, before.buffers); // no new heap buffer
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(await z.data()), [1, 2, 3, 4]);
  const i = tf.cast(z, "int32"); // a real conversion still copies
  assert.equal(i.dtype, "int32");
  assert.deepEqual(Array.from(await i.data()), [1, 2, 3, 4]);
  tf.dispose([y, z, i]);
});

/** Tiny conv + BN + relu + pool + dense network on odd sizes, every normalisation op we use. */
function tinyNetworkGrads(
  norm: "batchnorm" | "l1" | "l2" | "linf",
  gatherLoss: boolean,
): tf.Tensor[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(normals(3 * 6 * 7 * 3, 20), [3, 6, 7, 3]); // [B, H, W, C]
    const labels = tf.tensor1d([2, 0, 3], "int32");
    const params = [
      tf.tensor4d(normals(3 * 3 * 3 * 5, 21), [3, 3, 3, 5]).mul(0.3), // conv kernel
      tf.tensor1d(normals(5, 22)), // conv bias
      tf.tensor1d(normals(5, 23)).add(1), // gamma
      tf.tensor1d(normals(5, 24)), // beta
      tf.tensor2d(normals(3 * 3 * 5 * 4, 25), [45, 4]).mul(0.2), // dense kernel
      tf.tensor1d(normals(4, 26)), // dense bias
    ];
    const loss = (
      k: tf.Tensor,
      b: tf.Tensor,
      g: tf.Tensor,
      be: tf.Tensor,
      w: tf.Tensor,
      c: tf.Tensor,
    ) => {
      const z = tf.add(tf.conv2d(x, k as tf.Tensor4D, 1, "same"), b); // [3, 6, 7, 5]
      const { mean, variance } = tf.moments(z, [0, 1, 2], true); // [1, 1, 1, 5]
      let normed: tf.Tensor;
      if (norm === "batchnorm") {
        normed = tf.mul(tf.sub(z, mean), tf.rsqrt(tf.add(variance, 1e-5)));
      } else {
        const a = tf.abs(z);
        const scale = norm === "linf"
          ? tf.max(a, [0, 1, 2], true)
          : norm === "l1"
          ? tf.mean(a, [0, 1, 2], true)
          : tf.pow(tf.mean(tf.pow(a, 2), [0, 1, 2], true), 0.5);
        normed = tf.div(tf.sub(z, mean), tf.add(scale, 1e-5));
      }
      const h = tf.maxPool(tf.relu(tf.add(tf.mul(normed, g), be)) as tf.Tensor4D, 2, 2, "valid"); // [3, 3, 3, 5]
      const logits = tf.add(tf.matMul(tf.reshape(h, [3, 45]), w as tf.Tensor2D), c); // [3, 4]
      const logp = tf.logSoftmax(logits);
      if (gatherLoss) {
        // Picks logp[i, label_i] with gather (gradient: UnsortedSegmentSum).
        const flat = tf.reshape(logp, [-1]);
        const idx = tf.tensor1d([0 * 4 + 2, 1 * 4 + 0, 2 * 4 + 3], "int32"); // row * 4 + label
        return tf.neg(tf.mean(tf.gather(flat, idx))) as tf.Scalar;
      }
      return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(labels, 4)), 1))) as tf.Scalar;
    };
    return tf.grads(loss)(params);
  });
}

Deno.test("a tiny conv+norm+relu+pool+dense network has the same gradient on wasm as on cpu", async (t) => {
  for (const norm of ["batchnorm", "l1", "l2", "linf"] as const) {
    for (const gatherLoss of [false, true]) {
      await t.step(`${norm}, ${gatherLoss ? "gather" : "one-hot"} loss`, async () => {
        // Joint error: with BatchNorm the conv bias gradient is 0 up to rounding.
        const err = await wasmVsCpu(() => tinyNetworkGrads(norm, gatherLoss), { joint: true });
        assert.ok(err <= TOL, `relative error ${err}`);
      });
    }
  }
});

Deno.test("the project's VGG has the same gradient on wasm as on cpu", async (t) => {
  for (const normalization of ["batchnorm", "linf"] as const) {
    await t.step(normalization, async () => {
      const network = createVgg({ normalization, width: 1 / 32 }); // channels 2..16
      const err = await wasmVsCpu(() =>
        tf.tidy(() => {
          const params = network.init(0);
          const slots = params.map((p) => Object.keys(p) as (keyof LayerParams)[]);
          const flat = params.flatMap((p, i) => slots[i]!.map((k) => p[k]!));
          const x = tf.tensor4d(normals(2 * 32 * 32 * 3, 40), [2, 32, 32, 3]);
          const labels = tf.tensor1d([3, 7], "int32");
          return tf.grads((...tensors: tf.Tensor[]) => {
            let k = 0;
            const rebuilt = slots.map((keys) =>
              Object.fromEntries(keys.map((key) => [key, tensors[k++]!])) as unknown as LayerParams
            );
            const { output } = network.forward(rebuilt, x, { training: true });
            return network.loss(output, labels);
          })(flat);
        }), { joint: true });
      assert.ok(err <= TOL, `relative error ${err}`);
    });
  }
});

Deno.test("wasm training kernels free every intermediate (tensors and heap buffers)", async () => {
  await tf.setBackend("wasm");
  const step = () => tinyNetworkGrads("batchnorm", true);
  tf.dispose(step()); // warm-up
  const before = memorySnapshot();
  tf.dispose(step());
  const x = tf.tensor4d(normals(2 * 5 * 5 * 3, 30), [2, 5, 5, 3]);
  const dy = tf.tensor4d(normals(2 * 3 * 3 * 4, 31), [2, 3, 3, 4]);
  const w = tf.tensor4d(normals(3 * 3 * 3 * 4, 32), [3, 3, 3, 4]);
  tf.dispose([
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: 2,
      pad: "same",
      dataFormat: "NHWC",
      filterShape: [3, 3, 3, 4],
    }) as tf.Tensor,
    tf.conv2dTranspose(dy, w, [2, 5, 5, 3], 2, "same"),
    tf.tile(x, [1, 2, 1, 1]),
  ]);
  tf.dispose([x, dy, w]);
  assert.deepEqual(memorySnapshot(), before);
});
