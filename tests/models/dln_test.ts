import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { createDln, dlnProblem } from "../../lib/models/dln.ts";
import { algorithm1Noise } from "../../lib/models/noise.ts";
import { hasAffine, hasNoise } from "../../lib/models/norm.ts";
import type { Normalization, Params } from "../../lib/models/types.ts";
import { NORMALIZATIONS } from "../../lib/models/types.ts";
import { Random, STREAMS } from "../../lib/rng.ts";
import {
  disposeParams,
  flattenParams,
  matmul,
  type Matrix,
  maxRelativeError,
  normalizeColumns,
  unflattenParams,
} from "./_reference.ts";

await tf.setBackend("cpu");
await tf.ready();

async function toMatrix(t: tf.Tensor): Promise<Matrix> {
  return { rows: t.shape[0]!, cols: t.shape[1]!, data: Float64Array.from(await t.data()) };
}

/** Host copies of the parameters, in `flattenParams` order. */
async function hostParams(params: Params): Promise<Float64Array[]> {
  return await Promise.all(
    flattenParams(params).map(async (t) => Float64Array.from(await t.data())),
  );
}

/**
 * Float64 forward pass and summed squared error of the DLN, from host parameters in
 * `flattenParams` order; `noise[l - 1]` holds layer l's (scale, shift) when the variant is noisy.
 */
function referenceLoss(
  normalization: Normalization,
  depth: number,
  x: Matrix,
  targets: Float64Array,
  flat: readonly Float64Array[],
  noise: readonly [Float32Array, Float32Array][],
): number {
  const affine = hasAffine(normalization);
  let h = x;
  let k = 0;
  for (let layer = 1; layer <= depth; layer++) {
    h = matmul(h, { rows: x.cols, cols: x.cols, data: flat[k++]! });
    if (layer === depth) break;
    const gamma = affine ? flat[k++] : undefined;
    const beta = affine ? flat[k++] : undefined;
    h = normalizeColumns(h, normalization, gamma, beta);
    if (hasNoise(normalization)) {
      const [s, m] = noise[layer - 1]!;
      h = { ...h, data: h.data.map((v, i) => s[i]! * v + m[i]!) };
    }
  }
  return h.data.reduce((acc, v, i) => acc + (v - targets[i]!) ** 2, 0);
}

Deno.test("dlnProblem() draws A, then x, from the data stream and sets targets x A^T", async () => {
  const { inputs, targets, matrix } = dlnProblem(4, { samples: 7, dim: 3 });
  const random = new Random(4, STREAMS.data);
  const a = random.fillNormal(new Float32Array(9));
  const x = random.fillNormal(new Float32Array(21));
  assert.deepEqual(await matrix.data(), a);
  assert.deepEqual(await inputs.data(), x);
  // targets[i][r] = sum_c x[i][c] A[r][c].
  const expected = new Float64Array(21);
  for (let i = 0; i < 7; i++) {
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) expected[i * 3 + r]! += x[i * 3 + c]! * a[r * 3 + c]!;
    }
  }
  assert.ok(maxRelativeError(await targets.data(), expected, 1) < 1e-6);
  const more = dlnProblem(4, { samples: 50, dim: 3 });
  assert.deepEqual(await more.matrix.data(), a);
  tf.dispose([inputs, targets, matrix, more.inputs, more.targets, more.matrix]);
});

Deno.test("createDln() loss at initialisation equals the plain-TypeScript product", async (t) => {
  const { inputs, targets, matrix } = dlnProblem(1);
  const x = await toMatrix(inputs);
  const y = Float64Array.from(await targets.data());
  for (const normalization of ["none", "batchnorm", "l1"] as const) {
    await t.step(normalization, async () => {
      const net = createDln({ normalization });
      assert.equal(net.layerNames.length, 25);
      const params = net.init(0);
      assert.ok(params.every((p) => p.bias === undefined));
      const { output } = net.forward(params, inputs, { training: true });
      const loss = net.loss(output, targets);
      const expected = referenceLoss(normalization, 25, x, y, await hostParams(params), []);
      const actual = (await loss.data())[0]!;
      assert.ok(Math.abs(actual / expected - 1) < 1e-4, `${actual} vs ${expected}`);
      if (normalization === "none") {
        // The summed loss at initialisation is about sum(y^2) ~ 1e4 samples x dims (PROTOCOL.md).
        assert.ok(expected > 1e3 && expected < 1e6, `${expected}`);
      }
      tf.dispose([output, loss]);
      disposeParams(params);
    });
  }
  tf.dispose([inputs, targets, matrix]);
});

Deno.test("createDln() normalises every layer but the last", () => {
  const net = createDln({ normalization: "batchnorm", depth: 4, dim: 3 });
  const params = net.init(1);
  const state = net.initState();
  const x = tf.ones([5, 3]);
  const result = net.forward(params, x, { training: true, capture: [4] });
  assert.deepEqual(result.batchMoments.map((m) => m !== undefined), [true, true, true, false]);
  assert.deepEqual(state.map((m) => m !== undefined), [true, true, true, false]);
  assert.equal(params[3]!.gamma, undefined);
  // The output layer has no normalisation: preNorm and postNorm are the same values.
  const captured = result.activations.get(4)!;
  assert.equal(captured.preNorm, captured.postNorm);
  disposeParams(params);
  tf.dispose([x, result.output, ...state.flatMap((m) => (m ? [m.mean, m.variance] : []))]);
  tf.dispose(result.batchMoments.flatMap((m) => (m ? [m.mean, m.variance] : [])));
});

Deno.test("createDln() gradients match float64 finite differences", async (t) => {
  const depth = 4, dim = 3, samples = 12;
  const noiseKey = { seed: 2, step: 5 };
  const { inputs, targets, matrix } = dlnProblem(3, { samples, dim });
  const x = await toMatrix(inputs);
  const y = Float64Array.from(await targets.data());
  const noise: [Float32Array, Float32Array][] = [];
  for (let layer = 1; layer < depth; layer++) {
    const { scale, shift } = algorithm1Noise([samples, dim], noiseKey, layer);
    noise.push([await scale.data<"float32">(), await shift.data<"float32">()]);
    tf.dispose([scale, shift]);
  }
  for (const normalization of NORMALIZATIONS) {
    await t.step(normalization, async () => {
      const net = createDln({ normalization, depth, dim });
      const params = net.init(8);
      const flat = flattenParams(params);
      const host = await hostParams(params);
      const grads = tf.grads((...ts: tf.Tensor[]) => {
        const { output } = net.forward(unflattenParams(params, ts), inputs, {
          training: true,
          noiseKey,
        });
        return net.loss(output, targets);
      })(flat);
      const loss = (f: Float64Array[]) => referenceLoss(normalization, depth, x, y, f, noise);
      const all: number[] = [], numeric: number[] = [];
      for (let k = 0; k < host.length; k++) {
        all.push(...await grads[k]!.data());
        for (let i = 0; i < host[k]!.length; i++) {
          const h = 1e-6 * Math.max(1, Math.abs(host[k]![i]!));
          const plus = host.map((a) => a.slice()), minus = host.map((a) => a.slice());
          plus[k]![i]! += h;
          minus[k]![i]! -= h;
          numeric.push((loss(plus) - loss(minus)) / (2 * h));
        }
      }
      // Errors relative to the largest gradient entry: the shifts before a BatchNorm have an
      // exactly zero gradient, which float32 only approximates.
      const scale = Math.max(...numeric.map(Math.abs));
      const error = maxRelativeError(all, numeric, 1e-3 * scale);
      assert.ok(error < 1e-3, `relative error ${error}`);
      tf.dispose(grads);
      disposeParams(params);
    });
  }
  tf.dispose([inputs, targets, matrix]);
});

Deno.test("createDln() forward and gradient leave no tensors behind", () => {
  const net = createDln({ normalization: "noisy-batchnorm", depth: 4, dim: 3 });
  const params = net.init(1);
  const { inputs, targets, matrix } = dlnProblem(1, { samples: 8, dim: 3 });
  const step = () =>
    tf.tidy(() =>
      tf.grads((...ts: tf.Tensor[]) =>
        net.loss(
          net.forward(unflattenParams(params, ts), inputs, {
            training: true,
            noiseKey: { seed: 1, step: 0 },
          }).output,
          targets,
        )
      )(flattenParams(params))
    );
  tf.dispose(step());
  const before = tf.memory().numTensors;
  tf.dispose(step());
  assert.equal(tf.memory().numTensors, before);
  disposeParams(params);
  tf.dispose([inputs, targets, matrix]);
});
