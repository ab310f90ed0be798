/**
 * Counter-based random fields on the device, and the training noise of Algorithm 1
 * ("noisy BatchNorm", Santurkar et al. 2018).
 *
 * Every element of a field is a pure function of (key, counter), computed by Philox4x32-10
 * (`lib/rng.ts`): element `e` (row-major) is word `e % 4` of
 * `philox4x32([floor(e / 4), c1, c2, c3], [seed, stream])`, converted with `wordToUniform`.
 * On the cpu and wasm backends the host is the device, so the field is computed in plain
 * TypeScript and wrapped in a tensor; on webgpu a WGSL compute program runs the same 32-bit
 * integer arithmetic, so nothing is uploaded per element and the result is bitwise the same.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { philox4x32, STREAMS, wordToUniform } from "../rng.ts";
import { philoxUniformWebGpu } from "../kernels/webgpu_philox.ts";
import { webGpuBackendOf } from "../kernels/webgpu_program.ts";
import { philoxUniformsWasm } from "../rng_wasm.ts";
import type { NoiseKey } from "./types.ts";

/** The Philox key of a field: the run's seed and a stream id (see `STREAMS`). */
export interface FieldKey {
  /** uint32 */
  seed: number;
  /** uint32 */
  stream: number;
}

/** Counter words 1..3 of every element of a field (word 0 is the element's block index). */
export type CounterWords = readonly [number, number, number];

/** Constants of Algorithm 1 (names as in the paper). */
export interface Algorithm1Constants {
  /** n_mu: per-unit mean shift mu_j ~ U(-n_mu, n_mu). */
  nMu: number;
  /** n_sigma: per-unit scale sigma_j ~ U(1, n_sigma). */
  nSigma: number;
  /** r_mu: per-element shift m ~ U(mu_j - r_mu, mu_j + r_mu). */
  rMu: number;
  /** r_sigma: per-element scale s ~ N(sigma_j, r_sigma) (a standard deviation). */
  rSigma: number;
}

/** The paper's constants of Algorithm 1. */
export const ALGORITHM1_CONSTANTS: Readonly<Algorithm1Constants> = Object.freeze({
  nMu: 0.5,
  nSigma: 1.25,
  rMu: 0.1,
  rSigma: 0.1,
});

/** Scale and shift of one draw of Algorithm 1: the activation becomes `scale * a + shift`. */
export interface Algorithm1Noise {
  /** s, same shape as the activation. */
  scale: tf.Tensor;
  /** m, same shape as the activation. */
  shift: tf.Tensor;
}

/**
 * Which field of Algorithm 1 a counter addresses (counter word 3). Word 1 is the step and word
 * 2 the layer, so every (step, layer, field) is an independent stream of the noise key.
 */
const NOISE_FIELD = {
  /** mu_j, one uniform per unit. */
  unitShift: 0,
  /** sigma_j, one uniform per unit. */
  unitScale: 1,
  /** m, one uniform per element. */
  elementShift: 2,
  /** s, one normal (two uniforms) per element. */
  elementScale: 3,
} as const;

function assertUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`Cannot build a random field: ${what} must be a uint32, got ${value}`);
  }
}

function checkKey(key: FieldKey, counterWords: CounterWords): void {
  assertUint32(key.seed, "seed");
  assertUint32(key.stream, "stream");
  for (const c of counterWords) assertUint32(c, "each counter word");
}

function fieldSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `Cannot build a random field: shape must hold non-negative integers, got [${shape}]`,
      );
    }
    size *= d;
  }
  // Word 0 of the counter is the block index floor(e / 4), a uint32.
  if (size > 4 * 2 ** 32) {
    throw new RangeError(`Cannot build a random field: size must be at most 2^34, got ${size}`);
  }
  return size;
}

/**
 * The uniform field computed on the host: the reference every backend must match bitwise. Runs
 * in WebAssembly where it can ({@link philoxUniformsWasm}: same bits, ~2-3x faster), else in
 * TypeScript ({@link philoxUniformReference}).
 *
 * @param size Number of elements.
 * @param key Philox key.
 * @param counterWords Counter words 1..3.
 * @returns `size` float32 uniforms in [0, 1).
 */
export function philoxUniformHost(
  size: number,
  key: FieldKey,
  counterWords: CounterWords,
): Float32Array {
  checkKey(key, counterWords);
  return philoxUniformsWasm(size, [key.seed, key.stream], counterWords) ??
    philoxUniformReference(size, key, counterWords);
}

/**
 * {@link philoxUniformHost} in plain TypeScript, one `philox4x32` call per block of four.
 *
 * @param size Number of elements.
 * @param key Philox key.
 * @param counterWords Counter words 1..3.
 * @returns `size` float32 uniforms in [0, 1).
 */
export function philoxUniformReference(
  size: number,
  key: FieldKey,
  counterWords: CounterWords,
): Float32Array {
  checkKey(key, counterWords);
  const out = new Float32Array(size);
  const counter = new Uint32Array([0, counterWords[0], counterWords[1], counterWords[2]]);
  const keyWords = new Uint32Array([key.seed, key.stream]);
  const block = new Uint32Array(4);
  for (let start = 0; start < size; start += 4) {
    counter[0] = start / 4;
    philox4x32(counter, keyWords, block);
    const end = Math.min(4, size - start);
    for (let k = 0; k < end; k++) out[start + k] = wordToUniform(block[k]!);
  }
  return out;
}

/**
 * A float32 field of Philox uniforms in [0, 1), computed where the active backend keeps its
 * tensors. Element `e` (row-major) is word `e % 4` of
 * `philox4x32([floor(e / 4), c1, c2, c3], [seed, stream])` through `wordToUniform`, on every
 * backend bitwise.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { philoxUniformField, philoxUniformHost } from "./noise.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const field = philoxUniformField([2, 3], { seed: 7, stream: 3 }, [1, 2, 3]);
 * const host = philoxUniformHost(6, { seed: 7, stream: 3 }, [1, 2, 3]);
 * assert.deepEqual(await field.data(), host);
 * field.dispose();
 * ```
 *
 * @param shape Shape of the field.
 * @param key Philox key (seed, stream).
 * @param counterWords Counter words 1..3, e.g. (step, layer, field).
 * @returns A float32 tensor of `shape`.
 */
export function philoxUniformField(
  shape: readonly number[],
  key: FieldKey,
  counterWords: CounterWords,
): tf.Tensor {
  const size = fieldSize(shape);
  checkKey(key, counterWords);
  const webgpu = tf.getBackend() === "webgpu" ? webGpuBackendOf(tf.backend()) : undefined;
  if (webgpu === undefined || size === 0) {
    // cpu and wasm keep tensors in host memory: computing here uploads nothing extra.
    return tf.tensor(philoxUniformHost(size, key, counterWords), [...shape], "float32");
  }
  return tf.tidy(() =>
    tf.reshape(philoxUniformWebGpu(webgpu, size, [key.seed, key.stream], counterWords), [...shape])
  );
}

/**
 * Box-Muller on the host, in float64 rounded once to float32: see {@link normalField}.
 *
 * @param size Number of elements.
 * @param key Philox key.
 * @param counterWords Counter words 1..3.
 * @returns `size` standard normals.
 */
export function normalFieldHost(
  size: number,
  key: FieldKey,
  counterWords: CounterWords,
): Float32Array {
  const u = philoxUniformHost(2 * size, key, counterWords);
  const out = new Float32Array(size);
  for (let e = 0; e < size; e++) {
    out[e] = Math.sqrt(-2 * Math.log(1 - u[e]!)) * Math.cos(2 * Math.PI * u[size + e]!);
  }
  return out;
}

/**
 * A field of standard normals by Box-Muller from one uniform field of twice the size: element
 * `e` uses uniforms `e` (u1) and `size + e` (u2) of `philoxUniformField([2 * size], ...)`, as
 * `sqrt(-2 ln(1 - u1)) * cos(2 pi u2)` (1 - u1 lies in (0, 1], so the log stays finite).
 * On webgpu it is computed on the device with tf ops; on cpu and wasm, whose tensors live in host
 * memory anyway, in one host pass ({@link normalFieldHost}: the stock wasm `Cos` kernel alone took
 * 50 of 238 ms of a noisy-BatchNorm VGG step at width 1/8). Backends agree to float32 rounding,
 * not bitwise.
 *
 * @param shape Shape of the field.
 * @param key Philox key (seed, stream).
 * @param counterWords Counter words 1..3.
 * @returns A float32 tensor of `shape`.
 */
export function normalField(
  shape: readonly number[],
  key: FieldKey,
  counterWords: CounterWords,
): tf.Tensor {
  const size = fieldSize(shape);
  if (tf.getBackend() !== "webgpu" || size === 0) {
    return tf.tensor(normalFieldHost(size, key, counterWords), [...shape], "float32");
  }
  return tf.tidy(() => {
    const u = philoxUniformField([2, size], key, counterWords); // [2, size]
    const [u1, u2] = tf.split(u, 2, 0) as [tf.Tensor2D, tf.Tensor2D]; // [1, size] each
    const radius = tf.sqrt(tf.mul(-2, tf.log(tf.sub(1, u1)))); // [1, size]
    const angle = tf.mul(2 * Math.PI, u2); // [1, size]
    return tf.reshape(tf.mul(radius, tf.cos(angle)), [...shape]);
  });
}

/**
 * One draw of the noise of Algorithm 1 for the activation of one layer at one training step.
 * Per unit j (the last axis): mu_j ~ U(-n_mu, n_mu), sigma_j ~ U(1, n_sigma). Per element (every
 * sample and, in conv layers, every spatial position): m ~ U(mu_j - r_mu, mu_j + r_mu) and
 * s ~ N(sigma_j, r_sigma); the noisy activation is `s * a + m`.
 *
 * The fields come from key (seed, `STREAMS.noise`) with counter words (step, layer, field), so
 * every (step, layer) draws independent noise and the same key draws bitwise the same uniforms.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { algorithm1Noise } from "./noise.ts";
 * import assert from "node:assert/strict";
 *
 * await tf.setBackend("cpu");
 * const { scale, shift } = algorithm1Noise([8, 4], { seed: 1, step: 0 }, 1);
 * assert.deepEqual(scale.shape, [8, 4]);
 * assert.ok((await tf.min(shift).data())[0]! >= -0.6);
 * tf.dispose([scale, shift]);
 * ```
 *
 * @param shape Activation shape [N, (H, W,) C].
 * @param key The run's seed and the step.
 * @param layer 1-based layer number.
 * @param constants Algorithm 1 constants (default: the paper's).
 * @returns Scale s and shift m, each of `shape`.
 */
export function algorithm1Noise(
  shape: readonly number[],
  key: NoiseKey,
  layer: number,
  constants: Readonly<Algorithm1Constants> = ALGORITHM1_CONSTANTS,
): Algorithm1Noise {
  if (shape.length < 2) {
    throw new TypeError(
      `Cannot draw Algorithm 1 noise: shape must be [N, (H, W,) C], got [${shape}]`,
    );
  }
  if (!Number.isInteger(layer) || layer < 1 || layer > 0xffffffff) {
    // Layer >= 1 also keeps these counters apart from Random's (block, high, 0, 0).
    throw new RangeError(`Cannot draw Algorithm 1 noise: layer must be >= 1, got ${layer}`);
  }
  assertUint32(key.step, "step");
  const fieldKey = { seed: key.seed, stream: STREAMS.noise };
  if (tf.getBackend() !== "webgpu") {
    return algorithm1NoiseHost(shape, fieldKey, key.step, layer, constants);
  }
  return algorithm1NoiseOps(shape, fieldKey, key.step, layer, constants);
}

/**
 * {@link algorithm1Noise} as tf ops on the current backend (webgpu: the fields are drawn on the
 * device). Exported for tests, which check that the host path matches it bitwise.
 *
 * @param shape Activation shape [N, (H, W,) C].
 * @param fieldKey The Philox key (seed, `STREAMS.noise`).
 * @param step The step (counter word 1).
 * @param layer The 1-based layer (counter word 2).
 * @param constants Algorithm 1 constants.
 * @returns Scale s and shift m, each of `shape`.
 */
export function algorithm1NoiseOps(
  shape: readonly number[],
  fieldKey: FieldKey,
  step: number,
  layer: number,
  constants: Readonly<Algorithm1Constants> = ALGORITHM1_CONSTANTS,
): Algorithm1Noise {
  const units = shape[shape.length - 1]!;
  const { nMu, nSigma, rMu, rSigma } = constants;
  return tf.tidy(() => {
    const uMu = philoxUniformField([units], fieldKey, [step, layer, NOISE_FIELD.unitShift]);
    const uSigma = philoxUniformField([units], fieldKey, [
      step,
      layer,
      NOISE_FIELD.unitScale,
    ]);
    const mu = tf.add(-nMu, tf.mul(2 * nMu, uMu)); // [C], U(-n_mu, n_mu)
    const sigma = tf.add(1, tf.mul(nSigma - 1, uSigma)); // [C], U(1, n_sigma)
    const uShift = philoxUniformField(shape, fieldKey, [
      step,
      layer,
      NOISE_FIELD.elementShift,
    ]);
    const z = normalField(shape, fieldKey, [step, layer, NOISE_FIELD.elementScale]);
    // [C] broadcasts along the last axis of [N, (H, W,) C].
    const shift = tf.add(mu, tf.mul(rMu, tf.sub(tf.mul(2, uShift), 1))); // U(mu_j ± r_mu)
    const scale = tf.add(sigma, tf.mul(rSigma, z)); // N(sigma_j, r_sigma)
    return { scale, shift };
  });
}

/**
 * {@link algorithm1Noise} on cpu and wasm, whose tensors live in host memory: the same uniforms
 * and the same float32 arithmetic as the tf ops of the webgpu path, op by op (each `fround` of a
 * float64 + - * of float32 values is the float32 op's correctly rounded result), in two host
 * passes instead of eight tensor ops per layer.
 */
function algorithm1NoiseHost(
  shape: readonly number[],
  fieldKey: FieldKey,
  step: number,
  layer: number,
  constants: Readonly<Algorithm1Constants>,
): Algorithm1Noise {
  const f = Math.fround;
  const size = fieldSize(shape);
  const units = shape[shape.length - 1]!;
  const uMu = philoxUniformHost(units, fieldKey, [step, layer, NOISE_FIELD.unitShift]);
  const uSigma = philoxUniformHost(units, fieldKey, [step, layer, NOISE_FIELD.unitScale]);
  const uShift = philoxUniformHost(size, fieldKey, [step, layer, NOISE_FIELD.elementShift]);
  const z = normalFieldHost(size, fieldKey, [step, layer, NOISE_FIELD.elementScale]);
  // The constants as the float32 scalars the tf ops would make of them.
  const [minusNMu, twoNMu, nSigmaMinus1] = [
    f(-constants.nMu),
    f(2 * constants.nMu),
    f(constants.nSigma - 1),
  ];
  const [rMu, rSigma] = [f(constants.rMu), f(constants.rSigma)];
  const mu = uMu.map((u) => f(minusNMu + f(twoNMu * u))); // U(-n_mu, n_mu)
  const sigma = uSigma.map((u) => f(1 + f(nSigmaMinus1 * u))); // U(1, n_sigma)
  // Written over the fields they come from: shift over uShift, scale over z.
  for (let e = 0, j = 0; e < size; e++) {
    uShift[e] = mu[j]! + f(rMu * f(f(2 * uShift[e]!) - 1)); // U(mu_j +- r_mu)
    z[e] = sigma[j]! + f(rSigma * z[e]!); // N(sigma_j, r_sigma)
    if (++j === units) j = 0;
  }
  return {
    scale: tf.tensor(z, [...shape], "float32"),
    shift: tf.tensor(uShift, [...shape], "float32"),
  };
}
