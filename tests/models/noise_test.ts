import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  ALGORITHM1_CONSTANTS,
  type Algorithm1Constants,
  algorithm1Noise,
  algorithm1NoiseOps,
  normalField,
  normalFieldHost,
  philoxUniformField,
  philoxUniformHost,
} from "../../lib/models/noise.ts";
import { philox4x32, STREAMS, wordToUniform } from "../../lib/rng.ts";

await tf.setBackend("cpu");
await tf.ready();

/** The field's definition, element by element: word e % 4 of philox([e / 4, c1, c2, c3]). */
function directField(
  size: number,
  seed: number,
  stream: number,
  c: readonly [number, number, number],
): Float32Array {
  const out = new Float32Array(size);
  for (let e = 0; e < size; e++) {
    const words = philox4x32([Math.floor(e / 4), c[0], c[1], c[2]], [seed, stream]);
    out[e] = wordToUniform(words[e % 4]!);
  }
  return out;
}

/** Random123's known answer for Philox4x32-10 with counter 0 and key 0. */
const KAT_ZERO = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8];

Deno.test("philoxUniformField() equals the element-wise definition bitwise on cpu", async (t) => {
  const cases: [number[], number, number, [number, number, number]][] = [
    [[3, 5, 7], 12345, STREAMS.noise, [0, 1, 2]],
    [[1], 0, 0, [0, 0, 0]],
    [[13], 0xffffffff, 7, [0xffffffff, 5, 9]],
    [[2, 3, 4, 5], 42, STREAMS.noise, [17, 3, 1]],
  ];
  for (const [shape, seed, stream, counter] of cases) {
    await t.step(`shape [${shape}], counter [${counter}]`, async () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const field = philoxUniformField(shape, { seed, stream }, counter);
      assert.deepEqual(field.shape, shape);
      assert.equal(field.dtype, "float32");
      assert.deepEqual(await field.data(), directField(size, seed, stream, counter));
      assert.deepEqual(philoxUniformHost(size, { seed, stream }, counter), await field.data());
      field.dispose();
    });
  }
  await t.step("known answer of Philox4x32-10 (counter 0, key 0)", async () => {
    const field = philoxUniformField([4], { seed: 0, stream: 0 }, [0, 0, 0]);
    assert.deepEqual(Array.from(await field.data()), KAT_ZERO.map(wordToUniform));
    field.dispose();
  });
  await t.step("different counters give different fields", async () => {
    const a = await philoxUniformField([64], { seed: 1, stream: 3 }, [0, 1, 0]).data();
    const b = await philoxUniformField([64], { seed: 1, stream: 3 }, [0, 1, 1]).data();
    const c = await philoxUniformField([64], { seed: 1, stream: 3 }, [1, 1, 0]).data();
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

Deno.test("philoxUniformField() rejects counters that are not uint32", () => {
  assert.throws(() => philoxUniformField([4], { seed: 1, stream: 1 }, [-1, 0, 0]), RangeError);
  assert.throws(() => philoxUniformField([4], { seed: 1.5, stream: 1 }, [0, 0, 0]), RangeError);
});

Deno.test("normalField() is Box-Muller of the host uniforms and standard normal", async () => {
  const size = 100_000;
  const key = { seed: 3, stream: STREAMS.noise };
  const z = await normalField([size], key, [4, 5, 6]).data();
  const u = philoxUniformHost(2 * size, key, [4, 5, 6]);
  let worst = 0;
  for (const e of [0, 1, 2, 3, 4, 99, 5000, size - 1]) {
    const expected = Math.sqrt(-2 * Math.log(1 - u[e]!)) * Math.cos(2 * Math.PI * u[size + e]!);
    worst = Math.max(worst, Math.abs(z[e]! - expected));
  }
  assert.ok(worst < 1e-4, `Box-Muller mismatch ${worst}`);
  let mean = 0, m2 = 0, within1 = 0;
  for (const v of z) {
    mean += v;
    m2 += v * v;
    if (Math.abs(v) < 1) within1++;
  }
  mean /= size;
  const variance = m2 / size - mean * mean;
  // Standard errors: mean 0.003, variance 0.0045, P(|z| < 1) 0.0015.
  assert.ok(Math.abs(mean) < 0.015, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.025, `variance ${variance}`);
  assert.ok(Math.abs(within1 / size - 0.6827) < 0.008, `P(|z| < 1) ${within1 / size}`);
});

/** Per-unit columns of a row-major [rows, units] array. */
function columns(data: ArrayLike<number>, units: number): number[][] {
  const out: number[][] = Array.from({ length: units }, () => []);
  for (let i = 0; i < data.length; i++) out[i % units]!.push(data[i]!);
  return out;
}

function meanOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function varianceOf(xs: readonly number[]): number {
  const m = meanOf(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
}

Deno.test("algorithm1Noise() has the distribution of Algorithm 1", async (t) => {
  const { nMu, nSigma, rMu, rSigma } = ALGORITHM1_CONSTANTS;
  const samples = 400, units = 64, steps = 20, layer = 3, seed = 11;
  const unitShifts: number[] = []; // estimated mu_j over all steps and units
  const unitScales: number[] = []; // estimated sigma_j
  const residuals: number[] = []; // s - sigma_j estimate, pooled
  let worstRange = 0, worstMuHost = 0, smallestRange = Infinity;
  for (let step = 0; step < steps; step++) {
    const { scale, shift } = algorithm1Noise([samples, units], { seed, step }, layer);
    const shiftCols = columns(await shift.data(), units);
    const scaleCols = columns(await scale.data(), units);
    tf.dispose([scale, shift]);
    // mu_j is the (host-computed) uniform of counter (step, layer, 0), mapped to U(-n_mu, n_mu).
    const uMu = philoxUniformHost(units, { seed, stream: STREAMS.noise }, [step, layer, 0]);
    for (let j = 0; j < units; j++) {
      const m = shiftCols[j]!;
      const lo = Math.min(...m), hi = Math.max(...m);
      worstRange = Math.max(worstRange, hi - lo);
      smallestRange = Math.min(smallestRange, hi - lo);
      const mid = (lo + hi) / 2;
      unitShifts.push(mid);
      worstMuHost = Math.max(worstMuHost, Math.abs(mid - (-nMu + 2 * nMu * uMu[j]!)));
      const s = scaleCols[j]!;
      const sigma = meanOf(s);
      unitScales.push(sigma);
      for (const v of s) residuals.push(v - sigma);
    }
  }
  await t.step("per-element shift spans mu_j +- r_mu", () => {
    assert.ok(worstRange <= 2 * rMu + 1e-6, `range ${worstRange}`);
    // 400 uniforms on a width-0.2 interval leave gaps of about 0.2 / 400 at each end.
    assert.ok(smallestRange > 2 * rMu * 0.95, `range ${smallestRange}`);
    assert.ok(worstMuHost < 0.01, `mu_j off the host value by ${worstMuHost}`);
  });
  await t.step("per-unit shifts mu_j have the moments of U(-n_mu, n_mu)", () => {
    // 1280 draws: standard errors 0.008 (mean) and 0.0021 (variance).
    assert.ok(Math.abs(meanOf(unitShifts)) < 0.04, `mean ${meanOf(unitShifts)}`);
    const v = varianceOf(unitShifts);
    assert.ok(Math.abs(v - (2 * nMu) ** 2 / 12) < 0.01, `variance ${v}`);
    assert.ok(Math.max(...unitShifts.map(Math.abs)) <= nMu + 1e-6);
  });
  await t.step("per-unit scales sigma_j have the moments of U(1, n_sigma)", () => {
    // Each estimate carries noise 0.1 / sqrt(400) = 0.005 on top of U(1, 1.25).
    assert.ok(Math.min(...unitScales) > 1 - 0.025 && Math.max(...unitScales) < nSigma + 0.025);
    assert.ok(Math.abs(meanOf(unitScales) - (1 + nSigma) / 2) < 0.01);
    const v = varianceOf(unitScales);
    assert.ok(Math.abs(v - (nSigma - 1) ** 2 / 12) < 0.0015, `variance ${v}`);
  });
  await t.step("per-element scale s ~ N(sigma_j, r_sigma)", () => {
    const std = Math.sqrt(meanOf(residuals.map((r) => r * r)));
    assert.ok(Math.abs(std - rSigma) < 0.002, `std ${std}`);
    const within = residuals.filter((r) => Math.abs(r) < rSigma).length / residuals.length;
    assert.ok(Math.abs(within - 0.6827) < 0.01, `P(|s - sigma_j| < r_sigma) ${within}`);
  });
});

Deno.test("algorithm1Noise() shares mu_j across samples and positions of a conv unit", async () => {
  const shape = [4, 5, 5, 8];
  const { scale, shift } = algorithm1Noise(shape, { seed: 2, step: 7 }, 1);
  assert.deepEqual(scale.shape, shape);
  assert.deepEqual(shift.shape, shape);
  const cols = columns(await shift.data(), 8);
  tf.dispose([scale, shift]);
  for (const m of cols) {
    assert.equal(m.length, 100);
    assert.ok(Math.max(...m) - Math.min(...m) <= 0.2 + 1e-6);
  }
});

Deno.test("algorithm1Noise() is keyed by (seed, step, layer)", async () => {
  const draw = async (seed: number, step: number, layer: number) => {
    const { scale, shift } = algorithm1Noise([16, 8], { seed, step }, layer);
    const out = [await scale.data(), await shift.data()];
    tf.dispose([scale, shift]);
    return out;
  };
  const base = await draw(1, 5, 2);
  assert.deepEqual(await draw(1, 5, 2), base);
  for (const other of [await draw(1, 6, 2), await draw(1, 5, 3), await draw(2, 5, 2)]) {
    assert.notDeepEqual(other[0], base[0]);
    assert.notDeepEqual(other[1], base[1]);
  }
  assert.throws(() => algorithm1Noise([4, 2], { seed: 1, step: 0 }, 0), RangeError);
  assert.throws(() => algorithm1Noise([4], { seed: 1, step: 0 }, 1), TypeError);
});

Deno.test("algorithm1Noise() leaves no tensors behind", () => {
  tf.dispose(Object.values(algorithm1Noise([8, 4, 4, 3], { seed: 1, step: 0 }, 1)));
  const before = tf.memory().numTensors;
  tf.dispose(Object.values(algorithm1Noise([8, 4, 4, 3], { seed: 1, step: 1 }, 1)));
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("normalField() on cpu and wasm is the host field, bitwise", async () => {
  const key = { seed: 5, stream: STREAMS.noise };
  const expected = normalFieldHost(3 * 7 * 5, key, [1, 2, 3]);
  for (const backend of ["cpu", "wasm"]) {
    assert.ok(await tf.setBackend(backend), backend);
    const field = normalField([3, 7, 5], key, [1, 2, 3]);
    assert.deepEqual(field.shape, [3, 7, 5]);
    assert.deepEqual(await field.data(), expected, backend);
    field.dispose();
  }
  await tf.setBackend("cpu");
});

Deno.test("algorithm1Noise() on the host is bitwise the tf-op formulas on cpu and wasm", async () => {
  const cases: [number[], number, number, Algorithm1Constants | undefined][] = [
    [[4, 5, 6, 7], 3, 1, undefined],
    [[3, 13], 0xffffffff, 11, undefined],
    [[2, 3, 3, 5], 8, 2, { nMu: 0.3, nSigma: 1.7, rMu: 0.07, rSigma: 0.33 }],
  ];
  try {
    for (const backend of ["cpu", "wasm"]) {
      assert.ok(await tf.setBackend(backend), backend);
      for (const [shape, step, layer, constants] of cases) {
        const key = { seed: 5, step };
        const host = algorithm1Noise(shape, key, layer, constants);
        const ops = algorithm1NoiseOps(
          shape,
          { seed: 5, stream: STREAMS.noise },
          step,
          layer,
          constants,
        );
        assert.deepEqual(
          await host.scale.data(),
          await ops.scale.data(),
          `${backend} [${shape}] scale`,
        );
        assert.deepEqual(
          await host.shift.data(),
          await ops.shift.data(),
          `${backend} [${shape}] shift`,
        );
        tf.dispose([host.scale, host.shift, ops.scale, ops.shift]);
      }
    }
  } finally {
    await tf.setBackend("cpu");
  }
});
